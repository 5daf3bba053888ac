"""Start time and peak memory of the console bot: `python -m bot chat` in a subprocess.

    .venv/bin/python benchmarks/start_memory.py [--runs 5] [--message "my teacher hit me"]

For each run: the wall time from just before the process is spawned to the first line of
its reply on stdout (interpreter start, imports, content load and validation, one
Engine.respond), and its peak resident memory, VmHWM from /proc/<pid>/status read while it
is still alive after that reply. RUSAGE_CHILDREN's ru_maxrss after it exits is printed as a
cross-check (it is the largest of all children waited for so far).

`--telegram` adds runs that also import python-telegram-bot (with httpx) and aiosqlite before
the chat starts, an estimate of what Telegram mode costs on top (the console chat imports
neither).

The child gets PYTHONUNBUFFERED=1 (as the Docker image sets): without it `chat` keeps its
replies in the stdout buffer until it exits when stdout is a pipe.

Targets: start <= 3 s, peak RSS <= 250 MB (with the semantic layer loaded).
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_START_S = 3.0  # with the semantic layer (issue 8); 2 s before it
TARGET_RSS_MB = 250.0  # with the embedding model mapped in; 150 MB before it
CHAT = [sys.executable, "-m", "bot", "chat"]
TELEGRAM_CHAT = [sys.executable, "-c",
                 "import telegram.ext, httpx, aiosqlite, sys; from bot.cli import main; sys.exit(main(['chat']))"]


def status_kb(pid: int, field: str) -> int | None:
    """A 'kB' field of /proc/<pid>/status (VmHWM, VmRSS), or None when unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def one_run(command: list[str], message: str, timeout: float) -> tuple[float, int | None, str]:
    """(seconds to the first reply line, VmHWM in kB, that line) for one fresh process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(message + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no reply within {timeout:.0f} s")
        first = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        hwm = status_kb(proc.pid, "VmHWM")  # still alive: it waits for the next line
        proc.stdin.close()
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not first.strip():
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"exit {proc.returncode}, first line {first!r}\n{err}")
    return elapsed, hwm, first.strip()


def measure(label: str, command: list[str], message: str, runs: int, timeout: float) -> tuple[float, float]:
    """Print every run and the summary; return (median start s, max peak RSS MB)."""
    print(f"{label}: {' '.join(command[1:])}")
    starts: list[float] = []
    peaks: list[float] = []
    for i in range(runs):
        elapsed, hwm, first = one_run(command, message, timeout)
        child_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux
        starts.append(elapsed)
        if hwm is not None:
            peaks.append(hwm / 1024)
        hwm_text = f"{hwm / 1024:6.1f} MB" if hwm is not None else "   n/a"
        print(f"  run {i + 1}: start to first reply line {elapsed:6.3f} s   VmHWM {hwm_text}   "
              f"(ru_maxrss of children so far {child_max / 1024:6.1f} MB)")
    print(f"  first reply line: {first[:100]}{'...' if len(first) > 100 else ''}")
    median_start = statistics.median(starts)
    peak = max(peaks) if peaks else float("nan")
    print(f"  start: median {median_start:.3f} s, min {min(starts):.3f} s, max {max(starts):.3f} s "
          f"(target <= {TARGET_START_S:g} s: {'meets' if max(starts) <= TARGET_START_S else 'MISSES'})")
    print(f"  peak RSS (VmHWM): max {peak:.1f} MB "
          f"(target <= {TARGET_RSS_MB:g} MB: {'meets' if peak <= TARGET_RSS_MB else 'MISSES'})\n")
    return median_start, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to start (default 5)")
    parser.add_argument("--message", default="my teacher hit me at school", help="the one message sent")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--telegram", action="store_true",
                        help="also measure with python-telegram-bot, httpx and aiosqlite imported")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("note: no /proc here; VmHWM is unavailable, use the ru_maxrss column", file=sys.stderr)
    print(f"Python {sys.version.split()[0]} ({sys.executable}), message {args.message!r}\n")
    measure("console chat", CHAT, args.message, args.runs, args.timeout)
    if args.telegram:
        measure("console chat + Telegram-mode imports", TELEGRAM_CHAT, args.message, args.runs, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
