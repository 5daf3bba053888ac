"""Liveness that means something: a heartbeat file the bot refreshes while Telegram answers it.

A process can be alive and deaf (a revoked token, a network that lost its route): only proof
that updates are still being fetched says the bot works. The polling loop touches the file
after every successful getUpdates (in webhook mode, after each check that Telegram still
delivers to us); `helpline-bot health` fails when it is older than a few minutes. The file
holds nothing, only its modification time counts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Long polling asks Telegram at least every 10 s; a minute without an answer is a real outage.
DEFAULT_MAX_AGE = 60.0
# Touch the file at most this often, however many getUpdates a burst makes.
_MIN_INTERVAL = 1.0


def heartbeat_path(db_path: Path) -> Path:
    """Beside the database, like its key: the one folder the bot may write to."""
    return db_path.with_name(db_path.name + ".heartbeat")


class Heartbeat:
    """The bot's side: `beat()` after each sign of life; `clear()` at start and stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = -_MIN_INTERVAL

    def beat(self) -> None:
        """Refresh the file's time (creating it 0600); never raises: liveness must not break replies."""
        now = time.monotonic()
        if now - self._last < _MIN_INTERVAL:
            return
        self._last = now
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.utime(self.path)
        except OSError:
            pass

    def clear(self) -> None:
        """Not alive until the next beat (a new start must prove itself again)."""
        self.path.unlink(missing_ok=True)
        self._last = -_MIN_INTERVAL


def age(path: Path) -> float | None:
    """Seconds since the last beat, or None when there has been none."""
    try:
        return max(time.time() - path.stat().st_mtime, 0.0)
    except OSError:
        return None
