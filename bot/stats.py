"""Statistics for staff: `helpline-bot stats` and the Telegram /stats text.

The work is split so a new format or measure touches one place: bot.stats_query reads exact
counts, bot.stats_report labels them and hides small counts (also against subtraction), and
bot.stats_render / bot.stats_html turn that one report into a table, CSV, JSON, HTML or the
/stats message. Only closed days (up to the end of yesterday, Cambodia time) are ever counted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.stats_query import CHANNELS, StatsError, last_closed_day, read_counts
from bot.stats_render import clean, table, telegram, to_csv, to_json
from bot.stats_report import build_report
from bot.usage import default_db_path

if TYPE_CHECKING:
    from bot.content import Content

FORMATS = ("table", "csv", "json", "html")
LANGUAGES = ("en", "km")
__all__ = ["FORMATS", "StatsError", "add_stats_command", "render", "staff_summary", "summary"]


async def summary(
    db_path: Path | str,
    *,
    since: date | None = None,
    until: date | None = None,
    content: Content | None = None,
    lang: str = "en",
    channel: str = "telegram",
    suppress_below: int = 5,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report for Cambodian days since..until (default: the last 30 closed days); never a day still open."""
    last = last_closed_day(now)
    until = min(until or last, last)
    since = since or until - timedelta(days=29)
    counts = await read_counts(db_path, since, until, channel)
    topics = {t.id: t.title for t in content.topics.values()} if content else {}
    partners = {o.id: o.name for o in content.organizations.values()} if content else {}
    chi = {t.id: t.chi_category for t in content.topics.values()} if content else {}
    return build_report(counts, topics=topics, partners=partners, chi=chi, lang=lang, threshold=suppress_below,
                        generated=now)


def render(report: dict[str, Any], fmt: str, *, excel: bool = False) -> str:
    """The report as "table" (plain text), "csv", "json" or "html"."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report, excel=excel)
    if fmt == "table":
        return table(report)
    if fmt == "html":
        from bot.stats_html import page

        return page(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


async def staff_summary(db_path: Path | str, content: Content, lang: str, *, now: datetime | None = None) -> str:
    """The /stats message: the headline row and the top five topics of the last 30 closed days."""
    try:
        return telegram(await summary(db_path, content=content, lang=lang if lang in LANGUAGES else "en", now=now))
    except StatsError:
        return "No usage has been recorded yet."


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
        description="Usage statistics from the anonymised usage log: Cambodian days, both ends included, "
                    "closed days only (up to yesterday).",
    )
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--since", type=_since, metavar="Nd", help="the last N closed days (default 30d)")
    period.add_argument("--from", dest="start", type=_day, metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_day, metavar="DATE", help="last day, YYYY-MM-DD (with --from)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help="language of topic and language names")
    parser.add_argument("--channel", choices=CHANNELS, default="telegram",
                        help="telegram (default), console (staff testing) or all")
    parser.add_argument("--excel", action="store_true", help="CSV with a byte-order mark, for Excel on Windows")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of the screen")
    parser.add_argument(
        "--db", type=Path, metavar="PATH", help="the database (default $HELPLINE_DB or data/helpline.db)"
    )
    parser.add_argument("--suppress", type=int, default=5, metavar="N", help='show counts 1..N-1 as "<N" (default 5)')
    parser.set_defaults(func=cmd_stats)
    return parser


def _content() -> Content | None:
    """The content files for labels and CHI categories, or None (ids are shown) when they cannot be loaded."""
    from bot.content import ContentError, load

    try:
        return load()
    except ContentError:
        print("The content files have problems; topics are shown by id and CHI categories left out.", file=sys.stderr)
        return None


def cmd_stats(args: argparse.Namespace) -> int:
    """Print or write the usage statistics."""
    last = last_closed_day()
    if args.end is not None and args.since is not None:
        print("--to goes with --from, not with --since.", file=sys.stderr)
        return 2
    if args.start is not None or args.end is not None:
        since, until = args.start, args.end
    else:
        since, until = last - timedelta(days=(args.since or 30) - 1), last
    if since and until and since > until:
        print("--from must not be after --to.", file=sys.stderr)
        return 2
    if args.suppress < 0:
        print("--suppress must be 0 or more.", file=sys.stderr)
        return 2
    db = args.db or default_db_path()
    try:
        report = asyncio.run(summary(db, since=since, until=until, content=_content(), lang=args.lang,
                                     channel=args.channel, suppress_below=args.suppress))
    except StatsError as exc:
        print(clean(exc), file=sys.stderr)
        return 1
    text = render(report, args.format, excel=args.excel)
    if args.out:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            print(f"Cannot write {args.out}: {exc.strerror or type(exc).__name__}. "
                  "Choose a file in a folder you may write to.", file=sys.stderr)
            return 1
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
