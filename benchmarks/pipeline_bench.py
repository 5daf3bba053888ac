"""Updates per second through the real python-telegram-bot Application: our bot vs a bare echo bot.

    .venv/bin/python benchmarks/pipeline_bench.py [--updates 5000] [--chats 200] [--rounds 5]

Both applications run in this process with the same offline request layer (no network, the
Bot API answered in memory) and without rate limiting, so the figure is the framework's own
cost plus ours. A third bot, the echo bot replying with our engine's answer, separates the cost
of matching from the cost of our transport (per-chat order, usage log, menus). Ours has
matching, reply composition and usage logging (a real SQLite file in a temporary folder)
switched on. Target: ours / echo >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from telegram import Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402

from bot.content import load  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.people import Keyring  # noqa: E402
from bot.telegram_app import build_application  # noqa: E402
from bot.usage import UsageLog  # noqa: E402

TOKEN = "123456:BENCH"
BOT = {"id": 1, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}


class OfflineRequest(BaseRequest):
    """Answers Bot API calls in memory and counts sendMessage calls."""

    def __init__(self) -> None:
        self.sent = 0
        self.done = asyncio.Event()
        self.expected = 0

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        result: Any = True
        if endpoint == "getMe":
            result = BOT
        elif endpoint == "sendMessage":
            params = request_data.parameters if request_data else {}
            self.sent += 1
            if self.sent >= self.expected:
                self.done.set()
            result = {"message_id": self.sent, "date": 0, "chat": {"id": params.get("chat_id"), "type": "private"},
                      "text": "x"}
        return 200, json.dumps({"ok": True, "result": result}).encode()


def updates(app: Application[Any, Any, Any, Any, Any, Any], count: int, chats: int) -> list[Update]:
    texts = [json.loads(line)["text"] for line in (ROOT / "tests/data/dev.jsonl").read_text().splitlines()]
    out = []
    for i in range(count):
        chat = 10_000 + i % chats
        message = {"message_id": i, "date": 0, "text": texts[i % len(texts)] or "hello",
                   "chat": {"id": chat, "type": "private", "first_name": "C"},
                   "from": {"id": chat, "is_bot": False, "first_name": "C"}}
        out.append(Update.de_json({"update_id": i + 1, "message": message}, app.bot))
    return out


async def measure(app: Application[Any, Any, Any, Any, Any, Any], request: OfflineRequest, count: int,
                  chats: int) -> float:
    """Updates per second from putting them on the queue to the last reply sent."""
    async with app:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        batch = updates(app, count, chats)
        request.expected = request.sent + count
        request.done.clear()
        start = time.perf_counter()
        for update in batch:
            await app.update_queue.put(update)
        await request.done.wait()
        elapsed = time.perf_counter() - start
        await app.stop()
    if app.post_shutdown:
        await app.post_shutdown(app)
    return count / elapsed


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bare echo bot: send the text back."""
    if update.effective_chat and update.effective_message:
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text or "")


def engine_echo(engine: Engine) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """The echo bot with our engine's reply instead of the text: shows what our transport adds."""

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat and update.effective_message:
            text = engine.respond(update.effective_message.text or "").reply
            await context.bot.send_message(update.effective_chat.id, text)

    return reply


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine = Engine(load())
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "usage.db"
        results: dict[str, list[float]] = {"echo": [], "engine": [], "ours": []}
        for name in ("echo", "engine", "ours") * args.rounds:  # interleaved, so all see the same machine
            gc.collect()
            request = OfflineRequest()
            if name in ("echo", "engine"):
                app = ApplicationBuilder().token(TOKEN).request(request).get_updates_request(request) \
                    .concurrent_updates(256).build()
                app.add_handler(MessageHandler(filters.TEXT, echo if name == "echo" else engine_echo(engine)))
            else:
                app = build_application(TOKEN, engine, request=request, rate_limited=False,
                                        usage=UsageLog(db), keyring=Keyring(Path(folder) / "keys"))
            rate = await measure(app, request, args.updates, args.chats)
            results[name].append(rate)
            print(f"{name:5} {rate:8.0f} updates/s")
        echo_rate, ours_rate = statistics.median(results["echo"]), statistics.median(results["ours"])
        print(f"\nmedian of {args.rounds}: echo {echo_rate:.0f}/s, echo + engine "
              f"{statistics.median(results['engine']):.0f}/s, ours {ours_rate:.0f}/s, "
              f"ratio ours/echo = {ours_rate / echo_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    asyncio.run(main())
