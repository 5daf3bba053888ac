"""Staff statistics: counting that means one thing, labels, suppression no subtraction undoes, every format."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content import Content
from bot.people import Keyring
from bot.stats import FORMATS, StatsError, add_stats_command, render, staff_summary, summary
from bot.stats_query import Counts, _add, last_closed_day, period_params, queries
from bot.stats_report import SCHEMA, build_report
from bot.usage import Event, UsageLog

NOW = datetime(2025, 3, 25, 10, tzinfo=UTC)  # 17:00 on 25 March in Cambodia: the 24th is the last closed day
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def _events() -> Iterator[tuple[Event, int]]:
    """Events (UTC hours 02-10 are 09-17 in Cambodia, the same day) with the person who caused each."""

    def event(day: date, topic: str, user: int, *, hour: int = 3, **kw: Any) -> tuple[Event, int]:
        fields: dict[str, Any] = {"channel": "telegram", "kind": "text", "language": "km", "crisis": False,
                                  "matched": topic != "unknown", "reply": "referral" if topic != "unknown" else "menu"}
        fields.update(kw)
        return Event(hour=datetime(day.year, day.month, day.day, hour, tzinfo=UTC), intents=(topic,), **fields), user

    for i in range(6):
        yield event(date(2025, 2, 24), "exploitation", user=i, hour=2 + i, partners=("chc",))
    for i in range(12):  # W10
        yield event(date(2025, 3, 3) + timedelta(days=i % 7), "violence_at_home", user=i, partners=("chc", "mosvy"))
    for i in range(6):  # W11
        yield event(date(2025, 3, 10) + timedelta(days=i), "school_violence", user=100 + i % 3, language="en",
                    kind="button", partners=("chc",))
    for i in range(3):
        yield event(date(2025, 3, 17), "pagoda", user=200, hour=4 + i)
    for i in range(5):
        yield event(date(2025, 3, 18), "unknown", user=300 + i, language="kh-latn")
    for _ in range(2):
        yield event(date(2025, 3, 19), "self_harm", user=400, crisis=True, reply="urgent", partners=("chc",))
    for i in range(4):
        yield event(date(2025, 3, 18), "unknown", user=500 + i, kind="command", matched=False, reply="fixed")
    for i in range(2):
        yield event(date(2025, 3, 18), "unknown", user=600 + i, kind="language", matched=False, reply="fixed")
    for i in range(7):
        yield event(date(2025, 3, 19), "violence_at_home", user=i, kind="feedback", reply="fixed",
                    feedback="helpful" if i < 6 else "not_helpful")
    for i in range(10):  # staff testing in the console: left out by default
        yield event(date(2025, 3, 12), "violence_at_home", user=900 + i, channel="console")
    for i in range(7):  # today in Cambodia: not a closed day
        yield event(date(2025, 3, 25), "about", user=700 + i)


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "helpline.db"
    keys = tmp_path / "keys"  # fixed month keys, so the people sketch (and its estimate) is the same every run
    keys.write_text("2025-02 " + "1" * 64 + "\n2025-03 " + "2" * 64 + "\n", encoding="ascii")
    keys.chmod(0o600)
    usage, keyring = UsageLog(path, clock=lambda: NOW), Keyring(keys)
    await usage.start()
    for event, user in _events():
        usage.record(event)
        usage.count_person(keyring.person(user, event.hour), event.hour)
    await usage.close()
    return path


def cells(report: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every count cell of a JSON report, with a path naming it."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if isinstance(node, dict):
            if "count" in node and "suppressed" in node:
                yield where, node
            for key, value in node.items():
                yield from walk(value, f"{where}.{node.get('id', key) if key == 'categories' else key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{where}[{value.get('id', i) if isinstance(value, dict) else i}]")

    yield from walk(report, "")


# ---------------------------------------------------------------- the adversary


def equations(report: Mapping[str, Any], chi: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """Every "total = sum of parts" a reader of the JSON report can write down, as cell paths."""
    totals = ".totals.{}.count".format
    rows = lambda section: [f".{section}[{r['id']}]" for r in report[section]]  # noqa: E731
    eqs = [
        (totals("events"), rows("kinds")), (totals("events"), rows("languages")),
        (totals("events"), rows("replies")), (totals("events"), rows("hours")),
        (totals("events"), [f".weeks[{w['id']}].events" for w in report["weeks"]]),
        (totals("crisis"), [f".weeks[{w['id']}].crisis" for w in report["weeks"]]),
        (totals("messages"), rows("topics")), (totals("messages"), [f".chi[{g['id']}]" for g in report["chi"]]),
        (totals("nothing_matched"), [r for r in rows("topics") if r.endswith("[unknown]")]),
        (totals("typed"), [r for r in rows("kinds") if r.endswith("[text]")]),
        (totals("helpful"), [f".feedback[{f['id']}].helpful" for f in report["feedback"]]),
        (totals("not_helpful"), [f".feedback[{f['id']}].not_helpful" for f in report["feedback"]]),
        (totals("messages"), [".headline.messages"]), (totals("crisis"), [".headline.crisis"]),
        (totals("referrals"), [".headline.referrals"]),
    ]
    if any(r["id"] == "feedback" for r in report["kinds"]):
        eqs.append((".kinds[feedback]", [totals("helpful"), totals("not_helpful")]))
    for group in report["chi"]:
        eqs.append((f".chi[{group['id']}]", [f".chi.{group['id']}[{c['id']}]" for c in group["categories"]]))
        for category in group["categories"]:
            members = [t for t in (r["id"] for r in report["topics"])
                       if (chi.get(t) or "Uncategorised") == category["id"]
                       or (t == "unknown" and category["id"] == "Nothing matched")]
            eqs.append((f".chi.{group['id']}[{category['id']}]", [f".topics[{t}]" for t in members]))
    return [(total.removesuffix(".count"), parts) for total, parts in eqs]


def attack(report: Mapping[str, Any], chi: Mapping[str, str]) -> dict[str, int]:
    """Solve every equation with one unknown, again and again; returns the hidden counts it recovered."""
    known = {path: cell["count"] for path, cell in cells(report) if cell["suppressed"] is None}
    hidden = {path for path, cell in cells(report) if cell["suppressed"]}
    found: dict[str, int] = {}
    progress = True
    while progress:
        progress = False
        for total, parts in equations(report, chi):
            unknown = [p for p in [total, *parts] if p not in known]
            if len(unknown) != 1 or unknown[0] not in hidden:
                continue
            rest = sum(known[p] for p in parts if p in known)
            value = rest if unknown[0] == total else known[total] - rest
            known[unknown[0]] = found[unknown[0]] = value
            progress = True
    return found


def test_the_adversary_recovers_a_count_hidden_without_its_complement(content: Content) -> None:
    """The attack itself works: hiding only small counts (as before) gives them away."""
    counts = Counts(date(2025, 3, 1), date(2025, 3, 7), "telegram")
    for kind, topic, n in (("text", "violence_at_home", 20), ("text", "self_harm", 3), ("button", "pagoda", 9)):
        _add(counts, kind, topic, "km", 0, 1, "referral", "", "", n)
    report = build_report(counts, topics={}, partners={}, chi={}, threshold=5)
    path, cell = next((p, c) for p, c in cells(report) if p == ".topics[self_harm]")
    assert cell["suppressed"] == "small"
    for _, other in cells(report):  # undo every complementary suppression
        if other["suppressed"] == "complement":
            other["suppressed"] = None
            other["count"] = -1  # any visible number lets the subtraction run
    assert path in attack(report, {})


async def test_no_suppressed_count_is_recovered_from_the_report(db: Path, content: Content) -> None:
    chi = {t.id: t.chi_category for t in content.topics.values()}
    report = json.loads(render(await summary(db, content=content, now=NOW), "json"))
    assert attack(report, chi) == {}
    hidden = {path: cell["suppressed"] for path, cell in cells(report) if cell["suppressed"]}
    assert hidden[".topics[self_harm]"] == "small" and hidden[".topics[pagoda]"] == "small"
    assert "complement" in hidden.values()  # the CHI roll-up would give self_harm away as Mental health


EVENT = st.tuples(
    st.sampled_from(["text", "button", "command", "feedback", "non-text"]),
    st.sampled_from(["violence_at_home", "self_harm", "pagoda", "school_violence", "unknown"]),
    st.sampled_from(["km", "en", "kh-latn"]), st.booleans(), st.sampled_from(["referral", "urgent", "menu"]),
    st.sampled_from(["helpful", "not_helpful"]), st.sampled_from(["", "chc", "chc mosvy"]),
    st.integers(0, 6), st.integers(0, 23), st.integers(1, 9),
)


@settings(max_examples=60, deadline=None)
@given(events=st.lists(EVENT, max_size=25))
def test_no_subtraction_recovers_a_hidden_count_in_any_report(content: Content, events: list[Any]) -> None:
    chi = {t.id: t.chi_category for t in content.topics.values()}
    counts = Counts(date(2025, 3, 3), date(2025, 3, 9), "telegram")
    for kind, topic, language, crisis, reply, feedback, partners, day, hour, n in events:
        _add(counts, kind, topic, language, int(crisis), int(topic != "unknown"), reply,
             feedback if kind == "feedback" else "", partners, n)
        counts.days[date(2025, 3, 3 + day)] += n
        counts.hours[hour] += n
        if crisis:
            counts.crisis_days[date(2025, 3, 3 + day)] += n
    report = build_report(counts, topics={}, partners={}, chi=chi, threshold=5)
    assert attack(json.loads(json.dumps(report)), chi) == {}
    assert all(c["count"] is None or c["count"] == 0 or c["count"] >= 5 for _, c in cells(report))


# ---------------------------------------------------------------- what is counted


async def test_counting_means_one_thing(db: Path, content: Content) -> None:
    report = await summary(db, content=content, now=NOW, suppress_below=0)
    assert report["schema"] == SCHEMA and report["channel"] == "telegram"
    assert report["period"] == {"from": "2025-02-23", "to": "2025-03-24", "timezone": "Asia/Phnom_Penh",
                                "closed_days_only": True}
    totals = {k: v["count"] for k, v in report["totals"].items()}
    # Console typing and today's messages are not counted; commands and language switches are their own kinds.
    assert totals == {"events": 47, "messages": 34, "typed": 28, "nothing_matched": 5, "crisis": 2,
                      "referrals": 26, "helpful": 6, "not_helpful": 1, "check_in": 0}
    assert {r["id"]: r["count"] for r in report["kinds"]} == {
        "text": 28, "button": 6, "command": 4, "language": 2, "feedback": 7}
    topics = {r["id"]: (r["label"], r["count"]) for r in report["topics"]}
    assert topics["violence_at_home"] == (content.topics["violence_at_home"].title["en"], 12)
    assert topics["unknown"] == ("Nothing matched", 5) and "about" not in topics
    assert {r["id"]: r["count"] for r in report["partners"]} == {"chc": 26, "mosvy": 12}
    assert report["partners"][0]["label"] == content.organizations["chc"].name["en"]
    assert [r["label"] for r in report["languages"]] == ["Khmer", "English", "Khmer in Latin letters"]
    assert [(w["id"], w["partial"]) for w in report["weeks"]][:2] == [("2025-W08", True), ("2025-W09", False)]
    assert report["weeks"][-1] == {"id": "2025-W13", "from": "2025-03-24", "to": "2025-03-24", "partial": True,
                                   "events": {"count": 0, "suppressed": None},
                                   "crisis": {"count": 0, "suppressed": None}}
    assert report["hours"][10]["count"] == 47 - 5 - 3  # 10:00 Cambodia; February and pagoda spread over hours
    assert report["headline"]["helpful_percent"] == 85.7
    assert report["headline"]["people"] == {"count": 6, "suppressed": None, "month": "2025-02"}  # March is open
    everything = await summary(db, content=content, now=NOW, channel="all", suppress_below=0)
    assert everything["totals"]["events"]["count"] == 57


async def test_labels_in_khmer(db: Path, content: Content) -> None:
    report = await summary(db, content=content, lang="km", now=NOW)
    labels = {r["id"]: r["label"] for r in report["topics"]}
    assert labels["violence_at_home"] == content.topics["violence_at_home"].title["km"]
    assert report["languages"][0]["label"] == "ខ្មែរ"


async def test_statistics_never_include_a_day_still_open(db: Path) -> None:
    assert last_closed_day(NOW) == date(2025, 3, 24)
    asked = await summary(db, since=date(2025, 3, 25), until=date(2025, 3, 31), now=NOW + timedelta(hours=12))
    assert asked["period"]["to"] == "2025-03-25" and asked["totals"]["events"]["count"] == 7
    later = await summary(db, since=date(2025, 3, 20), until=date(2025, 3, 31), now=NOW)
    assert later["period"]["to"] == "2025-03-24" and later["totals"]["events"]["count"] == 0


# ---------------------------------------------------------------- formats


async def test_suppression_reaches_every_format(db: Path, content: Content) -> None:
    report = await summary(db, content=content, now=NOW)
    table = render(report, "table")
    assert re.search(r"^Child safety in pagodas +<5$", table, re.M)
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert list(rows[0]) == ["section", "id", "label", "period", "count", "suppressed"]
    pagoda = next(r for r in rows if r["section"] == "topics" and r["id"] == "pagoda")
    assert pagoda["count"] == "" and pagoda["suppressed"] == "small"
    assert all(r["count"] == "" or int(r["count"]) == 0 or int(r["count"]) >= 5 for r in rows)
    assert sum(int(r["count"]) for r in rows if r["section"] == "languages" and r["count"]) > 0  # numbers sum
    page = render(report, "html")
    assert "&lt;5" in page and ">2<" not in page and ">3<" not in page


def test_csv_cells_never_run_as_formulas_and_excel_gets_a_bom() -> None:
    counts = Counts(date(2025, 3, 1), date(2025, 3, 7), "telegram")
    _add(counts, "text", "violence_at_home", "km", 0, 1, "referral", "", "evil", 9)
    report = build_report(counts, topics={}, partners={"evil": {"en": "=HYPERLINK(\"http://x\")"}}, chi={})
    text = render(report, "csv", excel=True)
    assert text.startswith("\ufeff") and "\r\n" in text
    row = next(r for r in csv.reader(io.StringIO(text[1:])) if r[0] == "partners")
    assert row[2] == "'=HYPERLINK(\"http://x\")" and row[4] == "9"


def test_the_terminal_table_carries_no_escape_codes() -> None:
    counts = Counts(date(2025, 3, 1), date(2025, 3, 7), "telegram")
    _add(counts, "text", "violence_at_home", "km", 0, 1, "referral", "", "", 9)
    report = build_report(counts, topics={"violence_at_home": {"en": "\x1b[2J\x1b[31mRed\x07"}}, partners={}, chi={})
    table = render(report, "table")
    assert "\x1b" not in table and "\x07" not in table and "[31mRed" in table


async def test_html_is_one_self_contained_page(db: Path, content: Content) -> None:
    page = render(await summary(db, content=content, now=NOW), "html")
    lowered = page.lower()
    for forbidden in ("http", "<script", "url(", "@import", "<link", "src=", "javascript:", "on" + "load="):
        assert forbidden not in lowered, forbidden
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Generated on 2025-03-25 17:00" in page and "Glossary" in page
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert len(titles) == len(set(titles))  # no section twice


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")
async def test_html_renders_in_headless_chromium(db: Path, content: Content, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    report = await summary(db, content=content, now=NOW)
    page = tmp_path / "stats.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,2400", "--enable-logging=stderr",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert "CONSOLE" not in done.stderr
    assert "Helpline chatbot usage" in done.stdout and ">34<" in done.stdout  # messages, in the headline


async def test_staff_summary_in_the_staff_language(db: Path, content: Content, tmp_path: Path) -> None:
    en = await staff_summary(db, content, "en", now=NOW)
    assert en.startswith("2025-02-23 – 2025-03-24") and "Messages: 34" in en and "People: 6 (2025-02)" in en
    assert f"• {content.topics['violence_at_home'].title['en']}: 12" in en and len(en.splitlines()) <= 11
    km = await staff_summary(db, content, "km", now=NOW)
    assert content.topics["violence_at_home"].title["km"] in km and "សារ: 34" in km
    assert await staff_summary(tmp_path / "none.db", content, "en") == "No usage has been recorded yet."


async def test_summary_of_an_old_schema_asks_for_a_start(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (1);")
    with pytest.raises(StatsError, match="start the bot once"):
        await summary(path)


def test_the_queries_read_the_running_totals_in_key_order(db: Path) -> None:
    """The 1 s target for a million events rests on these plans (benchmarks/usage_bench.py)."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT SUM(n) FROM daily").fetchone() == conn.execute(
            "SELECT COUNT(*) FROM events").fetchone() == conn.execute("SELECT SUM(n) FROM hourly").fetchone()
        for channel in ("telegram", "all"):
            for sql, params in zip(queries(channel), period_params(date(2025, 3, 1), date(2025, 3, 31), channel),
                                   strict=True):
                plan = " ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
                assert "TEMP B-TREE" not in plan, plan  # read in key order: nothing to sort


# ---------------------------------------------------------------- CLI


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_stats_command(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_writes_each_format(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in FORMATS:
        out = tmp_path / f"out.{fmt}"
        assert _run(["stats", "--db", str(db), "--from", "2025-02-01", "--to", "2025-03-24", "--format", fmt,
                     "--lang", "km", "--out", str(out)]) == 0
        assert out.stat().st_size > 100
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["period"]["from"] == "2025-02-01" and data["totals"]["events"]["count"] == 47
    assert {g["id"]: g["count"] for g in data["chi"]}["Violence"] == 21  # categories from the content files
    assert _run(["stats", "--db", str(db), "--from", "2025-03-17", "--to", "2025-03-17", "--suppress", "2",
                 "--channel", "all"]) == 0
    assert re.search(r"^Child safety in pagodas +3$", capsys.readouterr().out, re.M)


def test_cli_since_and_errors(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["stats", "--db", str(db), "--since", "30d"]) == 0  # today: no events, still a report
    assert "Helpline chatbot usage" in capsys.readouterr().out
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
