"""Write throughput of the usage log and query time of the staff statistics.

    .venv/bin/python benchmarks/usage_bench.py [--events 1000000] [--days 365] [--keep DB]

Inserts the events through the real UsageLog (record() -> bounded queue -> batched writer)
into a temporary SQLite file, spread over the last `--days` days with a realistic skew of
topics, languages, replies, partners, feedback and people, then times `bot.stats.summary` (the
whole report: both reads, the suppression and the labels) for the last 7, 30 and 365 days.
`--days 30` puts every event inside the 30-day window: the worst case for the 30-day report;
the default `--days 365` is the worst case for the 365-day report.

Target: the 30-day and the 365-day summary over one million events each in under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.people import Keyring  # noqa: E402
from bot.stats import summary  # noqa: E402
from bot.stats_query import last_closed_day  # noqa: E402
from bot.usage import Event, UsageLog, truncate_hour, utcnow  # noqa: E402

TARGET_S = 1.0
TOPICS = (
    "violence_at_home", "school_violence", "emotional_support", "online_safety", "sexual_abuse",
    "exploitation", "child_marriage", "family_separation", "self_harm", "positive_parenting",
    "pagoda", "about", "smalltalk", "unknown",
)
TOPIC_WEIGHTS = (14, 10, 12, 8, 5, 3, 2, 3, 4, 6, 1, 4, 12, 16)
KINDS = ("text", "button", "command", "non-text", "language", "feedback")
PARTNERS = {t: ("chc", "mosvy") for t in TOPICS[:11]}
PROVINCIAL = ("cct", "aple", "friends_international", "mlup_russey", "fcf_react")


def events(n: int, days: int, seed: int = 7) -> list[tuple[Event, int]]:
    """n plausible events over the last `days` days, each with its user (about one per eight events)."""
    rng = random.Random(seed)
    now = truncate_hour(utcnow())
    users = max(n // 8, 1)
    topics = rng.choices(TOPICS, TOPIC_WEIGHTS, k=n)
    out = []
    for i in range(n):
        hour = now - timedelta(hours=rng.randrange(days * 24))
        topic = topics[i]
        second = () if topic == "unknown" or rng.random() < 0.7 else (rng.choice(TOPICS[:-1]),)
        intents = (topic, *[t for t in second if t != topic])
        kind = rng.choices(KINDS, (58, 28, 7, 2, 2, 3))[0]
        crisis = topic == "self_harm" or rng.random() < 0.01
        out.append((Event(
            hour=hour,
            channel="telegram" if rng.random() < 0.98 else "console",
            kind=kind,
            language=rng.choices(("km", "en", "kh-latn"), (70, 18, 12))[0],
            intents=intents,
            crisis=crisis,
            matched=topic != "unknown",
            reply="urgent" if crisis else "check_in" if rng.random() < 0.02 else "referral" if topic != "unknown"
            else "menu",
            partners=PARTNERS.get(topic, ()) + ((rng.choice(PROVINCIAL),) if rng.random() < 0.3 else ()),
            feedback=rng.choice(("helpful", "helpful", "not_helpful")) if kind == "feedback" else "",
        ), rng.randrange(users)))
    out.sort(key=lambda pair: pair[0].hour)  # real traffic arrives in time order
    return out


async def write(path: Path, batch: list[tuple[Event, int]]) -> tuple[float, int]:
    """Seconds to record and flush every event (and count its person) through a UsageLog; how many were dropped."""
    usage, keyring = UsageLog(path, retention_days=10_000), Keyring(None)
    await usage.start()
    started = time.perf_counter()
    chunk = usage.max_queue // 2
    for i in range(0, len(batch), chunk):
        for event, user in batch[i : i + chunk]:
            usage.record(event)
            usage.count_person(keyring.person(user, event.hour), event.hour)
        while usage.pending > chunk // 2:  # let the writer drain, as real traffic would
            await asyncio.sleep(0.001)
    await usage.close()
    return time.perf_counter() - started, usage.dropped


async def query(path: Path, days: int, rounds: int = 5) -> list[float]:
    """Seconds for the whole report of the last `days` days (taken a day later, so every event is in closed days)."""
    later = utcnow() + timedelta(days=1)
    until = last_closed_day(later)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await summary(path, since=until - timedelta(days=days - 1), until=until, now=later)
        times.append(time.perf_counter() - started)
    return times


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="spread events over this many days")
    parser.add_argument("--keep", type=Path, help="write the database here and keep it (reused when it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.machine()}")
        if not path.exists():
            generated = time.perf_counter()
            batch = events(args.events, args.days)
            print(f"generated {len(batch):,} events over {args.days} days in {time.perf_counter() - generated:.1f} s")
            seconds, dropped = await write(path, batch)
            print(f"write: {len(batch):,} events in {seconds:.2f} s = {len(batch) / seconds:,.0f} events/s "
                  f"(dropped {dropped}); file {path.stat().st_size / 1e6:.0f} MB")
        ok = True
        for days in (7, 30, 365):
            times = await query(path, days)
            median = statistics.median(times)
            print(f"summary {days}-day: first {times[0] * 1000:.0f} ms, median {median * 1000:.0f} ms")
            if days in (30, 365):
                ok = ok and median < TARGET_S
        print(f"30-day and 365-day summaries under {TARGET_S:.0f} s: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
