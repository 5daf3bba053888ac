"""Composing the reply: curated texts and directory entries, never generated advice.

One screen: the topic's acknowledgement and next steps, the one or two lead partners with
something usable now (a phone or a chat before a website), and 1280 once. The other
partners are one tap away ("More organisations", `compose_more`). Each reply is built once
as parts and rendered twice: plain text (console, classify) and Telegram HTML, where names
are bold and every content string is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from bot.content import HELPLINE_ID, Content, Organization
from bot.directory import area_note, hours_note, live_first, rank_by_province

TELEGRAM_LIMIT = 4096
LEAD_PARTNERS = 2
_CONTACTS_SHOWN = 2
_CONTACT_ICONS = {"phone": "☎", "website": "🌐", "telegram": "✈", "messenger": "💬", "email": "✉"}


@dataclass(frozen=True)
class Reply:
    """A reply in both renderings, and the directory ids it names, in order."""

    text: str
    html: str
    partners: tuple[str, ...]


class _Parts:
    """Paragraphs made of plain and bold runs, rendered as plain text or as escaped HTML."""

    def __init__(self) -> None:
        self.paragraphs: list[list[tuple[str, bool]]] = []

    def add(self, *runs: str | tuple[str, bool]) -> None:
        self.paragraphs.append([(r, False) if isinstance(r, str) else r for r in runs])

    def plain(self) -> str:
        return "\n\n".join("".join(text for text, _ in p) for p in self.paragraphs)

    def html(self) -> str:
        """Telegram HTML: only <, > and & need escaping there."""
        return "\n\n".join("".join(f"<b>{_escape(t)}</b>" if bold else _escape(t) for t, bold in p)
                           for p in self.paragraphs)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def reply_language(detected: str, chosen: str | None) -> str:
    """Reply in the chosen language, else the message's.

    Romanised Khmer gets Khmer script: people type Latin letters when their keyboard has
    no Khmer, not because they cannot read it.
    """
    if chosen in ("km", "en"):
        return chosen
    return "en" if detected == "en" else "km"


def compose(
    content: Content,
    lang: str,
    intents: Sequence[str],
    crisis_kinds: Sequence[str],
    provinces: Sequence[str],
) -> Reply:
    """The reply: urgent lines first when needed, the topic's text, its lead partners, 1280."""
    parts = _Parts()
    named: list[str] = []
    if "danger" in crisis_kinds:
        parts.add(content.text("crisis_danger", lang))
        named += ["police", HELPLINE_ID]
    if "suicide" in crisis_kinds:
        parts.add(content.text("crisis_suicide", lang))
        named.append(HELPLINE_ID)
    if intents:
        topic = content.topics[intents[0]]
        parts.add(topic.reply[lang])
        lead = lead_partners(content, topic.partners, provinces)
        if lead:
            parts.add(content.text("partners_header", lang))
        for org in lead:
            parts.add(*_describe(content, org, lang))
            named.append(org.id)
    elif not crisis_kinds:
        titles = "\n".join(f"• {t.title[lang]}" for t in content.menu_topics)
        parts.add(content.text("unknown", lang))
        parts.add(content.text("topics_header", lang) + "\n" + titles)
    if not crisis_kinds:  # the urgent lines already carry 1280
        parts.add(content.text("helpline", lang))
    named.append(HELPLINE_ID)
    return _reply(parts, content.text("helpline", lang), named, content)


def compose_more(content: Content, lang: str, topic_id: str, provinces: Sequence[str] = ()) -> Reply:
    """Every partner of a topic beyond the lead ones ("More organisations")."""
    topic = content.topics[topic_id]
    lead = {o.id for o in lead_partners(content, topic.partners, provinces)}
    parts = _Parts()
    parts.add((topic.title[lang], True))
    named: list[str] = []
    for org in _ranked(content, topic.partners, provinces):
        if org.id not in lead and org.id != HELPLINE_ID:
            parts.add(*_describe(content, org, lang, contacts=len(org.contacts)))
            named.append(org.id)
    parts.add(content.text("helpline", lang))
    return _reply(parts, content.text("helpline", lang), [*named, HELPLINE_ID], content)


def more_partners(content: Content, topic_id: str) -> bool:
    """Whether a topic has partners beyond the lead ones (then the reply offers the rest)."""
    partners = content.topics[topic_id].partners
    lead = lead_partners(content, partners, ())
    return any(o.id != HELPLINE_ID and o not in lead for o in _ranked(content, partners, ()))


def compose_check_in(content: Content, lang: str) -> Reply:
    """"Are you safe right now?": asked when danger or suicide is possible but not clear."""
    parts = _Parts()
    parts.add(content.text("check_in", lang))
    return _reply(parts, content.text("helpline", lang), [HELPLINE_ID], content)


def compose_clarify(content: Content, lang: str, topics: Sequence[str]) -> Reply:
    """"Is this about ...?" with the likely topics, when the bot is unsure which one it is."""
    parts = _Parts()
    parts.add(content.text("clarify", lang) + "\n" + "\n".join(f"• {content.topics[t].title[lang]}" for t in topics))
    parts.add(content.text("helpline", lang))
    return _reply(parts, content.text("helpline", lang), [HELPLINE_ID], content)


def lead_partners(content: Content, ids: Sequence[str], provinces: Sequence[str]) -> list[Organization]:
    """The one or two partners a topic's reply names: those working in a province the user
    named, then those a child can call or chat with now (the helpline has its own line;
    partners with only a website wait behind "More organisations")."""
    return [o for o in _ranked(content, ids, provinces) if o.id != HELPLINE_ID and (
        set(o.service_area) & set(provinces) or any(c.live for c in o.contacts))][:LEAD_PARTNERS]


def _reply(parts: _Parts, helpline: str, named: Sequence[str], content: Content) -> Reply:
    return Reply(
        text=_fit(parts.plain(), helpline),
        html=_fit(parts.html(), _escape(helpline)),
        partners=tuple(dict.fromkeys(n for n in named if n in content.organizations)),
    )


def _fit(reply: str, helpline: str) -> str:
    """Keep a reply within Telegram's limit without ever losing the helpline."""
    if len(reply) <= TELEGRAM_LIMIT:
        return reply
    return reply[: TELEGRAM_LIMIT - len(helpline) - 3].rstrip() + "…\n\n" + helpline


def _ranked(content: Content, ids: Sequence[str], provinces: Sequence[str]) -> list[Organization]:
    """The topic's partners, those working in a province the user named first."""
    return rank_by_province((content.organizations[i] for i in ids if i in content.organizations), provinces)


def _describe(content: Content, org: Organization, lang: str,
              contacts: int = _CONTACTS_SHOWN) -> list[str | tuple[str, bool]]:
    """One directory entry: the name in bold, what it does (first sentence), how to reach it now."""
    name = org.name[lang]
    if org.alternate_name and org.alternate_name not in name:
        name += f" ({org.alternate_name})"
    runs: list[str | tuple[str, bool]] = ["• ", (name, True), f"\n  {_first_sentence(org.description[lang])}"]
    for contact in live_first(org.contacts)[:contacts]:
        label = contact.label.get(lang)
        runs.append(f"\n  {_CONTACT_ICONS.get(contact.type, '•')} {contact.value}" + (f" — {label}" if label else ""))
    if not org.contacts:
        runs.append("\n  " + content.text("no_contact", lang))
    runs += (f"\n  {note}" for note in (hours_note(content, org, lang), area_note(content, org, lang)) if note)
    return runs


def _first_sentence(text: str) -> str:
    """Up to the first full stop (". " or Khmer "។"), so an entry stays a few lines long."""
    for stop in ("។", ". "):
        if stop in text:
            return text[: text.index(stop) + len(stop)].rstrip()
    return text
