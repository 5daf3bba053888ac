"""Load and fault tests through the real Application and the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.health import age, heartbeat_path
from bot.people import Keyring
from bot.usage import UsageLog
from tests.fakebot import TOKEN, FakeBotAPI
from tests.test_telegram import replies, running

MESSAGES = ["hello", "my teacher hit me", "i feel lonely", "knhom ekao nas", "ម្តាយខ្ញុំវាយខ្ញុំ"]


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI().start()
    yield api
    api.stop()


def events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


async def test_burst_of_1000_messages_from_200_chats(fake: FakeBotAPI, engine: Engine, tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    chats = range(1000, 1200)
    async with running(fake, engine, usage=UsageLog(db), keyring=Keyring(tmp_path / "keys")) as errors:
        for text in MESSAGES:
            for chat in chats:
                fake.message(chat, text)
        await fake.until(lambda: len(fake.sent()) >= 1000, 120)
    assert not errors
    for chat in chats:  # every message answered once, in order
        assert [m["text"] for m in fake.sent(chat)] == [engine.respond(t).html for t in MESSAGES]
    assert events(db) == 1000  # every reply logged


async def test_a_deleted_database_does_not_stop_replies(fake: FakeBotAPI, engine: Engine, tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    usage = UsageLog(db, flush_interval=0.05)
    async with running(fake, engine, usage=usage, keyring=Keyring(tmp_path / "keys")):
        fake.message(1, "hello")
        await replies(fake, 1, 1)
        await asyncio.sleep(0.2)
        for path in tmp_path.glob("usage.db*"):
            if not path.name.endswith(".key"):
                path.unlink()
        fake.message(1, "my teacher hit me")
        fake.message(1, "i feel lonely")
        texts = await replies(fake, 1, 3)
    assert len(texts) == 3 and all("1280" in t for t in texts)
    assert events(db) == 2  # the log reopened the path and wrote what came after


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
async def test_a_full_disk_does_not_stop_replies_and_logging_resumes(
    fake: FakeBotAPI, engine: Engine, tmp_path: Path
) -> None:
    """The disk is full before the first event, so the failure is certain (a WAL that reuses its
    pages can absorb writes on a disk filled later); every step waits for a state, not a time."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = disk / "usage.db"
        keyring = Keyring(tmp_path / "keys")
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=100"], capture_output=True)
        usage = UsageLog(db, flush_interval=0.05, retry_initial=0.05, retry_max=0.2)
        async with running(fake, engine, usage=usage, keyring=keyring) as errors:
            for chat in range(100, 130):
                fake.message(chat, MESSAGES[chat % 5])
            assert await fake.until(lambda: len(fake.sent()) == 30, 120)
            assert all("1280" in m["text"] for m in fake.sent())
            # The disk really is full: the log says so and holds the events.
            assert await fake.until(lambda: not usage.healthy and usage.pending == 30, 120)
            filler.unlink()
            assert await fake.until(lambda: usage.healthy and usage.pending == 0, 120)
        assert not errors
        assert events(db) == 30
    finally:
        if subprocess.run(["umount", str(disk)]).returncode:
            subprocess.run(["umount", "--lazy", str(disk)])


@contextmanager
def bot_process(fake: FakeBotAPI, tmp_path: Path, **settings: str) -> Iterator[subprocess.Popen[str]]:
    """`helpline-bot run` as a real process against the fake Bot API; killed if a test leaves it running."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.url,
           "HELPLINE_DB": str(tmp_path / "usage.db"), "HELPLINE_LOG_LEVEL": "INFO", **settings}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def health(tmp_path: Path, max_age: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLINE_DB": str(tmp_path / "usage.db")}
    return subprocess.run([sys.executable, "-m", "bot", "health", "--max-age", str(max_age)], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("revoked", ["getUpdates", "sendMessage"])
def test_a_token_revoked_while_running_stops_with_exit_2_and_the_log_flushed(
    fake: FakeBotAPI, tmp_path: Path, revoked: str
) -> None:
    """Telegram answers 401 from now on: the bot must not stay alive and deaf."""
    with bot_process(fake, tmp_path) as proc:
        fake.message(1, "my teacher hit me")
        assert fake.wait_for(lambda: len(fake.sent(1)) == 1, timeout=60)
        if revoked == "sendMessage":  # the first sign is a reply refused; polling would still work
            fake.broken["sendMessage"] = "401"
            fake.message(2, "i feel lonely")
        else:
            fake.broken["*"] = "401"
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "rejected TELEGRAM_BOT_TOKEN" in err
    assert TOKEN not in err and "TEST-token" not in err and "lonely" not in err
    assert events(tmp_path / "usage.db") == 1  # the one reply sent was logged before the exit


def test_health_follows_whether_updates_arrive(fake: FakeBotAPI, tmp_path: Path) -> None:
    beat = heartbeat_path(tmp_path / "usage.db")
    assert health(tmp_path, 60).returncode == 1  # never started
    with bot_process(fake, tmp_path) as proc:
        fake.message(1, "hello")
        assert fake.wait_for(lambda: len(fake.sent(1)) == 1, timeout=60)
        assert fake.wait_for(lambda: age(beat) is not None, timeout=60)
        assert health(tmp_path, 60).returncode == 0
        fake.broken["getUpdates"] = "500"  # Telegram unreachable: alive, but deaf
        assert fake.wait_for(lambda: (age(beat) or 0) > 2, timeout=60)
        down = health(tmp_path, 2)
        assert down.returncode == 1 and "Not receiving updates" in down.stdout
        assert proc.poll() is None
        del fake.broken["getUpdates"]  # back: the heartbeat resumes (after PTB's back-off)
        assert fake.wait_for(lambda: (age(beat) or 99) < 2, timeout=90)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert age(beat) is None  # a stopped bot is not alive


def test_health_in_webhook_mode_asks_telegram_whether_it_delivers(fake: FakeBotAPI, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "https://bot.example.invalid/telegram"
    with bot_process(fake, tmp_path, HELPLINE_WEBHOOK_URL=url, HELPLINE_WEBHOOK_LISTEN="127.0.0.1",
                     HELPLINE_WEBHOOK_PORT=str(port)) as proc:
        assert fake.wait_for(lambda: age(heartbeat_path(tmp_path / "usage.db")) is not None, timeout=60)
        assert fake.webhook == url and fake.calls_to("getWebhookInfo")
        assert health(tmp_path, 60).returncode == 0
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_sigterm_exits_within_10_s_with_the_log_flushed_while_telegram_hangs(fake: FakeBotAPI,
                                                                            tmp_path: Path) -> None:
    """Replies that cannot be sent (each attempt times out, and is retried) must not hold the stop."""
    with bot_process(fake, tmp_path) as proc:
        for chat in (1, 2, 3):
            fake.message(chat, MESSAGES[chat])
        assert fake.wait_for(lambda: len(fake.sent()) == 3, timeout=60)
        fake.broken["sendMessage"] = "timeout"
        for chat in (4, 5, 6):
            fake.message(chat, MESSAGES[chat - 3])
        assert fake.wait_for(lambda: len(fake.delivered) == 6, timeout=60)
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - start
    assert proc.returncode == 0, err
    assert took < 10, f"took {took:.1f} s to stop"
    assert events(tmp_path / "usage.db") == 3  # the three replies sent, flushed at the stop
