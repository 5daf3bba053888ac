"""The report as one self-contained HTML page: inline CSS and SVG, no scripts, fonts or links; readable on a phone.

One page, no repeated sections: the headline row, the weeks (partial weeks marked), crisis
replies per week, topics, partners, languages, the CHI roll-up, feedback, check-ins, the time
of day, and a short glossary.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from bot.stats_render import headline, notes, period_text, sections, shown

BAR = "#1b6ca8"
CRISIS = "#c0392b"
PARTIAL = "#9fc3de"
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
dt{font-weight:600}dd{margin:0 0 .5rem}
@media (max-width:30rem){main{padding:.5rem}table{font-size:.85rem}}
@media print{body{background:#fff}section,.card{border-color:#999}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def bars(rows: Sequence[tuple[str, Mapping[str, Any]]], threshold: int, label: str, *, colour: str = BAR,
         partial: Sequence[bool] = ()) -> str:
    """Horizontal bars with the shown count at the end; hidden counts are labelled, never drawn."""
    if not rows:
        return '<p class="muted">None in this period.</p>'
    biggest = max((c["count"] or 0 for _, c in rows), default=0) or 1
    left, right, width, row_h = 150, 48, 380, 22
    scale = (width - left - right) / biggest
    parts = [f'<svg viewBox="0 0 {width} {row_h * len(rows) + 4}" role="img" aria-label="{_e(label)}">']
    for i, (name, cell) in enumerate(rows):
        y = i * row_h + 2
        w = (cell["count"] or 0) * scale
        fill = PARTIAL if i < len(partial) and partial[i] else colour
        parts.append(f'<text x="0" y="{y + 14}">{_e(name[:24])}</text>')
        if w:
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 7}" fill="{fill}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 14}">{_e(shown(cell, threshold))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hour_chart(report: Mapping[str, Any]) -> str:
    """24 columns, midnight to 23:00 Cambodia time."""
    hours = report["hours"]
    biggest = max((h["count"] or 0 for h in hours), default=0) or 1
    width, height, col = 384, 120, 16
    parts = [f'<svg viewBox="0 0 {width} {height + 18}" role="img" aria-label="Events by hour of day">']
    for i, h in enumerate(hours):
        tall = (h["count"] or 0) * height / biggest
        if tall:
            parts.append(f'<rect x="{i * col + 1}" y="{height - tall:.1f}" width="{col - 2}" height="{tall:.1f}" '
                         f'fill="{BAR}"><title>{int(h["id"]):02d}:00 {_e(shown(h, report["suppress_below"]))}'
                         "</title></rect>")
        if i % 3 == 0:
            parts.append(f'<text x="{i * col}" y="{height + 14}">{int(h["id"]):02d}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headings: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f'<th{" class=n" if i else ""}>{_e(h)}</th>' for i, h in enumerate(headings))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i else ""}>{_e(c)}</td>' for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


GLOSSARY = (
    ("Message", "something typed to the bot, or a press on a topic button."),
    ("Nothing matched", "a typed message in which the bot recognised no topic; it then showed the menu and 1280."),
    ("Crisis reply", "a reply that put Child Helpline Cambodia 1280 and emergency numbers first, because the "
                     "message spoke of danger now or of ending one's life."),
    ("First-ranked topic", "each message is counted once, under the topic the bot judged most likely."),
    ("Referral", "a reply that named at least one partner organisation; a reply may name several partners."),
    ("People", "different Telegram accounts that wrote in a calendar month, counted without storing who; "
               "shown once the month has closed."),
    ("CHI categories", "the topics rolled up into the categories Child Helpline International uses."),
    ("<5 and x", "counts from 1 to 4 show as <5; x hides another count so that a small one cannot be worked out "
                 "by subtraction."),
)


def page(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML document."""
    n = report["suppress_below"]
    cards = "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for t, v in headline(report))
    weeks = report["weeks"]
    week_rows = [(f"{w['from'][5:]}{' *' if w['partial'] else ''}", w["events"]) for w in weeks]
    crisis_rows = [(f"{w['from'][5:]}{' *' if w['partial'] else ''}", w["crisis"]) for w in weeks]
    flags = [w["partial"] for w in weeks]
    body = [
        "<h1>Helpline chatbot usage</h1>",
        f'<p class="muted">{_e(period_text(report))}; channel {_e(report["channel"])}. '
        f'Generated on {_e(report["generated"])} (Cambodia time).</p>',
        f'<div class="cards">{cards}</div>',
        "<section><h2>Events per week</h2>" + bars(week_rows, n, "Events per week", partial=flags)
        + '<p class="muted">Weeks start on Monday; * marks a partial week at either end of the period.</p></section>',
        "<section><h2>Crisis replies per week</h2>" + bars(crisis_rows, n, "Crisis replies per week",
                                                            colour=CRISIS) + "</section>",
    ]
    for key, title, rows in sections(report):
        if key in ("chi", "check_in", "people"):
            body.append(f"<section><h2>{_e(title)}</h2>" + _table(["", "count"], rows) + "</section>")
        elif rows:
            cells = {r["label"]: r for r in report[key]}
            body.append(f"<section><h2>{_e(title)}</h2>"
                        + bars([(label, cells[label]) for label, _ in rows], n, title) + "</section>")
    if report["feedback"]:
        body.append("<section><h2>Feedback per topic</h2>" + _table(
            ["topic", "👍 helpful", "👎 not what I meant"],
            [[f["label"], shown(f["helpful"], n), shown(f["not_helpful"], n)] for f in report["feedback"]])
            + "</section>")
    body.append(f"<section><h2>Time of day (Cambodia)</h2>{hour_chart(report)}</section>")
    glossary = "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in GLOSSARY)
    body.append(f"<section><h2>Glossary</h2><dl>{glossary}</dl>"
                + "".join(f'<p class="muted">{_e(x)}</p>' for x in notes(report)) + "</section>")
    return (
        f'<!doctype html>\n<html lang="{_e(report["language"])}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Helpline chatbot usage, {_e(period_text(report))}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )
