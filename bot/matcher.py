"""Phrase matching that works for Khmer, English and romanised Khmer alike.

A phrase is a few parts separated by spaces ("teacher hit", "គ្រូ វាយ"). It matches when
its parts are found in the message in order, with at most `MAX_GAP` words between them.
A Khmer part must start and end on a word boundary found by the segmenter, so សាលា
(school) never matches inside សាលាក្តី (court). A Latin part also matches simple English
endings (hit -> hitting), typos (teacher -> techer) and, for romanised Khmer, spellings
with the same consonant skeleton (somlab -> samlap), unless the romanised lexicon knows the two
as different words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from math import prod

from rapidfuzz import fuzz, process

from bot.text import is_khmer, normalise, segment_khmer

MAX_GAP = 3
MAX_COMBINATIONS = 2000
_WORD_CACHE = 65536
# Only words this short are cached, so the cache is bounded in bytes too (see bot/text.py).
_CACHED_WORD = 24
# Longest Khmer part, in segmenter words, that we try to assemble at one position.
_MAX_KHMER_SPAN = 8
_FUZZY_MIN_LEN = 5
_FUZZY_CUTOFF = 85.0
_SKELETON_MIN = 3
# An outline match must still look a little like the part: "thnak" is not "donchi", "tha" is not "dai".
_SKELETON_LIKENESS = 40.0
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ting", "ning", "ping", "ging", "ming", "er", "ers", "en", "n")
_Y_SUFFIXES = ("ies", "ied")
_SKELETON_MAP = str.maketrans("bdgjwzqx", "ptkcvsks", "haeiouy'")
_REPEATS = re.compile(r"(.)\1+")
_SHAPE_MAP = str.maketrans("bdgjwzqx", "ptkcvsks", "h'")
_VOWEL_RUN = re.compile(r"[aeiouy]+")
_VOWELS = re.compile(r"[aeiouy']")

Span = tuple[int, int]


def skeleton(word: str) -> str:
    """Consonant outline of a romanised Khmer word: one key for its many spellings."""
    return _REPEATS.sub(r"\1", word.translate(_SKELETON_MAP))


def shape(word: str) -> str:
    """Outline of a short romanised word, vowels kept as one mark: kru/krou, veay/vay/vey."""
    return _REPEATS.sub(r"\1", _VOWEL_RUN.sub("a", word.translate(_SHAPE_MAP)))


def abbreviation(word: str) -> str:
    """How texters shorten a romanised Khmer word: no vowels, and "ng" as "g" (chong -> chg, deng -> dg)."""
    return _VOWELS.sub("", word.replace("ng", "g"))


def shortenings(words: Iterable[str]) -> dict[str, list[str]]:
    """Each texter's shortening of these romanised words -> the words it may stand for, in order.

    One consonant sound alone ("ch", "pp", "tt") is no word: it would make Phnom Penh a father.
    """
    out: dict[str, list[str]] = defaultdict(list)
    for word in words:
        short = abbreviation(word)
        if len(skeleton(short)) >= 2 and short != word and word not in out[short]:
            out[short].append(word)
    return out


def may_be_shortened(token: str) -> bool:
    """Only a word without vowels may be a shortening (chg, dg)."""
    return not _VOWELS.search(token)


@dataclass(frozen=True)
class Phrase:
    """One compiled phrase: what it is for (role, label), its parts, and how specific it is.

    Roles: "topic" and "exclude" (label: a topic id), "crisis" (label: "suicide" or
    "danger"), "crisis_exclude", "crisis_now", "crisis_told" (the past or a story), "distress",
    "province" (label: a province id).
    """

    label: str
    text: str
    parts: tuple[str, ...]
    romanised: bool
    role: str = "topic"

    @property
    def specificity(self) -> float:
        """Longer phrases with more parts say more, and so outrank short ones."""
        return len(self.parts) + min(sum(len(p) for p in self.parts), 40) / 40


@dataclass(frozen=True)
class Match:
    """A phrase found in a message, with the token span it covers."""

    phrase: Phrase
    span: Span


def compile_phrase(label: str, text: str, romanised: bool = False, role: str = "topic") -> Phrase:
    """Normalise a phrase written by staff into comparable parts."""
    parts = tuple(normalise(p) for p in text.split())
    return Phrase(label=label, text=text, parts=tuple(p for p in parts if p), romanised=romanised, role=role)


class PhraseError(ValueError):
    """A phrase that cannot be compiled (unknown @class, too many combinations)."""


def expand_phrase(label: str, text: str, *, romanised: bool = False, role: str = "topic",
                  classes: Mapping[str, Sequence[str]] | None = None) -> list[Phrase]:
    """Compile a phrase with alternatives: `father|dad hit`, `@parent @hit me`.

    A part may list alternatives separated by `|`; `@name` stands for the words of class
    `name` (intents/_words.yaml). Every combination becomes one phrase.
    """
    choices: list[list[str]] = []
    for part in text.split():
        words: list[str] = []
        for word in part.split("|"):
            if word.startswith("@"):
                if classes is None or word[1:] not in classes:
                    raise PhraseError(f"unknown word class '{word}' (see intents/_words.yaml)")
                words += classes[word[1:]]
            elif word:
                words.append(word)
        choices.append(list(dict.fromkeys(words)))
    combinations = prod(len(c) for c in choices)
    if combinations > MAX_COMBINATIONS:
        raise PhraseError(f"{combinations} combinations (at most {MAX_COMBINATIONS}): split it into smaller phrases")
    return [compile_phrase(label, " ".join(words), romanised, role) for words in product(*choices)]


class PhraseSet:
    """A searchable collection of phrases, built once at start and shared read-only."""

    def __init__(self, phrases: Iterable[Phrase], words: Mapping[str, str] | None = None) -> None:
        """`words`: romanised spellings -> the Khmer word each spells (intents/_romanised.yaml). Two
        spellings of different words are no variants of each other, however alike they look
        (vea, he, and veay, to hit; rieb, to arrange, and roub, a photo)."""
        self.phrases: tuple[Phrase, ...] = tuple(p for p in phrases if p.parts)
        self._words: Mapping[str, str] = words or {}
        # Phrases by first and second part: most phrases are skipped without a look.
        self._index: dict[str, dict[str, list[Phrase]]] = defaultdict(lambda: defaultdict(list))
        khmer: set[str] = set()
        latin: set[str] = set()
        self._skeletons: dict[str, set[str]] = defaultdict(set)
        self._shapes: dict[str, set[str]] = defaultdict(set)
        romanised: list[str] = []
        # Words of English phrases are English: "bye" is not a spelling of "bay" (rice).
        english = {p for phrase in self.phrases if not phrase.romanised for p in phrase.parts}
        for phrase in self.phrases:
            self._index[phrase.parts[0]][phrase.parts[1] if len(phrase.parts) > 1 else ""].append(phrase)
            for part in phrase.parts:
                if is_khmer(part):
                    khmer.add(part)
                    continue
                latin.add(part)
                if not phrase.romanised or part in english:
                    continue
                romanised.append(part)
                key = skeleton(part)
                if len(key) >= _SKELETON_MIN and len(part) >= 4:
                    self._skeletons[key].add(part)
                elif len(part) >= 3 and len(shape(part)) >= 2:
                    self._shapes[shape(part)].add(part)
        self._shortenings = shortenings(romanised)
        self._khmer = frozenset(khmer)
        self._latin = frozenset(latin)
        self._fuzzy_pool = sorted(p for p in latin if len(p) >= _FUZZY_MIN_LEN)
        # Words repeat across messages; the fuzzy search per new word is the costly part.
        self._word_parts = lru_cache(maxsize=_WORD_CACHE)(self._latin_parts)

    @property
    def latin_words(self) -> frozenset[str]:
        """The Latin-letter words the phrases are made of (English and romanised Khmer)."""
        return self._latin

    @property
    def khmer_words(self) -> frozenset[str]:
        """The Khmer words the phrases are made of, as the segmenter splits them."""
        return frozenset(w for part in self._khmer for w in (part, *segment_khmer(part)))

    def _latin_parts(self, token: str, variants: bool) -> frozenset[str]:
        """Every Latin part that this message word may stand for.

        `variants` adds romanised Khmer spellings with the same outline (samlap -> somlab);
        only worth it in romanised Khmer messages, where English words would collide.
        """
        found = {token} & self._latin
        for suffix in _SUFFIXES:
            if token.endswith(suffix) and len(token) - len(suffix) >= 3:
                stem = token[: -len(suffix)]
                if stem in self._latin:
                    found.add(stem)
        for suffix in _Y_SUFFIXES:
            if token.endswith(suffix) and token[:-3] + "y" in self._latin:
                found.add(token[:-3] + "y")
        if len(token) >= _FUZZY_MIN_LEN - 1:
            for part, _score, _i in process.extract(
                token, self._fuzzy_pool, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=None
            ):
                found.add(part)
        if not variants:
            return frozenset(found)
        alike = {p for p in self._skeletons.get(skeleton(token), ()) if fuzz.ratio(token, p) >= _SKELETON_LIKENESS}
        if may_be_shortened(token):
            alike.update(self._shortenings.get(token, ()))
        if len(token) >= 3:
            alike.update(p for p in self._shapes.get(shape(token), ()) if fuzz.ratio(token, p) >= _SKELETON_LIKENESS)
        word = self._words.get(token)
        return frozenset(found | {part for part in alike if not word or self._words.get(part, word) == word})

    def _hits(self, tokens: Sequence[str], variants: bool) -> dict[str, list[Span]]:
        """Where each known part occurs in the message, as token spans."""
        hits: dict[str, list[Span]] = defaultdict(list)
        for i, token in enumerate(tokens):
            if is_khmer(token):
                joined = ""
                for j in range(i, min(i + _MAX_KHMER_SPAN, len(tokens))):
                    if not is_khmer(tokens[j]):
                        break
                    joined += tokens[j]
                    if joined in self._khmer:
                        hits[joined].append((i, j + 1))
            else:
                cached = len(token) <= _CACHED_WORD
                for part in (self._word_parts if cached else self._latin_parts)(token, variants):
                    hits[part].append((i, i + 1))
        return hits

    def find(self, tokens: Sequence[str], variants: bool = True) -> list[Match]:
        """Every phrase of the set found in the tokenised message (first occurrence each).

        `variants`: also accept other romanised Khmer spellings (pass False for English).
        """
        hits = self._hits(tokens, variants)
        matches = []
        present = hits.keys() | {""}
        for first in list(hits):
            by_second = self._index.get(first)
            if by_second is None:
                continue
            for second in by_second.keys() & present:
                for phrase in by_second[second]:
                    span = _locate(phrase.parts, hits)
                    if span is not None:
                        matches.append(Match(phrase, span))
        matches.sort(key=lambda m: (m.span, m.phrase.text))  # the same order on every run
        return matches


def _locate(parts: Sequence[str], hits: dict[str, list[Span]]) -> Span | None:
    """Earliest span where `parts` occur in order with small gaps, or None."""
    if any(part not in hits for part in parts):
        return None
    for start, end in hits[parts[0]]:
        tail = _follow(parts[1:], end, hits)
        if tail is not None:
            return (start, tail)
    return None


def _follow(parts: Sequence[str], after: int, hits: dict[str, list[Span]]) -> int | None:
    """End of the rest of a phrase starting within MAX_GAP words after `after`."""
    if not parts:
        return after
    for start, end in hits[parts[0]]:
        if after <= start <= after + MAX_GAP:
            tail = _follow(parts[1:], end, hits)
            if tail is not None:
                return tail
    return None
