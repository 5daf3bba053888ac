"""Unit tests of the Telegram keyboards and fixed texts (no network)."""

from __future__ import annotations

import pytest

from bot.content import Content
from bot.engine import Engine
from bot.telegram_app import _COMMAND_TEXT, COMMANDS, HelplineBot

FIXED = ("welcome", "menu_prompt", "language_prompt", "language_set", "help", "helpline_numbers", "privacy",
         "cleared", "cleared_restart", "non_text", "group", "error", "folded")


@pytest.fixture(scope="module")
def bot(engine: Engine) -> HelplineBot:
    return HelplineBot(engine, usage=None, keyring=None)


@pytest.mark.parametrize("lang", ["km", "en"])
def test_menu_has_every_menu_topic_one_short_label_a_row(bot: HelplineBot, content: Content, lang: str) -> None:
    rows = bot.menu(lang).inline_keyboard
    data = [b.callback_data for row in rows for b in row]
    assert data == [f"t:{t.id}" for t in content.menu_topics]
    assert all(len(str(d).encode()) <= 64 for d in data)  # Telegram's limit for callback data
    assert all(len(row) == 1 for row in rows)  # one topic a row, readable on a small phone
    assert all(len(b.text) <= 24 for row in rows for b in row)
    assert [b.text for b in rows[0]][0] == content.menu_topics[0].label[lang]


@pytest.mark.parametrize("lang", ["km", "en"])
@pytest.mark.parametrize("key", FIXED)
def test_every_fixed_text_exists_and_carries_1280(bot: HelplineBot, key: str, lang: str) -> None:
    text = bot.text(key, lang)
    assert "1280" in text and len(text) <= 4096


def test_helpline_text_lists_the_emergency_numbers(bot: HelplineBot) -> None:
    for lang in ("km", "en"):
        text = bot.text("helpline_numbers", lang)
        assert all(number in text for number in ("1280", "117", "118", "119", "1288"))


def test_command_menu_in_both_languages() -> None:
    assert set(_COMMAND_TEXT) == set(COMMANDS)
    for texts in _COMMAND_TEXT.values():
        assert set(texts) == {"km", "en"} and all(0 < len(t) <= 256 for t in texts.values())
