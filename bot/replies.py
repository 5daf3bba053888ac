"""Composing the reply: curated texts and directory entries, never generated advice.

Plain text (no Telegram markup), so the same reply is valid in Telegram, the console
and the classify output. Every path ends up containing 1280.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.content import HELPLINE_ID, Content, Organization
from bot.directory import area_note, hours_note, live_first, rank_by_province

TELEGRAM_LIMIT = 4096
# Room kept for the closing lines when a reply has to be shortened.
_BUDGET = TELEGRAM_LIMIT - 600
_CONTACT_ICONS = {"phone": "☎", "website": "🌐", "telegram": "✈", "messenger": "💬", "email": "✉"}


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
) -> tuple[str, tuple[str, ...]]:
    """Build the reply text and the ids of the organisations it names, in order."""
    head: list[str] = []
    named: list[str] = []
    if "danger" in crisis_kinds:
        head.append(content.text("crisis_danger", lang))
        named += ["police", HELPLINE_ID]
    if "suicide" in crisis_kinds:
        head.append(content.text("crisis_suicide", lang))
        named.append(HELPLINE_ID)

    body: list[str] = []
    if intents:
        topic = content.topics[intents[0]]
        body.append(topic.reply[lang])
        partners = _ranked_partners(content, topic.partners, provinces)
        if partners:
            body.append(content.text("partners_header", lang))
        for org in partners:
            entry = _describe(content, org, lang)
            if sum(map(len, head + body)) + len(entry) > _BUDGET:
                body.append(content.text("truncated", lang))
                break
            body.append(entry)
            named.append(org.id)
    elif not head:
        titles = "\n".join(f"• {t.title[lang]}" for t in content.menu_topics)
        body += [content.text("unknown", lang), content.text("topics_header", lang) + "\n" + titles]
        named.append(HELPLINE_ID)

    tail = [] if head else [content.text("helpline", lang)]
    named.append(HELPLINE_ID)
    return _fit("\n\n".join(head + body + tail), content.text("helpline", lang)), tuple(
        dict.fromkeys(n for n in named if n in content.organizations)
    )


def compose_check_in(content: Content, lang: str) -> tuple[str, tuple[str, ...]]:
    """"Are you safe right now?": asked when danger or suicide is possible but not clear."""
    return content.text("check_in", lang), (HELPLINE_ID,)


def compose_clarify(content: Content, lang: str, topics: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """"Is this about ...?" with the likely topics, when the bot is unsure which one it is."""
    titles = "\n".join(f"• {content.topics[t].title[lang]}" for t in topics)
    return f"{content.text('clarify', lang)}\n{titles}\n\n{content.text('helpline', lang)}", (HELPLINE_ID,)


def _fit(reply: str, helpline: str) -> str:
    """Keep a reply within Telegram's limit without ever losing the helpline."""
    if len(reply) <= TELEGRAM_LIMIT:
        return reply
    return reply[: TELEGRAM_LIMIT - len(helpline) - 3].rstrip() + "…\n\n" + helpline


def _ranked_partners(content: Content, ids: Sequence[str], provinces: Sequence[str]) -> list[Organization]:
    """The topic's partners, those working in a province the user named first."""
    return rank_by_province((content.organizations[i] for i in ids if i in content.organizations), provinces)


def _describe(content: Content, org: Organization, lang: str) -> str:
    """One directory entry: name, what it does, how to reach it."""
    name = org.name[lang]
    if org.alternate_name and org.alternate_name not in name:
        name += f" ({org.alternate_name})"
    lines = [f"• {name}", f"  {org.description[lang]}"]
    for contact in live_first(org.contacts):
        label = contact.label.get(lang)
        icon = _CONTACT_ICONS.get(contact.type, "•")
        lines.append(f"  {icon} {contact.value}" + (f" — {label}" if label else ""))
    if not org.contacts:
        lines.append("  " + content.text("no_contact", lang))
    lines += (f"  {note}" for note in (hours_note(content, org, lang), area_note(content, org, lang)) if note)
    return "\n".join(lines)
