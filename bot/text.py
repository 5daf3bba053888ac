"""Text normalisation, tokenisation and language detection.

Khmer has no spaces between words and several Unicode spellings of the same word, so
every comparison in the project goes through `normalise` and `tokenise` here first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import khmercut
from khmerspell import khnormal

# Invisible characters people's keyboards insert between Khmer words.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
# ឲ្យ / អោយ / ឱ្យ are one word ("give, let") in three spellings.
_KHMER_VARIANTS = (("អោយ", "ឱ្យ"), ("ឲ្យ", "ឱ្យ"), ("ឲ", "ឱ"), ("អោ", "ឱ"))
# A Khmer syllable starts at a base letter that does not follow a coeng (or a joiner).
_CLUSTER_START = re.compile(r"(?<![\u17d2\u200d])(?=[\u1780-\u17a2\u17a5-\u17b3])")
_KHMER_RUN = re.compile(r"[\u1780-\u17ff\u19e0-\u19ff]+")
_LATIN_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_KHMER_CHAR = re.compile(r"[\u1780-\u17ff]")
_LATIN_CHAR = re.compile(r"[a-zA-Z]")
# Khmer words usually spelt without the repetition sign or punctuation inside them.
_KHMER_PUNCT = re.compile(r"[\u17d4-\u17da]")
# "hiiii", "pleaseeee": a letter typed three or more times counts twice.
_LETTER_RUN = re.compile(r"([a-z])\1{2,}")
# Longest message we read: Telegram's limit, so a message is always read to its end.
MAX_READ = 4096
# Khmer characters per message given to the segmenter (about 35 µs each); the rest of a very
# long message is cut into the known words of the content (linear, see `_known_words`).
SEGMENT_BUDGET = 800


# The caches below keep only short keys, so each is bounded in bytes, not only in entries:
# hostile input of long, unique words would otherwise fill them with megabytes. Longer text is
# worked out each time (real messages rarely have any); benchmarks/memory_bench.py fills every
# cache to its bound and reports the bytes.
_CACHED_CLUSTER = 16  # characters; a Khmer syllable has a handful
_CACHED_RUN = 200  # characters; a Khmer sentence written without spaces


@lru_cache(maxsize=65536)
def _khnormal_cluster(cluster: str) -> str:
    """khnormal of one orthographic syllable.

    khnormal only reorders within a syllable, so applying it syllable by syllable gives
    the same result (tests/test_khnormal.py checks this) and lets a small cache make
    it about 40 times faster: Khmer text reuses a few thousand syllables.
    """
    return str(khnormal(cluster))


def normalise(text: str) -> str:
    """Return the comparable form of `text`: one spelling, no invisible marks, casefolded."""
    text = text[:MAX_READ].translate(_INVISIBLE)
    if not text.isprintable():  # control, format and separator characters become spaces
        text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    if _KHMER_CHAR.search(text):
        text = "".join(_khnormal_cluster(c) if len(c) <= _CACHED_CLUSTER else str(khnormal(c))
                       for c in _CLUSTER_START.split(text))
        for variant, standard in _KHMER_VARIANTS:
            text = text.replace(variant, standard)
        text = _KHMER_PUNCT.sub(" ", text)
    text = _LETTER_RUN.sub(r"\1\1", text.translate(_KHMER_DIGITS).casefold())
    return " ".join(text.split())


def _segment(run: str) -> tuple[str, ...]:
    """Split a run of Khmer letters into words (the segmenter is the costly step)."""
    return tuple(t for t in khmercut.tokenize(run) if t.strip())


# Short runs (words, common sentences) repeat across messages.
segment_khmer = lru_cache(maxsize=4096)(_segment)


def tokenise(normalised: str, words: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Split normalised text into words: Khmer by the segmenter, the rest on letters.

    Past SEGMENT_BUDGET Khmer characters, Khmer is cut into the `words` the content knows
    (longest first), so a 4,096-character message costs milliseconds, not a second.
    """
    tokens: list[str] = []
    budget = SEGMENT_BUDGET
    for chunk in normalised.split():
        pos = 0
        for m in _KHMER_RUN.finditer(chunk):
            tokens.extend(_LATIN_WORD.findall(chunk[pos : m.start()]))
            run = m.group()
            if len(run) > budget:
                tokens.extend(_known_words(run, words))
            else:
                tokens.extend(segment_khmer(run) if len(run) <= _CACHED_RUN else _segment(run))
            budget = max(0, budget - len(run))
            pos = m.end()
        tokens.extend(_LATIN_WORD.findall(chunk[pos:]))
    return tuple(tokens)


def _known_words(run: str, words: frozenset[str]) -> list[str]:
    """Greedy longest known word at each place, else one syllable: linear in the run."""
    longest = _longest(words)
    out: list[str] = []
    i = 0
    while i < len(run):
        for j in range(min(len(run), i + longest), i, -1):
            if run[i:j] in words:
                out.append(run[i:j])
                i = j
                break
        else:
            m = _CLUSTER_START.search(run, i + 1)
            end = m.start() if m else len(run)
            out.append(run[i:end])
            i = end
    return out


@lru_cache(maxsize=8)
def _longest(words: frozenset[str]) -> int:
    """The length of the longest known word (frozensets keep their hash, so this is cheap)."""
    return max(map(len, words), default=1)


def split_known(tokens: tuple[str, ...], words: frozenset[str]) -> tuple[str, ...]:
    """Split segmenter words that are wholly made of known words (ការចិញ្ចឹម -> ការ ចិញ្ចឹម).

    The segmenter sometimes glues a prefix or a pronoun to a word; a phrase would then
    miss its word boundary. A token is split only when every piece is a known word, so
    សាលាក្តី (court) stays whole unless ក្តី itself is a known word.
    """
    out: list[str] = []
    for token in tokens:
        pieces = _split(token, words) if is_khmer(token) and token not in words else None
        out.extend(pieces or (token,))
    return tuple(out)


def _split(token: str, words: frozenset[str]) -> list[str] | None:
    """Fewest known words that make up `token` exactly, or None (linear: pieces are at most
    as long as the longest known word)."""
    longest = _longest(words)
    best: list[list[str] | None] = [[]] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - longest), end):
            head = best[start]
            if head is None or token[start:end] not in words:
                continue
            current = best[end]
            if current is None or len(head) + 1 < len(current):
                best[end] = head + [token[start:end]]
    return best[-1]


def is_khmer(token: str) -> bool:
    """True when the token is written in Khmer script."""
    return "\u1780" <= token[:1] <= "\u17ff"


@dataclass(frozen=True)
class LanguageMarkers:
    """Common words per language (content, see intents/_languages.yaml).

    English and romanised Khmer words tell the two apart; Khmer words help split
    segmenter output (see `split_known`).
    """

    english: frozenset[str]
    romanised_khmer: frozenset[str]
    khmer: frozenset[str]


def detect_language(normalised: str, tokens: tuple[str, ...], markers: LanguageMarkers) -> str:
    """Return "km", "en" or "kh-latn" for a message.

    Any real amount of Khmer script means Khmer (English words are often mixed in);
    Latin text is romanised Khmer when more of its words are known Khmer words than
    known English ones.
    """
    khmer = len(_KHMER_CHAR.findall(normalised))
    latin = len(_LATIN_CHAR.findall(normalised))
    if khmer and khmer >= latin / 3:
        return "km"
    words = [t for t in tokens if not is_khmer(t)]
    kh = sum(w in markers.romanised_khmer for w in words)
    en = sum(w in markers.english for w in words)
    return "kh-latn" if kh > en else "en"
