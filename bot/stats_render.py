"""Plain renderers of a report (bot.stats_report): a terminal table, CSV and JSON for tools, the /stats text.

Every renderer reads only the report, so hidden counts are already gone. Text that reaches a
terminal is stripped of control characters, and CSV cells that a spreadsheet would run as a
formula (starting with = + - @) are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

FOOTNOTE_COMPLEMENT = "x"


def shown(cell: Mapping[str, Any], threshold: int) -> str:
    """A cell as text: the count, "<5" when small, "x" when hidden against subtraction."""
    if cell["suppressed"] == "small":
        return f"<{threshold}"
    if cell["suppressed"]:
        return FOOTNOTE_COMPLEMENT
    return "-" if cell["count"] is None else str(cell["count"])


def clean(text: object) -> str:
    """Text safe for a terminal: control and format characters (escape codes) removed."""
    return "".join(c for c in str(text) if c in "\n\t" or unicodedata.category(c)[0] != "C"
                   or c in "\u200b\u200c\u200d")


def period_text(report: Mapping[str, Any]) -> str:
    period = report["period"]
    return f"{period['from']} to {period['to']} (Cambodia time, closed days only)"


def notes(report: Mapping[str, Any]) -> list[str]:
    n = report["suppress_below"]
    if n <= 1:
        return ["No counts are suppressed."]
    return [f'Counts from 1 to {n - 1} show as "<{n}"; "{FOOTNOTE_COMPLEMENT}" hides a count so that a '
            "small one cannot be worked out by subtraction."]


def sections(report: Mapping[str, Any]) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(id, title, [(label, shown count)]) for every one-column table, in report order."""
    n = report["suppress_below"]

    def rows(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
        return [(str(r["label"]), shown(r, n)) for r in items]

    yield "topics", "Topics (first-ranked topic of each message or topic button)", rows(report["topics"])
    yield "partners", "Partners shown (replies naming each organisation)", rows(report["partners"])
    yield "languages", "Languages (all events)", rows(report["languages"])
    yield "kinds", "Kinds of events", rows(report["kinds"])
    yield "replies", "What the replies did", rows(report["replies"])
    chi: list[tuple[str, str]] = []
    for group in report["chi"]:
        chi.append((group["label"], shown(group, n)))
        chi += [(f"  {c['label']}", shown(c, n)) for c in group["categories"]]
    yield "chi", "Child Helpline International categories", chi
    yield "check_in", "Check-in questions", [("Asked \"Are you safe right now?\"",
                                              shown(report["check_in"]["asked"], n)),
                                             *rows(report["check_in"]["answers"])]
    yield "people", "People per closed month", [(p["month"], shown(p, n)) for p in report["people_by_month"]]


def headline(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the headline row."""
    n, head = report["suppress_below"], report["headline"]
    people = head["people"]
    rate = head["helpful_percent"]
    return [
        (f"people in {people['month']}" if people["month"] else "people (no closed month yet)",
         shown(people, n) if people["month"] else "-"),
        ("messages (typed or topic buttons)", shown(head["messages"], n)),
        ("crisis replies", shown(head["crisis"], n)),
        ("referrals (replies naming a partner)", shown(head["referrals"], n)),
        ("found helpful (of 👍 and 👎)", "-" if rate is None else f"{rate}%"),
    ]


def _text_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [headings, *rows]) for i in range(len(headings))]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join([first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)])

    return [line(headings), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def table(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table for a terminal."""
    n = report["suppress_below"]
    out = [f"Helpline chatbot usage, {period_text(report)}; channel {report['channel']}",
           f"Generated {report['generated']} (Cambodia time).", *notes(report), "",
           *_text_table(["headline", "count"], [list(r) for r in headline(report)])]
    weeks = [[f"{w['id']} ({w['from']} to {w['to']}){' partial' if w['partial'] else ''}",
              shown(w["events"], n), shown(w["crisis"], n)] for w in report["weeks"]]
    out += ["", "Weeks", *_text_table(["week", "events", "crisis"], weeks)]
    for _id, title, rows in sections(report):
        if rows:
            out += ["", title, *_text_table(["", "count"], [list(r) for r in rows])]
    if report["feedback"]:
        out += ["", "Feedback per topic", *_text_table(
            ["topic", "👍", "👎"], [[f["label"], shown(f["helpful"], n), shown(f["not_helpful"], n)]
                                   for f in report["feedback"]])]
    hours = [[f"{int(h['id']):02d}:00", shown(h, n)] for h in report["hours"]]
    out += ["", "Time of day (Cambodia)", *_text_table(["hour", "events"], hours)]
    return clean("\n".join(out)) + "\n"


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _safe(value: object) -> object:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if isinstance(value, str) and _FORMULA.match(value) else value


def _csv_rows(report: Mapping[str, Any]) -> Iterator[list[object]]:
    def row(section: str, key: str, label: str, cell: Mapping[str, Any], period: str = "") -> list[object]:
        count = cell["count"]
        return [section, key, label, period, "" if count is None else count, cell["suppressed"] or ""]

    for key in ("events", "messages", "typed", "nothing_matched", "crisis", "referrals", "helpful", "not_helpful",
                "check_in"):
        yield row("totals", key, key.replace("_", " "), report["totals"][key])
    for week in report["weeks"]:
        period = f"{week['from']}/{week['to']}"
        yield row("week_events", week["id"], "partial week" if week["partial"] else "week", week["events"], period)
        yield row("week_crisis", week["id"], "partial week" if week["partial"] else "week", week["crisis"], period)
    for section in ("topics", "partners", "languages", "kinds", "replies", "hours"):
        for r in report[section]:
            yield row(section, r["id"], r["label"], r)
    for group in report["chi"]:
        yield row("chi_group", group["id"], group["label"], group)
        for c in group["categories"]:
            yield row("chi_category", c["id"], c["label"], c)
    for f in report["feedback"]:
        yield row("helpful", f["id"], f["label"], f["helpful"])
        yield row("not_helpful", f["id"], f["label"], f["not_helpful"])
    for r in report["check_in"]["answers"]:
        yield row("check_in_answer", r["id"], r["label"], r)
    for p in report["people_by_month"]:
        yield row("people", p["month"], "people in the month", p, p["month"])


def to_csv(report: Mapping[str, Any], *, excel: bool = False) -> str:
    """One row per count: a numeric `count` (empty when suppressed) and a `suppressed` flag; BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if excel else "\n")
    writer.writerow(["section", "id", "label", "period", "count", "suppressed"])
    for r in _csv_rows(report):
        writer.writerow([_safe(clean(v)) if isinstance(v, str) else v for v in r])
    return ("\ufeff" if excel else "") + buffer.getvalue()


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


TELEGRAM_HEADINGS = {
    "en": ("People", "Messages", "Crisis replies", "Referrals", "Found helpful", "Top topics", "no closed month yet"),
    "km": ("មនុស្ស", "សារ", "ចម្លើយបន្ទាន់", "ការបញ្ជូន", "មានប្រយោជន៍", "ប្រធានបទកំពូល", "មិនទាន់មានខែពេញ"),
}


def telegram(report: Mapping[str, Any]) -> str:
    """The headline row and the top five topics, in the report's language, for the /stats command."""
    n, head = report["suppress_below"], report["headline"]
    people, messages, crisis, referrals, helpful, top, none = TELEGRAM_HEADINGS[report["language"]]
    rate = head["helpful_percent"]
    lines = [
        f"{report['period']['from']} – {report['period']['to']}",
        f"{people}: " + (f"{shown(head['people'], n)} ({head['people']['month']})" if head["people"]["month"]
                         else none),
        f"{messages}: {shown(head['messages'], n)} · {crisis}: {shown(head['crisis'], n)}",
        f"{referrals}: {shown(head['referrals'], n)} · {helpful}: {'-' if rate is None else f'{rate}%'}",
        "",
        f"{top}:",
        *(f"• {t['label']}: {shown(t, n)}" for t in report["topics"][:5]),
    ]
    return "\n".join(lines)
