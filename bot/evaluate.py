"""Scoring the engine on a labelled JSONL file (format of tests/data/dev.jsonl)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.content import HELPLINE_NUMBER
from bot.engine import Engine


@dataclass
class Report:
    """Figures from one evaluation run."""

    total: int = 0
    top1: int = 0
    by_language: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    crisis_positive: int = 0
    crisis_found: int = 0  # urgent reply or "are you safe?" check-in
    crisis_urgent: int = 0  # urgent reply
    crisis_negative: int = 0
    crisis_false: int = 0  # urgent reply to a message that is not urgent
    check_in_false: int = 0  # check-in asked of a message that is not urgent
    with_helpline: int = 0
    errors: list[str] = field(default_factory=list)
    confusions: Counter[str] = field(default_factory=Counter)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.total if self.total else 0.0

    @property
    def crisis_recall(self) -> float:
        return self.crisis_found / self.crisis_positive if self.crisis_positive else 1.0

    @property
    def crisis_fp_rate(self) -> float:
        return self.crisis_false / self.crisis_negative if self.crisis_negative else 0.0

    @property
    def check_in_rate(self) -> float:
        return self.check_in_false / self.crisis_negative if self.crisis_negative else 0.0

    def language_rate(self, lang: str) -> float:
        right, total = self.by_language[lang]
        return right / total if total else 0.0

    def lines(self) -> list[str]:
        out = [f"messages: {self.total}", f"top-1 accuracy: {self.top1_rate:.3f} ({self.top1}/{self.total})"]
        for lang in sorted(self.by_language):
            right, total = self.by_language[lang]
            out.append(f"  {lang}: {self.language_rate(lang):.3f} ({right}/{total})")
        out.append(f"crisis recall (urgent reply or check-in): {self.crisis_recall:.3f} "
                   f"({self.crisis_found}/{self.crisis_positive}); urgent reply alone {self.crisis_urgent}")
        out.append(f"urgent false-positive rate: {self.crisis_fp_rate:.3f} "
                   f"({self.crisis_false}/{self.crisis_negative})")
        out.append(f"check-in rate on non-crisis messages: {self.check_in_rate:.3f} "
                   f"({self.check_in_false}/{self.crisis_negative})")
        out.append(f"replies with {HELPLINE_NUMBER}: {self.with_helpline}/{self.total}")
        if self.confusions:
            out.append("errors by expected -> got: " + ", ".join(f"{k} x{v}" for k, v in self.confusions.most_common()))
        out += self.errors
        return out


def evaluate(engine: Engine, path: Path) -> Report:
    """Run every row of `path` through the engine and compare with its labels."""
    report = Report()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        response = engine.respond(row["text"])
        report.total += 1
        lang = row.get("lang", "?")
        report.by_language[lang][1] += 1
        if response.intents[0] in row["expected"]:
            report.top1 += 1
            report.by_language[lang][0] += 1
        else:
            report.confusions[f"{row['expected'][0]}->{response.intents[0]}"] += 1
            report.errors.append(
                f"  line {number} [{lang}] expected {row['expected']} got {list(response.intents)}: {row['text']}"
            )
        if row.get("crisis") is True:
            report.crisis_positive += 1
            report.crisis_found += response.crisis or response.check_in
            report.crisis_urgent += response.crisis
            if not (response.crisis or response.check_in):
                report.errors.append(f"  line {number} [{lang}] crisis missed: {row['text']}")
        elif row.get("crisis") is False:
            report.crisis_negative += 1
            report.crisis_false += response.crisis
            report.check_in_false += response.check_in
            if response.crisis:
                report.errors.append(f"  line {number} [{lang}] crisis false alarm: {row['text']}")
            elif response.check_in:
                report.errors.append(f"  line {number} [{lang}] check-in not needed: {row['text']}")
        report.with_helpline += HELPLINE_NUMBER in response.reply
    return report
