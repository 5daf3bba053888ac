"""The answers a reply offers when the bot asks instead of guessing, for every channel.

"Are you safe right now?" offers: in danger now / thinking of ending my life / safe, I need
information. "Is this about ...?" offers the likely topics and "Something else". Telegram
shows them as buttons (the `data` below is the callback data), the console chat numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content
from bot.engine import Hints, Response

MENU = "m"


@dataclass(frozen=True)
class Choice:
    """One answer: its label in the reply language and what choosing it means."""

    label: str
    data: str  # "c:danger" | "c:suicide" | "c:safe" | "c:safe:<topic>" | "t:<topic>" | "m"


def offered(content: Content, response: Response, lang: str) -> list[Choice]:
    """The answers this reply asks the user to choose from (none for an ordinary referral)."""
    if response.check_in:
        topic = response.intents[0] if response.matched else ""
        return [
            Choice(content.text("check_in_danger", lang), "c:danger"),
            Choice(content.text("check_in_suicide", lang), "c:suicide"),
            Choice(content.text("check_in_safe", lang), f"c:safe:{topic}" if topic else "c:safe"),
        ]
    if response.choices:
        return [Choice(content.topics[t].title[lang], f"t:{t}") for t in response.choices] + [
            Choice(content.text("something_else", lang), MENU)]
    return []


def hints_for(data: str, content: Content, language: str | None) -> Hints | None:
    """What the engine is asked after a choice; None when the answer is the topic menu."""
    kind, _, value = data.partition(":")
    if kind == "c" and value in ("danger", "suicide"):
        return Hints(language=language, crisis=(value,))
    if kind == "c" and value.startswith("safe:") and value[5:] in content.topics:
        return Hints(language=language, topic=value[5:])
    if kind == "t" and value in content.topics:
        return Hints(language=language, topic=value)
    return None
