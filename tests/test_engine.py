"""Engine.respond end to end on the real content: topics, crisis, provinces, hints."""

from __future__ import annotations

import pytest

from bot.content import Content
from bot.engine import UNKNOWN, Engine, Hints


@pytest.mark.parametrize("text", [
    "i want to kill myself",
    "I've been thinking about suicide",
    "I took a whole bottle of pills",
    "I keep cutting myself",
    "ខ្ញុំចង់សម្លាប់ខ្លួន",
    "ខ្ញុំ\u200bមិន\u200bចង់\u200bរស់\u200bទៀត\u200bទេ",
    "ខ្ញុំចង់ធ្វើអត្តឃាត",
    "knhom chong somlab khluon",
    "kjom jong slap",
    "khnhom min chong rous tiet te",
    "jg slab",  # two words the common word list does not hold: romanised Khmer by the lexicon
    "chg slab",
])
def test_suicide_is_a_crisis_and_self_harm_comes_first(engine: Engine, text: str) -> None:
    response = engine.respond(text)
    assert response.crisis
    assert "suicide" in response.crisis_kinds
    assert response.intents[0] == "self_harm"


@pytest.mark.parametrize("text", [
    "I'm in danger, he is going to kill me",
    "my dad is hitting my mom right now",
    "help me now, someone is following me home",
    "ខ្ញុំមានគ្រោះថ្នាក់ ជួយខ្ញុំផង",
    "ប៉ាកំពុងវាយម៉ាក់",
    "ឪពុកចុងគំរាមសម្លាប់ខ្ញុំ",
    "knhom mean kroh thnak",
    "jouy pong ov kompung veay mday",
])
def test_danger_is_a_crisis(engine: Engine, text: str) -> None:
    response = engine.respond(text)
    assert "danger" in response.crisis_kinds
    assert response.partners[0] == "police"


@pytest.mark.parametrize("text", [
    "I'm not in danger",
    "I'm not in danger, I just want advice on raising my kids",
    "my homework is killing me",
    "this exam is killing me",
    "I'm dying to see the new movie",
    "I almost died laughing",
    "what is the emergency number for fire?",
    "ខ្ញុំមិនមានគ្រោះថ្នាក់ទេ",
    "ខ្ញុំ\u200bមិន\u200bមាន\u200bគ្រោះថ្នាក់\u200bទេ",
    "knhom min mean kroh thnak te",
    "I love my life",
    "អត់មែនចង់សម្លាប់ខ្លួនទេ កុំភ័យ គ្រាន់តែហត់",  # "it's not that I want to kill myself": the phrase inside too
])
def test_not_a_crisis(engine: Engine, text: str) -> None:
    assert not engine.respond(text).crisis


@pytest.mark.parametrize("text", ["not good, want to die", "not really. i want to kill myself"])
def test_a_negation_in_another_clause_does_not_cancel_an_urgent_phrase(content: Content, text: str) -> None:
    assert Engine(content).respond(text).crisis


@pytest.mark.parametrize("text", [
    "what's the weather",
    "what's the weather in phnom penh tomorrow",
    "asdfgh",
    "1234",
    "who won the football match",
    "",
    "   ",
    "🙂🙂🙂",
    "ÁÜñúmnitDsø",
])
def test_out_of_scope_is_unknown(engine: Engine, text: str) -> None:
    response = engine.respond(text)
    assert response.intents == (UNKNOWN,)
    assert not response.matched
    assert not response.crisis


@pytest.mark.parametrize(("text", "topic"), [
    ("my teacher hit me with a stick", "school_violence"),
    ("គ្រូវាយខ្ញុំ", "school_violence"),
    ("krou vay knhom nov sala", "school_violence"),
    ("someone is sharing my photos on facebook", "online_safety"),
    ("my uncle touched my private parts", "sexual_abuse"),
    ("my stepfather beats me every day", "violence_at_home"),
    ("my parents want me to get married, I'm 14", "child_marriage"),
    ("a broker took my passport", "exploitation"),
    ("the monk at the pagoda hit me", "pagoda"),
    ("how can I discipline my son without hitting", "positive_parenting"),
    ("I feel so lonely", "emotional_support"),
    ("who made this bot", "about"),
    ("hello", "smalltalk"),
    ("សួស្តី", "smalltalk"),
])
def test_topics(engine: Engine, text: str, topic: str) -> None:
    assert engine.respond(text).intents[0] == topic


def test_court_is_not_school(engine: Engine) -> None:
    assert engine.respond("ខ្ញុំត្រូវទៅសាលាក្តី").intents[0] != "school_violence"


def test_teacher_is_not_family(engine: Engine) -> None:
    assert engine.respond("គ្រួសារខ្ញុំវាយខ្ញុំ").intents[0] != "school_violence"


@pytest.mark.parametrize(("text", "first"), [
    ("I need parenting advice, we live in Kratie", "childfund"),
    ("I need parenting advice, we live in Siem Reap", "mowa"),
    ("can I put my children in an orphanage in Battambang", "cct"),
    ("ខ្ញុំចង់ដាក់កូននៅមណ្ឌលកុមារកំព្រានៅបាត់ដំបង", "cct"),
])
def test_partners_working_in_the_named_province_come_first(engine: Engine, text: str, first: str) -> None:
    response = engine.respond(text)
    assert response.provinces
    assert response.partners[0] == first
    assert engine.content.organizations[first].service_area


def test_without_a_province_partners_keep_their_order(engine: Engine) -> None:
    for topic in engine.content.menu_topics:
        response = engine.respond("", Hints(language="en", topic=topic.id))
        shown = [p for p in response.partners if p in topic.partners and p != "chc"]  # 1280 has its own line
        assert shown == [p for p in topic.partners if p in shown], topic.id
        assert response.provinces == ()


def test_province_is_recognised_in_every_language(engine: Engine) -> None:
    assert engine.respond("I live in phnom penh").provinces == ("phnom_penh",)
    assert engine.respond("ខ្ញុំរស់នៅភ្នំពេញ").provinces == ("phnom_penh",)


def test_hint_topic_comes_first(engine: Engine) -> None:
    response = engine.respond("my teacher hit me", Hints(topic="pagoda"))
    assert response.intents[0] == "pagoda"
    assert "school_violence" in response.intents


def test_menu_topic_without_text(engine: Engine) -> None:
    response = engine.respond("", Hints(language="km", topic="online_safety"))
    assert response.intents == ("online_safety",)
    assert "aple" in response.partners


def test_unknown_hint_topic_is_ignored(engine: Engine) -> None:
    assert engine.respond("hello", Hints(topic="nope")).intents[0] == "smalltalk"


def test_non_text_input_does_not_raise(engine: Engine) -> None:
    response = engine.respond(None)  # type: ignore[arg-type]
    assert response.intents == (UNKNOWN,)
    assert "1280" in response.reply


def test_scores_rank_the_intents(engine: Engine) -> None:
    response = engine.respond("my father hits me and my teacher hits me too")
    assert set(response.intents[:2]) == {"violence_at_home", "school_violence"}
    assert response.scores[response.intents[0]] >= response.scores[response.intents[1]]


def test_language_is_reported(engine: Engine) -> None:
    assert engine.respond("my teacher hit me").language == "en"
    assert engine.respond("គ្រូវាយខ្ញុំ").language == "km"
    assert engine.respond("kru veay knhom").language == "kh-latn"
    assert engine.respond("jg slab").language == "kh-latn"


@pytest.mark.parametrize(("text", "topic"), [
    ("how much is a bus ticket to bangkok", UNKNOWN),
    ("my father slaps me for bad grades", "violence_at_home"),
    ("my grandmother looks after me since my parents went to korea", "family_separation"),
    ("mday knhom min oy bay knhom nham", "violence_at_home"),
])
def test_english_words_are_not_read_as_romanised_khmer(engine: Engine, text: str, topic: str) -> None:
    # Regression: "ticket" once matched "attakeat" (suicide), "bad" matched "bot", "look ... since" "lok song".
    response = engine.respond(text)
    assert response.intents[0] == topic
    assert not response.crisis


@pytest.mark.parametrize("text", [
    "my uncle touches me at night and he is in the house right now",
    "pa srovoeng veay mak kjom ey lov, kjom klach nas",
    "ប៉ាស្រវឹងវាយម៉ាក់ខ្ញុំឥឡូវនេះ",
])
def test_violence_happening_now_is_danger(engine: Engine, text: str) -> None:
    assert "danger" in engine.respond(text).crisis_kinds


@pytest.mark.parametrize("text", [
    "when i was little my uncle touched me, now i am grown and want to talk",
    "កាលខ្ញុំនៅតូច ពូខ្ញុំធ្លាប់ប៉ះពាល់ខ្ញុំ ឥឡូវខ្ញុំធំហើយ",
    "my father used to beat me, right now I just want advice",
])
def test_violence_told_as_the_past_is_not_danger_now(engine: Engine, text: str) -> None:
    response = engine.respond(text)
    assert not response.crisis and response.matched


@pytest.mark.parametrize("text", [
    "i want to die lol",
    "ugh i want to kill myself 😂😂",
    "ខ្ញុំចង់ស្លាប់ហើយ ហាហា",
    "kjom jong slap 555",
    "when i was little i used to cut myself, now i am fine",
    "when i was little i wanted to die, now i am fine",
    "ឆ្នាំមុនខ្ញុំធ្លាប់ចង់សម្លាប់ខ្លួន ឥឡូវខ្ញុំសុខសប្បាយហើយ",
    "i watched a movie where the girl wants to kill herself and i cried",
    "ទើបមើលភាពយន្តដែលតួឯកចង់សម្លាប់ខ្លួន យំរហូត",
    "merl rerng korea tuo ek jong slab",
])
def test_urgent_words_said_laughing_or_told_as_the_past_or_a_story_ask_instead(content: Content, text: str) -> None:
    # With phrases alone: usually a joke, over, or a film, and "Are you safe right now?" lets a
    # child who means it say so in one tap. (With the heads, they decide: urgent, asked, or neither.)
    response = Engine(content).respond(text)
    assert not response.crisis and response.check_in, text


def test_told_as_the_past_or_a_story_with_a_cry_for_help_stays_urgent(content: Content) -> None:
    engine = Engine(content)
    assert engine.respond("years ago i tried to kill myself and now i want to again, please help me").crisis
    assert engine.respond("i watched a film about suicide and now i want to kill myself too, please help").crisis


@pytest.mark.parametrize("text", [
    "i paid 5550 riel for the pills and i want to die",
    "ខ្ញុំចង់សម្លាប់ខ្លួនឲ្យរួចពីបញ្ហាទាំងអស់",  # បញ្ហា (problem) holds ហា, a laugh only when whole
])
def test_laughter_is_a_whole_word_or_an_emoji(engine: Engine, text: str) -> None:
    assert engine.respond(text).crisis
