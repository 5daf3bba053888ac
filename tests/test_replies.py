"""Replies: the user's language, urgent line first, topics when unsure, 1280 always, ≤4096."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.content import Content
from bot.engine import Engine, Hints
from bot.replies import TELEGRAM_LIMIT, _fit, compose, reply_language

_KHMER = re.compile(r"[\u1780-\u17ff]")


def _khmer_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(bool(_KHMER.match(c)) for c in letters) / max(len(letters), 1)


def test_reply_language_rules() -> None:
    assert reply_language("en", None) == "en"
    assert reply_language("km", None) == "km"
    assert reply_language("kh-latn", None) == "km"
    assert reply_language("km", "en") == "en"
    assert reply_language("en", "km") == "km"
    assert reply_language("en", "fr") == "en"


@pytest.mark.parametrize("text", ["my teacher hit me", "hello", "asdfgh", "i want to kill myself"])
def test_english_message_gets_english_reply(engine: Engine, text: str) -> None:
    reply = engine.respond(text).reply
    assert _khmer_share(reply) < 0.2
    assert "1280" in reply


@pytest.mark.parametrize("text", ["គ្រូវាយខ្ញុំ", "សួស្តី", "ថ្ងៃនេះភ្លៀងទេ?", "kru veay knhom", "ខ្ញុំចង់សម្លាប់ខ្លួន"])
def test_khmer_and_romanised_messages_get_khmer_replies(engine: Engine, text: str) -> None:
    reply = engine.respond(text).reply
    assert _khmer_share(reply) > 0.6
    assert "1280" in reply


def test_chosen_language_wins(engine: Engine, content: Content) -> None:
    assert engine.respond("គ្រូវាយខ្ញុំ", Hints(language="en")).reply.startswith(
        content.topics["school_violence"].reply["en"]
    )
    assert engine.respond("my teacher hit me", Hints(language="km")).reply.startswith(
        content.topics["school_violence"].reply["km"]
    )


@pytest.mark.parametrize(("text", "lang"), [
    ("my dad is hitting my mom right now", "en"),
    ("ប៉ាកំពុងវាយម៉ាក់ ជួយផង", "km"),
    ("knhom mean kroh thnak", "km"),
])
def test_danger_reply_starts_with_police_and_helpline(engine: Engine, content: Content, text: str, lang: str) -> None:
    reply = engine.respond(text).reply
    first = reply.split("\n\n")[0]
    assert first == content.text("crisis_danger", lang)
    assert "117" in first and "1280" in first


@pytest.mark.parametrize(("text", "lang"), [
    ("i want to kill myself", "en"),
    ("ខ្ញុំចង់សម្លាប់ខ្លួន", "km"),
    ("knhom chong somlab khluon", "km"),
])
def test_suicide_reply_starts_with_the_urgent_line(engine: Engine, content: Content, text: str, lang: str) -> None:
    response = engine.respond(text)
    first = response.reply.split("\n\n")[0]
    assert first == content.text("crisis_suicide", lang)
    assert "1280" in first
    assert content.topics["self_harm"].reply[lang] in response.reply


def test_topic_reply_names_partners_with_contacts(engine: Engine, content: Content) -> None:
    response = engine.respond("someone is threatening to post my nude photos online")
    assert response.reply.startswith(content.topics["online_safety"].reply["en"])
    assert content.text("partners_header", "en") in response.reply
    assert "092 311 511" in response.reply  # APLE hotline
    assert response.partners[-1] == "chc"
    assert response.reply.endswith(content.text("helpline", "en"))


@pytest.mark.parametrize(("text", "lang"), [("asdfgh", "en"), ("ÁÜñúmnitDsø", "en"), ("ថ្ងៃនេះភ្លៀងទេ?", "km")])
def test_unknown_reply_lists_topics_and_helpline(engine: Engine, content: Content, text: str, lang: str) -> None:
    reply = engine.respond(text).reply
    assert reply.startswith(content.text("unknown", lang))
    assert content.text("topics_header", lang) in reply
    for topic in content.menu_topics:
        assert topic.title[lang] in reply
    assert "smalltalk" not in [t.id for t in content.menu_topics]
    assert "1280" in reply


def test_every_topic_reply_fits_and_has_the_helpline(engine: Engine, content: Content) -> None:
    for topic_id in content.topics:
        for lang in ("km", "en"):
            response = engine.respond("", Hints(language=lang, topic=topic_id))
            assert "1280" in response.reply
            assert len(response.reply) <= TELEGRAM_LIMIT


def test_compose_keeps_long_replies_within_the_limit(content: Content) -> None:
    all_partners = [o.id for o in content.organizations.values() if o.referable]
    topic = content.topics["about"]
    big = dataclasses.replace(topic, partners=tuple(all_partners) * 5)
    crowded = dataclasses.replace(content, topics={**content.topics, "about": big})
    reply = compose(crowded, "km", ["about"], ("danger", "suicide"), ())
    assert len(reply.text) <= TELEGRAM_LIMIT and len(reply.html) <= TELEGRAM_LIMIT
    assert "1280" in reply.text and "1280" in reply.html
    assert reply.partners[0] == "police"


def test_fit_never_loses_the_helpline() -> None:
    helpline = "call 1280"
    text = _fit("x" * 10_000, helpline)
    assert len(text) <= TELEGRAM_LIMIT
    assert text.endswith(helpline)
    assert _fit("short", helpline) == "short"


def test_danger_and_suicide_together_give_both_urgent_lines(engine: Engine) -> None:
    reply = engine.respond("he is hitting me right now and i took a lot of pills").reply
    danger, suicide = engine.content.text("crisis_danger", "en"), engine.content.text("crisis_suicide", "en")
    assert reply.startswith(danger + "\n\n" + suicide)


def test_topic_replies_fit_one_screen_with_1280_once(engine: Engine) -> None:
    for topic in engine.content.menu_topics:
        if topic.id == "self_harm":  # a crisis reply: the urgent line carries 1280
            continue
        for lang in ("km", "en"):
            reply = engine.respond("", Hints(language=lang, topic=topic.id)).reply
            assert len(reply) <= 1000, (topic.id, lang, len(reply))
            assert reply.count("1280") == 1, (topic.id, lang)
