"""Per-message latency of Engine.respond over the evaluation messages, and of the worst inputs.

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

Both run on the phrase-only engine (target p99 <= 1 ms). Then the engine with the semantic
layer, every cache (its embedding cache too) cleared before each message: what a child's new
free text costs (target p99 <= 50 ms). Last, hostile and long inputs up to 4,096 characters
(Telegram's limit) through the full engine (target: each <= 100 ms).

`--profile` runs each phrase-only mode under cProfile and prints the top functions.
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
from bot.semantic import load_semantic  # noqa: E402

TARGET_P99_MS = 1.0
TARGET_SEMANTIC_P99_MS = 50.0
TARGET_WORST_MS = 100.0
DEFAULT_EVAL = ROOT / "tests" / "data" / "dev.jsonl"


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


def summary(label: str, samples_ms: list[float], target: float = TARGET_P99_MS) -> str:
    values = sorted(samples_ms)
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    verdict = "meets" if p99 <= target else "MISSES"
    return (f"{label:<34} n={len(values):>6}  p50={p50:7.3f}  p95={p95:7.3f}  p99={p99:7.3f}  "
            f"max={values[-1]:8.3f} ms  ({verdict} p99 <= {target:g} ms)")


def worst_inputs() -> list[tuple[str, str]]:
    """Long and hostile messages: one letter repeated, coeng runs, marks, zero-width, emoji, real text."""
    khmer = "ឪពុកខ្ញុំស្រវឹងរាល់យប់ ហើយវាយម្ដាយខ្ញុំ ខ្ញុំខ្លាចណាស់ មិនដឹងធ្វើយ៉ាងម៉េច "
    english = "my stepdad drinks every night and hits my mum and i am scared, i don't know what to do "
    return [
        ("ក x4096", "ក" * 4096), ("កខគឃង x819", "កខគឃង" * 819), ("coeng runs", "\u17d2ក" * 2048),
        ("zero-width", "ក\u200b" * 2048), ("combining marks", "a" + "\u0301" * 4095), ("emoji", "😀" * 4096),
        ("latin letter", "a" * 4096), ("latin words", "ab " * 1365),
        ("real Khmer 4096", (khmer * 60)[:4096]), ("real English 4096", (english * 50)[:4096]),
        ("mixed 4096", ((khmer + english) * 30)[:4096]),
    ]


def run(engine: Engine, messages: list[tuple[str, str]], rounds: int, cold: bool) -> dict[str, list[float]]:
    """Milliseconds per message, grouped by language label (key "all" holds every sample)."""
    clock = time.perf_counter_ns

    def clear() -> None:
        bot.text.segment_khmer.cache_clear()
        bot.text._khnormal_cluster.cache_clear()
        engine.content.phrases._word_parts.cache_clear()
        if engine.semantic is not None:
            engine.semantic._cache.clear()

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


def report(title: str, samples: dict[str, list[float]], target: float = TARGET_P99_MS) -> None:
    print(title)
    print("  " + summary("all messages", samples["all"], target))
    for lang in sorted(k for k in samples if k != "all"):
        print("  " + summary(f"lang={lang}", samples[lang], target))


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
    parser.add_argument("--semantic-rounds", type=int, default=5, help="timed passes with the semantic layer")
    parser.add_argument("--profile", action="store_true", help="also profile one warm and one cold run with cProfile")
    parser.add_argument("--profile-rounds", type=int, default=20)
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    args = parser.parse_args(argv)
    cold_rounds = args.rounds if args.cold_rounds is None else args.cold_rounds

    messages = read_messages(Path(args.eval_file))
    started = time.perf_counter()
    content = load()
    engine = Engine(content)
    load_ms = (time.perf_counter() - started) * 1000
    status = load_semantic(content.root)
    if status.model is None:
        print(f"semantic layer unavailable: {status.message}")
        return 1
    full = Engine(content, status.model)
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

    gc.collect()
    report(f"\nSEMANTIC: phrases + embedding + heads, every cache cleared before each message, "
           f"{args.semantic_rounds} rounds", run(full, messages, args.semantic_rounds, cold=True),
           TARGET_SEMANTIC_P99_MS)
    print("\nWORST INPUTS through the full engine, caches cleared (each timed 5 times, the slowest shown):")
    slowest = 0.0
    for label, text in worst_inputs():
        times = run(full, [(label, text)], 5, cold=True)["all"]
        slowest = max(slowest, max(times))
        print(f"  {label:<20} {len(text):>5} chars  max {max(times):7.1f} ms")
    verdict = "meets" if slowest <= TARGET_WORST_MS else "MISSES"
    print(f"  slowest {slowest:.1f} ms ({verdict} <= {TARGET_WORST_MS:g} ms)")

    if args.profile:
        profile(f"warm, {args.profile_rounds} rounds",
                lambda: run(engine, messages, args.profile_rounds, cold=False), args.top)
        profile(f"cold, {args.profile_rounds} rounds",
                lambda: run(engine, messages, args.profile_rounds, cold=True), args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
