"""The one summary object every renderer reads: labelled, with small counts hidden beyond subtraction.

`build_report(counts, ...)` turns exact `Counts` into a plain dict (the JSON format, schema
below): each count is a cell {"count": n | None, "suppressed": None | "small" | "complement"},
and before any cell is made every table's equation (a total and its parts) goes through
bot.stats_protect, so no renderer can leak a small number, directly or by subtraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.stats_protect import Equation, protect
from bot.stats_query import CAMBODIA, Counts
from bot.usage import KINDS, REPLIES, UNKNOWN

# Bump when a field changes meaning or goes away; adding fields keeps the version.
SCHEMA = "helpline-stats/2"
Cell = dict[str, Any]  # {"count": int | None, "suppressed": None | "small" | "complement"}
Labels = Mapping[str, Mapping[str, str]]  # id -> language -> label

LANGUAGE_NAMES: Labels = {
    "km": {"en": "Khmer", "km": "ខ្មែរ"},
    "en": {"en": "English", "km": "អង់គ្លេស"},
    "kh-latn": {"en": "Khmer in Latin letters", "km": "ខ្មែរសរសេរជាអក្សរឡាតាំង"},
}
KIND_NAMES: Labels = {
    "text": {"en": "Typed messages", "km": "សារដែលបានវាយ"},
    "button": {"en": "Buttons", "km": "ប៊ូតុង"},
    "command": {"en": "Commands (/start, /help, ...)", "km": "ពាក្យបញ្ជា (/start, /help, ...)"},
    "non-text": {"en": "Stickers, photos, voice", "km": "ស្ទីគ័រ រូបថត សំឡេង"},
    "language": {"en": "Language changes", "km": "ការប្តូរភាសា"},
    "feedback": {"en": "Feedback 👍 / 👎", "km": "មតិ 👍 / 👎"},
}
REPLY_NAMES: Labels = {
    "urgent": {"en": "Urgent reply, 1280 first", "km": "ចម្លើយបន្ទាន់ 1280 មុនគេ"},
    "check_in": {"en": "Asked \"Are you safe right now?\"", "km": "បានសួរ «តើអ្នកមានសុវត្ថិភាពឥឡូវនេះទេ?»"},
    "clarify": {"en": "Asked \"Is this about ...?\"", "km": "បានសួរ «តើនេះអំពី ...?»"},
    "referral": {"en": "Referral", "km": "ការបញ្ជូន"},
    "menu": {"en": "Nothing recognised: the menu", "km": "មិនស្គាល់៖ ម៉ឺនុយ"},
    "fixed": {"en": "Fixed text (commands, stickers)", "km": "អត្ថបទថេរ (ពាក្យបញ្ជា ស្ទីគ័រ)"},
}
NOT_MATCHED: Mapping[str, str] = {"en": "Nothing matched", "km": "មិនត្រូវនឹងប្រធានបទណាមួយ"}
ANSWER_NAMES: Labels = {
    "danger": {"en": "Answered \"I am in danger now\"", "km": "ឆ្លើយ «ខ្ញុំកំពុងមានគ្រោះថ្នាក់»"},
    "suicide": {"en": "Answered \"thinking of ending my life\" (or the self-harm button)",
                "km": "ឆ្លើយ «គិតចង់បញ្ចប់ជីវិត» (ឬប៊ូតុងធ្វើបាបខ្លួនឯង)"},
}


class _Cells:
    """Exact counts by cell name, and the equations between them, gathered while building."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.equations: list[Equation] = []

    def add(self, name: str, value: int) -> str:
        self.values[name] = value
        return name

    def table(self, total: str, parts: Mapping[str, int], prefix: str) -> list[str]:
        """Cells for every part, with the equation total = sum(parts)."""
        names = [self.add(f"{prefix}:{key}", n) for key, n in parts.items()]
        if sum(parts.values()) == self.values[total]:
            self.equations.append((total, names))
        return names


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def build_report(
    counts: Counts,
    *,
    topics: Labels,
    partners: Labels,
    chi: Mapping[str, str],
    lang: str = "en",
    threshold: int = 5,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """The report for `counts`: topic and partner titles by id, chi: topic id -> "Group › Category"."""
    cells = _Cells()
    events = cells.add("events", counts.events)
    messages = cells.add("messages", counts.messages)
    crisis = cells.add("crisis", counts.crisis)
    cells.add("referrals", counts.referrals)
    cells.add("typed", counts.kinds["text"])
    nothing = cells.add("nothing_matched", counts.nothing_matched)

    # Weeks (Cambodian days, Monday to Sunday); the first and last may be partial.
    weeks: dict[str, list[date]] = {}
    day = counts.since
    while day <= counts.until:
        weeks.setdefault(week_of(day), []).append(day)
        day += timedelta(days=1)
    week_events = {w: sum(counts.days[d] for d in ds) for w, ds in weeks.items()}
    week_crisis = {w: sum(counts.crisis_days[d] for d in ds) for w, ds in weeks.items()}
    cells.table(events, week_events, "week_events")
    cells.table(crisis, week_crisis, "week_crisis")

    ranked_topics = _ranked(counts.topics)
    cells.table(messages, dict(ranked_topics), "topic")
    kinds = {k: counts.kinds[k] for k in KINDS if counts.kinds[k]}
    cells.table(events, kinds, "kind")
    cells.table(events, dict(_ranked(counts.languages)), "language")
    cells.table(events, {r: counts.replies[r] for r in REPLIES if counts.replies[r]}, "reply")
    cells.table(events, {str(h): counts.hours[h] for h in range(24)}, "hour")
    for key, n in _ranked(counts.partners):
        cells.add(f"partner:{key}", n)

    # CHI roll-up: messages = groups; a group = its categories; a category = its topics.
    categories: dict[str, dict[str, int]] = {}
    for topic, n in ranked_topics:
        category = NOT_MATCHED["en"] if topic == UNKNOWN else chi.get(topic) or "Uncategorised"
        categories.setdefault(category, {})[topic] = n
    groups: dict[str, dict[str, int]] = {}
    for category, members in categories.items():
        groups.setdefault(category.split("›")[0].strip(), {})[category] = sum(members.values())
    cells.table(messages, {g: sum(c.values()) for g, c in groups.items()}, "chi_group")
    for group, members in groups.items():
        cells.table(f"chi_group:{group}", members, "chi")
    for category, members in categories.items():
        cells.equations.append((f"chi:{category}", [f"topic:{t}" for t in members]))

    # Feedback per topic; the totals are the feedback kind when every press carried a value.
    helpful = cells.add("helpful", sum(n for (_, f), n in counts.feedback.items() if f == "helpful"))
    unhelpful = cells.add("not_helpful", sum(n for (_, f), n in counts.feedback.items() if f == "not_helpful"))
    feedback_topics = sorted({t for t, _ in counts.feedback})
    cells.table(helpful, {t: counts.feedback[(t, "helpful")] for t in feedback_topics}, "helpful")
    cells.table(unhelpful, {t: counts.feedback[(t, "not_helpful")] for t in feedback_topics}, "not_helpful")
    if counts.kinds["feedback"] and counts.kinds["feedback"] == counts.feedback.total():
        cells.equations.append(("kind:feedback", [helpful, unhelpful]))
    # The same number shown twice is an equation too.
    cells.equations += [(nothing, ["topic:" + UNKNOWN] if counts.topics[UNKNOWN] else []),
                        ("typed", ["kind:text"] if counts.kinds["text"] else [])]

    cells.add("check_in", counts.replies["check_in"])
    for answer in ANSWER_NAMES:
        cells.add(f"answer:{answer}", counts.check_in_answers[answer])
    for month, n in counts.people.items():
        cells.add(f"people:{month}", n)

    hidden = protect(cells.values, cells.equations, threshold) if threshold > 1 else {}

    def cell(name: str) -> Cell:
        if name in hidden:
            return {"count": None, "suppressed": hidden[name]}
        return {"count": cells.values[name], "suppressed": None}

    def rows(prefix: str, labels: Mapping[str, str], keys: Sequence[str]) -> list[dict[str, Any]]:
        return [{"id": k, "label": labels.get(k, k), **cell(f"{prefix}:{k}")} for k in keys]

    def label(table: Labels, key: str) -> str:
        names = table.get(key, {})
        return names.get(lang) or names.get("en") or key

    topic_labels = {t: NOT_MATCHED[lang] if t == UNKNOWN else label(topics, t) for t in counts.topics}
    people_months = sorted(counts.people)
    shares = [cells.values[c] if c not in hidden else None for c in (helpful, unhelpful)]
    typed_shown = "typed" not in hidden and nothing not in hidden and counts.kinds["text"]
    return {
        "schema": SCHEMA,
        "generated": (generated or datetime.now(CAMBODIA)).astimezone(CAMBODIA).strftime("%Y-%m-%d %H:%M"),
        "period": {"from": counts.since.isoformat(), "to": counts.until.isoformat(),
                   "timezone": "Asia/Phnom_Penh", "closed_days_only": True},
        "channel": counts.channel,
        "language": lang,
        "suppress_below": threshold,
        "headline": {
            "people": cell(f"people:{people_months[-1]}") | {"month": people_months[-1]} if people_months
            else {"count": None, "suppressed": None, "month": None},
            "messages": cell(messages),
            "crisis": cell(crisis),
            "referrals": cell("referrals"),
            "helpful_percent": _percent(shares[0], (shares[0] or 0) + (shares[1] or 0))
            if None not in shares else None,
        },
        "totals": {name: cell(name) for name in ("events", "messages", "typed", "nothing_matched", "crisis",
                                                 "referrals", "helpful", "not_helpful", "check_in")},
        "nothing_matched_percent": _percent(counts.nothing_matched, counts.kinds["text"]) if typed_shown else None,
        "weeks": [{"id": w, "from": ds[0].isoformat(), "to": ds[-1].isoformat(), "partial": len(ds) < 7,
                   "events": cell(f"week_events:{w}"), "crisis": cell(f"week_crisis:{w}")}
                  for w, ds in weeks.items()],
        "topics": rows("topic", topic_labels, [t for t, _ in ranked_topics]),
        "partners": rows("partner", {p: label(partners, p) for p in counts.partners},
                         [p for p, _ in _ranked(counts.partners)]),
        "languages": rows("language", {k: label(LANGUAGE_NAMES, k) for k in counts.languages},
                          [k for k, _ in _ranked(counts.languages)]),
        "kinds": rows("kind", {k: label(KIND_NAMES, k) for k in kinds}, list(kinds)),
        "replies": rows("reply", {r: label(REPLY_NAMES, r) for r in REPLIES},
                        [r for r in REPLIES if counts.replies[r]]),
        "hours": rows("hour", {}, [str(h) for h in range(24)]),
        "chi": [{"id": g, "label": g, **cell(f"chi_group:{g}"),
                 "categories": rows("chi", {}, list(members))} for g, members in groups.items()],
        "feedback": [{"id": t, "label": topic_labels.get(t) or label(topics, t),
                      "helpful": cell(f"helpful:{t}"), "not_helpful": cell(f"not_helpful:{t}")}
                     for t in feedback_topics],
        "check_in": {"asked": cell("check_in"),
                     "answers": rows("answer", {a: label(ANSWER_NAMES, a) for a in ANSWER_NAMES},
                                     list(ANSWER_NAMES))},
        "people_by_month": [{"month": m, **cell(f"people:{m}")} for m in people_months],
    }


def _ranked(counter: Mapping[str, int]) -> list[tuple[str, int]]:
    """Largest first (ties by id), zero counts left out."""
    return sorted(((k, v) for k, v in counter.items() if v), key=lambda kv: (-kv[1], kv[0]))


def _percent(part: int | None, whole: int) -> float | None:
    return round(100 * part / whole, 1) if part is not None and whole else None
