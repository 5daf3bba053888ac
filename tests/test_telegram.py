"""End to end: the real python-telegram-bot Application over HTTP to a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ContextTypes

from bot.engine import Engine
from bot.telegram_app import build_application
from tests.fakebot import TOKEN, FakeBotAPI

HELPLINE = "1280"


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI().start()
    yield api
    api.stop()


@asynccontextmanager
async def running(fake: FakeBotAPI, engine: Engine, **kwargs: Any) -> AsyncIterator[list[BaseException]]:
    """Start the bot the way run_polling does (post_init, polling, start), and stop it cleanly."""
    app = build_application(TOKEN, engine, base_url=fake.url, **kwargs)
    fake.application = app  # so a test can wait for the bot's own state
    errors: list[BaseException] = []

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    async with app:
        assert app.post_init is not None
        await app.post_init(app)
        app.add_error_handler(record)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        await app.start()
        try:
            yield errors
        finally:
            await app.updater.stop()
            await app.stop()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def replies(fake: FakeBotAPI, chat_id: int, count: int, timeout: float = 10.0) -> list[str]:
    """Wait (without blocking the bot's loop) until the chat got `count` messages; return their texts."""
    await fake.until(lambda: len(fake.sent(chat_id)) >= count, timeout)
    return [m["text"] for m in fake.sent(chat_id)]


def buttons(message: dict[str, Any]) -> list[str]:
    """The callback data of a message's inline buttons (URL buttons have none)."""
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if "callback_data" in b]


def urls(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["url"] for row in markup.get("inline_keyboard", []) for b in row if "url" in b]


async def test_start_welcomes_in_both_languages_with_menu(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine) as errors:
        fake.message(1, "/start")
        [text] = await replies(fake, 1, 1)
    assert HELPLINE in text
    assert text.index("Cambodia PROTECT") < text.index("Hello")  # Khmer first
    message = fake.sent(1)[0]
    assert "t:school_violence" in buttons(message) and "l:en" in buttons(message)
    assert not errors
    languages = {c.get("language_code") for c in fake.calls_to("setMyCommands")}
    assert {"km", "en"} <= languages


async def test_deep_link_opens_topic(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(2, "/start online_safety")
        [text] = await replies(fake, 2, 1)
    assert "APLE" in text and HELPLINE in text


@pytest.mark.parametrize(("text", "lang"), [
    ("my teacher hit me with a stick", "en"),
    ("គ្រូវាយខ្ញុំនៅសាលារៀន", "km"),
    ("kru veay knhom nov sala", "km"),
])
async def test_free_text_in_three_languages(fake: FakeBotAPI, engine: Engine, text: str, lang: str) -> None:
    async with running(fake, engine) as errors:
        fake.message(3, text)
        [reply] = await replies(fake, 3, 1)
        fake.button(3, "o:school_violence")
        more = (await replies(fake, 3, 2))[1]
    assert reply.startswith(engine.content.topics["school_violence"].reply[lang][:40]) and HELPLINE in reply
    assert "o:school_violence" in buttons(fake.sent(3)[0])  # the ministry's website is one tap away
    assert engine.content.organizations["moeys"].name[lang] in more and HELPLINE in more
    assert not errors


async def test_crisis_first_line_is_urgent(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(4, "i want to kill myself")
        [reply] = await replies(fake, 4, 1)
    assert HELPLINE in reply.splitlines()[0]


async def test_button_press_and_forged_callback(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine) as errors:
        fake.button(5, "t:family_separation")
        await replies(fake, 5, 1)
        fake.button(5, "t:../../etc/passwd")
        fake.button(5, "x" * 64)
        fake.button(5, "l:en")
        texts = await replies(fake, 5, 4)
    assert texts[0].startswith(engine.content.topics["family_separation"].reply["km"][:40])
    assert all(HELPLINE in t for t in texts)
    assert buttons(fake.sent(5)[1])  # the forged press got the menu
    assert len(fake.calls_to("answerCallbackQuery")) == 4
    assert not errors


async def test_language_choice_is_used_for_later_replies(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.button(6, "l:en")
        await replies(fake, 6, 1)
        fake.message(6, "គ្រូវាយខ្ញុំ")
        texts = await replies(fake, 6, 2)
    assert texts[1].startswith(engine.content.topics["school_violence"].reply["en"][:40])


async def test_sticker_photo_and_voice_get_a_kind_text_reply(fake: FakeBotAPI, engine: Engine) -> None:
    sticker = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
               "is_animated": False, "is_video": False}
    photo = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    voice = {"file_id": "v", "file_unique_id": "v", "duration": 1}
    async with running(fake, engine) as errors:
        fake.message(7, sticker=sticker)
        fake.message(7, photo=photo)
        fake.message(7, voice=voice)
        texts = await replies(fake, 7, 3)
    assert len(texts) == 3 and all(HELPLINE in t for t in texts)
    assert not errors


async def test_groups_get_only_a_pointer_and_channels_nothing(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(-100, "my father beats me", chat_type="group", user_id=8)
        fake.message(-101, "news", chat_type="channel")
        fake.message(-100, "/help", chat_type="group", user_id=8)
        fake.message(-100, "@helpline_test_bot hi", chat_type="group", user_id=8,
                     entities=[{"type": "mention", "offset": 0, "length": 18}])
        texts = await replies(fake, -100, 2)
        await asyncio.sleep(0.3)
    assert len(fake.sent(-100)) == 2
    assert all(engine.content.text("group", "km") in t and HELPLINE in t for t in texts)
    assert not fake.sent(-101)


async def test_clear_deletes_remembered_messages(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(9, "hello")
        await replies(fake, 9, 1)
        fake.message(9, "/clear")
        texts = await replies(fake, 9, 2)
    deleted = [i for call in fake.calls_to("deleteMessages") for i in call["message_ids"]]
    assert len(deleted) >= 3  # "hello", the reply, "/clear"
    assert HELPLINE in texts[-1]
    assert texts[-1].startswith(engine.content.text("cleared", "en"))  # the language of the last reply


async def test_clear_after_a_restart_says_it_could_not_delete_earlier_messages(fake: FakeBotAPI,
                                                                                engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(19, "hello")
        await replies(fake, 19, 1)
    async with running(fake, engine):  # a new process: the ids of "hello" and its reply are gone
        fake.message(19, "/clear")
        texts = await replies(fake, 19, 2)
        fake.message(19, "/clear")
        again = await replies(fake, 19, 3)
    assert texts[-1].startswith(engine.content.text("cleared_restart", "km")) and HELPLINE in texts[-1]
    assert again[-1].startswith(engine.content.text("cleared", "km"))  # nothing earlier since the last /clear


async def test_edited_message_answered_like_new(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(10, "my teacher slaps me", edited=True)
        [text] = await replies(fake, 10, 1)
    assert text.startswith(engine.content.topics["school_violence"].reply["en"][:40])


async def test_429_then_success(fake: FakeBotAPI, engine: Engine) -> None:
    fake.faults.append(("sendMessage", "429"))
    async with running(fake, engine):
        fake.message(11, "hello")
        [text] = await replies(fake, 11, 1, timeout=15)
    assert HELPLINE in text


@pytest.mark.parametrize("fault", ["500", "reset", "timeout"])
async def test_server_error_or_reset_then_success(fake: FakeBotAPI, engine: Engine, fault: str) -> None:
    async with running(fake, engine):
        fake.faults.append(("sendMessage", fault))
        fake.faults.append(("getUpdates", fault))
        fake.message(12, "my father beats me")
        [text] = await replies(fake, 12, 1, timeout=30)
    assert HELPLINE in text


async def test_bad_updates_never_crash_or_drop(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine) as errors:
        fake.push({"unknown_update_kind": {"x": 1}})
        fake.message(13, "x" * 5000)
        fake.message(13, "😀😀😀")
        fake.message(13, "/topics junk junk \u0000")
        fake.message(13, "/nosuchcommand")
        texts = await replies(fake, 13, 4)
    assert len(texts) == 4 and all(HELPLINE in t and len(t) <= 4096 for t in texts)
    assert not errors


async def test_many_chats_in_order_and_clean_stop(fake: FakeBotAPI, engine: Engine) -> None:
    chats = range(100, 120)
    script = ["hello", "my teacher hit me", "i feel lonely", "what is cambodia protect", "asdf"]
    async with running(fake, engine) as errors:
        for text in script:
            for chat in chats:
                fake.message(chat, text)
        await asyncio.sleep(0.05)
    # Stopped while messages were in flight: every message the bot received was answered, in order.
    delivered = [u["message"] for _, u in sorted(fake.delivered.items()) if "message" in u]
    assert delivered
    for chat in chats:
        asked = [m["text"] for m in delivered if m["chat"]["id"] == chat]
        answered = [m["text"] for m in fake.sent(chat)]
        assert answered == [engine.respond(text).html for text in asked]
    assert not errors


async def test_webhook_checks_the_secret_token(fake: FakeBotAPI, engine: Engine) -> None:
    import socket

    import httpx

    from bot.telegram_app import WEBHOOK_MAX_BODY, limit_webhook_bodies, webhook_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = webhook_settings({"HELPLINE_WEBHOOK_URL": "https://bot.example.invalid/telegram",
                                 "HELPLINE_WEBHOOK_LISTEN": "127.0.0.1", "HELPLINE_WEBHOOK_PORT": str(port)})
    assert settings is not None and len(settings["secret_token"]) >= 32
    app = build_application(TOKEN, engine, base_url=fake.url)
    limit_webhook_bodies()
    update = {"update_id": 1, "message": {"message_id": 5, "date": 0, "chat": {"id": 77, "type": "private"},
                                          "from": {"id": 77, "is_bot": False, "first_name": "C"}, "text": "hello"}}
    async with app:
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)
        await app.updater.start_webhook(**settings)
        await app.start()
        url = f"http://127.0.0.1:{port}/telegram"
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json=update)
            good = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token":
                                                                settings["secret_token"]})
            # A body over the limit is refused from its length, before it is read; no reply is sent.
            try:
                huge = (await client.post(url, content=b"x" * (WEBHOOK_MAX_BODY + 1))).status_code
            except httpx.TransportError:
                huge = 0  # the server closed the connection
            longest = "ក" * 4096  # the longest message, replying to another as long, fits
            big = {**update, "update_id": 2, "message": {**update["message"], "message_id": 6, "text": longest,
                                                          "reply_to_message": {**update["message"], "text": longest}}}
            fits = await client.post(url, json=big, headers={"X-Telegram-Bot-Api-Secret-Token":
                                                              settings["secret_token"]})
        texts = await replies(fake, 77, 2)
        await app.updater.stop()
        await app.stop()
    assert forged.status_code == 403 and good.status_code == 200 and fits.status_code == 200
    assert huge in (0, 400, 413), huge
    assert len(texts) == 2 and all(HELPLINE in text for text in texts)
    assert fake.calls_to("setWebhook")[0]["secret_token"] == settings["secret_token"]


async def settled(fake: FakeBotAPI) -> None:
    """Wait until the bot has taken every queued update and finished answering all of them."""
    app = fake.application

    def idle() -> bool:
        return (not fake.pending() and app.update_queue.empty()
                and app.update_processor.current_concurrent_updates == 0)

    assert await fake.until(idle, 60)


async def test_a_flooding_chat_is_folded_and_others_stay_responsive(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine) as errors:
        fake.hold(500)  # the flooder's replies get stuck at the server...
        for i in range(150):
            fake.message(500, "i want to kill myself" if i == 40 else f"spam {i}")
        assert await fake.until(lambda: bool(fake.holding.get(500)), 30)
        fake.message(501, "my teacher hit me")
        await replies(fake, 501, 1, timeout=30)  # ...and another chat is answered all the same
        assert fake.holding.get(500) and not fake.sent(500)
        fake.release(500)
        await settled(fake)
    flood = [m["text"] for m in fake.sent(500)]
    assert 1 <= len(flood) < 30  # folded: a handful of replies, not 150
    assert any("1280" in t.splitlines()[0] or "🆘" in t for t in flood)  # the crisis line was not lost
    assert engine.content.text("folded", "en") in "\n".join(flood)  # the language of the replies
    assert not errors


@pytest.mark.parametrize(("count", "flood"), [
    (500, {"sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
                       "is_animated": False, "is_video": False}}),
    (500, {"text": "/help"}),
    (300, {"text": "/help", "chat_type": "group"}),
], ids=["stickers", "commands", "group-commands"])
async def test_no_flood_of_any_kind_holds_up_another_chat(fake: FakeBotAPI, engine: Engine, count: int,
                                                         flood: dict[str, Any]) -> None:
    flooder = -600 if flood.get("chat_type") else 600
    async with running(fake, engine) as errors:
        fake.hold(flooder)  # the flood's replies stay stuck at the server while another chat writes
        for _ in range(count):
            fake.message(flooder, **flood)
        assert await fake.until(lambda: bool(fake.holding.get(flooder)), 30)
        fake.message(601, "my teacher hit me")
        await replies(fake, 601, 1, timeout=30)
        assert fake.holding.get(flooder) and not fake.sent(flooder)  # answered while the flood was stuck
        fake.release(flooder)
        await settled(fake)
    assert 1 <= len(fake.sent(flooder)) < 10  # the flood took a few update slots, not all of them
    assert not errors


def test_run_command_polls_answers_and_stops_cleanly_on_sigterm(fake: FakeBotAPI, tmp_path: Path) -> None:
    """`helpline-bot run` as a process: answers, never logs the token or message text, stops on SIGTERM."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.url,
           "HELPLINE_DB": str(tmp_path / "usage.db"), "HELPLINE_LOG_LEVEL": "INFO",
           "HELPLINE_KEY_FILE": str(tmp_path / "keys" / "month-keys")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        fake.message(31, "my secret words about my stepfather hitting me")
        assert fake.wait_for(lambda: len(fake.sent(31)) == 1, timeout=30)
        for i in range(20):
            fake.message(32 + i % 4, "i feel lonely tonight")
        fake.wait_for(lambda: len(fake.delivered) >= 21, timeout=10)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    delivered = [u["message"] for _, u in sorted(fake.delivered.items()) if "message" in u]
    assert len(fake.sent()) == len(delivered)
    assert TOKEN not in out + err and "TEST-token" not in out + err
    assert "secret words" not in out + err and "lonely" not in out + err
    with sqlite3.connect(tmp_path / "usage.db") as db:  # flushed on stop: every reply logged
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(delivered)


async def test_stats_for_staff_only_and_nothing_identifying_stored(fake: FakeBotAPI, engine: Engine,
                                                                     tmp_path: Path) -> None:
    from bot.people import Keyring, Sketch
    from bot.usage import UsageLog

    db = tmp_path / "usage.db"
    usage = UsageLog(db, flush_interval=0.05)
    keys = tmp_path / "keys"  # a fixed key for this month: the same sketch every run
    keys.write_text(f"{datetime.now(UTC):%Y-%m} {'3' * 64}\n", encoding="ascii")
    keys.chmod(0o600)
    staff, child = 770011223, 987654321
    words = ["stepfather", "Battambang", "ឪពុកចុងវាយខ្ញុំ", "knhom", "pineapple"]
    async with running(fake, engine, usage=usage, keyring=Keyring(keys), staff_ids=frozenset({staff})):
        fake.message(child, "my stepfather hits me in Battambang, I like pineapple")
        fake.message(child, "ឪពុកចុងវាយខ្ញុំ")
        fake.message(child, "knhom ekao nas")
        fake.message(child, "/stats")
        fake.message(child, "/nosuchcommand")
        child_texts = await replies(fake, child, 5, timeout=60)  # a wait for a state, however busy the machine
        fake.message(staff, "/stats")
        [staff_text] = await replies(fake, staff, 1, timeout=60)
    assert child_texts[3] == child_texts[4]  # /stats is, for a child, just an unknown command
    assert engine.content.text("stats_header", "km") in staff_text
    assert "សារ: 0" in staff_text  # closed days only: today's messages are not counted yet
    assert "1280" in staff_text
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 6
        [(sketch,)] = conn.execute("SELECT sketch FROM people").fetchall()
    assert Sketch(sketch).estimate() == 2  # the child and the staff member, counted apart from the events
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("usage.db"))
    for secret in [str(child), str(staff), *words, "pineapple".upper()]:
        assert secret.encode() not in raw and secret.casefold().encode() not in raw
    for number in (child, staff):
        assert number.to_bytes(8, "big") not in raw and number.to_bytes(8, "little") not in raw
        assert number.to_bytes(4, "big") not in raw and number.to_bytes(4, "little") not in raw


def test_a_rejected_token_stops_with_a_clear_message_that_does_not_show_it(fake: FakeBotAPI, tmp_path: Path) -> None:
    fake.faults.append(("getMe", "401"))
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.url,
           "HELPLINE_DB": str(tmp_path / "usage.db")}
    done = subprocess.run([sys.executable, "-m", "bot", "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "rejected TELEGRAM_BOT_TOKEN" in done.stderr
    assert TOKEN not in done.stdout + done.stderr and "TEST-token" not in done.stdout + done.stderr


async def test_are_you_safe_check_in_with_buttons_urgent_replies_and_events(fake: FakeBotAPI, engine: Engine,
                                                                           tmp_path: Path) -> None:
    from bot.people import Keyring
    from bot.usage import UsageLog

    db = tmp_path / "usage.db"
    usage = UsageLog(db, flush_interval=0.05)
    async with running(fake, engine, usage=usage, keyring=Keyring(tmp_path / "keys")) as errors:
        fake.message(21, "help me please")
        await replies(fake, 21, 1)
        assert buttons(fake.sent(21)[0]) == ["c:danger", "c:suicide", "c:safe"]
        for count, data in enumerate(("c:danger", "c:suicide", "c:safe"), 2):
            fake.button(21, data)
            texts = await replies(fake, 21, count)
    assert not errors
    assert all(HELPLINE in t for t in texts)
    assert "117" in texts[1].splitlines()[0]
    assert texts[2].startswith(engine.content.text("crisis_suicide", "en"))  # the language of the question
    assert "t:school_violence" in buttons(fake.sent(21)[3])  # safe: the topic menu
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, reply, crisis FROM events ORDER BY id").fetchall()
    assert rows == [("text", "check_in", 0), ("button", "urgent", 1), ("button", "urgent", 1), ("button", "fixed", 0)]
    from bot.stats_query import last_closed_day, read_counts

    today = last_closed_day() + timedelta(days=1)
    counts = await read_counts(db, today - timedelta(days=1), today)  # also right across midnight
    assert counts.replies["check_in"] == 1 and counts.check_in_answers == {"danger": 1, "suicide": 1}


async def test_the_self_harm_button_gives_the_urgent_line_first(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.button(22, "t:self_harm")
        [text] = await replies(fake, 22, 1)
    assert text.startswith(engine.content.text("crisis_suicide", "km"))


async def test_a_referral_has_a_counsellor_button_more_feedback_and_topics(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine) as errors:
        fake.message(31, "someone is threatening to post my nude photos online")
        await replies(fake, 31, 1)
        fake.button(31, "f:n:online_safety")
        fake.button(31, "f:y:online_safety")
        texts = await replies(fake, 31, 3)
    first, not_meant, thanks = fake.sent(31)
    assert first["parse_mode"] == "HTML" and "<b>" in first["text"]
    assert urls(first) == ["https://t.me/chc1280"]
    assert buttons(first) == ["o:online_safety", "f:y:online_safety", "f:n:online_safety", "m"]
    assert "t:online_safety" in buttons(not_meant)  # "not what I meant": the topics
    assert texts[2].startswith(engine.content.text("thanks_feedback", "en"))
    assert all(HELPLINE in t for t in texts)
    assert not errors


async def test_deep_link_introduces_the_bot_before_the_topic(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(32, "/start school_violence")
        [text] = await replies(fake, 32, 1)
    intro = engine.content.text("deep_link_intro", "km")
    assert text.startswith(intro) and "/privacy" in intro
    assert engine.content.topics["school_violence"].reply["km"][:30] in text


async def test_language_shows_only_the_language_choice(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        fake.message(33, "/language")
        await replies(fake, 33, 1)
    assert buttons(fake.sent(33)[0]) == ["l:km", "l:en"]


async def test_descriptions_are_set_in_both_languages(fake: FakeBotAPI, engine: Engine) -> None:
    async with running(fake, engine):
        pass
    for method in ("setMyDescription", "setMyShortDescription"):
        calls = fake.calls_to(method)
        assert {c.get("language_code") for c in calls} >= {"km", "en"}
        assert all(HELPLINE in (c.get("description") or c.get("short_description")) for c in calls)


async def test_content_is_escaped_for_telegram_html(fake: FakeBotAPI, engine: Engine) -> None:
    import dataclasses

    content = engine.content
    topic = dataclasses.replace(content.topics["pagoda"], reply={"km": "A < B & C", "en": "A < B & C"})
    odd = Engine(dataclasses.replace(content, topics={**content.topics, "pagoda": topic}), engine.semantic)
    async with running(fake, odd) as errors:
        fake.button(34, "t:pagoda")
        [text] = await replies(fake, 34, 1)
    assert text.startswith("A &lt; B &amp; C") and fake.sent(34)[0]["parse_mode"] == "HTML"
    assert not errors


async def test_the_state_of_a_chat_idle_for_48_hours_is_forgotten(fake: FakeBotAPI, engine: Engine) -> None:
    """Per-chat memory (the language chosen, message ids for /clear) does not grow with every chat ever seen."""
    now = [0.0]
    school = engine.content.topics["school_violence"].reply
    async with running(fake, engine, clock=lambda: now[0]) as errors:
        fake.button(40, "l:en")
        await replies(fake, 40, 1)
        fake.message(40, "គ្រូវាយខ្ញុំ")
        assert (await replies(fake, 40, 2))[1].startswith(school["en"][:40])  # the choice is kept
        # Wait until the handler has also remembered its reply's id (after Telegram answered).
        chat = fake.application.chat_data
        assert await fake.until(lambda: len(chat.get(40, {}).get("ids", ())) >= 3, 30)
        now[0] += 49 * 3600
        fake.message(41, "hello")  # any update after an hour looks for idle chats
        await replies(fake, 41, 1)
        fake.message(40, "គ្រូវាយខ្ញុំ")
        assert (await replies(fake, 40, 3))[2].startswith(school["km"][:40])  # forgotten: the message's own language
        fake.message(40, "/clear")
        await replies(fake, 40, 4)
    deleted = [i for call in fake.calls_to("deleteMessages") for i in call["message_ids"]]
    assert len(deleted) == 3  # only the last message, its reply and /clear: older ids went with the chat
    assert not errors


async def test_nothing_identifying_in_any_log_line_at_debug(fake: FakeBotAPI, engine: Engine) -> None:
    import logging

    from bot.telegram_app import CHATTY_LOGGERS, protect_logs

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(self.format(record))

    root = logging.getLogger()
    handler, level = Lines(), root.level
    saved = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    secret = "webhook-secret-5f2c9a7e1b"
    protect_logs(TOKEN, secret)
    child, words = 918273645, "my stepfather hits me Sreypov"
    person = {"id": child, "is_bot": False, "first_name": "Sreypov", "last_name": "Chanthy",
              "username": "sreypov_kh", "language_code": "km"}
    try:
        async with running(fake, engine) as errors:
            fake.push({"message": {"message_id": 9, "date": 0, "chat": {"id": child, "type": "private",
                                                                        "first_name": "Sreypov"},
                                   "from": person, "text": words}})
            fake.message(child, "/clear")
            fake.button(child, "t:school_violence")
            await replies(fake, child, 3)
            logging.getLogger("bot.telegram_app").debug("a line from us, so the handler is known to work")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, saved_level in saved.items():
            logging.getLogger(name).setLevel(saved_level)
    assert not errors and any("a line from us" in line for line in handler.lines)
    for line in handler.lines:
        for needle in (words, "stepfather", "Sreypov", "Chanthy", "sreypov_kh", str(child), TOKEN, secret):
            assert needle not in line, f"{needle!r} in a log line: {line[:200]}"


async def test_feedback_is_logged_without_ids(fake: FakeBotAPI, engine: Engine, tmp_path: Path) -> None:
    from bot.people import Keyring
    from bot.usage import UsageLog

    db = tmp_path / "usage.db"
    child = 912345678
    usage, keyring = UsageLog(db, flush_interval=0.05), Keyring(tmp_path / "keys")
    async with running(fake, engine, usage=usage, keyring=keyring) as errors:
        fake.message(child, "someone is threatening to post my nude photos online")
        await replies(fake, child, 1)
        fake.button(child, "f:n:online_safety")
        fake.button(child, "f:y:online_safety")
        await replies(fake, child, 3)
    assert not errors
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, topic, feedback FROM events WHERE kind = 'feedback' ORDER BY id").fetchall()
    assert rows == [("feedback", "online_safety", "not_helpful"), ("feedback", "online_safety", "helpful")]
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("usage.db") and p.is_file())
    assert str(child).encode() not in raw and child.to_bytes(4, "little") not in raw
