"""How many different people wrote in a month, without anything that links two events of one person.

A Telegram id becomes a digest under a random key of the current month (`Keyring.person`);
the digest only ever feeds that month's HyperLogLog sketch (`Sketch`), a fixed 4 KiB array
of small numbers that is never joined to events. When a month closes its sketch is reduced
to a number and its key is deleted from the key file, so even with the database and the key
file nobody can test an id against a past month.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# 2**12 registers: about 1.6 % standard error, and exact enough for the hundreds a month we expect.
_BITS = 12
SKETCH_BYTES = 1 << _BITS
_LINE = re.compile(r"(\d{4}-\d{2}) ([0-9a-f]{64})")
# HELPLINE_HASH_KEY, when set, is mixed into every digest: it must be long and really random.
MIN_HASH_KEY_CHARS = 32
_PLACEHOLDER_WORDS = ("paste", "change", "example", "secret", "generated", "your", "xxxx", "key")


def month_of(when: datetime) -> str:
    """yyyy-mm of `when` in UTC (naive times are taken as UTC)."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m")


class Sketch:
    """A HyperLogLog sketch of 4,096 one-byte registers: add digests, estimate how many were distinct."""

    __slots__ = ("registers",)

    def __init__(self, data: bytes | None = None) -> None:
        if data is not None and len(data) != SKETCH_BYTES:
            raise ValueError(f"a sketch has {SKETCH_BYTES} bytes")
        self.registers = bytearray(data or bytes(SKETCH_BYTES))

    def add(self, digest: bytes) -> None:
        x = int.from_bytes(digest[:8], "big")
        index, rest = x >> (64 - _BITS), x & ((1 << (64 - _BITS)) - 1)
        rank = (64 - _BITS) - rest.bit_length() + 1
        if rank > self.registers[index]:
            self.registers[index] = rank

    def merge(self, other: bytes) -> None:
        self.registers = bytearray(max(a, b) for a, b in zip(self.registers, Sketch(other).registers, strict=True))

    def estimate(self) -> int:
        m = SKETCH_BYTES
        zeros = self.registers.count(0)
        raw = 0.7213 / (1 + 1.079 / m) * m * m / sum(2.0 ** -r for r in self.registers)
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))  # linear counting: near exact for small numbers
        return round(raw)


def check_hash_key(value: str) -> str | None:
    """What is wrong with a HELPLINE_HASH_KEY value (too short, a placeholder), or None."""
    how = "make one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
    if len(value) < MIN_HASH_KEY_CHARS:
        return f"HELPLINE_HASH_KEY is too short ({len(value)} characters): use at least {MIN_HASH_KEY_CHARS}; {how}"
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS) or len(set(value)) < 10:
        return f"HELPLINE_HASH_KEY looks like a placeholder, not a random key; {how}"
    return None


def default_key_path() -> Path:
    """HELPLINE_KEY_FILE, else $XDG_STATE_HOME (~/.local/state)/helpline-bot/month-keys: not the database folder."""
    if env := os.environ.get("HELPLINE_KEY_FILE"):
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "helpline-bot" / "month-keys"


class Keyring:
    """Random keys, one per month, kept in a 0600 file; a month's key is deleted when the month closes."""

    __slots__ = ("_keys", "_lock", "_pepper", "_warned", "path")

    def __init__(self, path: Path | None = None, pepper: bytes = b"") -> None:
        self.path = path  # None: keys live in memory only
        self._pepper = pepper
        self._lock = threading.Lock()
        self._warned = False
        self._keys: dict[str, bytes] = _read_keys(path) if path is not None and path.exists() else {}

    def __repr__(self) -> str:
        return f"Keyring(path={str(self.path)!r}, months={sorted(self._keys)})"

    @classmethod
    def load(cls, path: Path | None = None) -> Keyring:
        """The key file (default_key_path() when not given) and HELPLINE_HASH_KEY; ValueError on a weak key."""
        pepper = os.environ.get("HELPLINE_HASH_KEY", "")
        if pepper and (problem := check_hash_key(pepper)):
            raise ValueError(problem)
        keyring = cls(path or default_key_path(), pepper.encode("utf-8"))
        keyring.close_before(month_of(datetime.now(UTC)))
        return keyring

    @property
    def months(self) -> list[str]:
        """The months whose keys still exist (only the current one, once a month has closed)."""
        return sorted(self._keys)

    def person(self, user_id: int, when: datetime) -> bytes | None:
        """The digest of this person for the month of `when`; None for a month already closed."""
        month = month_of(when)
        with self._lock:
            if month not in self._keys:
                if any(m > month for m in self._keys):
                    return None
                self._keys = {month: secrets.token_bytes(32)}  # every earlier month is closed: destroyed
                self._save()
            key = self._keys[month]
        return hmac.new(key, self._pepper + str(int(user_id)).encode(), hashlib.sha256).digest()

    def close_before(self, month: str) -> None:
        """Destroy the keys of months before `month` (called when a month closes)."""
        with self._lock:
            if any(m < month for m in self._keys):
                self._keys = {m: k for m, k in self._keys.items() if m >= month}
                self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            _write_keys(self.path, self._keys)
        except OSError as exc:
            if not self._warned:
                log.warning("people count: cannot write %s (%s); month keys are kept in memory only, so after "
                            "a restart returning people are counted again", self.path, type(exc).__name__)
            self._warned = True


def _read_keys(path: Path) -> dict[str, bytes]:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("people count: %s was readable by others (mode %o); set it to 0600", path, mode)
    keys: dict[str, bytes] = {}
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        if line.strip():
            found = _LINE.fullmatch(line.strip())
            if not found:
                raise ValueError(f"{path}, line {number}: not 'yyyy-mm <64 hex>'; delete the file to start a new one")
            keys[found[1]] = bytes.fromhex(found[2])
    return keys


def _write_keys(path: Path, keys: dict[str, bytes]) -> None:
    """Replace the key file atomically with mode 0600 (the old file's name then points at the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("".join(f"{m} {k.hex()}\n" for m, k in sorted(keys.items())))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
