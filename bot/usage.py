"""The anonymised usage log: one small event per reply, written off the reply path.

What an event holds is deliberately poor: the hour (UTC), the channel, the kind of message,
the detected language, the ranked topic ids, the crisis flag, whether anything matched, and
a pseudonymous user key that changes every month. Never message text, user or chat ids,
names, phone numbers, message ids or exact times.

Writing never delays a reply. `UsageLog.record` only appends to a bounded in-memory queue;
one writer task drains it in batches. When the database is unavailable (locked, read-only,
directory gone, disk full) the events wait in memory up to the bound, the failure is logged
once, and writing resumes when the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosqlite

log = logging.getLogger(__name__)

CHANNELS = ("telegram", "console")
KINDS = ("text", "button", "command", "non-text")
# What the reply did (bot.engine.Response.form).
REPLIES = ("urgent", "check_in", "clarify", "referral", "menu", "fixed")
UNKNOWN = "unknown"
DEFAULT_DB = Path("data") / "helpline.db"
DEFAULT_RETENTION_DAYS = 365
# The shortest HELPLINE_HASH_KEY accepted: user ids are guessable, so the key must not be.
MIN_KEY_CHARS = 16
# Only closed vocabularies and ids ever reach the database; free text cannot pass these.
_ID = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_USER_KEY = re.compile(r"(?:[0-9a-f]{64})?")


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
    kind: str  # "text" | "button" | "command" | "non-text"
    language: str  # "km" | "en" | "kh-latn"
    intents: tuple[str, ...]  # ranked topic ids, ("unknown",) when none
    crisis: bool
    matched: bool
    user_key: str  # HMAC-SHA256(key, f"{yyyy-mm}:{user_id}") hex; "" when no user
    reply: str = "referral"  # what the reply did: one of REPLIES

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
        if not _USER_KEY.fullmatch(self.user_key):
            raise ValueError("Event.user_key must be a 64-character hex digest or ''")
        if self.reply not in REPLIES:
            raise ValueError(f"Event.reply must be one of {REPLIES}")


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


def make_event(
    response: Response,
    *,
    channel: str,
    kind: str,
    user_id: int | None,
    keyring: Keyring,
    now: datetime | None = None,
) -> Event:
    """The anonymous event for one reply; raises ValueError only on a bad channel or kind."""
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
        user_key="" if user_id is None else keyring.user_key(user_id, hour),
        reply=response.form,
    )


class Keyring:
    """The secret behind user keys: HELPLINE_HASH_KEY, else a 0600 key file beside the database."""

    __slots__ = ("_key", "source")

    def __init__(self, key: bytes, source: str = "given") -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"the hash key must be at least {MIN_KEY_CHARS} characters long")
        self._key = key
        self.source = source  # where the key came from, for messages; never the key itself

    def __repr__(self) -> str:
        return f"Keyring(source={self.source!r})"

    @staticmethod
    def key_path(db_path: Path) -> Path:
        """Where the generated key lives: beside the database, never inside it."""
        return db_path.with_name(db_path.name + ".key")

    @classmethod
    def load(cls, db_path: Path) -> Keyring:
        """HELPLINE_HASH_KEY when set; otherwise read, or generate once, `<db>.key` (mode 0600)."""
        if env := os.environ.get("HELPLINE_HASH_KEY"):
            if len(env) < MIN_KEY_CHARS:
                raise ValueError(
                    f"HELPLINE_HASH_KEY is too short: use at least {MIN_KEY_CHARS} random characters, e.g. "
                    "the output of: python -c 'import secrets; print(secrets.token_hex(32))'"
                )
            return cls(env.encode("utf-8"), "HELPLINE_HASH_KEY")
        path = cls.key_path(Path(db_path))
        if not path.exists():
            _create_key_file(path)
        return cls(_read_key_file(path), str(path))

    def user_key(self, user_id: int, when: datetime) -> str:
        """The same for one user within a calendar month (UTC); unlinkable across months."""
        month = truncate_hour(when).strftime("%Y-%m")
        return hmac.new(self._key, f"{month}:{int(user_id)}".encode(), hashlib.sha256).hexdigest()


def _create_key_file(path: Path) -> None:
    """Write a fresh random key atomically with mode 0600; a concurrent creator wins harmlessly."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("usage log: %s was readable by others (mode %o); set it to 0600", path, mode)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(f"{path}: the key file is empty or too short; delete it to generate a new one")
    return key.encode("ascii")


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
}
SCHEMA_VERSION = max(MIGRATIONS)
_INSERT = (
    "INSERT INTO events (day, hour, channel, kind, language, topic, topics, crisis, matched, user_key, reply) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


def _row(event: Event) -> tuple[str, int, str, str, str, str, str, int, int, str, str]:
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
        event.user_key,
        event.reply,
    )


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
        await self._disconnect()

    async def apply_retention(self) -> int:
        """Delete events older than retention_days; returns how many were deleted."""
        return await self._retain(await self._ensure_open())

    async def _retain(self, db: aiosqlite.Connection) -> int:
        cutoff = truncate_hour(self.clock() - timedelta(days=self.retention_days))
        day = cutoff.strftime("%Y-%m-%d")
        cursor = await db.execute(
            "DELETE FROM events WHERE day < ? OR (day = ? AND hour < ?)", (day, day, cutoff.hour)
        )
        deleted = cursor.rowcount
        await cursor.close()
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
            while self._queue:
                self._check_file()
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                await db.execute("BEGIN IMMEDIATE")
                try:
                    await db.executemany(_INSERT, [_row(e) for e in batch])
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
            await migrate(db)
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
