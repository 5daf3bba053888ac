"""Load and fault tests through the real Application and the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.people import Keyring
from bot.usage import UsageLog
from tests.fakebot import FakeBotAPI
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
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, fake.wait_for, lambda: len(fake.sent()) >= 1000, 120)
    assert not errors
    for chat in chats:  # every message answered once, in order
        assert [m["text"] for m in fake.sent(chat)] == [engine.respond(t).reply for t in MESSAGES]
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
        wait = asyncio.get_running_loop().run_in_executor
        async with running(fake, engine, usage=usage, keyring=keyring) as errors:
            for chat in range(100, 130):
                fake.message(chat, MESSAGES[chat % 5])
            assert await wait(None, fake.wait_for, lambda: len(fake.sent()) == 30, 120)
            assert all("1280" in m["text"] for m in fake.sent())
            # The disk really is full: the log says so and holds the events.
            assert await wait(None, fake.wait_for, lambda: not usage.healthy and usage.pending == 30, 120)
            filler.unlink()
            assert await wait(None, fake.wait_for, lambda: usage.healthy and usage.pending == 0, 120)
        assert not errors
        assert events(db) == 30
    finally:
        if subprocess.run(["umount", str(disk)]).returncode:
            subprocess.run(["umount", "--lazy", str(disk)])
