"""Statistics for staff from the usage log: counts only, small counts suppressed.

`summary()` reads the database (read-only) into one plain dict in which every count from 1
to suppress_below - 1 is already replaced by the text "<5" (for the default threshold), so
no renderer can leak a small number. `render()` turns that dict into a plain-text table,
CSV, JSON or one self-contained HTML page (inline CSS and SVG, no scripts, no network).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import io
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot.people import Sketch
from bot.usage import SCHEMA_VERSION, UNKNOWN, default_db_path, utcnow

Count = int | str  # an exact count, or the suppression marker such as "<5"
FORMATS = ("table", "csv", "json", "html")
LANGUAGE_NAMES = {"km": "Khmer", "en": "English", "kh-latn": "Khmer in Latin letters"}
NOT_MATCHED = "Nothing matched"
UNCATEGORISED = "Uncategorised"
# Events that can carry a topic: what someone wrote, or a topic button they pressed.
TOPIC_KINDS = ("text", "button")
# Colours for the topic chart (distinguishable, dark enough for white gaps between segments).
PALETTE = ("#1b6ca8", "#e07b00", "#2e8b57", "#c0392b", "#7d3c98", "#8c6d1f", "#d35d9b", "#5d6d7e")
OTHER_COLOUR = "#b0b7bf"
CHART_TOPICS = len(PALETTE)


class StatsError(Exception):
    """The database is missing or cannot be read; the message says what to do."""


def suppress(count: int, threshold: int) -> Count:
    """`count` itself, or "<threshold" when it is between 1 and threshold - 1."""
    return f"<{threshold}" if 0 < count < threshold else count


async def summary(
    db_path: Path | str,
    *,
    since: date | None = None,
    until: date | None = None,
    suppress_below: int = 5,
    topics_meta: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Counts for the days since..until (inclusive, UTC; None = open), small counts suppressed.

    topics_meta maps topic id -> Child Helpline International category ("Group › Category").
    """
    path = Path(db_path)
    if not path.is_file():
        raise StatsError(f"No usage database at {path}: the bot has not recorded anything there yet.")
    first = since.isoformat() if since else "0000-00-00"
    last = until.isoformat() if until else "9999-99-99"
    try:
        async with aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            async with db.execute("SELECT max(version) FROM schema_version") as cursor:
                row = await cursor.fetchone()
            version = row[0] if row else None
            if version != SCHEMA_VERSION:
                raise StatsError(
                    f"{path} has schema version {version}, this code reads {SCHEMA_VERSION}: "
                    "start the bot once to upgrade it, or update this code."
                )
            async with db.execute(
                "SELECT day, topic, language, kind, channel, crisis, matched, COUNT(*) FROM events "
                "WHERE day >= ? AND day <= ? GROUP BY day, topic, language, kind, channel, crisis, matched",
                (first, last),
            ) as cursor:
                groups = list(await cursor.fetchall())
            # People are counted per month apart from events (bot.people): a number once the month
            # has closed, an estimate from the month's sketch while it is open.
            async with db.execute(
                "SELECT month, counted, sketch FROM people WHERE month >= ? AND month <= ?", (first[:7], last[:7])
            ) as cursor:
                users = {m: int(n) + (Sketch(bytes(b)).estimate() if b else 0) for m, n, b in await cursor.fetchall()}
    except StatsError:
        raise
    except Exception as exc:
        raise StatsError(f"Cannot read {path}: {exc}") from exc
    return _build(groups, users, since, until, suppress_below, topics_meta)


def _week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def _ranked(counter: Mapping[str, int], threshold: int) -> dict[str, Count]:
    """Largest first (ties by name), suppressed; zero counts left out."""
    items = sorted(((k, v) for k, v in counter.items() if v), key=lambda kv: (-kv[1], kv[0]))
    return {k: suppress(v, threshold) for k, v in items}


def _build(
    groups: list[Any],
    users: Mapping[str, int],
    since: date | None,
    until: date | None,
    threshold: int,
    topics_meta: Mapping[str, str] | None,
) -> dict[str, Any]:
    total = crisis = unmatched = texts = 0
    topics: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    week_events: Counter[str] = Counter()
    week_crisis: Counter[str] = Counter()
    week_topics: defaultdict[str, Counter[str]] = defaultdict(Counter)
    week_languages: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for day, topic, language, kind, channel, is_crisis, matched, n in groups:
        week = _week(day)
        total += n
        languages[language] += n
        kinds[kind] += n
        channels[channel] += n
        week_events[week] += n
        week_languages[week][language] += n
        if kind in TOPIC_KINDS:  # commands and stickers carry no topic: they would swell "unknown"
            topics[topic] += n
            week_topics[week][topic] += n
        if is_crisis:
            crisis += n
            week_crisis[week] += n
        # "Nothing matched" is about free text: buttons and commands cannot fail to be understood.
        if kind == "text":
            texts += n
            if not matched:
                unmatched += n
    share = round(100 * unmatched / texts, 1) if texts and suppress(unmatched, threshold) == unmatched else None
    categories: Counter[str] = Counter()
    if topics_meta is not None:
        for topic, n in topics.items():
            categories[NOT_MATCHED if topic == UNKNOWN else topics_meta.get(topic) or UNCATEGORISED] += n
    groups_: Counter[str] = Counter()
    for category, n in categories.items():
        groups_[category.split("›")[0].strip()] += n
    return {
        "period": {"from": since.isoformat() if since else None, "to": until.isoformat() if until else None},
        "suppress_below": threshold,
        "totals": {
            "events": suppress(total, threshold),
            "crisis": suppress(crisis, threshold),
            "text_messages": suppress(texts, threshold),
            "nothing_matched": suppress(unmatched, threshold),  # free-text messages with no topic
            "nothing_matched_percent": share,  # of free-text messages; None when the count is suppressed
        },
        "topics": _ranked(topics, threshold),
        "languages": _ranked(languages, threshold),
        "kinds": _ranked(kinds, threshold),
        "channels": _ranked(channels, threshold),
        "weeks": {
            week: {
                "events": suppress(week_events[week], threshold),
                "crisis": suppress(week_crisis[week], threshold),
                "topics": _ranked(week_topics[week], threshold),
                "languages": _ranked(week_languages[week], threshold),
            }
            for week in sorted(week_events)
        },
        "unique_users_by_month": {month: suppress(n, threshold) for month, n in sorted(users.items())},
        "chi_categories": _ranked(categories, threshold),
        "chi_groups": _ranked(groups_, threshold),
    }


# ---------------------------------------------------------------- rendering


def render(data: Mapping[str, Any], fmt: str) -> str:
    """The summary as "table" (plain text), "csv", "json" or "html"."""
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return _csv(data)
    if fmt == "table":
        return _table(data)
    if fmt == "html":
        return _html(data)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _period(data: Mapping[str, Any]) -> str:
    start, end = data["period"]["from"], data["period"]["to"]
    if start and end:
        return f"{start} to {end} (UTC)"
    if start:
        return f"from {start} (UTC)"
    if end:
        return f"up to {end} (UTC)"
    return "all recorded days (UTC)"


def _note(data: Mapping[str, Any]) -> str:
    n = data["suppress_below"]
    return f'Counts from 1 to {n - 1} are shown as "<{n}" to protect privacy.' if n > 1 else "No counts are suppressed."


def _share(data: Mapping[str, Any]) -> str:
    share = data["totals"]["nothing_matched_percent"]
    return "-" if share is None else f"{share}%"


def _week_label(week: str, *, year: bool = True) -> str:
    """2025-W03 -> "W03 13 Jan 2025" (its Monday); without the year for chart labels."""
    iso_year, number = week.split("-W")
    monday = date.fromisocalendar(int(iso_year), int(number), 1)
    return f"W{number} {monday.day} {monday:%b}" + (f" {monday.year}" if year else "")


def _week_columns(weeks: Iterable[str]) -> list[str]:
    """Column headings for weeks: "W09", or "2025-W09" when the weeks span more than one year."""
    weeks = list(weeks)
    one_year = len({w.split("-")[0] for w in weeks}) <= 1
    return [w.split("-")[1] if one_year else w for w in weeks]


def _sections(data: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Count]]]:
    """(title, first column heading, rows) for every one-dimensional breakdown."""
    return [
        ("Topics (first-ranked)", "topic", data["topics"]),
        ("Languages", "language", data["languages"]),
        ("Buttons and free text", "kind", data["kinds"]),
        ("Channels", "channel", data["channels"]),
        ("Unique users per month", "month", data["unique_users_by_month"]),
        ("Child Helpline International categories", "category", data["chi_categories"]),
        ("Child Helpline International groups", "group", data["chi_groups"]),
    ]


def _text_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headings, *rows]) for i in range(len(headings))]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        cells_out = [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        return "  ".join(cells_out)

    return [line(headings), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def _table(data: Mapping[str, Any]) -> str:
    totals = data["totals"]
    out = [
        f"Helpline usage, {_period(data)}",
        _note(data),
        "",
        *_text_table(
            ["total", "count"],
            [
                ["events", str(totals["events"])],
                ["crisis", str(totals["crisis"])],
                ["free-text messages", str(totals["text_messages"])],
                ["nothing matched (free text)", str(totals["nothing_matched"])],
                ["nothing matched, share of free text", _share(data)],
            ],
        ),
    ]
    for title, heading, rows in _sections(data):
        if rows:
            out += ["", title, *_text_table([heading, "count"], [[k, str(v)] for k, v in rows.items()])]
    weeks = data["weeks"]
    if weeks:
        out += ["", "Weeks", *_text_table(
            ["week", "events", "crisis"],
            [[_week_label(w), str(v["events"]), str(v["crisis"])] for w, v in weeks.items()],
        )]
        topics = list(data["topics"])
        out += ["", "Topics by week", *_text_table(
            ["topic", *_week_columns(weeks)],
            [[t, *(str(v["topics"].get(t, 0)) for v in weeks.values())] for t in topics],
        )]
    return "\n".join(out) + "\n"


def _csv(data: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "name", "period", "value"])
    writer.writerow(["meta", "from", "", data["period"]["from"] or ""])
    writer.writerow(["meta", "to", "", data["period"]["to"] or ""])
    writer.writerow(["meta", "suppress_below", "", data["suppress_below"]])
    for name, value in data["totals"].items():
        writer.writerow(["totals", name, "", "" if value is None else value])
    keys = ("topic", "language", "kind", "channel", "unique_users", "chi_category", "chi_group")
    for key, (_title, _heading, rows) in zip(keys, _sections(data), strict=True):
        for name, value in rows.items():
            if key == "unique_users":
                writer.writerow([key, "", name, value])
            else:
                writer.writerow([key, name, "", value])
    for week, values in data["weeks"].items():
        writer.writerow(["week", "events", week, values["events"]])
        writer.writerow(["week", "crisis", week, values["crisis"]])
        for topic, value in values["topics"].items():
            writer.writerow(["topic_week", topic, week, value])
        for language, value in values["languages"].items():
            writer.writerow(["language_week", language, week, value])
    return buffer.getvalue()


# ---------------------------------------------------------------- HTML

_CSS = """
:root{color-scheme:light;--ink:#1d2630;--muted:#5b6773;--line:#dde3e8;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Khmer",sans-serif;
color:var(--ink);background:var(--bg);line-height:1.45;font-size:16px}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.muted{color:var(--muted);font-size:.9rem;margin:.2rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem;margin-top:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem}
.card b{display:block;font-size:1.5rem}.card span{color:var(--muted);font-size:.85rem}
section{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:.2rem .9rem .9rem;margin-top:1rem}
svg{width:100%;height:auto;max-width:36rem;display:block}
svg text{font-size:12px;fill:var(--ink)}
.legend{display:flex;flex-wrap:wrap;gap:.3rem .9rem;padding:0;margin:.5rem 0 0;list-style:none;font-size:.85rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
@media (max-width:30rem){main{padding:.5rem}table{font-size:.85rem}}
@media print{body{background:#fff}section,.card{border-color:#999}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Count) -> int:
    """The drawable size of a cell: suppressed cells are not drawn at all."""
    return value if isinstance(value, int) else 0


def _topic_chart(data: Mapping[str, Any]) -> str:
    """Stacked horizontal bars, one per week: the most frequent topics, then all others."""
    weeks: Mapping[str, Mapping[str, Any]] = data["weeks"]
    shown = [t for t, v in data["topics"].items() if isinstance(v, int)][:CHART_TOPICS]
    rows = []
    for week, values in weeks.items():
        cells = values["topics"]
        segments = [(t, _number(cells.get(t, 0))) for t in shown]
        segments.append(("other topics", sum(_number(v) for t, v in cells.items() if t not in shown)))
        rows.append((week, segments, values["events"]))
    biggest = max((sum(n for _, n in segs) for _, segs, _ in rows), default=0)
    if not biggest:
        return '<p class="muted">Too few events to draw this chart.</p>'
    colours = {t: PALETTE[i] for i, t in enumerate(shown)} | {"other topics": OTHER_COLOUR}
    left, right, width, row_h = 80, 40, 360, 22
    scale = (width - left - right) / biggest
    parts = [
        f'<svg viewBox="0 0 {width} {row_h * len(rows) + 6}" role="img" '
        'aria-label="Events per week, by topic">'
    ]
    for i, (week, segments, total) in enumerate(rows):
        y = i * row_h + 3
        parts.append(f'<text x="0" y="{y + 14}">{_e(_week_label(week, year=False))}</text>')
        x = float(left)
        for topic, n in segments:
            if n:
                w = n * scale
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="{colours[topic]}">'
                    f"<title>{_e(topic)}: {n}</title></rect>"
                )
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{_e(total)}</text>')
    parts.append("</svg>")
    legend = "".join(f'<li><i style="background:{c}"></i>{_e(t)}</li>' for t, c in colours.items())
    return (
        "".join(parts)
        + f'<ul class="legend">{legend}</ul>'
        + (f'<p class="muted">Counts under {threshold} are not drawn; the number is the week\'s total.</p>'
           if (threshold := data["suppress_below"]) > 1 else "")
    )


def _bar_chart(rows: Mapping[str, Count], label: str, names: Mapping[str, str] | None = None) -> str:
    """Horizontal bars with the count at the end; suppressed rows are labelled but not drawn."""
    if not rows:
        return '<p class="muted">No events in this period.</p>'
    biggest = max((_number(v) for v in rows.values()), default=0) or 1
    left, right, width, row_h = 132, 44, 360, 24
    scale = (width - left - right) / biggest
    parts = [f'<svg viewBox="0 0 {width} {row_h * len(rows) + 4}" role="img" aria-label="{_e(label)}">']
    for i, (key, value) in enumerate(rows.items()):
        y = i * row_h + 2
        w = _number(value) * scale
        parts.append(f'<text x="0" y="{y + 15}">{_e((names or {}).get(key, key))}</text>')
        if w:
            parts.append(
                f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 8}" fill="{PALETTE[0]}">'
                f"<title>{_e(key)}: {value}</title></rect>"
            )
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_e(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(headings: list[str], rows: Iterable[list[object]]) -> str:
    head = "".join(f'<th{" class=n" if i else ""}>{_e(h)}</th>' for i, h in enumerate(headings))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i else ""}>{_e(c)}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _html(data: Mapping[str, Any]) -> str:
    totals = data["totals"]
    cards = [
        (totals["events"], "replies"),
        (totals["crisis"], "crisis replies"),
        (totals["nothing_matched"], "messages with nothing matched"),
        (_share(data), "of free-text messages matched nothing"),
    ]
    body = [
        "<h1>Helpline chatbot usage</h1>",
        f'<p class="muted">{_e(_period(data))}. {_e(_note(data))}</p>',
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for v, t in cards)
        + "</div>",
        f"<section><h2>Topics over time (per week)</h2>{_topic_chart(data)}</section>",
        f"<section><h2>Languages</h2>{_bar_chart(data['languages'], 'Events by language', LANGUAGE_NAMES)}</section>",
    ]
    weeks = data["weeks"]
    if weeks:
        body.append(
            "<section><h2>Weeks</h2>"
            + _html_table(
                ["week", "events", "crisis"],
                [[_week_label(w), v["events"], v["crisis"]] for w, v in weeks.items()],
            )
            + "</section>"
        )
        body.append(
            "<section><h2>Topics by week</h2>"
            + _html_table(
                ["topic", *_week_columns(weeks)],
                [[t, *(v["topics"].get(t, 0) for v in weeks.values())] for t in data["topics"]],
            )
            + "</section>"
        )
    for title, heading, rows in _sections(data):
        if rows:
            body.append(
                f"<section><h2>{_e(title)}</h2>"
                + _html_table([heading, "count"], [[k, v] for k, v in rows.items()])
                + "</section>"
            )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Helpline chatbot usage, {_e(_period(data))}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


# ---------------------------------------------------------------- staff summary and CLI


async def staff_summary(db_path: Path | str, today: date, *, suppress_below: int = 5) -> str:
    """A short text for the Telegram /stats command: the last 7 and 30 days, small counts suppressed."""
    parts = []
    for days in (7, 30):
        since = today - timedelta(days=days - 1)
        try:
            data = await summary(db_path, since=since, until=today, suppress_below=suppress_below)
        except StatsError:
            return "No usage has been recorded yet."
        totals = data["totals"]
        top = ", ".join(f"{t} {n}" for t, n in list(data["topics"].items())[:5]) or "-"
        languages = ", ".join(f"{k} {n}" for k, n in data["languages"].items()) or "-"
        kinds = ", ".join(f"{k} {n}" for k, n in data["kinds"].items()) or "-"
        users = ", ".join(f"{m}: {n}" for m, n in data["unique_users_by_month"].items()) or "-"
        parts.append(
            f"Last {days} days ({since:%d %b} to {today:%d %b %Y}, UTC)\n"
            f"Replies: {totals['events']} · crisis: {totals['crisis']}\n"
            f"Free text with nothing matched: {_share(data)}\n"
            f"Top topics: {top}\n"
            f"Languages: {languages}\n"
            f"Buttons/text: {kinds}\n"
            f"Unique users per month: {users}"
        )
    note = f'Counts from 1 to {suppress_below - 1} show as "<{suppress_below}".' if suppress_below > 1 else ""
    return "\n\n".join(parts) + (f"\n\n{note}" if note else "")


_SINCE = re.compile(r"(\d+)([dw])")


def _since(value: str) -> int:
    """"30d" or "4w" -> a number of days."""
    match = _SINCE.fullmatch(value.strip().lower())
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: use a number of days or weeks, like 30d or 4w")
    return int(match[1]) * (7 if match[2] == "w" else 1)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: use a date like 2025-01-31") from None


def add_stats_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `stats` on the CLI's subparsers; its func returns an exit code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stats",
        help="usage statistics for staff (small counts suppressed)",
        description="Usage statistics from the anonymised usage log. Dates are UTC days, both ends included.",
    )
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--since", type=_since, metavar="Nd", help="the last N days including today (default 30d)")
    period.add_argument("--from", dest="start", type=_day, metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_day, metavar="DATE", help="last day, YYYY-MM-DD (with --from)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of the screen")
    parser.add_argument(
        "--db", type=Path, metavar="PATH", help="the database (default $HELPLINE_DB or data/helpline.db)"
    )
    parser.add_argument("--suppress", type=int, default=5, metavar="N", help='show counts 1..N-1 as "<N" (default 5)')
    parser.set_defaults(func=cmd_stats)
    return parser


def _topics_meta() -> dict[str, str] | None:
    """Topic id -> CHI category from the content files, or None when they cannot be loaded."""
    from bot.content import ContentError, load

    try:
        return {t.id: t.chi_category for t in load().topics.values()}
    except ContentError:
        print("The content files have problems; the CHI categories are left out.", file=sys.stderr)
        return None


def cmd_stats(args: argparse.Namespace) -> int:
    """Print or write the usage statistics."""
    today = utcnow().date()
    if args.end is not None and args.since is not None:
        print("--to goes with --from, not with --since.", file=sys.stderr)
        return 2
    if args.start is not None or args.end is not None:
        since, until = args.start, args.end
    else:
        since, until = today - timedelta(days=(args.since or 30) - 1), today
    if since and until and since > until:
        print("--from must not be after --to.", file=sys.stderr)
        return 2
    if args.suppress < 0:
        print("--suppress must be 0 or more.", file=sys.stderr)
        return 2
    db = args.db or default_db_path()
    try:
        data = asyncio.run(
            summary(db, since=since, until=until, suppress_below=args.suppress, topics_meta=_topics_meta())
        )
    except StatsError as exc:
        print(exc, file=sys.stderr)
        return 1
    text = render(data, args.format)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
