"""A fake Telegram Bot API server on 127.0.0.1 (stdlib only), for end-to-end tests.

The real python-telegram-bot Application talks HTTP to it through the builder's
base_url. Tests push updates, read what the bot sent, and script faults
(401, 429 with retry_after, 500, dropped connections, timeouts) for given methods: once
each (`faults`), or on every call until removed (`broken`: a revoked token, an outage). A test
can also hold one chat's replies at the server (`hold`, `release`): they wait unanswered, so a
test can see what the bot does for other chats while that chat's sending is stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Helpline", "username": "helpline_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
# python-telegram-bot gives up on a request after 5 s by default.
TIMEOUT_DELAY = 6.0
# Parameters PTB sends JSON-encoded inside form fields.
_JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "message_ids", "scope", "chat_id", "offset",
                "timeout", "limit", "message_id"}


class FakeBotAPI:
    """State of the fake server: pending updates, calls received, scripted faults."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.application: Any = None  # the bot under test, set by tests.test_telegram.running
        self.faults: deque[tuple[str, str]] = deque()  # (method, "401" | "429" | "500" | "reset" | "timeout")
        self.broken: dict[str, str] = {}  # method (or "*" for all) -> fault, on every call until removed
        self._updates: list[dict[str, Any]] = []
        self.delivered: dict[int, dict[str, Any]] = {}  # update_id -> update, once getUpdates returned it
        self.webhook = ""  # the URL of setWebhook
        self._held: set[int] = set()  # chats whose sendMessage calls wait until released
        self.holding: dict[int, int] = {}  # chat -> sendMessage calls waiting now
        self._next_update = 1
        self._next_message = 1000
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        for chat in list(self._held):
            self.release(chat)
        self._server.shutdown()
        self._server.server_close()

    # ---- what tests use --------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._cond:
            update = {"update_id": self._next_update, **update}
            self._next_update += 1
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def message(self, chat_id: int, text: str | None = None, *, chat_type: str = "private",
                user_id: int | None = None, edited: bool = False, **extra: Any) -> int:
        """Queue a message (text, or other fields such as sticker/photo) from a user."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Child", "language_code": "km"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Child"
        else:
            chat["title"] = "A group"
        with self._cond:
            self._next_message += 1
            message_id = self._next_message
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": user,
                                   **extra}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if edited:
            message["edit_date"] = int(time.time())
        key = "edited_message" if edited else ("channel_post" if chat_type == "channel" else "message")
        if chat_type == "channel":
            message.pop("from")
        return self.push({key: message})

    def button(self, chat_id: int, data: str) -> int:
        """Queue a press on an inline button carrying `data`."""
        message = {"message_id": 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                   "from": BOT_USER, "text": "menu"}
        user = {"id": chat_id, "is_bot": False, "first_name": "Child"}
        return self.push({"callback_query": {"id": f"cb{chat_id}{time.time_ns()}", "from": user,
                                             "chat_instance": "ci", "data": data, "message": message}})

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls that succeeded, optionally for one chat."""
        with self._cond:
            return [p for m, p in self.calls if m == "sendMessage" and (chat_id is None or p["chat_id"] == chat_id)]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [p for m, p in self.calls if m == method]

    def pending(self) -> int:
        """Updates pushed that the bot has not fetched yet."""
        with self._cond:
            return sum(u["update_id"] not in self.delivered for u in self._updates)

    def hold(self, chat_id: int) -> None:
        """From now on, this chat's sendMessage calls wait at the server until `release`."""
        with self._cond:
            self._held.add(chat_id)

    def release(self, chat_id: int) -> None:
        with self._cond:
            self._held.discard(chat_id)
            self._cond.notify_all()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """`wait_for` from a test running beside the bot, without blocking the bot's event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.wait_for, predicate, timeout)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    # ---- server side -------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._cond:
            fault = next((f for f in self.faults if f[0] == method), None)
            if fault is not None:
                self.faults.remove(fault)
            kind = fault[1] if fault else self.broken.get(method, self.broken.get("*"))
        if kind == "reset":
            return 0, None
        if kind == "timeout":  # longer than the client waits, then no answer at all
            time.sleep(TIMEOUT_DELAY)
            return 0, None
        if kind == "401":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if kind == "429":
            return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}}
        if kind is not None:
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        with self._cond:
            chat = params.get("chat_id")
            if method == "sendMessage" and chat in self._held:
                self.holding[chat] = self.holding.get(chat, 0) + 1
                self._cond.wait_for(lambda: chat not in self._held)
                self.holding[chat] -= 1
            self.calls.append((method, params))
            if method == "getMe":
                return 200, {"ok": True, "result": BOT_USER}
            if method in ("setWebhook", "deleteWebhook"):
                self.webhook = str(params.get("url") or "")
            if method == "getWebhookInfo":
                return 200, {"ok": True, "result": {"url": self.webhook, "has_custom_certificate": False,
                                                    "pending_update_count": 0}}
            if method == "sendMessage":
                self._next_message += 1
                chat = {"id": params["chat_id"], "type": "private"}
                return 200, {"ok": True, "result": {"message_id": self._next_message, "date": int(time.time()),
                                                    "chat": chat, "text": params.get("text", ""), "from": BOT_USER}}
        return 200, {"ok": True, "result": True}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 0.3)
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and wait:
                self._cond.wait(wait)
            self.delivered.update((u["update_id"], u) for u in self._updates)
            return list(self._updates)


def _handler(api: FakeBotAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            method = self.path.rstrip("/").rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = api.handle(method, _params(self.headers.get("Content-Type", ""), body))
            if payload is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet."""

    return Handler


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(body))
    params: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        value: Any = values[-1]
        if key in _JSON_FIELDS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params
