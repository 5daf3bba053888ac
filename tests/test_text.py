"""Normaliser, tokeniser and language detection on real Khmer, English and romanised Khmer."""

from __future__ import annotations

import pytest

from bot.content import Content
from bot.text import MAX_READ, detect_language, is_khmer, normalise, split_known, tokenise


@pytest.mark.parametrize("mark", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_invisible_characters_are_removed(mark: str) -> None:
    assert normalise(f"គ្រូ{mark}វាយ{mark}ខ្ញុំ") == normalise("គ្រូវាយខ្ញុំ")
    assert mark not in normalise(f"te{mark}acher")
    assert normalise(f"te{mark}acher") == "teacher"


def test_zero_width_spaces_between_khmer_words_do_not_change_tokens() -> None:
    assert tokenise(normalise("ខ្ញុំ\u200bចង់\u200bសម្លាប់\u200bខ្លួន")) == tokenise(normalise("ខ្ញុំចង់សម្លាប់ខ្លួន"))


def test_coeng_da_and_coeng_ta_spellings_of_mother_are_equal() -> None:
    assert "\u17d2\u178a" in "ម្ដាយ" and "\u17d2\u178f" in "ម្តាយ"
    assert normalise("ម្ដាយ") == normalise("ម្តាយ")
    assert normalise("ឪពុកម្ដាយខ្ញុំ") == normalise("ឪពុកម្តាយខ្ញុំ")


@pytest.mark.parametrize("spelling", ["ឲ្យ", "អោយ", "ឱ្យ"])
def test_three_spellings_of_give_are_equal(spelling: str) -> None:
    assert normalise(f"បង្ខំ{spelling}ខ្ញុំរៀបការ") == normalise("បង្ខំឱ្យខ្ញុំរៀបការ")


def test_khmer_digits_become_ascii() -> None:
    assert normalise("១២៣៤៥៦៧៨៩០") == "1234567890"
    assert normalise("ខ្ញុំអាយុ១៥ឆ្នាំ") == normalise("ខ្ញុំអាយុ15ឆ្នាំ")


def test_casefold_and_whitespace() -> None:
    assert normalise("  My TEACHER\tHit\nme  ") == "my teacher hit me"
    assert normalise("STRASSE") == normalise("straße")


def test_curly_apostrophes_become_straight() -> None:
    assert normalise("I don\u2019t want to live") == "i don't want to live"


def test_control_characters_become_spaces() -> None:
    assert normalise("hello\x00world\x07!") == "hello world !"


def test_only_the_first_max_read_characters_are_read() -> None:
    # "ab" repeated: no letter runs, which normalise shortens ("hiiii" -> "hii").
    assert len(normalise("ab" * (MAX_READ * 5))) == MAX_READ


def test_letter_runs_count_twice() -> None:
    assert normalise("hiiiii pleaseeee") == "hii pleasee"
    assert normalise("ខ្ញុំៗ") == normalise("ខ្ញុំ")  # Khmer is left to the Khmer rules


def test_empty_and_blank_text() -> None:
    assert normalise("") == ""
    assert normalise(" \u200b\n\t") == ""
    assert tokenise("") == ()


def test_tokenise_segments_khmer_and_splits_latin_on_letters() -> None:
    tokens = tokenise(normalise("គ្រូវាយខ្ញុំ at school!"))
    assert tokens[-2:] == ("at", "school")
    assert "".join(t for t in tokens if is_khmer(t)) == normalise("គ្រូវាយខ្ញុំ")
    assert len([t for t in tokens if is_khmer(t)]) >= 2


def test_tokenise_keeps_english_contractions() -> None:
    assert tokenise(normalise("I'm not in danger, don't worry")) == ("i'm", "not", "in", "danger", "don't", "worry")


def test_split_known_splits_only_into_known_words() -> None:
    words = frozenset({"ការ", "ចិញ្ចឹម"})
    assert split_known(("ការចិញ្ចឹម",), words) == ("ការ", "ចិញ្ចឹម")
    # សាលាក្តី (court) stays whole because ក្តី is not a known word.
    assert split_known(("សាលាក្តី",), frozenset({"សាលា"})) == ("សាលាក្តី",)
    assert split_known(("hello",), words) == ("hello",)


def _language(text: str, content: Content) -> str:
    normalised = normalise(text)
    return detect_language(normalised, tokenise(normalised), content.markers)


@pytest.mark.parametrize("text", [
    "គ្រូវាយខ្ញុំនៅសាលារៀន",
    "ខ្ញុំត្រូវគេបោកប្រាស់លុយតាម Facebook",
    "មាននរណាម្នាក់ post រូបខ្ញុំ on TikTok",
    "តើ Cambodia PROTECT ជាអ្វី?",
])
def test_khmer_script_is_km_even_with_english_words(text: str, content: Content) -> None:
    assert _language(text, content) == "km"


@pytest.mark.parametrize("text", [
    "my teacher hit me",
    "I don't want to live anymore",
    "hello",
    "what's the weather in phnom penh",
])
def test_english(text: str, content: Content) -> None:
    assert _language(text, content) == "en"


@pytest.mark.parametrize("text", [
    "knhom chong somlab khluon",
    "kjom jong slap",
    "khnhom ekao nas",
    "kru veay knhom nov sala",
    "pa mak bongkhom oy knhom reab kar",
])
def test_romanised_khmer(text: str, content: Content) -> None:
    assert _language(text, content) == "kh-latn"


def test_no_letters_is_english(content: Content) -> None:
    assert _language("1234", content) == "en"
    assert _language("", content) == "en"
