"""Per-message latency of Engine.respond over the evaluation messages.

    .venv/bin/python benchmarks/engine_bench.py [EVAL.jsonl] [--rounds 200] [--cold-rounds 20] [--profile]

Two figures, because the engine caches per-word work: Khmer segmentation (`segment_khmer`),
Khmer syllable normalisation (`_khnormal_cluster`) and the fuzzy look-up of each Latin word
(`PhraseSet._word_parts`):

- warm: every message is answered once before timing, then each message is timed `--rounds`
  times. Every Khmer run is already in the cache, so this is the best case: a message the bot
  has (in its segmentation) seen recently.
- cold: all three caches cleared before each timed message, so every step runs in full.
  This is the case of a message made of words the bot has never seen, and pessimistic (in
  real traffic common words and syllables stay cached across messages).

Target: p99 <= 1 ms. `--profile` runs each mode under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import platform
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.text  # noqa: E402  (after the path is set, so the repository's bot/ is used)
from bot.content import load  # noqa: E402
from bot.engine import Engine  # noqa: E402

TARGET_P99_MS = 1.0
DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def read_messages(path: Path) -> list[tuple[str, str]]:
    """(language label, text) for every row of a JSONL evaluation file."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                rows.append((str(row.get("lang", "?")), str(row["text"])))
    return rows


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(rank) - 1]


def summary(label: str, samples_ms: list[float]) -> str:
    values = sorted(samples_ms)
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    verdict = "meets" if p99 <= TARGET_P99_MS else "MISSES"
    return (f"{label:<34} n={len(values):>6}  p50={p50:7.3f}  p95={p95:7.3f}  p99={p99:7.3f}  "
            f"max={values[-1]:8.3f} ms  ({verdict} p99 <= {TARGET_P99_MS:g} ms)")


def run(engine: Engine, messages: list[tuple[str, str]], rounds: int, cold: bool) -> dict[str, list[float]]:
    """Milliseconds per message, grouped by language label (key "all" holds every sample)."""
    clock = time.perf_counter_ns

    def clear() -> None:
        bot.text.segment_khmer.cache_clear()
        bot.text._khnormal_cluster.cache_clear()
        engine.content.phrases._word_parts.cache_clear()

    samples: dict[str, list[float]] = {"all": []}
    for _ in range(rounds):
        for lang, text in messages:
            if cold:
                clear()
            start = clock()
            engine.respond(text)
            elapsed = (clock() - start) / 1e6
            samples["all"].append(elapsed)
            samples.setdefault(lang, []).append(elapsed)
    return samples


def report(title: str, samples: dict[str, list[float]]) -> None:
    print(title)
    print("  " + summary("all messages", samples["all"]))
    for lang in sorted(k for k in samples if k != "all"):
        print("  " + summary(f"lang={lang}", samples[lang]))


def profile(label: str, work: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    print(f"\n--- cProfile, {label}: top {top} by cumulative time ---")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"--- cProfile, {label}: top {top} by own time ---")
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_file", nargs="?", default=str(DEFAULT_EVAL),
                        help=f"JSONL with a 'text' per row (default {DEFAULT_EVAL})")
    parser.add_argument("--rounds", type=int, default=200, help="timed passes over all messages, warm (default 200)")
    parser.add_argument("--cold-rounds", type=int, default=None,
                        help="timed passes with the segmentation cache cleared before each message "
                             "(default: same as --rounds)")
    parser.add_argument("--profile", action="store_true", help="also profile one warm and one cold run with cProfile")
    parser.add_argument("--profile-rounds", type=int, default=20)
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    args = parser.parse_args(argv)
    cold_rounds = args.rounds if args.cold_rounds is None else args.cold_rounds

    messages = read_messages(Path(args.eval_file))
    started = time.perf_counter()
    engine = Engine(load())
    load_ms = (time.perf_counter() - started) * 1000
    by_lang: dict[str, int] = {}
    for lang, _ in messages:
        by_lang[lang] = by_lang.get(lang, 0) + 1
    print(f"Python {platform.python_version()} on {platform.machine()}; content loaded in {load_ms:.0f} ms "
          f"(includes the first segmenter calls)")
    print(f"{len(messages)} messages from {args.eval_file} "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(by_lang.items()))})\n")

    for _, text in messages:  # warm-up: imports, caches, first-call costs
        engine.respond(text)
    gc.collect()
    report(f"WARM: segmentation cache populated, {args.rounds} rounds (best case: repeat messages)",
           run(engine, messages, args.rounds, cold=False))
    print(f"  segment_khmer cache after the warm run: {bot.text.segment_khmer.cache_info()}")
    gc.collect()
    report(f"\nCOLD: every cache cleared before each message, {cold_rounds} rounds "
           f"(unseen messages)", run(engine, messages, cold_rounds, cold=True))

    if args.profile:
        profile(f"warm, {args.profile_rounds} rounds",
                lambda: run(engine, messages, args.profile_rounds, cold=False), args.top)
        profile(f"cold, {args.profile_rounds} rounds",
                lambda: run(engine, messages, args.profile_rounds, cold=True), args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
