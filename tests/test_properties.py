"""Any input at all gets a reply with 1280 that fits in one Telegram message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import Engine, Hints
from bot.replies import TELEGRAM_LIMIT

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

khmer_letters = st.characters(min_codepoint=0x1780, max_codepoint=0x17FF)
invisible = st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u00ad")
khmer_words = st.sampled_from(["គ្រូ", "វាយ", "ខ្ញុំ", "ចង់", "ស្លាប់", "សាលា", "ម្ដាយ", "ឲ្យ", "មិន", "គ្រោះថ្នាក់", "១២៨០"])
latin_words = st.sampled_from(["knhom", "chong", "teacher", "hit", "not", "danger", "kill", "myself", "1280", "I'm"])
controls = st.characters(min_codepoint=0, max_codepoint=0x1F)
emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)

messages = st.one_of(
    st.text(),
    st.text(khmer_letters, max_size=200),
    st.text(st.one_of(khmer_letters, invisible, st.just(" ")), max_size=300),
    st.lists(st.one_of(khmer_words, latin_words, invisible, emoji, st.just(" ")), max_size=60).map("".join),
    st.lists(st.one_of(khmer_words, latin_words), max_size=40).map(" ".join),
    st.text(st.one_of(controls, emoji, khmer_letters), max_size=200),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(1_000, 20_000)),
)


def _check(response_reply: str) -> None:
    assert "1280" in response_reply
    assert len(response_reply) <= TELEGRAM_LIMIT


@SETTINGS
@given(text=messages)
def test_respond_never_raises(engine: Engine, text: str) -> None:
    response = engine.respond(text)
    _check(response.reply)
    assert response.intents
    assert response.language in ("km", "en", "kh-latn")


@SETTINGS
@given(text=messages, language=st.sampled_from(["en", "km"]))
def test_respond_with_a_chosen_language(engine: Engine, text: str, language: str) -> None:
    _check(engine.respond(text, Hints(language=language)).reply)


@SETTINGS
@given(text=messages, topic=st.sampled_from(["self_harm", "pagoda", "smalltalk", "nope"]))
def test_respond_with_a_topic_hint(engine: Engine, text: str, topic: str) -> None:
    _check(engine.respond(text, Hints(topic=topic)).reply)


@settings(max_examples=50, deadline=None)
@given(text=st.text(khmer_letters, min_size=1, max_size=50))
def test_normalise_is_idempotent(text: str) -> None:
    from bot.text import normalise

    assert normalise(normalise(text)) == normalise(text)


BAD_LINES = [
    "",
    "   ",
    "\t \t",
    "x" * 100_000,
    "ក" * 100_000,
    "nul\x00in the middle",
    "\x01\x02\x03\x07\x1b[31m",
    "😀😀😀",
    "🙏🏽👨‍👩‍👧",
    "abc ខ្មែរ кириллица 中文 عربى",
    "ÁÜñúmnitDsø",
    "ááá ÷ ñúm Dsø ¬ kñú",
    "\u200b\u200b\u200b",
    "\ufffd\ufffd",
]


def test_classify_cli_survives_bad_input() -> None:
    stdin = "\n".join(BAD_LINES) + "\n"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("HELPLINE_CONTENT_DIR", None)
    result = subprocess.run([sys.executable, "-m", "bot", "classify"], cwd=ROOT, env=env, input=stdin.encode(),
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    lines = result.stdout.decode("utf-8").splitlines()
    assert len(lines) == len(BAD_LINES)
    for line in lines:
        row = json.loads(line)
        assert "1280" in row["reply"]
        assert len(row["reply"]) <= TELEGRAM_LIMIT
        assert row["intents"] == ["unknown"], row["text"][:80]
        assert row["crisis"] is False
        assert row["language"] in ("km", "en", "kh-latn")


def test_classify_cli_reports_topics() -> None:
    stdin = "my teacher hit me\nខ្ញុំចង់សម្លាប់ខ្លួន\n"
    result = subprocess.run([sys.executable, "-m", "bot", "classify"], cwd=ROOT, input=stdin.encode(),
                            capture_output=True, timeout=300)
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [r["intents"][0] for r in rows] == ["school_violence", "self_harm"]
    assert [r["crisis"] for r in rows] == [False, True]
