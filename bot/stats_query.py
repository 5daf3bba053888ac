"""Exact counts from the usage log for a period of closed days (Cambodia time): the statistics' only query.

Nothing here suppresses or labels: `Counts` holds exact numbers, and bot.stats_report turns
them into what staff may see. Two reads of the running totals the usage log keeps: the
breakdowns (kind, topic, language, ...) by day, and the events per day and hour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

from bot.usage import SCHEMA_VERSION, UNKNOWN

CAMBODIA = ZoneInfo("Asia/Phnom_Penh")
CHANNELS = ("telegram", "console", "all")


class StatsError(Exception):
    """The database is missing or cannot be read; the message says what to do."""


def last_closed_day(now: datetime | None = None) -> date:
    """Yesterday in Cambodia: statistics never include a day still going on."""
    return (now or datetime.now(UTC)).astimezone(CAMBODIA).date() - timedelta(days=1)


def queries(channel: str) -> tuple[str, str]:
    """The two reads for one channel ("all": both), each in the order of its table's key: SQLite never sorts.

    They read the running totals the usage log keeps by Cambodian day (`daily`) and hour
    (`hourly`), so their cost grows with days and kinds of event, not with events.
    """
    kinds_channel, days_channel = ("", "") if channel == "all" else ("channel = ? AND ", " AND +channel = ?")
    return (
        "SELECT kind, topic, language, crisis, matched, reply, feedback, partners, SUM(n) FROM daily "
        f"WHERE {kinds_channel}day BETWEEN ? AND ? "
        "GROUP BY channel, kind, topic, language, crisis, matched, reply, feedback, partners",
        f"SELECT day, hour, crisis, SUM(n) FROM hourly WHERE day BETWEEN ? AND ?{days_channel} "
        "GROUP BY day, hour, channel, crisis",
    )


def period_params(since: date, until: date, channel: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Parameters of queries(channel) for the Cambodian days since..until (inclusive)."""
    days = (since.isoformat(), until.isoformat())
    return (days, days) if channel == "all" else ((channel, *days), (*days, channel))


@dataclass
class Counts:
    """Exact counts for one period and channel; the input of every report."""

    since: date
    until: date
    channel: str
    kinds: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)  # typed text and topic buttons; UNKNOWN = nothing matched
    nothing_matched: int = 0  # typed text with no topic
    typed: int = 0
    crisis: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # what the reply did (REPLIES)
    referrals: int = 0  # replies that named at least one partner
    partners: Counter[str] = field(default_factory=Counter)  # replies naming each partner
    feedback: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, helpful|not_helpful)
    check_in_answers: Counter[str] = field(default_factory=Counter)  # "danger" | "suicide"
    days: Counter[date] = field(default_factory=Counter)
    crisis_days: Counter[date] = field(default_factory=Counter)
    hours: Counter[int] = field(default_factory=Counter)  # Cambodian hour of day
    people: dict[str, int] = field(default_factory=dict)  # closed months only

    @property
    def events(self) -> int:
        return sum(self.kinds.values())

    @property
    def messages(self) -> int:
        """Typed messages and topic buttons: what someone asked about."""
        return sum(self.topics.values())


async def read_counts(db_path: Path | str, since: date, until: date, channel: str = "telegram") -> Counts:
    """Exact counts for the Cambodian days since..until (inclusive) on one channel ("all" for both)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}")
    path = Path(db_path)
    if not path.is_file():
        raise StatsError(f"No usage database at {path}: the bot has not recorded anything there yet.")
    breakdown_params, days_params = period_params(since, until, channel)
    breakdown_sql, days_sql = queries(channel)
    counts = Counts(since, until, channel)
    try:
        async with aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            async with db.execute("SELECT max(version) FROM schema_version") as cursor:
                row = await cursor.fetchone()
            version = row[0] if row else None
            if version != SCHEMA_VERSION:
                raise StatsError(f"{path} has schema version {version}, this code reads {SCHEMA_VERSION}: "
                                 "start the bot once to upgrade it, or update this code.")
            async with db.execute(breakdown_sql, breakdown_params) as cursor:
                for row in await cursor.fetchall():
                    _add(counts, *row)
            async with db.execute(days_sql, days_params) as cursor:
                for day, hour, crisis, n in await cursor.fetchall():
                    counts.days[date.fromisoformat(day)] += n
                    counts.hours[hour] += n
                    if crisis:
                        counts.crisis_days[date.fromisoformat(day)] += n
            # People are counted per calendar month apart from events; only closed months are shown.
            async with db.execute(
                "SELECT month, counted FROM people WHERE sketch IS NULL AND month >= ? AND month <= ?",
                (since.strftime("%Y-%m"), until.strftime("%Y-%m")),
            ) as cursor:
                counts.people = {m: int(n) for m, n in await cursor.fetchall()}
    except StatsError:
        raise
    except Exception as exc:
        raise StatsError(f"Cannot read {path}: {exc}") from exc
    return counts


def _add(counts: Counts, kind: str, topic: str, language: str, crisis: int, matched: int, reply: str,
         feedback: str, partners: str, n: int) -> None:
    counts.kinds[kind] += n
    counts.languages[language] += n
    counts.replies[reply] += n
    if crisis:
        counts.crisis += n
    if kind == "text":
        counts.typed += n
        counts.topics[topic if matched and topic != UNKNOWN else UNKNOWN] += n
        if not matched or topic == UNKNOWN:
            counts.nothing_matched += n
    elif kind == "button":
        if topic != UNKNOWN:
            counts.topics[topic] += n
        if reply == "urgent":  # an answer to "Are you safe right now?" (or the self-harm button)
            counts.check_in_answers["suicide" if topic == "self_harm" else "danger"] += n
    elif kind == "feedback" and feedback:
        counts.feedback[(topic, feedback)] += n
    if partners and kind in ("text", "button"):
        counts.referrals += n
        for partner in partners.split():
            counts.partners[partner] += n

