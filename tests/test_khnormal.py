"""Syllable-by-syllable khnormal (bot/text.py's fast path) equals khnormal of the whole text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from khmerspell import khnormal

from bot.text import _CLUSTER_START, _khnormal_cluster

khmer = st.text(alphabet=st.sampled_from([chr(c) for c in range(0x1780, 0x17DE)] + ["\u200c", "\u200d", " "]),
                max_size=40)


def by_syllable(text: str) -> str:
    return "".join(map(_khnormal_cluster, _CLUSTER_START.split(text)))


@settings(max_examples=3000, deadline=None)
@given(khmer)
def test_same_as_whole_text(text: str) -> None:
    assert by_syllable(text) == khnormal(text)


def test_known_reorderings() -> None:
    assert by_syllable("ស្រ្តី") == "ស្ត្រី"
    assert by_syllable("ម្ដាយខ្ញុំ") == by_syllable("ម្តាយខ្ញុំ")
