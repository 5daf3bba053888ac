"""Staff statistics: the counts, small-count suppression in every format, HTML, CLI, /stats text."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content import Content
from bot.people import Keyring
from bot.stats import FORMATS, StatsError, add_stats_command, render, staff_summary, summary, suppress
from bot.usage import Event, UsageLog

CHROMIUM = Path("/usr/bin/chromium")


def _events() -> Iterator[tuple[Event, int]]:
    """34 events: W09 (Feb) 6 exploitation; W10-W11 violence, school; W12 pagoda (3), unknown (5), self_harm (2)."""

    def event(day: date, hour: int, topic: str, user: int, **kw: Any) -> tuple[Event, int]:
        when = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        fields: dict[str, Any] = {"channel": "telegram", "kind": "text", "language": "km", "crisis": False}
        fields.update(kw)
        return Event(hour=when, intents=(topic,), matched=topic != "unknown", **fields), user

    for i in range(6):
        yield event(date(2025, 2, 24), i, "exploitation", user=i)
    for i in range(12):  # 7 in W10, 5 in W11; users 0..5 again (new month, new keys) and 6..11
        yield event(date(2025, 3, 3) + timedelta(days=i), 9, "violence_at_home", user=i)
    for i in range(6):
        yield event(date(2025, 3, 10) + timedelta(days=i), 10, "school_violence", user=100 + i % 3,
                    language="en", kind="button")
    for i in range(3):
        yield event(date(2025, 3, 17), 8 + i, "pagoda", user=200)
    for i in range(5):
        yield event(date(2025, 3, 18), 8 + i, "unknown", user=300 + i, language="kh-latn")
    for i in range(2):
        yield event(date(2025, 3, 19), 20 + i, "self_harm", user=400, crisis=True)


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "helpline.db"
    usage, keyring = UsageLog(path, clock=lambda: datetime(2025, 3, 25, tzinfo=UTC)), Keyring(tmp_path / "keys")
    await usage.start()
    for event, user in _events():
        usage.record(event)
        usage.count_person(keyring.person(user, event.hour), event.hour)
    await usage.close()
    return path


@pytest.fixture
def meta(content: Content) -> dict[str, str]:
    return {t.id: t.chi_category for t in content.topics.values()}


async def test_summary_counts_every_breakdown(db: Path, meta: dict[str, str]) -> None:
    data = await summary(db, since=None, until=None, topics_meta=meta)
    assert data["totals"] == {
        "events": 34, "crisis": "<5", "text_messages": 28, "nothing_matched": 5, "nothing_matched_percent": 17.9,
    }
    assert data["topics"] == {"violence_at_home": 12, "exploitation": 6, "school_violence": 6, "unknown": 5,
                              "pagoda": "<5", "self_harm": "<5"}
    assert data["languages"] == {"km": 23, "en": 6, "kh-latn": 5}
    assert data["kinds"] == {"text": 28, "button": 6}
    assert data["channels"] == {"telegram": 34}
    assert list(data["weeks"]) == ["2025-W09", "2025-W10", "2025-W11", "2025-W12"]
    assert data["weeks"]["2025-W10"] == {"events": 7, "crisis": 0, "topics": {"violence_at_home": 7},
                                         "languages": {"km": 7}}
    assert data["weeks"]["2025-W11"]["topics"] == {"school_violence": 6, "violence_at_home": 5}
    assert data["weeks"]["2025-W12"]["crisis"] == "<5"
    # Users: Feb 0..5; March 0..11 (violence), 100..102, 200, 300..304, 400 = 12 + 3 + 1 + 5 + 1.
    assert data["unique_users_by_month"] == {"2025-02": 6, "2025-03": 22}
    assert data["chi_categories"] == {
        meta["violence_at_home"]: 12, meta["exploitation"]: 6, meta["school_violence"]: 6,
        "Nothing matched": 5, meta["pagoda"]: "<5", meta["self_harm"]: "<5",
    }
    assert data["chi_groups"] == {
        "Violence": 21, "Commercial exploitation": 6, "Nothing matched": 5, "Mental health": "<5",
    }


async def test_period_is_inclusive_utc_days(db: Path) -> None:
    data = await summary(db, since=date(2025, 3, 10), until=date(2025, 3, 16))
    assert data["period"] == {"from": "2025-03-10", "to": "2025-03-16"}
    assert data["totals"]["events"] == 11 and list(data["weeks"]) == ["2025-W11"]
    assert data["unique_users_by_month"] == {"2025-03": 22}  # people are counted per whole month
    empty = await summary(db, since=date(2024, 1, 1), until=date(2024, 1, 31))
    assert empty["totals"] == {
        "events": 0, "crisis": 0, "text_messages": 0, "nothing_matched": 0, "nothing_matched_percent": None,
    }
    for fmt in FORMATS:
        assert render(empty, fmt)


def _ints(node: Any) -> Iterator[int]:
    if isinstance(node, bool):
        return
    if isinstance(node, int):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("suppress_below", "nothing_matched_percent"):
                yield from _ints(value)


@pytest.mark.parametrize("threshold", [2, 3, 5, 7, 10])
async def test_no_small_count_survives_any_threshold(db: Path, meta: dict[str, str], threshold: int) -> None:
    data = await summary(db, since=None, until=None, suppress_below=threshold, topics_meta=meta)
    assert all(n == 0 or n >= threshold for n in _ints(data))
    marker = f"<{threshold}"
    assert data["topics"]["self_harm"] == (marker if threshold > 2 else 2)
    assert data["topics"]["pagoda"] == (marker if threshold > 3 else 3)


async def test_suppression_reaches_every_format(db: Path, meta: dict[str, str]) -> None:
    data = await summary(db, since=None, until=None, topics_meta=meta)
    # self_harm (2) and pagoda (3) are only ever "<5"; crisis (2) too.
    table = render(data, "table")
    for line in table.splitlines():
        if line.startswith(("self_harm", "pagoda", "crisis")):
            assert set(line.split()[1:]) <= {"<5", "0"}, line
    rows = list(csv.reader(io.StringIO(render(data, "csv"))))
    assert rows[0] == ["section", "name", "period", "value"]
    small = [r for r in rows if r[1] in ("self_harm", "pagoda", "crisis") or r[:2] == ["chi_group", "Mental health"]]
    assert small and all(r[3] in ("<5", "0") for r in small)
    parsed = json.loads(render(data, "json"))
    assert parsed["topics"]["pagoda"] == "<5" and parsed["totals"]["crisis"] == "<5"
    page = render(data, "html")
    for topic in ("self_harm", "pagoda"):
        cells = re.findall(rf"<tr><td>{topic}</td>(.*?)</tr>", page)
        assert cells and all(set(re.findall(r"<td class=n>(.*?)</td>", c)) <= {"&lt;5", "0"} for c in cells)
        assert f"{topic}: 2" not in page and f"{topic}: 3" not in page  # not drawn in the charts either
    assert '<b>&lt;5</b><span>crisis replies</span>' in page


async def test_suppression_threshold_is_configurable_and_can_be_off(db: Path) -> None:
    data = await summary(db, since=None, until=None, suppress_below=0)
    assert data["topics"]["self_harm"] == 2 and data["totals"]["crisis"] == 2
    assert "No counts are suppressed" in render(data, "table")


@given(count=st.integers(min_value=0, max_value=10**9), threshold=st.integers(min_value=0, max_value=50))
def test_suppress_hides_exactly_the_small_counts(count: int, threshold: int) -> None:
    shown = suppress(count, threshold)
    assert shown == (f"<{threshold}" if 0 < count < threshold else count)


async def test_html_is_self_contained_and_phone_ready(db: Path, meta: dict[str, str]) -> None:
    page = render(await summary(db, since=None, until=None, topics_meta=meta), "html")
    lowered = page.lower()
    for forbidden in ("http", "<script", "url(", "@import", "<link", "src=", "javascript:", "on" + "load="):
        assert forbidden not in lowered, forbidden
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.count("<svg") == 2 and "<style>" in page and "@media" in page
    assert page.count("<rect") >= 5  # weeks and languages drawn


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
async def test_html_renders_in_headless_chromium(db: Path, meta: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "stats.html"
    page.write_text(render(await summary(db, since=None, until=None, topics_meta=meta), "html"), encoding="utf-8")
    shot = tmp_path / "stats.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=390,1600",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=60, check=False,
    )
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000


async def test_staff_summary_for_telegram(db: Path) -> None:
    text = await staff_summary(db, date(2025, 3, 19))
    seven, thirty, note = text.split("\n\n")
    assert seven.startswith("Last 7 days (13 Mar to 19 Mar 2025, UTC)")
    assert "Replies: 15 · crisis: <5" in seven and "pagoda <5" in seven and "unknown 5" in seven
    assert thirty.startswith("Last 30 days (18 Feb to 19 Mar 2025, UTC)") and "Replies: 34" in thirty
    assert "2025-02: 6, 2025-03: 22" in thirty and '"<5"' in note
    assert len(text) < 4096  # one Telegram message


async def test_staff_summary_without_a_database(tmp_path: Path) -> None:
    assert await staff_summary(tmp_path / "none.db", date(2025, 3, 19)) == "No usage has been recorded yet."


async def test_summary_of_an_old_schema_asks_for_a_start(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (1);")
    with pytest.raises(StatsError, match="start the bot once"):
        await summary(path, since=None, until=None)


async def test_summary_queries_use_the_covering_indexes(db: Path) -> None:
    """The < 1 s target for a month of a million events rests on these plans (benchmarks/usage_bench.py)."""
    with sqlite3.connect(db) as conn:
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT day, topic, language, kind, channel, crisis, matched, COUNT(*) FROM events "
            "WHERE day >= '2025-03-01' AND day <= '2025-03-31' "
            "GROUP BY day, topic, language, kind, channel, crisis, matched"))
    assert "COVERING INDEX events_stats" in plan and "TEMP B-TREE" not in plan


# ---------------------------------------------------------------- CLI


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_stats_command(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_writes_each_format(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("json", "html"):  # every format's rendering is tested above; this is the CLI's plumbing
        out = tmp_path / f"out.{fmt}"
        assert _run(["stats", "--db", str(db), "--from", "2025-02-01", "--to", "2025-03-31",
                     "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 100
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["period"] == {"from": "2025-02-01", "to": "2025-03-31"} and data["totals"]["events"] == 34
    assert data["chi_groups"]["Violence"] == 21  # categories come from the content files
    assert _run(["stats", "--db", str(db), "--from", "2025-03-17", "--to", "2025-03-17", "--suppress", "2"]) == 0
    assert re.search(r"^pagoda +3$", capsys.readouterr().out, re.M)


def test_cli_since_and_errors(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["stats", "--db", str(db), "--since", "30d"]) == 0  # today: no events, still a report
    assert "Helpline usage" in capsys.readouterr().out
    assert _run(["stats", "--db", str(tmp_path / "missing.db")]) == 1
    assert "No usage database" in capsys.readouterr().err
    assert _run(["stats", "--db", str(db), "--from", "2025-03-02", "--to", "2025-03-01"]) == 2
    with pytest.raises(SystemExit):
        _run(["stats", "--since", "a month"])
    with pytest.raises(SystemExit):
        _run(["stats", "--since", "30d", "--from", "2025-03-01"])


def test_html_file_is_not_left_behind_by_failures(tmp_path: Path) -> None:
    out = tmp_path / "x.html"
    assert _run(["stats", "--db", str(tmp_path / "missing.db"), "--format", "html", "--out", str(out)]) == 1
    assert not out.exists()


async def test_commands_and_stickers_count_as_events_but_not_as_topics(tmp_path: Path) -> None:
    path = tmp_path / "helpline.db"
    when = datetime(2025, 3, 20, 9, tzinfo=UTC)
    usage = UsageLog(path, clock=lambda: when)
    await usage.start()
    for kind in ["command"] * 6 + ["non-text"] * 5 + ["text"] * 5:
        topic = "violence_at_home" if kind == "text" else "unknown"
        usage.record(Event(hour=when, channel="telegram", kind=kind, language="km", intents=(topic,),
                           crisis=False, matched=kind == "text"))
    await usage.close()
    data = await summary(path, since=None, until=None)
    assert data["totals"]["events"] == 16
    assert data["topics"] == {"violence_at_home": 5}
    assert data["kinds"] == {"command": 6, "non-text": 5, "text": 5}
