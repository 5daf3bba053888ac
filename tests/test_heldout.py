"""Generalisation: messages written for the tests, never used as phrases (tests/data/heldout.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.evaluate import Report, evaluate

HELDOUT = Path(__file__).parent / "data" / "heldout.jsonl"


@pytest.fixture(scope="module")
def report(engine: Engine) -> Report:
    return evaluate(engine, HELDOUT)


def test_heldout_file_covers_every_language_and_topic(engine: Engine) -> None:
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    langs = [r["lang"] for r in rows]
    assert langs.count("km") >= 40 and langs.count("kh-latn") >= 30 and langs.count("en") >= 40
    expected = {t for r in rows for t in r["expected"]}
    assert set(engine.content.topics) | {"unknown"} <= expected
    assert sum(r["crisis"] is True for r in rows) >= 15


def test_heldout_top1(report: Report) -> None:
    assert report.top1_rate >= 0.85, "\n".join(report.lines())


def test_heldout_crisis_recall(report: Report) -> None:
    assert report.crisis_recall == 1.0, "\n".join(report.lines())


def test_heldout_crisis_false_positives(report: Report) -> None:
    assert report.crisis_fp_rate <= 0.05, "\n".join(report.lines())


def test_heldout_replies_all_name_the_helpline(report: Report) -> None:
    assert report.with_helpline == report.total
