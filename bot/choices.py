"""The answers a reply offers, for every channel: Telegram shows them as buttons (the `data`
below is the callback data), the console chat numbers them.

"Are you safe right now?" offers: in danger now / thinking of ending my life / safe, I need
information. "Is this about ...?" offers the likely topics and "Something else". A referral
offers the rest of its organisations, "Helpful" / "Not what I meant", and the topics; when
nothing was recognised, the topics themselves. The conversation never dead-ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content
from bot.engine import Hints, Response
from bot.replies import more_partners

MENU = "m"


@dataclass(frozen=True)
class Choice:
    """One answer: its label in the reply language and what choosing it means."""

    label: str
    data: str  # c:danger | c:suicide | c:safe[:<topic>] | t:<topic> | o:<topic> | f:y|n:<topic> | m


def offered(content: Content, response: Response, lang: str) -> list[Choice]:
    """The answers this reply offers, in the order they are shown."""
    if response.check_in:
        topic = response.intents[0] if response.matched else ""
        return [
            Choice(content.text("check_in_danger", lang), "c:danger"),
            Choice(content.text("check_in_suicide", lang), "c:suicide"),
            Choice(content.text("check_in_safe", lang), f"c:safe:{topic}" if topic else "c:safe"),
        ]
    if response.choices:
        return [Choice(content.topics[t].label[lang], f"t:{t}") for t in response.choices] + [
            Choice(content.text("something_else", lang), MENU)]
    topic = response.intents[0] if response.intents and response.intents[0] in content.topics else ""
    if response.form == "menu" or (topic and not content.topics[topic].menu and not response.crisis):
        return topics(content, lang)  # nothing recognised, or small talk: the menu
    out = []
    if response.more:
        return [Choice(content.text("topics_button", lang), MENU)]
    if topic and not response.crisis and more_partners(content, topic):
        out.append(Choice(content.text("more_button", lang), f"o:{topic}"))
    if topic and response.form == "referral":
        out += [Choice(content.text("helpful_button", lang), f"f:y:{topic}"),
                Choice(content.text("not_meant_button", lang), f"f:n:{topic}")]
    return [*out, Choice(content.text("topics_button", lang), MENU)]


def topics(content: Content, lang: str) -> list[Choice]:
    """The topic menu: one short label each."""
    return [Choice(t.label[lang], f"t:{t.id}") for t in content.menu_topics]


def hints_for(data: str, content: Content, language: str | None) -> Hints | None:
    """What the engine is asked after a choice; None when the answer is not an engine reply
    (the topic menu, feedback, a language switch, or data that is stale or forged)."""
    kind, _, value = data.partition(":")
    if kind == "c" and value in ("danger", "suicide"):
        return Hints(language=language, crisis=(value,))
    if kind == "c" and value.startswith("safe:") and value[5:] in content.topics:
        return Hints(language=language, topic=value[5:])
    if kind == "t" and value in content.topics:
        return Hints(language=language, topic=value)
    if kind == "o" and value in content.topics:
        return Hints(language=language, topic=value, more=True)
    return None


def feedback(data: str, content: Content) -> tuple[str, bool] | None:
    """(topic, helpful) for a feedback button, else None."""
    kind, _, rest = data.partition(":")
    answer, _, topic = rest.partition(":")
    if kind == "f" and answer in ("y", "n") and topic in content.topics:
        return topic, answer == "y"
    return None
