"""Phrase matching: parts in order with small gaps, word boundaries, endings, typos, spellings."""

from __future__ import annotations

from bot.matcher import MAX_GAP, PhraseSet, compile_phrase, skeleton
from bot.text import normalise, split_known, tokenise


def _phrases(*texts: str, romanised: bool = False) -> PhraseSet:
    return PhraseSet(compile_phrase(t, t, romanised=romanised) for t in texts)


def _found(phrases: PhraseSet, message: str) -> set[str]:
    tokens = split_known(tokenise(normalise(message)), phrases.khmer_words)
    return {m.phrase.label for m in phrases.find(tokens)}


def test_compile_phrase_normalises_parts() -> None:
    phrase = compile_phrase("x", "Teacher  HIT")
    assert phrase.parts == ("teacher", "hit")
    assert compile_phrase("x", "ម្ដាយ វាយ").parts == compile_phrase("x", "ម្តាយ វាយ").parts


def test_parts_in_order_with_gaps() -> None:
    phrases = _phrases("teacher hit")
    assert _found(phrases, "my teacher hit me") == {"teacher hit"}
    assert _found(phrases, "the teacher in my class hit me") == {"teacher hit"}
    gap = " ".join(["word"] * MAX_GAP)
    assert _found(phrases, f"teacher {gap} hit") == {"teacher hit"}
    assert _found(phrases, f"teacher {gap} more hit") == set()


def test_parts_out_of_order_do_not_match() -> None:
    assert _found(_phrases("teacher hit"), "I hit my teacher") == set()


def test_missing_part_does_not_match() -> None:
    assert _found(_phrases("teacher hit"), "my teacher is kind") == set()


def test_span_covers_the_phrase() -> None:
    phrases = _phrases("teacher hit")
    tokens = tokenise(normalise("yesterday my teacher hit me"))
    [match] = phrases.find(tokens)
    assert match.span == (2, 4)


def test_khmer_phrase_with_gaps_in_unspaced_text() -> None:
    phrases = _phrases("គ្រូ វាយ")
    assert _found(phrases, "គ្រូវាយខ្ញុំ") == {"គ្រូ វាយ"}
    assert _found(phrases, "គ្រូ\u200bរបស់ខ្ញុំវាយខ្ញុំ") == {"គ្រូ វាយ"}
    assert _found(phrases, "ខ្ញុំវាយគ្រូ") == set()


def test_khmer_word_boundary_school_is_not_inside_court() -> None:
    phrases = _phrases("សាលា")
    assert _found(phrases, "ខ្ញុំទៅសាលា") == {"សាលា"}
    assert _found(phrases, "ខ្ញុំទៅសាលាក្តី") == set()


def test_khmer_word_boundary_teacher_is_not_inside_family() -> None:
    phrases = _phrases("គ្រូ")
    assert _found(phrases, "គ្រួសារខ្ញុំ") == set()
    assert _found(phrases, "គ្រូខ្ញុំ") == {"គ្រូ"}


def test_khmer_spelling_variants_match_one_phrase() -> None:
    phrases = _phrases("ម្តាយ វាយ", "បង្ខំ ឱ្យ រៀបការ")
    assert _found(phrases, "ម្ដាយវាយខ្ញុំ") == {"ម្តាយ វាយ"}
    assert _found(phrases, "ពួកគេបង្ខំអោយខ្ញុំរៀបការ") == {"បង្ខំ ឱ្យ រៀបការ"}
    assert _found(phrases, "ពួកគេបង្ខំឲ្យខ្ញុំរៀបការ") == {"បង្ខំ ឱ្យ រៀបការ"}


def test_english_endings() -> None:
    phrases = _phrases("teacher hit", "bully", "teacher punish")
    assert _found(phrases, "teachers hitting students") == {"teacher hit"}
    assert _found(phrases, "they bullies me") == {"bully"}
    assert _found(phrases, "I got bullied") == {"bully"}
    assert _found(phrases, "the teacher punished me") == {"teacher punish"}


def test_short_words_need_an_exact_or_suffix_match() -> None:
    # "hit" must not match "hat" or "this".
    assert _found(_phrases("hit"), "a hat and this") == set()


def test_typos_in_longer_english_words() -> None:
    phrases = _phrases("teacher hit", "orphanage")
    assert _found(phrases, "my techer hit me") == {"teacher hit"}
    assert _found(phrases, "my teachr hit me") == {"teacher hit"}
    assert _found(phrases, "send me to an orphanag") == {"orphanage"}
    assert _found(phrases, "the orphans") == set()


def test_skeleton_is_one_key_for_romanised_spellings() -> None:
    assert skeleton("somlab") == skeleton("samlap") == skeleton("somlap")
    assert skeleton("khluon") == skeleton("khloun") == skeleton("kluon")
    assert skeleton("srovoeung") == skeleton("sravoeng")


def test_romanised_spelling_variants() -> None:
    phrases = _phrases("somlab khluon", "kru veay", romanised=True)
    assert _found(phrases, "knhom chong samlap khloun") == {"somlab khluon"}
    assert _found(phrases, "kjom jong somlap kluon") == {"somlab khluon"}
    assert _found(phrases, "krou vay knhom") == {"kru veay"}


def test_texting_abbreviations_of_romanised_words() -> None:
    phrases = _phrases("chong slab", "chuoy phong", romanised=True)
    assert _found(phrases, "kjom chg slab") == {"chong slab"}
    assert _found(phrases, "jouy phg") == {"chuoy phong"}
    # One consonant is no word: "ch" is not "chuoy".
    assert _found(phrases, "ch phong") == set()


def test_skeletons_only_for_romanised_phrases() -> None:
    assert _found(_phrases("somlab khluon"), "samlap khloun") == set()


def test_skeleton_match_needs_some_likeness() -> None:
    # "thnak" (danger) shares a consonant outline with "donchi" (nun) but is not it.
    assert _found(_phrases("donchi", romanised=True), "kroh thnak") == set()


def test_phrase_set_ignores_empty_phrases() -> None:
    phrases = PhraseSet([compile_phrase("x", "   "), compile_phrase("y", "hello")])
    assert [p.label for p in phrases.phrases] == ["y"]


def test_more_specific_phrases_rank_higher() -> None:
    assert compile_phrase("x", "teacher hit").specificity > compile_phrase("x", "hit").specificity
    assert compile_phrase("x", "orphanage").specificity > compile_phrase("x", "wat").specificity


def test_shape_is_one_key_for_short_romanised_spellings() -> None:
    from bot.matcher import shape

    assert shape("kru") == shape("krou")
    assert shape("veay") == shape("vay") == shape("vey")


def test_romanised_variants_can_be_switched_off_for_english() -> None:
    phrases = _phrases("attakeat", "lok song", "bot", romanised=True)
    tokens = tokenise(normalise("a bus ticket, look after me since, bad grades"))
    assert {m.phrase.label for m in phrases.find(tokens, variants=False)} == set()
    assert {m.phrase.label for m in phrases.find(tokenise(normalise("attakeat")), variants=False)} == {"attakeat"}


def test_english_phrase_words_are_not_romanised_spellings() -> None:
    # "bye" is in an English phrase too, so "bay" (rice) must not be read as it.
    phrases = PhraseSet([compile_phrase("en", "bye"), compile_phrase("kh", "bye bye", romanised=True)])
    assert phrases.find(tokenise("min oy bay")) == []


def test_spellings_of_different_khmer_words_are_no_variants() -> None:
    # vea (វា, he) and veay (វាយ, to hit) share an outline; the lexicon knows they are two words.
    words = {"vea": "វា", "veay": "វាយ", "vay": "វាយ", "mak": "ម៉ាក់"}
    phrases = PhraseSet([compile_phrase("hit", "mak veay", romanised=True)], words)
    assert _found(phrases, "mak vea tha") == set()
    assert _found(phrases, "mak vay knhom") == {"hit"}  # another spelling of the same word
    assert _found(phrases, "mak veiy knhom") == {"hit"}  # a spelling the lexicon does not know
    assert _found(PhraseSet([compile_phrase("hit", "mak veay", romanised=True)]), "mak vea tha") == {"hit"}
