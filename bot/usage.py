"""The anonymised usage log: one small event per reply, written off the reply path.

What an event holds is deliberately poor: the hour (UTC), the channel, the kind of message,
the detected language, the ranked topic ids, the crisis flag, whether anything matched, what
the reply did, the partners it named and the feedback given. Nothing in an event links it to
a person or to another event of the same person: never message text, user or chat ids, names,
phone numbers, message ids, exact times or any per-person key. How many different people wrote
in a month is counted apart, in a sketch that cannot be joined to events (bot.people).

Writing never delays a reply. `UsageLog.record` only appends to a bounded in-memory queue;
one writer task drains it in batches. When the database is unavailable (locked, read-only,
directory gone, disk full) the events wait in memory up to the bound, the failure is logged
once, and writing resumes when the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosqlite

from bot.people import Sketch, month_of

log = logging.getLogger(__name__)

CHANNELS = ("telegram", "console")
# "language": a language switch; "feedback": a press on 👍 / 👎 under a reply.
KINDS = ("text", "button", "command", "non-text", "language", "feedback")
# What the reply did (bot.engine.Response.form).
REPLIES = ("urgent", "check_in", "clarify", "referral", "menu", "fixed")
FEEDBACK = ("", "helpful", "not_helpful")
UNKNOWN = "unknown"
DEFAULT_DB = Path("data") / "helpline.db"
DEFAULT_RETENTION_DAYS = 365
# Only closed vocabularies and ids ever reach the database; free text cannot pass these.
_ID = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def truncate_hour(when: datetime) -> datetime:
    """`when` in UTC with minutes, seconds and microseconds dropped (naive times are taken as UTC)."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Event:
    """What is stored about one reply: nothing that identifies a person or repeats their words."""

    hour: datetime  # UTC, truncated to the hour
    channel: str  # "telegram" | "console"
    kind: str  # one of KINDS
    language: str  # "km" | "en" | "kh-latn"
    intents: tuple[str, ...]  # ranked topic ids, ("unknown",) when none
    crisis: bool
    matched: bool
    reply: str = "referral"  # what the reply did: one of REPLIES
    partners: tuple[str, ...] = ()  # directory ids of the partners the reply named
    feedback: str = ""  # one of FEEDBACK

    def __post_init__(self) -> None:
        if self.hour.tzinfo is None or self.hour != truncate_hour(self.hour):
            raise ValueError("Event.hour must be a UTC time truncated to the hour")
        if self.channel not in CHANNELS:
            raise ValueError(f"Event.channel must be one of {CHANNELS}")
        if self.kind not in KINDS:
            raise ValueError(f"Event.kind must be one of {KINDS}")
        if not _ID.fullmatch(self.language):
            raise ValueError("Event.language must be a language code such as 'km'")
        if not self.intents or not all(_ID.fullmatch(t) for t in self.intents):
            raise ValueError("Event.intents must be topic ids, ('unknown',) when none")
        if self.reply not in REPLIES:
            raise ValueError(f"Event.reply must be one of {REPLIES}")
        if not all(_ID.fullmatch(p) for p in self.partners):
            raise ValueError("Event.partners must be directory ids")
        if self.feedback not in FEEDBACK:
            raise ValueError(f"Event.feedback must be one of {FEEDBACK}")


class Response(Protocol):
    """The parts of bot.engine.Response an event is made from (the reply text is not among them)."""

    @property
    def language(self) -> str: ...
    @property
    def intents(self) -> tuple[str, ...]: ...
    @property
    def crisis(self) -> bool: ...
    @property
    def matched(self) -> bool: ...
    @property
    def form(self) -> str: ...
    @property
    def partners(self) -> tuple[str, ...]: ...


def make_event(
    response: Response,
    *,
    channel: str,
    kind: str,
    now: datetime | None = None,
    feedback: str = "",
) -> Event:
    """The anonymous event for one reply; raises ValueError only on a bad channel, kind or feedback."""
    hour = truncate_hour(now or utcnow())
    intents = tuple(response.intents) or (UNKNOWN,)
    return Event(
        hour=hour,
        channel=channel,
        kind=kind,
        language=response.language,
        intents=intents,
        crisis=bool(response.crisis),
        matched=bool(response.matched) and intents != (UNKNOWN,),  # no topic is never "matched"
        reply=response.form,
        partners=tuple(response.partners),
        feedback=feedback,
    )


# Staff count days in Cambodia (UTC+7 all year): the running totals are kept by Cambodian day and hour.
LOCAL_OFFSET = timedelta(hours=7)
_LOCAL_DAY = "date(day, printf('+%d days', (hour + 7) / 24))"
_ADD_DAILY = ("INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT DO UPDATE SET n = n + excluded.n")
_ADD_HOURLY = "INSERT INTO hourly VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n"

# Schema history. Each entry upgrades from the previous version; they run at start, in one
# transaction, and the version reached is kept in schema_version.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # v1: the first layout (one hour_utc text column, an index on it).
    1: (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            hour_utc TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            language TEXT NOT NULL,
            topics TEXT NOT NULL,
            crisis INTEGER NOT NULL,
            matched INTEGER NOT NULL,
            user_key TEXT NOT NULL
        )""",
        "CREATE INDEX events_hour ON events(hour_utc)",
    ),
    # v2: day + hour of day, the first-ranked topic, CHECKs that keep free text out, and
    # covering indexes so a month's statistics over a million events take well under a second.
    2: (
        """CREATE TABLE events_v2 (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            hour INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
            channel TEXT NOT NULL CHECK (channel NOT GLOB '*[^a-z-]*'),
            kind TEXT NOT NULL CHECK (kind NOT GLOB '*[^a-z-]*'),
            language TEXT NOT NULL CHECK (language NOT GLOB '*[^a-z-]*'),
            topic TEXT NOT NULL CHECK (topic NOT GLOB '*[^a-z0-9_-]*'),
            topics TEXT NOT NULL CHECK (topics NOT GLOB '*[^a-z0-9_ -]*'),
            crisis INTEGER NOT NULL CHECK (crisis IN (0, 1)),
            matched INTEGER NOT NULL CHECK (matched IN (0, 1)),
            user_key TEXT NOT NULL CHECK (user_key = '' OR (length(user_key) = 64 AND user_key NOT GLOB '*[^0-9a-f]*'))
        )""",
        """INSERT INTO events_v2 (id, day, hour, channel, kind, language, topic, topics, crisis, matched, user_key)
           SELECT id, substr(hour_utc, 1, 10), CAST(substr(hour_utc, 12, 2) AS INTEGER), channel, kind, language,
                  CASE instr(topics, ' ') WHEN 0 THEN topics ELSE substr(topics, 1, instr(topics, ' ') - 1) END,
                  topics, crisis, matched, user_key
           FROM events""",
        "DROP TABLE events",
        "ALTER TABLE events_v2 RENAME TO events",
        "CREATE INDEX events_stats ON events(day, topic, language, kind, channel, crisis, matched)",
        "CREATE INDEX events_users ON events(day, user_key)",
    ),
    # v3: what the reply did (urgent, check_in, clarify, referral, menu, fixed), so staff see
    # how often the bot asked "Are you safe right now?" or "Is this about ...?".
    3: (
        "ALTER TABLE events ADD COLUMN reply TEXT NOT NULL DEFAULT 'referral' CHECK (reply NOT GLOB '*[^a-z_]*')",
    ),
    # v4: no per-person key in events: each month's distinct user keys become one number in
    # `people`, which from now on counts people through a sketch held apart; the partners a
    # reply named and the feedback given; new statistics indexes. The file is VACUUMed afterwards.
    4: (
        """CREATE TABLE people (
            month TEXT PRIMARY KEY CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
            counted INTEGER NOT NULL DEFAULT 0 CHECK (counted >= 0),
            sketch BLOB CHECK (sketch IS NULL OR length(sketch) = 4096)
        )""",
        """INSERT INTO people (month, counted)
           SELECT substr(day, 1, 7), COUNT(DISTINCT user_key) FROM events WHERE user_key <> '' GROUP BY 1""",
        "DROP INDEX events_users",
        "ALTER TABLE events DROP COLUMN user_key",
        "ALTER TABLE events ADD COLUMN partners TEXT NOT NULL DEFAULT '' CHECK (partners NOT GLOB '*[^a-z0-9_ -]*')",
        "ALTER TABLE events ADD COLUMN feedback TEXT NOT NULL DEFAULT '' "
        "CHECK (feedback IN ('', 'helpful', 'not_helpful'))",
        # Statistics read two running totals kept with every batch (Cambodian days and hours), so
        # a year of a million events is summed from thousands of rows; events keep an index for retention.
        "DROP INDEX events_stats",
        "CREATE INDEX events_day ON events(day, hour)",
        """CREATE TABLE daily (
            day TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, topic TEXT NOT NULL,
            language TEXT NOT NULL, crisis INTEGER NOT NULL, matched INTEGER NOT NULL, reply TEXT NOT NULL,
            feedback TEXT NOT NULL, partners TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (channel, kind, topic, language, crisis, matched, reply, feedback, partners, day)
        ) WITHOUT ROWID""",
        """CREATE TABLE hourly (
            day TEXT NOT NULL, hour INTEGER NOT NULL, channel TEXT NOT NULL, crisis INTEGER NOT NULL,
            n INTEGER NOT NULL, PRIMARY KEY (day, hour, channel, crisis)
        ) WITHOUT ROWID""",
        f"""INSERT INTO daily SELECT {_LOCAL_DAY}, channel, kind, topic, language, crisis, matched, reply, feedback,
                  partners, COUNT(*) FROM events GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10""",
        f"""INSERT INTO hourly SELECT {_LOCAL_DAY}, (hour + 7) % 24, channel, crisis, COUNT(*)
           FROM events GROUP BY 1, 2, 3, 4""",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
# Upgrading from below this version removed personal data: VACUUM, so no page keeps it.
_VACUUM_BELOW = 4
_INSERT = (
    "INSERT INTO events (day, hour, channel, kind, language, topic, topics, crisis, matched, reply, partners, "
    "feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# What "unavailable" looks like: any SQLite error, or the file system refusing.
_DB_ERRORS = (sqlite3.Error, OSError, ValueError)


class SchemaError(sqlite3.DatabaseError):
    """The database was written by a newer version of the bot, or is not ours."""


class _FileReplaced(OSError):
    """The database file we had open was deleted or replaced underneath us."""


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found before."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with db.execute("SELECT max(version) FROM schema_version") as cursor:
            row = await cursor.fetchone()
        found = int(row[0]) if row and row[0] is not None else 0
        if found > SCHEMA_VERSION:
            raise SchemaError(f"the usage database has schema version {found}; this bot knows up to {SCHEMA_VERSION}")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
        if found < SCHEMA_VERSION:
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(*_DB_ERRORS):
            await db.execute("ROLLBACK")
        raise
    return found


def _row(event: Event) -> tuple[str, int, str, str, str, str, str, int, int, str, str, str]:
    return (
        event.hour.strftime("%Y-%m-%d"),
        event.hour.hour,
        event.channel,
        event.kind,
        event.language,
        event.intents[0],
        " ".join(event.intents),
        int(event.crisis),
        int(event.matched),
        event.reply,
        " ".join(event.partners),
        event.feedback,
    )


def _totals(batch: list[Event]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The batch added up by Cambodian day (and hour): the rows for `daily` and `hourly`."""
    daily: Counter[tuple[object, ...]] = Counter()
    hourly: Counter[tuple[object, ...]] = Counter()
    for event in batch:
        local = event.hour + LOCAL_OFFSET
        day = local.strftime("%Y-%m-%d")
        daily[(day, event.channel, event.kind, event.intents[0], event.language, int(event.crisis),
               int(event.matched), event.reply, event.feedback, " ".join(event.partners))] += 1
        hourly[(day, local.hour, event.channel, int(event.crisis))] += 1
    return [(*k, n) for k, n in daily.items()], [(*k, n) for k, n in hourly.items()]


def default_db_path() -> Path:
    """HELPLINE_DB, else ./data/helpline.db."""
    return Path(os.environ.get("HELPLINE_DB") or DEFAULT_DB)


class UsageLog:
    """A bounded queue of events and one writer task that drains it into SQLite in batches."""

    def __init__(
        self,
        path: Path,
        *,
        max_queue: int = 10000,
        batch_size: int = 200,
        flush_interval: float = 1.0,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], datetime] = utcnow,
        retention_interval: float = 86400.0,
        retry_initial: float = 0.5,
        retry_max: float = 60.0,
        busy_timeout: float = 1.0,
        close_timeout: float = 5.0,
    ) -> None:
        if max_queue < 1 or batch_size < 1 or retention_days < 1:
            raise ValueError("max_queue, batch_size and retention_days must be at least 1")
        self.path = Path(path)
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retention_days = retention_days
        self.clock = clock
        self.retention_interval = retention_interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.busy_timeout = busy_timeout
        self.close_timeout = close_timeout
        self._queue: deque[Event] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._db: aiosqlite.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        self._retention_due = 0.0
        self._retry_delay = 0.0
        self._failing = False
        self._closed = False
        self._dropped = 0
        self._written = 0
        # This month's people, in memory; saved at most once an hour (and at close), so old
        # copies of the sketch in the file cannot be compared message by message.
        self._sketches: dict[str, Sketch] = {}
        self._people_saved = ""  # the hour (yyyy-mm-dd hh) of the last save
        self._people_dirty = False

    @classmethod
    def from_env(cls) -> UsageLog:
        """HELPLINE_DB (default ./data/helpline.db) and HELPLINE_RETENTION_DAYS (default 365)."""
        raw = os.environ.get("HELPLINE_RETENTION_DAYS", "").strip()
        try:
            days = int(raw) if raw else DEFAULT_RETENTION_DAYS
        except ValueError:
            raise ValueError(f"HELPLINE_RETENTION_DAYS must be a whole number of days, not {raw!r}") from None
        if days < 1:
            raise ValueError("HELPLINE_RETENTION_DAYS must be at least 1")
        return cls(default_db_path(), retention_days=days)

    @property
    def pending(self) -> int:
        """Events waiting in memory."""
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Events lost because the queue was full (oldest first)."""
        return self._dropped

    @property
    def written(self) -> int:
        """Events committed to the database by this log."""
        return self._written

    @property
    def healthy(self) -> bool:
        """False while the database is unavailable."""
        return not self._failing

    async def start(self) -> None:
        """Open the database (WAL), migrate, apply retention, start the writer. Never raises on DB trouble."""
        if self._task is not None:
            raise RuntimeError("UsageLog.start() called twice")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            await self._ensure_open()
        except _DB_ERRORS as exc:
            await self._failed(exc)
        self._task = asyncio.create_task(self._run(), name="usage-log-writer")

    def record(self, event: Event) -> None:
        """Queue one event. Never blocks, never raises; when full the oldest event is dropped."""
        try:
            if self._closed or not isinstance(event, Event):
                self._dropped += 1
                return
            with self._lock:
                if len(self._queue) >= self.max_queue:
                    self._queue.popleft()
                    self._dropped += 1
                self._queue.append(event)
                full = len(self._queue) >= self.batch_size
            if full and not self._failing and self._wake is not None and self._loop is not None:
                try:
                    on_loop = asyncio.get_running_loop() is self._loop
                except RuntimeError:
                    on_loop = False
                if on_loop:
                    self._wake.set()
                else:
                    self._loop.call_soon_threadsafe(self._wake.set)
        except Exception:  # noqa: BLE001 - recording must never break a reply
            self._dropped += 1

    def count_person(self, digest: bytes | None, when: datetime) -> None:
        """Add one person's digest (bot.people.Keyring.person) to the month's count; never stored with an event."""
        if digest is None or self._closed:
            return
        with self._lock:
            self._sketches.setdefault(month_of(when), Sketch()).add(digest)
            self._people_dirty = True

    async def close(self) -> None:
        """Stop the writer, flush what is queued (retrying until close_timeout), close the database."""
        if self._closed:
            return
        self._closed = True
        if self._stop is not None and self._wake is not None:
            self._stop.set()
            self._wake.set()
        if self._task is not None:
            await self._task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        delay = self.retry_initial
        while self._queue and not await self._flush():
            if loop.time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)
        if self._queue:
            log.warning("usage log: %d events could not be written before stopping", len(self._queue))
        if self._people_dirty:
            try:
                await self._save_people(await self._ensure_open(), force=True)
            except _DB_ERRORS as exc:
                log.warning("usage log: the people count could not be saved (%s)", type(exc).__name__)
        await self._disconnect()

    async def apply_retention(self) -> int:
        """Delete events older than retention_days; returns how many were deleted."""
        return await self._retain(await self._ensure_open())

    async def _retain(self, db: aiosqlite.Connection) -> int:
        """Delete old events for real: secure_delete zeroes their bytes, and the checkpoint empties the WAL."""
        cutoff = truncate_hour(self.clock() - timedelta(days=self.retention_days))
        day = cutoff.strftime("%Y-%m-%d")
        cursor = await db.execute(
            "DELETE FROM events WHERE day < ? OR (day = ? AND hour < ?)", (day, day, cutoff.hour)
        )
        deleted = cursor.rowcount
        await cursor.close()
        local_day = (cutoff + LOCAL_OFFSET).strftime("%Y-%m-%d")  # totals go by whole Cambodian days
        for table in ("daily", "hourly"):
            await db.execute(f"DELETE FROM {table} WHERE day < ?", (local_day,))  # noqa: S608 - fixed names
        await db.execute("DELETE FROM people WHERE month < ?", (month_of(cutoff),))
        if deleted > 0:
            await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self._loop is not None:
            self._retention_due = self._loop.time() + self.retention_interval
        return max(deleted, 0)

    async def _run(self) -> None:
        assert self._wake is not None and self._stop is not None
        while not self._stop.is_set():
            if self._failing:
                # While failing, only a stop cuts the back-off short; new events just wait.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._retry_delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            await self._flush()

    async def _flush(self) -> bool:
        """Write everything queued, batch by batch; False (events kept) when the DB is unavailable."""
        batch: list[Event] = []
        try:
            db = await self._ensure_open()
            if self._loop is not None and self._loop.time() >= self._retention_due:
                await self._retain(db)
            await self._save_people(db)
            while self._queue:
                self._check_file()
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                await db.execute("BEGIN IMMEDIATE")
                try:
                    await db.executemany(_INSERT, [_row(e) for e in batch])
                    daily, hourly = _totals(batch)
                    await db.executemany(_ADD_DAILY, daily)
                    await db.executemany(_ADD_HOURLY, hourly)
                    await db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(*_DB_ERRORS):
                        await db.execute("ROLLBACK")
                    raise
                self._written += len(batch)
                batch = []
        except _DB_ERRORS as exc:
            self._requeue(batch)
            await self._failed(exc)
            return False
        except BaseException:
            self._requeue(batch)
            raise
        if self._failing:
            self._failing = False
            log.info("usage log: writing again to %s (%d events dropped in all)", self.path, self._dropped)
        self._retry_delay = 0.0
        return True

    async def _save_people(self, db: aiosqlite.Connection, *, force: bool = False) -> None:
        """Merge the in-memory sketches into `people` (hourly), and reduce closed months to a number."""
        now = self.clock()
        hour, current = truncate_hour(now).strftime("%Y-%m-%d %H"), month_of(now)
        if not self._people_dirty or (hour == self._people_saved and not force and min(self._sketches) >= current):
            return
        with self._lock:
            sketches, self._sketches, self._people_dirty = self._sketches, {}, False
        try:
            await db.execute("BEGIN IMMEDIATE")
            for month, sketch in sorted(sketches.items()):
                async with db.execute("SELECT sketch FROM people WHERE month = ?", (month,)) as cursor:
                    row = await cursor.fetchone()
                if row and row[0] is not None:
                    sketch.merge(bytes(row[0]))
                closed = month < current
                await db.execute(
                    "INSERT INTO people (month, counted, sketch) VALUES (?, ?, ?) ON CONFLICT (month) DO UPDATE "
                    "SET counted = counted + excluded.counted, sketch = excluded.sketch",
                    (month, sketch.estimate() if closed else 0, None if closed else bytes(sketch.registers)),
                )
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(*_DB_ERRORS):
                await db.execute("ROLLBACK")
            with self._lock:  # keep what was counted for the next attempt
                for month, sketch in sketches.items():
                    self._sketches.setdefault(month, Sketch()).merge(bytes(sketch.registers))
                self._people_dirty = True
            raise
        self._people_saved = hour
        await self._close_months(db, current)

    async def _close_months(self, db: aiosqlite.Connection, current: str) -> None:
        """Months before `current` still holding a sketch become a number (after a restart in a new month)."""
        async with db.execute("SELECT month, sketch FROM people WHERE month < ? AND sketch IS NOT NULL",
                              (current,)) as cursor:
            open_months = list(await cursor.fetchall())
        for month, data in open_months:
            await db.execute("UPDATE people SET counted = counted + ?, sketch = NULL WHERE month = ?",
                             (Sketch(bytes(data)).estimate(), month))

    def _requeue(self, batch: list[Event]) -> None:
        """Put an unwritten batch back at the front, keeping the bound by dropping the oldest."""
        with self._lock:
            self._queue.extendleft(reversed(batch))
            while len(self._queue) > self.max_queue:
                self._queue.popleft()
                self._dropped += 1

    async def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            # Once per outage, and never an event's contents: the error names only the problem.
            log.warning(
                "usage log: cannot write to %s (%s: %s); keeping up to %d events in memory and retrying",
                self.path, type(exc).__name__, exc, self.max_queue,
            )
        self._failing = True
        self._retry_delay = min(max(self._retry_delay * 2, self.retry_initial), self.retry_max)
        await self._disconnect()

    async def _ensure_open(self) -> aiosqlite.Connection:
        if self._db is not None:
            return self._db
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"directory {self.path.parent} does not exist")
        _private_file(self.path)
        db = await aiosqlite.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not just unlinked
            if 0 < await migrate(db) < _VACUUM_BELOW:
                await db.execute("VACUUM")
                await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._close_months(db, month_of(self.clock()))
            await self._retain(db)  # at every (re)open, then daily
            stat = os.stat(self.path)
        except BaseException:
            with contextlib.suppress(*_DB_ERRORS):
                await db.close()
            raise
        self._db = db
        self._file_id = (stat.st_dev, stat.st_ino)
        return db

    def _check_file(self) -> None:
        """SQLite happily writes to a deleted file; notice, so the next attempt reopens the path."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise _FileReplaced(f"{self.path} was deleted") from None
        if (stat.st_dev, stat.st_ino) != self._file_id:
            raise _FileReplaced(f"{self.path} was replaced")

    async def _disconnect(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(*_DB_ERRORS):
                await db.close()


def _private_file(path: Path) -> None:
    """The database readable by the bot only, whatever the umask: SQLite gives its -wal and -shm
    files the database's mode, so creating the file 0600 first covers all three."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        mode = os.fstat(fd).st_mode & 0o777
        if mode & 0o077:
            os.fchmod(fd, mode & 0o700)
            log.info("usage log: %s was readable by others (mode %o); now readable by the bot only", path, mode)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_in_thread(usage: UsageLog) -> Iterator[UsageLog]:
    """Run a UsageLog on its own event-loop thread, for synchronous callers like the console chat."""
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), stop
        try:
            await usage.start()
        finally:
            ready.set()
        await stop.wait()
        await usage.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="usage-log", daemon=True)
    thread.start()
    ready.wait()
    if "loop" not in holder or not thread.is_alive():
        raise RuntimeError("the usage log thread did not start")
    try:
        yield usage
    finally:
        loop, stop = holder["loop"], holder["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join()
