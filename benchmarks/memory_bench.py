"""Memory that stays bounded: peak RSS after 100,000 distinct messages from 100,000 chats.

    .venv/bin/python benchmarks/memory_bench.py [--chats 100000] [--semantic]

Part 1 runs the real python-telegram-bot Application (the offline request layer of
pipeline_bench.py, no rate limit, the usage log in a real SQLite file in a temporary folder).
Each of the chats sends one message no other sends, made of words no other uses. It prints the
resident memory after start and its peak, and how many chats hold state (chat_data and
user_data); then the clock moves on 49 hours, one more update arrives, and it prints how many
are left (idle chats are forgotten after 48 hours, bot/telegram_app.py).

By default the engine is phrase-only (`Engine(content)`), so 100,000 messages take about a
minute; `--semantic` adds the semantic layer (its model, and its embedding cache, which
bot/semantic.py bounds at 2,048 entries) and runs a tenth of the chats, as each message then
costs an embedding.

Part 2 fills each word cache to its bound with the longest keys it keeps (what hostile input
could do) and prints the memory each then holds: the caches are bounded in bytes, not only in
entries.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from pipeline_bench import TOKEN, OfflineRequest  # noqa: E402
from telegram import Update  # noqa: E402

import bot.text  # noqa: E402
from bot.content import load  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.matcher import _CACHED_WORD, _WORD_CACHE  # noqa: E402
from bot.semantic import load_semantic  # noqa: E402
from bot.telegram_app import build_application  # noqa: E402
from bot.usage import Keyring, UsageLog  # noqa: E402

BATCH = 1000
TOPICS = ["my teacher hit me", "i feel lonely", "knhom ekao nas", "ម្តាយខ្ញុំវាយខ្ញុំ", "my uncle touches me",
          "they want me to marry", "hello", "where can i get help"]


def memory() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def word(i: int, length: int = 6) -> str:
    """A made-up word, different for every i."""
    letters = []
    for _ in range(length):
        i, r = divmod(i, 26)
        letters.append(string.ascii_lowercase[r])
    return "".join(letters)


def update(app: Any, chat: int, text: str) -> Update:
    message = {"message_id": chat, "date": 0, "text": text, "chat": {"id": chat, "type": "private", "first_name": "C"},
               "from": {"id": chat, "is_bot": False, "first_name": "C"}}
    return Update.de_json({"update_id": chat, "message": message}, app.bot)


async def chats(engine: Engine, count: int) -> None:
    request = OfflineRequest()
    now = [0.0]
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "usage.db"
        app = build_application(TOKEN, engine, request=request, rate_limited=False, usage=UsageLog(db),
                                keyring=Keyring.load(db), clock=lambda: now[0])
        async with app:
            assert app.post_init is not None and app.post_shutdown is not None
            await app.post_init(app)
            await app.start()
            gc.collect()
            start_rss, _ = memory()
            print(f"after start: {start_rss:.0f} MB")
            began = time.perf_counter()
            for first in range(0, count, BATCH):
                request.expected = request.sent + min(BATCH, count - first)
                request.done.clear()
                for chat in range(first + 1, min(first + BATCH, count) + 1):
                    text = f"{TOPICS[chat % len(TOPICS)]} {word(chat)} {word(chat * 7 + 3, 8)}"
                    await app.update_queue.put(update(app, chat, text))
                await request.done.wait()
            took = time.perf_counter() - began
            gc.collect()
            rss, peak = memory()
            print(f"after {count:,} distinct messages from {count:,} chats ({took:.0f} s): {rss:.0f} MB, "
                  f"peak {peak:.0f} MB; state held for {len(app.chat_data):,} chats and {len(app.user_data):,} users")
            now[0] += 49 * 3600
            request.expected = request.sent + 1
            request.done.clear()
            await app.update_queue.put(update(app, count + 1, "hello"))
            await request.done.wait()
            gc.collect()
            rss, _ = memory()
            print(f"49 hours later, after one more update: state held for {len(app.chat_data):,} chats and "
                  f"{len(app.user_data):,} users; {rss:.0f} MB (freed memory stays with the allocator for reuse)")
            await app.stop()
        await app.post_shutdown(app)


def fill(name: str, calls: int, call: Any) -> None:
    gc.collect()
    before, _ = memory()
    began = time.perf_counter()
    for i in range(calls):
        call(i)
    gc.collect()
    after, _ = memory()
    print(f"  {name}: {calls:,} entries, +{after - before:.1f} MB ({time.perf_counter() - began:.0f} s)")


def caches(engine: Engine) -> None:
    print("every word cache filled to its bound with the longest keys it keeps:")
    rng = random.Random(1)
    bases = [chr(c) for c in range(0x1780, 0x17A3)]
    coeng = "\u17d2"
    phrases = engine.content.phrases
    fill("Latin word look-ups (PhraseSet._word_parts)", _WORD_CACHE,
         lambda i: phrases._word_parts(word(i, _CACHED_WORD), True))
    fill("Khmer syllables (text._khnormal_cluster)", bot.text._khnormal_cluster.cache_info().maxsize or 0,
         lambda i: bot.text._khnormal_cluster(rng.choice(bases) + "".join(coeng + rng.choice(bases) for _ in range(7))
                                              + "\u17b6"))
    fill("Khmer runs (text.segment_khmer)", bot.text.segment_khmer.cache_info().maxsize or 0,
         lambda i: bot.text.segment_khmer("".join(rng.choice(bases) for _ in range(bot.text._CACHED_RUN))))
    _, peak = memory()
    print(f"peak so far: {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=None)
    parser.add_argument("--semantic", action="store_true", help="with the semantic layer (a tenth of the chats)")
    args = parser.parse_args()
    content = load()
    if args.semantic:
        status = load_semantic(content.root)
        assert status.model is not None, status.message
        engine = Engine(content, status.model)
    else:
        engine = Engine(content)
    count = args.chats or (10_000 if args.semantic else 100_000)
    print(f"engine: {'phrases and the semantic layer' if args.semantic else 'phrases only'}")
    asyncio.run(chats(engine, count))
    caches(engine)


if __name__ == "__main__":
    main()
