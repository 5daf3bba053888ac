"""Property tests: any text, callback data or message shape through the real Application.

Each generated update is parsed by python-telegram-bot (Update.de_json) and processed by
the real handlers; replies go over HTTP to the fake Bot API. In a private chat the bot
must answer with 1280 in at most 4096 characters, and no handler may raise.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.engine import Engine
from bot.telegram_app import build_application
from tests.fakebot import TOKEN, FakeBotAPI

Live = tuple[FakeBotAPI, asyncio.AbstractEventLoop, Application[Any, Any, Any, Any, Any, Any], list[BaseException]]
_ids = itertools.count(1)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def live(engine: Engine) -> Iterator[Live]:
    fake = FakeBotAPI().start()
    loop = asyncio.new_event_loop()
    app = build_application(TOKEN, engine, base_url=fake.url)
    errors: list[BaseException] = []

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    loop.run_until_complete(app.initialize())
    assert app.post_init is not None
    loop.run_until_complete(app.post_init(app))
    app.add_error_handler(record)
    yield fake, loop, app, errors
    loop.run_until_complete(app.shutdown())
    loop.close()
    fake.stop()


def process(live: Live, payload: dict[str, Any]) -> list[str]:
    """Process one update; return what the bot sent to the chat in response."""
    fake, loop, app, errors = live
    chat_id = next(_ids)
    payload = {"update_id": chat_id, **payload}
    for key in ("message", "edited_message"):
        if key in payload:
            payload[key]["chat"] = {"id": chat_id, "type": "private", "first_name": "C"}
            payload[key]["from"] = {"id": chat_id, "is_bot": False, "first_name": "C"}
    if "callback_query" in payload:
        payload["callback_query"]["from"] = {"id": chat_id, "is_bot": False, "first_name": "C"}
        payload["callback_query"]["message"]["chat"] = {"id": chat_id, "type": "private"}
    update = Update.de_json(payload, app.bot)
    loop.run_until_complete(app.process_update(update))
    assert not errors, errors
    return [m["text"] for m in fake.sent(chat_id)]


def assert_kind_reply(texts: list[str]) -> None:
    assert texts, "a private message was left unanswered"
    assert all("1280" in t and len(t) <= 4096 for t in texts)


@SETTINGS
@given(st.text(max_size=5000))
def test_any_text(live: Live, text: str) -> None:
    message = {"message_id": 1, "date": 0, "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": max(1, len(text.split(" ")[0]))}]
    assert_kind_reply(process(live, {"message": message}))


@SETTINGS
@given(st.text(max_size=64))
def test_any_callback_data(live: Live, data: str) -> None:
    query = {"id": "q", "chat_instance": "c", "data": data,
             "message": {"message_id": 1, "date": 0, "text": "menu"}}
    assert_kind_reply(process(live, {"callback_query": query}))


_media = {
    "sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
                "is_animated": False, "is_video": False},
    "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
    "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
    "video": {"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1, "duration": 1},
    "document": {"file_id": "d", "file_unique_id": "d"},
    "location": {"latitude": 11.55, "longitude": 104.9},
    "contact": {"phone_number": "000", "first_name": "X"},
}


@SETTINGS
@given(kind=st.sampled_from(sorted(_media)), caption=st.none() | st.text(max_size=200),
       edited=st.booleans())
def test_any_message_shape(live: Live, kind: str, caption: str | None, edited: bool) -> None:
    message: dict[str, Any] = {"message_id": 1, "date": 0, kind: _media[kind]}
    if caption is not None:
        message["caption"] = caption
    if edited:
        message["edit_date"] = 1
    assert_kind_reply(process(live, {"edited_message" if edited else "message": message}))
