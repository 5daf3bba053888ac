"""Romanised Khmer read as Khmer script for the embedding: the lexicon, its checks, its effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import Content, ContentError, load
from bot.engine import Engine
from bot.examples import digest
from bot.romanised import Lexicon, reading_text
from bot.text import normalise


def test_known_spellings_become_khmer_script_and_the_rest_stays() -> None:
    lexicon = Lexicon({"knhom": "ខ្ញុំ", "kjom": "ខ្ញុំ", "chong": "ចង់", "slab": "ស្លាប់", "klach": "ខ្លាច", "pa": "ប៉ា"})
    assert lexicon.render("kjom chong slab") == "ខ្ញុំចង់ស្លាប់"
    assert lexicon.render("knhom chg slab, help 😭 15") == "ខ្ញុំចង់ស្លាប់, help 😭 15"  # chg: chong shortened
    assert lexicon.render("my teacher hit me") == "my teacher hit me"
    assert lexicon.render("knhom nov pp") == "ខ្ញុំ nov pp"  # "pp" (Phnom Penh) is no shortening of "pa"
    assert reading_text(lexicon, "knhom klach", "en") == "knhom klach"  # only romanised Khmer is rendered
    assert reading_text(lexicon, "knhom klach", "kh-latn") == "ខ្ញុំខ្លាច"


def test_words_typed_apart_that_join_into_a_known_compound_read_as_it() -> None:
    lexicon = Lexicon({"arkun": "អរគុណ", "kun": "កូន", "chran": "ច្រើន", "nakna": "អ្នកណា", "nak": "អ្នក",
                       "kmeannakna": "គ្មានអ្នកណា", "te": "ទេ"})
    assert lexicon.render("ar kun chran") == "អរគុណច្រើន"  # not "ar" + កូន (child)
    assert lexicon.render("kmean nak na te") == "គ្មានអ្នកណាទេ"  # the longest compound first
    assert lexicon.render("nak, na") == "អ្នក, na"  # only words one space apart join


def test_the_shipped_lexicon_reads_a_typical_message(content: Content) -> None:
    rendered = content.romanised.render(normalise("Knhom 15 chnam, pa knhom vay knhom ral thngai"))
    assert rendered == "ខ្ញុំ 15 ឆ្នាំ, ប៉ាខ្ញុំវាយខ្ញុំរាល់ថ្ងៃ"


def test_the_heads_read_romanised_khmer_through_the_lexicon(engine: Engine) -> None:
    response = engine.respond("kjom chg slab, kmean nak na trov ka kjom te")
    assert response.crisis or response.check_in
    assert response.intents[0] == "self_harm"


def test_a_bad_lexicon_entry_names_the_file_and_the_word(copy: Path) -> None:
    path = copy / "intents" / "_romanised.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "teacher: [kru]\nត្រីងៀត: [Trei Ngeat]\n", encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load(copy)
    assert "intents/_romanised.yaml: teacher: must be a word in Khmer script" in info.value.problems
    assert any(p.startswith("intents/_romanised.yaml: ត្រីងៀត[0]: 'Trei Ngeat'") for p in info.value.problems)


def test_editing_the_lexicon_makes_the_heads_stale(copy: Path) -> None:
    before = digest(copy)
    path = copy / "intents" / "_romanised.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "ស្រូវ: [srov, srau]\n", encoding="utf-8")
    assert digest(copy) != before
