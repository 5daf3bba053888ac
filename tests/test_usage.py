"""The anonymised usage log: schema, batching, retention, outages, key rotation, privacy."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.engine import Engine, Hints, Response
from bot.people import Keyring, Sketch, default_key_path
from bot.usage import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Event,
    UsageLog,
    make_event,
    run_in_thread,
    truncate_hour,
)

T0 = datetime(2025, 3, 10, 14, tzinfo=UTC)
FAST = {"flush_interval": 0.02, "retry_initial": 0.02, "retry_max": 0.1, "busy_timeout": 0.02, "close_timeout": 1.0}


NewLog = Callable[..., UsageLog]


@pytest.fixture
async def new_log() -> AsyncIterator[NewLog]:
    """UsageLog factory: the clock stands at T0 unless given, and every log is closed at the end."""
    made: list[UsageLog] = []

    def make(path: Path, **kw: Any) -> UsageLog:
        usage = UsageLog(path, **{"clock": lambda: T0, **kw})
        made.append(usage)
        return usage

    yield make
    for usage in made:
        await usage.close()


def ev(hour: datetime = T0, intents: tuple[str, ...] = ("violence_at_home",), **kw: object) -> Event:
    fields: dict[str, object] = {
        "channel": "telegram", "kind": "text", "language": "km", "crisis": False, "matched": intents != ("unknown",),
    }
    fields.update(kw)
    return Event(hour=hour, intents=intents, **fields)  # type: ignore[arg-type]


def rows(path: Path, sql: str = "SELECT day, hour, topic, topics FROM events ORDER BY id") -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.usage" and r.levelno >= logging.WARNING]


# ---------------------------------------------------------------- schema and migration


async def test_fresh_database_has_current_schema_in_wal_mode(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "data" / "helpline.db"
    usage = new_log(path)
    await usage.start()
    usage.record(ev())
    await usage.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = [r[1] for r in db.execute("PRAGMA table_info(events)")]
        indexes = {r[1] for r in db.execute("PRAGMA index_list(events)")}
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert columns == [
        "id", "day", "hour", "channel", "kind", "language", "topic", "topics", "crisis", "matched", "reply",
        "partners", "feedback",
    ]
    assert "events_day" in indexes and "events_users" not in indexes
    assert tables == {"schema_version", "events", "people", "daily", "hourly"}
    # The running totals, by Cambodian day and hour: 14:00 UTC is 21:00 in Phnom Penh.
    assert rows(path, "SELECT day, channel, kind, topic, n FROM daily") == [
        ("2025-03-10", "telegram", "text", "violence_at_home", 1)]
    assert rows(path, "SELECT day, hour, n FROM hourly") == [("2025-03-10", 21, 1)]
    assert rows(path) == [("2025-03-10", 14, "violence_at_home", "violence_at_home")]


async def test_migrates_a_version_1_database_keeping_its_events(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    # Exactly what version 1 created; this must keep working however the schema grows.
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (1);
            CREATE TABLE events (id INTEGER PRIMARY KEY, hour_utc TEXT NOT NULL, channel TEXT NOT NULL,
                kind TEXT NOT NULL, language TEXT NOT NULL, topics TEXT NOT NULL, crisis INTEGER NOT NULL,
                matched INTEGER NOT NULL, user_key TEXT NOT NULL);
            CREATE INDEX events_hour ON events(hour_utc);
            INSERT INTO events VALUES (1, '2025-03-09 07:00', 'telegram', 'button', 'en',
                'school_violence violence_at_home', 0, 1, '');
            INSERT INTO events VALUES (2, '2025-03-09 23:00', 'console', 'text', 'km', 'unknown', 0, 0, '');
        """)
    usage = new_log(path, clock=lambda: T0)
    await usage.start()
    usage.record(ev())
    await usage.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert "hour_utc" not in [r[1] for r in db.execute("PRAGMA table_info(events)")]
    assert rows(path) == [
        ("2025-03-09", 7, "school_violence", "school_violence violence_at_home"),
        ("2025-03-09", 23, "unknown", "unknown"),
        ("2025-03-10", 14, "violence_at_home", "violence_at_home"),
    ]


async def test_a_newer_schema_is_left_alone_and_replies_go_on(
    new_log: NewLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "helpline.db"
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (99);")
    usage = new_log(path, **FAST | {"close_timeout": 0.1})
    await usage.start()
    usage.record(ev())
    assert not usage.healthy and usage.pending == 1
    await usage.close()
    assert "schema version 99" in warnings_from(caplog)[0].getMessage()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(99,)]


# ---------------------------------------------------------------- batching, queue, close


async def test_writes_in_batches_and_the_rest_on_close(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    usage = new_log(path, batch_size=50, flush_interval=60)
    await usage.start()
    for i in range(30):
        usage.record(ev(T0 + timedelta(hours=i)))
    await asyncio.sleep(0.1)
    assert usage.written == 0  # under a batch and before the flush interval: nothing written yet
    for i in range(30, 50):
        usage.record(ev(T0 + timedelta(hours=i)))
    await until(lambda: usage.written == 50)  # a full batch wakes the writer at once
    for i in range(50, 60):
        usage.record(ev(T0 + timedelta(hours=i)))
    await asyncio.sleep(0.05)
    assert len(rows(path)) == 50 and usage.pending == 10
    await usage.close()
    assert len(rows(path)) == 60 and usage.pending == 0 and usage.dropped == 0


async def test_partial_batch_is_written_after_the_flush_interval(new_log: NewLog, tmp_path: Path) -> None:
    usage = new_log(tmp_path / "helpline.db", batch_size=1000, flush_interval=0.05)
    await usage.start()
    usage.record(ev())
    await until(lambda: usage.written == 1)
    await usage.close()


async def test_queue_is_bounded_and_drops_the_oldest(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    usage = new_log(path, max_queue=5)  # not started: everything waits in memory
    for i in range(8):
        usage.record(ev(T0 + timedelta(hours=i)))
    assert usage.pending == 5 and usage.dropped == 3
    await usage.close()  # flushes even when never started
    assert [r[1] for r in rows(path)] == [17, 18, 19, 20, 21]


async def test_record_never_raises(new_log: NewLog, tmp_path: Path) -> None:
    usage = new_log(tmp_path / "helpline.db")
    usage.record("not an event")  # type: ignore[arg-type]
    await usage.close()
    usage.record(ev())  # after close
    assert usage.dropped == 2


async def test_run_in_thread_serves_synchronous_callers(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    with run_in_thread(new_log(path, batch_size=3)) as usage:
        for i in range(7):
            usage.record(ev(T0 + timedelta(hours=i), channel="console"))
    assert len(rows(path)) == 7


# ---------------------------------------------------------------- retention


async def test_retention_at_start_and_daily_with_a_fixed_clock(new_log: NewLog, tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    now = [datetime(2025, 6, 15, 12, 30, tzinfo=UTC)]
    keep_all = new_log(path, retention_days=10_000)
    for hours in (24 * 400, 24 * 30 + 1, 24 * 30, 24 * 5, 0):
        keep_all.record(ev(truncate_hour(now[0]) - timedelta(hours=hours)))
    await keep_all.close()
    assert len(rows(path)) == 5

    usage = new_log(path, retention_days=30, clock=lambda: now[0], retention_interval=0.05, flush_interval=0.02)
    await usage.start()
    # The cut-off is 2025-05-16 12:00: that hour is kept, the hour before goes.
    assert [(r[0], r[1]) for r in rows(path)] == [("2025-05-16", 12), ("2025-06-10", 12), ("2025-06-15", 12)]
    now[0] += timedelta(days=10)  # a day later (for the log) the 30 days have moved on
    await until(lambda: len(rows(path)) == 2)
    await usage.close()
    assert [(r[0], r[1]) for r in rows(path)] == [("2025-06-10", 12), ("2025-06-15", 12)]


async def test_retention_leaves_no_byte_of_a_deleted_event_in_the_database_or_its_wal(
    new_log: NewLog, tmp_path: Path
) -> None:
    path = tmp_path / "helpline.db"
    now = [T0]
    usage = new_log(path, retention_days=30, clock=lambda: now[0], retention_interval=0.05, flush_interval=0.02)
    await usage.start()
    for _ in range(50):
        usage.record(ev(T0, intents=("zzdeletedmarker",)))
        usage.record(ev(T0, intents=("zzkeptmarker",)))
    await until(lambda: usage.written == 100)
    usage.record(ev(T0 + timedelta(days=40), intents=("zzkeptmarker",)))
    await until(lambda: usage.written == 101)
    assert b"zzdeletedmarker" in path.read_bytes() + Path(f"{path}-wal").read_bytes()
    now[0] += timedelta(days=40)  # the 100 events of T0 are now past retention; the log keeps running
    await until(lambda: len(rows(path)) == 1)
    await until(lambda: Path(f"{path}-wal").stat().st_size == 0)
    raw = path.read_bytes() + Path(f"{path}-wal").read_bytes()
    assert b"zzdeletedmarker" not in raw and b"zzkeptmarker" in raw


async def test_migrating_a_version_3_database_counts_its_people_then_forgets_their_keys(
    new_log: NewLog, tmp_path: Path
) -> None:
    path = tmp_path / "helpline.db"
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3)]
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (3)")
        for statement in (*MIGRATIONS[2][:1], "ALTER TABLE events_v2 RENAME TO events", *MIGRATIONS[2][4:],
                          *MIGRATIONS[3]):
            db.execute(statement)
        for day, key in [("2025-02-03", keys[0]), ("2025-02-04", keys[0]), ("2025-02-05", keys[1]),
                         ("2025-03-01", keys[2]), ("2025-03-02", "")]:
            db.execute("INSERT INTO events (day, hour, channel, kind, language, topic, topics, crisis, matched, "
                       "user_key) VALUES (?, 9, 'telegram', 'text', 'km', 'unknown', 'unknown', 0, 0, ?)", (day, key))
    usage = new_log(path)
    await usage.start()
    await usage.close()
    assert rows(path, "SELECT month, counted, sketch FROM people ORDER BY month") == [
        ("2025-02", 2, None), ("2025-03", 1, None)]
    assert "user_key" not in [r[1] for r in rows(path, "PRAGMA table_info(events)")]
    assert len(rows(path, "SELECT * FROM events")) == 5
    assert rows(path, "SELECT day, n FROM daily ORDER BY day") == [  # totals made from the old events
        ("2025-02-03", 1), ("2025-02-04", 1), ("2025-02-05", 1), ("2025-03-01", 1), ("2025-03-02", 1)]
    raw = path.read_bytes() + (Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b"")
    assert not any(key.encode() in raw for key in keys)  # VACUUMed: no page still holds an old key


# ---------------------------------------------------------------- outages


async def test_locked_database_keeps_events_and_writes_after_the_lock(
    new_log: NewLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "helpline.db"
    usage = new_log(path, batch_size=10, **FAST)
    await usage.start()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(25):
            usage.record(ev(T0 + timedelta(hours=i)))
        await until(lambda: not usage.healthy)
        started = time.perf_counter()
        for i in range(25, 50):
            usage.record(ev(T0 + timedelta(hours=i)))
        assert time.perf_counter() - started < 0.05
        await asyncio.sleep(0.3)  # several failed retries
        assert usage.pending == 50 and usage.written == 0
    finally:
        other.execute("COMMIT")
        other.close()
    await until(lambda: usage.written == 50)
    assert usage.healthy
    await usage.close()
    assert len(rows(path)) == 50
    assert len(warnings_from(caplog)) == 1  # logged once, not per retry


def _make_read_only(path: Path) -> Callable[[], None]:
    """Make `path` unwritable even for root; returns the undo. Skips when not possible here."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return lambda: path.chmod(0o644)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root without chattr +i: cannot make a file read-only")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_read_only_database_keeps_events_and_writes_when_writable(
    new_log: NewLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "helpline.db"
    first = new_log(path)
    first.record(ev())
    await first.close()
    undo = _make_read_only(path)
    try:
        usage = new_log(path, **FAST)
        await usage.start()
        for i in range(1, 6):
            usage.record(ev(T0 + timedelta(hours=i)))
        await asyncio.sleep(0.2)
        assert not usage.healthy and usage.pending == 5
    finally:
        undo()
    await until(lambda: usage.written == 5)
    await usage.close()
    assert len(rows(path)) == 6
    assert len(warnings_from(caplog)) == 1


async def test_deleted_directory_keeps_events_and_writes_when_it_is_back(
    new_log: NewLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "data"
    path = folder / "helpline.db"
    usage = new_log(path, batch_size=1, **FAST)
    await usage.start()
    usage.record(ev())
    await until(lambda: usage.written == 1)
    shutil.rmtree(folder)
    for i in range(1, 4):
        usage.record(ev(T0 + timedelta(hours=i)))
    await until(lambda: not usage.healthy)
    await asyncio.sleep(0.1)
    assert usage.pending == 3 and not folder.exists()  # never recreated behind the operator's back
    folder.mkdir()
    await until(lambda: usage.pending == 0)
    await usage.close()
    assert [r[1] for r in rows(path)] == [15, 16, 17]
    assert len(warnings_from(caplog)) == 1


async def test_close_gives_up_after_the_timeout_and_says_how_many(
    new_log: NewLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gone" / "helpline.db"
    usage = new_log(path, **FAST | {"close_timeout": 0.1})
    for _ in range(3):
        usage.record(ev())
    started = time.perf_counter()
    await usage.close()
    assert time.perf_counter() - started < 1
    assert "3 events could not be written" in warnings_from(caplog)[-1].getMessage()


# ---------------------------------------------------------------- keys and events


def test_month_keys_live_outside_the_database_folder_and_die_with_their_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELPLINE_HASH_KEY", raising=False)
    monkeypatch.delenv("HELPLINE_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_key_path() == tmp_path / "state" / "helpline-bot" / "month-keys"
    monkeypatch.setenv("HELPLINE_KEY_FILE", str(tmp_path / "keys" / "k"))
    assert default_key_path() == tmp_path / "keys" / "k"
    key_file = tmp_path / "keys" / "month-keys"
    keyring = Keyring(key_file)
    jan, jan_late, feb = (datetime(2025, 1, 3, 9, tzinfo=UTC), datetime(2025, 1, 31, 23, 59, tzinfo=UTC),
                          datetime(2025, 2, 1, 0, 0, tzinfo=UTC))
    assert keyring.person(42, jan) == keyring.person(42, jan_late) != keyring.person(43, jan)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and keyring.months == ["2025-01"]
    january_key = key_file.read_text().split()[1]
    assert Keyring(key_file).person(42, jan) == keyring.person(42, jan)  # the same key after a restart
    assert keyring.person(42, feb) != keyring.person(42, jan)
    # February began: January's key is gone from memory and from the file, and January takes no more people.
    assert keyring.months == ["2025-02"] and january_key not in key_file.read_text()
    assert keyring.person(42, jan) is None
    # A time in another zone counts by its UTC month.
    in_phnom_penh = datetime(2025, 2, 1, 5, tzinfo=UTC).astimezone(ZoneInfo("Asia/Phnom_Penh"))
    assert keyring.person(42, in_phnom_penh) == keyring.person(42, feb)
    assert january_key not in repr(keyring)
    # Loading at start closes every month before the present one.
    assert Keyring.load(key_file).months == []


@pytest.mark.parametrize("value", ["short", "paste-the-generated-64-hex-characters",
                                   "changeme-changeme-changeme-changeme", "a" * 64])
def test_weak_or_placeholder_hash_keys_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   value: str) -> None:
    monkeypatch.setenv("HELPLINE_HASH_KEY", value)
    with pytest.raises(ValueError, match="HELPLINE_HASH_KEY"):
        Keyring.load(tmp_path / "keys")


def test_a_good_hash_key_is_mixed_into_every_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_HASH_KEY", "9f0c2e71a8d4b36e5c1f7a20d9e8b4c3")
    keyring = Keyring.load(tmp_path / "keys")
    now = datetime.now(UTC)
    assert keyring.person(7, now) != Keyring(tmp_path / "keys").person(7, now)


def test_a_key_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    key_file = tmp_path / "month-keys"
    Keyring(key_file).person(1, T0)
    key_file.chmod(0o644)
    Keyring(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_sketch_counts_people_closely() -> None:
    for n in (1, 3, 40, 300, 20_000):
        sketch = Sketch()
        for i in range(n):
            digest = hashlib.sha256(str(i).encode()).digest()
            sketch.add(digest)
            sketch.add(digest)  # the same person twice counts once
        assert abs(sketch.estimate() - n) <= max(1, 0.05 * n), n


async def test_people_are_counted_apart_from_events_and_a_closed_month_becomes_a_number(
    new_log: NewLog, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"  # fixed month keys: the same sketch every run
    keys.write_text("2025-03 " + "4" * 64 + "\n2025-04 " + "5" * 64 + "\n", encoding="ascii")
    keys.chmod(0o600)
    path, keyring = tmp_path / "helpline.db", Keyring(keys)
    usage = new_log(path)
    await usage.start()
    for user in (1, 2, 3, 1, 2):
        usage.record(ev())
        usage.count_person(keyring.person(user, T0), T0)
    await usage.close()
    with sqlite3.connect(path) as db:
        [(month, counted, sketch)] = db.execute("SELECT month, counted, sketch FROM people").fetchall()
    assert (month, counted) == ("2025-03", 0) and Sketch(sketch).estimate() == 3
    april = T0 + timedelta(days=30)
    usage = new_log(path, clock=lambda: april)
    await usage.start()
    usage.count_person(keyring.person(1, april), april)
    await usage.close()
    assert rows(path, "SELECT month, counted, sketch IS NULL FROM people ORDER BY month") == [
        ("2025-03", 3, 1), ("2025-04", 0, 0)]


def test_make_event_keeps_only_anonymous_facts(engine: Engine) -> None:
    response = engine.respond("my dad hits me every day")
    at = datetime(2025, 3, 4, 13, 47, 59, 123, tzinfo=UTC)
    event = make_event(response, channel="telegram", kind="text", now=at)
    assert event.hour == datetime(2025, 3, 4, 13, tzinfo=UTC)
    assert event.intents == response.intents and event.intents[0] == "violence_at_home"
    assert event.language == "en" and event.matched and not event.crisis
    assert event.partners == response.partners and event.feedback == ""
    anonymous = make_event(engine.respond("zzzz"), channel="console", kind="text")
    assert anonymous.intents == ("unknown",) and not anonymous.matched
    command = make_event(Response(language="km", intents=(), crisis=False, crisis_kinds=(), provinces=(),
                                  partners=(), reply=""), channel="telegram", kind="feedback", feedback="helpful")
    assert command.intents == ("unknown",) and not command.matched and command.feedback == "helpful"
    with pytest.raises(ValueError):
        make_event(response, channel="sms", kind="text")
    with pytest.raises(ValueError):
        make_event(response, channel="telegram", kind="feedback", feedback="great, thanks Dara")
    with pytest.raises(ValueError):  # free text can never pose as a topic id
        ev(intents=("my name is Dara",))


def test_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("HELPLINE_RETENTION_DAYS", "90")
    usage = UsageLog.from_env()
    assert usage.path == tmp_path / "x.db" and usage.retention_days == 90
    monkeypatch.setenv("HELPLINE_RETENTION_DAYS", "a year")
    with pytest.raises(ValueError, match="HELPLINE_RETENTION_DAYS"):
        UsageLog.from_env()
    monkeypatch.delenv("HELPLINE_DB")
    monkeypatch.delenv("HELPLINE_RETENTION_DAYS")
    assert UsageLog.from_env().path == Path("data/helpline.db")


# ---------------------------------------------------------------- privacy


def _forms(user_id: int) -> Iterator[bytes]:
    """Every way a user id could sit in a file: text, and 4/8-byte integers either way round."""
    yield str(user_id).encode()
    for fmt in (">q", "<q", ">i", "<i"):
        try:
            yield struct.pack(fmt, user_id)
        except struct.error:
            continue


async def test_raw_bytes_hold_no_ids_texts_or_exact_times(
    new_log: NewLog, tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELPLINE_HASH_KEY", raising=False)
    path = tmp_path / "helpline.db"
    keyring = Keyring(tmp_path / "keys" / "month-keys")
    usage = new_log(path)
    await usage.start()
    messages = {
        987654321: "my name is Sokha, my dad hits me, call me on 012345678",
        5550001234: "I want to kill myself",
        1234567890123: "ខ្ញុំឈ្មោះ ដារ៉ា ឪពុកវាយខ្ញុំ",
    }
    at = datetime(2025, 3, 4, 13, 47, 59, tzinfo=UTC)
    replies = []
    for user_id, text in messages.items():
        response = engine.respond(text, Hints())
        replies.append(response.reply)
        usage.record(make_event(response, channel="telegram", kind="text", now=at))
        usage.count_person(keyring.person(user_id, at), at)
    await usage.close()

    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert {p.name for p in files} <= {"helpline.db", "helpline.db-wal", "helpline.db-shm"}
    raw = {p.name: p.read_bytes() for p in files}
    for name, data in raw.items():
        for user_id in messages:
            for form in _forms(user_id):
                assert form not in data, f"user id {user_id} found in {name}"
        for needle in ("Sokha", "012345678", "kill myself", "ដារ៉ា", "13:47", "47:59"):
            assert needle.encode() not in data, f"{needle!r} found in {name}"
        for reply in replies:
            assert reply[:40].encode() not in data
    # The secret is in its file, never in the database.
    secret = (tmp_path / "keys" / "month-keys").read_text().split()[1]
    assert secret.encode() not in raw["helpline.db"] and secret.encode() not in raw.get("helpline.db-wal", b"")
    assert bytes.fromhex(secret) not in raw["helpline.db"]
    # Every text column holds a closed vocabulary or a topic id list; nothing else.
    for day, hour, channel, kind, language, topic, topics in rows(
        path, "SELECT day, hour, channel, kind, language, topic, topics FROM events"
    ):
        assert (day, hour, channel, kind) == ("2025-03-04", 13, "telegram", "text")
        assert language in ("km", "en", "kh-latn") and topic in engine.content.topics
        assert all(t in engine.content.topics for t in str(topics).split())
