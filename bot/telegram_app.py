"""Telegram transport: python-telegram-bot wiring, kept thin.

Every handler turns an update into an engine call (or a fixed text), sends the reply and
records one anonymised usage event. No handler reads or logs message text beyond passing
it to the engine; the error handler logs the error type only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import html
import logging
import os
import re
import secrets
import signal
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.choices import Choice, feedback, hints_for, offered, topics
from bot.content import HELPLINE_ID, HELPLINE_NUMBER, Content
from bot.engine import Engine, Hints, Response
from bot.replies import TELEGRAM_LIMIT, reply_language

if TYPE_CHECKING:
    from bot.health import Heartbeat
    from bot.people import Keyring
    from bot.usage import UsageLog

log = logging.getLogger(__name__)

# Telegram lets a bot delete messages for 48 hours; we remember ids (in memory only) that long.
DELETE_WINDOW = dt.timedelta(hours=48)
# A chat's state (message ids for /clear, the language chosen) is forgotten after this long
# idle: the ids are useless by then, and memory must not grow with every chat ever seen.
FORGET_IDLE = DELETE_WINDOW
_FORGET_CHECK_EVERY = 3600.0
_MAX_REMEMBERED = 500
_NETWORK_RETRIES = 5
# Telegram: about one message a second per private chat; short bursts of a few are fine.
PER_CHAT_BURST = 3
_MAX_CHAT_LIMITERS = 10_000
_LANGUAGES = ("km", "en")
_LANGUAGE_NAMES = (("km", "ភាសាខ្មែរ"), ("en", "English"))
# SIGTERM to exit in under 10 s (docker stop's and a careful unit's patience): updates in hand
# get this long to be answered, then the usage log this long to be written.
STOP_UPDATES_WITHIN = 7.0
STOP_USAGE_WITHIN = 2.0
# Webhook mode: how often to ask Telegram whether it still delivers to us (refreshes the heartbeat).
WEBHOOK_CHECK_EVERY = 30.0
COMMANDS = ("start", "help", "topics", "language", "helpline", "privacy", "clear")
_COMMAND_TEXT = {
    "start": {"km": "ចាប់ផ្តើម", "en": "Start"},
    "help": {"km": "ជំនួយ", "en": "How to use this bot"},
    "topics": {"km": "ប្រធានបទ", "en": "Topics"},
    "language": {"km": "ភាសា", "en": "Language"},
    "helpline": {"km": "លេខបន្ទាន់ 1280", "en": "Helpline 1280 and emergency numbers"},
    "privacy": {"km": "ឯកជនភាព", "en": "Privacy"},
    "clear": {"km": "លុបសារ", "en": "Delete this conversation"},
}


class PerChatOrder(BaseUpdateProcessor):
    """Serve many chats at once, answer each chat's updates in order, and let no chat hold up another.

    Every update waiting for its chat's turn holds one of the shared update slots, so a chat may
    keep only a few waiting: FOLD_AFTER texts and WAITING other updates. Beyond that a private
    text is folded into the last text in line (one reply reads them all together, so nothing is
    left unread and crisis words in any of them still count), and anything else (stickers,
    commands, buttons, group commands) is dropped: the replies already in line answer it. A
    flood from one chat so gets about one reply a second and other chats never queue behind it.
    """

    FOLD_AFTER = 10
    WAITING = 3

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, _ChatQueue] = {}
        self._folded: dict[int, list[str]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        assert isinstance(update, Update)
        text = _private_text(update)
        queue = self._chats.setdefault(chat.id, _ChatQueue())
        if (queue.texts >= self.FOLD_AFTER) if text is not None else (queue.others >= self.WAITING):
            if text is not None:
                self._folded.setdefault(queue.last_text, []).append(text)
            if asyncio.iscoroutine(coroutine):
                coroutine.close()
            return
        queue.updates += 1
        if text is not None:
            queue.texts += 1
            queue.last_text = update.update_id
        else:
            queue.others += 1
        try:
            async with queue.lock:
                if text is not None:
                    queue.texts -= 1
                else:
                    queue.others -= 1
                await coroutine
        finally:
            self._folded.pop(update.update_id, None)
            queue.updates -= 1
            if queue.updates == 0:
                del self._chats[chat.id]

    def take_folded(self, update: Update) -> list[str]:
        """Later texts of this chat folded into this one, which is being answered now (memory only)."""
        return self._folded.pop(update.update_id, [])

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


@dataclass
class _ChatQueue:
    """One chat's turn-taking: its lock, and what is in line."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    updates: int = 0  # in line, including the one being answered
    texts: int = 0  # private texts waiting
    others: int = 0  # other updates waiting
    last_text: int = 0  # update_id of the last text in line


def _private_text(update: object) -> str | None:
    """The text of a private, non-command text message, else None."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return None
    message = update.effective_message
    if update.effective_chat.type != ChatType.PRIVATE or message is None or update.callback_query:
        return None
    text = message.text
    return text if text is not None and not text.startswith("/") else None


class PatientRateLimiter(AIORateLimiter):
    """Telegram's flood limits (and RetryAfter), plus retries of transient network and 5xx errors.

    AIORateLimiter paces the whole bot and each group; Telegram also asks for about one
    message a second per private chat, so each private chat gets its own small limiter.
    """

    def __init__(self, max_retries: int = 5) -> None:
        super().__init__(max_retries=max_retries)
        self._per_chat: dict[int, AsyncLimiter] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0 and endpoint != "answerCallbackQuery":
            await self._chat_limiter(chat_id).acquire()
        while True:
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except BadRequest:
                raise
            except NetworkError as exc:
                # The updater already retries getUpdates on its own.
                if endpoint == "getUpdates" or attempt >= _NETWORK_RETRIES:
                    raise
                attempt += 1
                log.warning("Bot API %s failed (%s); retry %d", endpoint, type(exc).__name__, attempt)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))


    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._per_chat) > _MAX_CHAT_LIMITERS:
            self._per_chat = {k: v for k, v in self._per_chat.items() if not v.has_capacity(PER_CHAT_BURST)}
        return self._per_chat.setdefault(chat_id, AsyncLimiter(PER_CHAT_BURST, PER_CHAT_BURST))


class Watch:
    """What the Bot API's answers say about the bot: alive (the heartbeat), or its token rejected.

    Telegram answers 401 (or 404) to a revoked or wrong token, on any method at any time. PTB
    then stops polling silently and the bot lives on, deaf; we stop instead, with exit code 2,
    so a supervisor that does not restart on 2 (RestartPreventExitStatus=2) shows the problem.
    """

    def __init__(self, heartbeat: Heartbeat | None = None) -> None:
        self.heartbeat = heartbeat
        self.rejected = False
        self.on_rejected: Callable[[], None] = lambda: None

    def saw(self, url: str, status: int) -> None:
        """Note one answer of the Bot API."""
        if status in (401, 404) and not self.rejected:
            self.rejected = True
            log.error("Telegram rejected TELEGRAM_BOT_TOKEN (revoked or wrong?): stopping; check it with @BotFather")
            self.on_rejected()
        elif status == 200 and url.endswith("/getUpdates") and self.heartbeat is not None:
            self.heartbeat.beat()


class WatchedRequest(HTTPXRequest):
    """PTB's HTTP layer, telling a Watch the status of every answer."""

    def __init__(self, watch: Watch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watch = watch

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, *args, **kwargs)
        self.watch.saw(url, status)
        return status, payload


class HelplineBot:
    """The conversation: handlers that turn updates into engine replies."""

    def __init__(self, engine: Engine, usage: UsageLog | None, keyring: Keyring | None,
                 staff_ids: frozenset[int] = frozenset(), order: PerChatOrder | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.order = order or PerChatOrder(1)
        self.clock = clock
        self._seen: dict[int, float] = {}  # chat and user ids -> last update (memory only)
        self._forget_checked = clock()
        self.engine = engine
        self.content: Content = engine.content
        self.usage = usage
        self.keyring = keyring
        self.staff_ids = staff_ids
        self._menus: dict[str, InlineKeyboardMarkup] = {}
        # The engine (and its embedding) runs here, never on the event loop: a long or
        # hostile message costs one worker thread some milliseconds, not every chat.
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self.counsellor_url = counsellor_url(self.content)

    def close(self) -> None:
        """Stop the engine's worker thread (at shutdown)."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    # ---- helpers -------------------------------------------------------------------

    def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """The language the user chose, if any (kept in memory only)."""
        chosen = context.user_data.get("language") if context.user_data is not None else None
        return chosen if chosen in _LANGUAGES else None

    def ui_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """Language for fixed texts and buttons: the user's choice, else the language of the last
        reply (kept in memory only), else Telegram's app language, else Khmer."""
        user = update.effective_user
        last = context.user_data.get("last") if context.user_data is not None else None
        return self.language(update, context) or (last if last in _LANGUAGES else None) or (
            "en" if user and user.language_code == "en" else "km")

    def text(self, key: str, lang: str) -> str:
        """A fixed text that always carries the helpline."""
        text = self.content.text(key, lang)
        if HELPLINE_NUMBER not in text:
            text += "\n\n" + self.content.text("helpline", lang)
        return text

    def menu(self, lang: str) -> InlineKeyboardMarkup:
        """The topic menu: one short label a row (built once per language)."""
        if lang not in self._menus:
            self._menus[lang] = self.keyboard(topics(self.content, lang), lang, counsellor=False)
        return self._menus[lang]

    def keyboard(self, choices: list[Choice], lang: str, counsellor: bool = True,
                 languages: bool = False) -> InlineKeyboardMarkup:
        """One choice a row (the two feedback buttons share one), a counsellor one tap away first."""
        rows: list[list[InlineKeyboardButton]] = []
        if counsellor and self.counsellor_url:
            rows.append([InlineKeyboardButton(self.content.text("counsellor_button", lang), url=self.counsellor_url)])
        for choice in choices:
            button = InlineKeyboardButton(choice.label, callback_data=choice.data)
            if choice.data.startswith("f:") and rows and rows[-1][0].callback_data and \
                    str(rows[-1][0].callback_data).startswith("f:"):
                rows[-1].append(button)
            else:
                rows.append([button])
        if languages:
            rows.append([InlineKeyboardButton(label, callback_data=f"l:{code}") for code, label in _LANGUAGE_NAMES])
        return InlineKeyboardMarkup(rows)

    async def send(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str,
                   markup: InlineKeyboardMarkup | None = None, html: bool = False) -> None:
        """Send a reply (plain text, or HTML built from escaped content) and remember its id for /clear."""
        chat = update.effective_chat
        if chat is None:
            return
        sent = await context.bot.send_message(chat.id, text, reply_markup=markup,
                                              parse_mode=ParseMode.HTML if html else None)
        if chat.type == ChatType.PRIVATE:
            self.remember(context, sent)

    def remember(self, context: ContextTypes.DEFAULT_TYPE, message: Message | None) -> None:
        """Keep a message id (never its text) so /clear can delete it within 48 hours."""
        if message is None or context.chat_data is None:
            return
        ids = context.chat_data.setdefault("ids", deque(maxlen=_MAX_REMEMBERED))
        ids.append((message.message_id, time.monotonic()))

    def record(self, update: Update, kind: str, response: Response | None, lang: str, feedback: str = "") -> None:
        """One anonymised usage event per reply (commands carry no topics); the person is counted apart."""
        if self.usage is None:
            return
        if response is None:
            response = Response(language=lang, intents=(), crisis=False, crisis_kinds=(), provinces=(),
                                partners=(), reply="")
        from bot.usage import make_event

        event = make_event(response, channel="telegram", kind=kind, feedback=feedback)
        self.usage.record(event)
        user = update.effective_user
        if user is not None and self.keyring is not None:
            self.usage.count_person(self.keyring.person(user.id, event.hour), event.hour)

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, kind: str,
                     hints: Hints, note: str = "") -> None:
        """Run the engine (off the event loop) and send its reply, after an optional note, with its choices."""
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self._worker, self.engine.respond, text, hints)
        lang = reply_language(response.language, hints.language)
        if context.user_data is not None:
            context.user_data["last"] = lang
        markup = self.menu(lang) if response.form == "menu" else self.keyboard(
            offered(self.content, response, lang), lang, counsellor=not response.choices)
        with_note = f"{html.escape(note, quote=False)}\n\n{response.html}"
        reply = with_note if note and len(with_note) <= TELEGRAM_LIMIT else response.html
        await self.send(update, context, reply, markup, html=True)
        self.record(update, kind, response, lang)

    # ---- handlers ------------------------------------------------------------------

    async def note(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Before any handler: note when each chat and user was last seen; hourly, forget the idle ones."""
        now = self.clock()
        if isinstance(update, Update):
            if update.effective_chat is not None:
                self._seen[update.effective_chat.id] = now
            if update.effective_user is not None:
                self._seen[update.effective_user.id] = now
        if now - self._forget_checked >= _FORGET_CHECK_EVERY:
            self._forget_checked = now
            self.forget_idle(context.application, now)

    def forget_idle(self, app: Application[Any, Any, Any, Any, Any, Any], now: float) -> int:
        """Drop chat_data and user_data of chats and users idle for FORGET_IDLE; returns how many ids."""
        cutoff = now - FORGET_IDLE.total_seconds()
        idle = [ident for ident, seen in self._seen.items() if seen < cutoff]
        for ident in idle:
            del self._seen[ident]
            app.drop_chat_data(ident)
            app.drop_user_data(ident)
        if app.persistence is None:
            # PTB notes every chat and user id "for persistence" and, without one, never lets go.
            for name in ("_chat_ids_to_be_updated_in_persistence", "_user_ids_to_be_updated_in_persistence",
                         "_chat_ids_to_be_deleted_in_persistence", "_user_ids_to_be_deleted_in_persistence"):
                getattr(app, name).clear()
        if idle:
            log.info("forgot the state of %d chats and users idle for %s", len(idle), FORGET_IDLE)
        return len(idle)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Bilingual welcome and menu; `/start <topic>` deep links open that topic."""
        self.remember(context, update.effective_message)
        lang = self.ui_language(update, context)
        topic = (context.args or [""])[0]
        if topic in self.content.topics:  # from a poster or QR code: who we are first, then the topic
            await self.answer(update, context, "", "button", Hints(language=lang, topic=topic),
                              note=self.content.text("deep_link_intro", lang))
            return
        welcome = "\n\n".join((self.content.text("welcome", "km"), self.content.text("welcome", "en"),
                               self.content.text("helpline", lang), self.content.text("menu_prompt", lang)))
        await self.send(update, context, welcome, self.keyboard(topics(self.content, lang), lang, languages=True))
        self.record(update, "command", None, lang)

    async def fixed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/help, /helpline, /privacy, /topics, /language: fixed texts."""
        self.remember(context, update.effective_message)
        lang = self.ui_language(update, context)
        command = _command_name(update.effective_message)
        key = {"help": "help", "helpline": "helpline_numbers", "privacy": "privacy",
               "topics": "menu_prompt", "language": "language_prompt"}.get(command, "help")
        markup = {"topics": self.menu(lang), "help": self.menu(lang),
                  "language": self.keyboard([], lang, counsellor=False, languages=True)}.get(command)
        await self.send(update, context, self.text(key, lang), markup)
        self.record(update, "command", None, lang)

    async def clear(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Delete what the bot can of this conversation, for a child whose phone may be checked."""
        chat = update.effective_chat
        self.remember(context, update.effective_message)
        lang = self.ui_language(update, context)
        memory = context.chat_data if context.chat_data is not None else {}
        ids = memory.pop("ids", deque())
        # Message ids live in memory only: after a restart only this /clear is known, so say so.
        key = "cleared" if len(ids) > 1 or memory.get("cleared") else "cleared_restart"
        memory["cleared"] = True
        cutoff = time.monotonic() - DELETE_WINDOW.total_seconds() + 60
        recent = [message_id for message_id, seen in ids if seen > cutoff]
        if chat is not None:
            for i in range(0, len(recent), 100):
                try:
                    await context.bot.delete_messages(chat.id, recent[i : i + 100])
                except (BadRequest, Forbidden):
                    log.info("some messages could not be deleted")
            await context.bot.send_message(chat.id, self.text(key, lang))
        self.record(update, "command", None, lang)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Staff only; anyone else gets the ordinary reply to an unknown command."""
        user = update.effective_user
        if user is None or user.id not in self.staff_ids or self.usage is None:
            await self.text_message(update, context)
            return
        from bot.stats import staff_summary

        self.remember(context, update.effective_message)
        lang = self.ui_language(update, context)
        summary = await staff_summary(self.usage.path, self.content, lang)
        await self.send(update, context, f"{self.content.text('stats_header', lang)}\n\n{summary}\n\n"
                        + self.content.text("helpline", lang))
        self.record(update, "command", None, lang)

    async def text_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Free text (also edited messages and unknown commands) -> the engine's referral."""
        message = update.effective_message
        self.remember(context, message)
        text = (message.text or message.caption or "") if message else ""
        kind = "command" if text.startswith("/") else "text"
        folded = self.order.take_folded(update)
        hints = Hints(language=self.language(update, context))
        note = self.content.text("folded", self.ui_language(update, context)) if folded else ""
        await self.answer(update, context, "\n".join([text, *folded]), kind, hints, note)

    async def non_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice...: a kind note that the bot reads text, the menu and 1280."""
        self.remember(context, update.effective_message)
        lang = self.ui_language(update, context)
        await self.send(update, context, self.text("non_text", lang), self.menu(lang))
        self.record(update, "non-text", None, lang)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Topic, language, check-in, "more" and feedback buttons; forged or stale data gets the menu.
        Never a referral in a group."""
        query: CallbackQuery | None = update.callback_query
        if query is None:
            return
        await query.answer()
        if update.effective_chat is not None and update.effective_chat.type != ChatType.PRIVATE:
            await self.group(update, context)
            return
        data = query.data if isinstance(query.data, str) else ""
        kind, _, value = data.partition(":")
        lang = self.ui_language(update, context)
        hints = hints_for(data, self.content, lang)
        rated = feedback(data, self.content)
        if kind == "l" and value in _LANGUAGES and context.user_data is not None:
            context.user_data["language"] = value
            await self.send(update, context, self.text("language_set", value), self.menu(value))
            self.record(update, "language", None, value)
        elif hints is not None:
            await self.answer(update, context, "", "button", hints)
        elif rated is not None:  # "Helpful" thanks; "Not what I meant" shows the topics
            topic, helpful = rated
            await self.send(update, context, self.text("thanks_feedback" if helpful else "menu_prompt", lang),
                            self.menu(lang))
            rating = Response(language=lang, intents=(topic,), crisis=False, crisis_kinds=(), provinces=(),
                              partners=(), reply="")
            self.record(update, "feedback", rating, lang, feedback="helpful" if helpful else "not_helpful")
        else:  # "Topics", "Something else", "I am safe", stale or forged data
            await self.send(update, context, self.text("menu_prompt", lang), self.menu(lang))
            self.record(update, "button", None, lang)

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In groups: only a pointer to a private chat, never a discussion."""
        lang = self.ui_language(update, context)
        await self.send(update, context, self.text("group", lang))
        self.record(update, "command", None, lang)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the error type only, and still give a private chat a reply with 1280."""
        # The error's message may quote what someone wrote: only its type, and at DEBUG where it happened.
        error = context.error
        where = "".join(traceback.format_tb(error.__traceback__)) if error and log.isEnabledFor(logging.DEBUG) else ""
        log.error("handler failed: %s%s", type(error).__name__, f"\n{where}" if where else "")
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE:
            return
        lang = self.ui_language(update, context)
        try:
            await context.bot.send_message(update.effective_chat.id, self.text("error", lang))
        except Exception as exc:  # noqa: BLE001 - the last resort must not raise
            log.error("could not send the error reply: %s", type(exc).__name__)

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Wire the handlers; the first whose filter fits an update handles it."""
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES
        groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGES
        app.add_handler(TypeHandler(object, self.note), group=-1)
        # Most updates are private free text: checked first, so they pass one filter, not ten.
        app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.text_message))
        app.add_handler(CommandHandler("start", self.start, filters=private))
        app.add_handler(CommandHandler(["help", "helpline", "privacy", "topics", "language"], self.fixed,
                                       filters=private))
        app.add_handler(CommandHandler("clear", self.clear, filters=private))
        app.add_handler(CommandHandler("stats", self.stats, filters=private))
        # Unknown commands and captions are read like free text; anything else gets the non-text note.
        app.add_handler(MessageHandler(private & (filters.TEXT | filters.CAPTION), self.text_message))
        app.add_handler(MessageHandler(private, self.non_text))
        # Groups: only /start, /help or a mention get a pointer to a private chat; the rest is ignored.
        app.add_handler(CommandHandler(["start", "help"], self.group, filters=groups))
        if app.bot.username:
            mention = filters.Entity("mention") & filters.Regex(f"@{app.bot.username}")
            app.add_handler(MessageHandler(groups & mention, self.group))
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_error_handler(self.on_error)


def _command_name(message: Message | None) -> str:
    text = (message.text or "") if message else ""
    return text[1:].split(maxsplit=1)[0].split("@")[0].lower() if text.startswith("/") else ""


def counsellor_url(content: Content) -> str | None:
    """The helpline's Telegram chat from the directory, as a link a button can open."""
    chc = content.organizations.get(HELPLINE_ID)
    for contact in chc.contacts if chc else ():
        if contact.type == "telegram":
            return contact.value if contact.value.startswith("https://") else f"https://{contact.value}"
    return None


async def set_commands(app: Application[Any, Any, Any, Any, Any, Any], content: Content) -> None:
    """The command menu and the profile texts of an empty chat, in Khmer and English."""
    for lang in ("km", "en"):
        commands = [BotCommand(c, _COMMAND_TEXT[c][lang]) for c in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=lang)
        await app.bot.set_my_description(content.text("bot_description", lang), language_code=lang)
        await app.bot.set_my_short_description(content.text("bot_short_description", lang), language_code=lang)
    await app.bot.set_my_commands([BotCommand(c, _COMMAND_TEXT[c]["en"]) for c in COMMANDS])
    await app.bot.set_my_description(content.text("bot_description", "km"))
    await app.bot.set_my_short_description(content.text("bot_short_description", "km"))


def build_application(
    token: str,
    engine: Engine,
    *,
    base_url: str | None = None,
    usage: UsageLog | None = None,
    keyring: Keyring | None = None,
    staff_ids: frozenset[int] = frozenset(),
    max_concurrent: int = 256,
    request: BaseRequest | None = None,
    rate_limited: bool = True,
    watch: Watch | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The real python-telegram-bot Application, with resources opened and closed in one place.

    `request` (an offline request layer) and `rate_limited=False` let benchmarks run it unthrottled;
    a `watch` sees every answer of the Bot API (heartbeat, rejected token); `clock` lets tests
    and benchmarks move time on to see idle chats forgotten.
    """

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if usage is not None:
            await usage.start()
        await set_commands(app, engine.content)
        bots.append(HelplineBot(engine, usage, keyring, staff_ids, order, clock))
        bots[-1].register(app)

    async def post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        for bot in bots:
            bot.close()
        if usage is not None:
            await usage.close()

    order = PerChatOrder(max_concurrent)
    bots: list[HelplineBot] = []
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(token)
        .concurrent_updates(order)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if rate_limited:
        builder = builder.rate_limiter(PatientRateLimiter(max_retries=5))
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    elif watch is not None:  # PTB's own pool sizes: 256 for replies, 1 for getUpdates
        builder = builder.request(WatchedRequest(watch, connection_pool_size=256)).get_updates_request(
            WatchedRequest(watch, connection_pool_size=1))
    if base_url:
        builder = builder.base_url(base_url.rstrip("/") + "/bot").base_file_url(base_url.rstrip("/") + "/file/bot")
    return builder.build()


class Redact(logging.Filter):
    """Replace secrets (the bot token, the webhook secret) in every log line and traceback, whoever logs it.

    python-telegram-bot quotes the token when Telegram rejects it, and request URLs contain it.
    """

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        record.msg = self.redact(record.getMessage())
        record.args = ()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text


# Libraries that log whole updates (text, ids, names, usernames), request bodies or URLs (the
# token, the webhook secret) at DEBUG or INFO: never below WARNING, whatever HELPLINE_LOG_LEVEL says.
CHATTY_LOGGERS = ("telegram", "httpx", "httpcore", "hpack", "h2", "tornado", "aiosqlite", "asyncio")


def protect_logs(*secrets: str) -> None:
    """Keep identifying data and secrets out of every log record, DEBUG included."""
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    for handler in logging.getLogger().handlers:
        handler.addFilter(Redact(*secrets))


def staff_ids(raw: str) -> frozenset[int]:
    """Telegram ids from HELPLINE_STAFF_IDS (commas or spaces); each invalid one is reported by value and left out."""
    ids: set[int] = set()
    for value in raw.replace(",", " ").split():
        if re.fullmatch(r"[0-9]{1,19}", value):
            ids.add(int(value))
        else:
            log.error("HELPLINE_STAFF_IDS: %r is not a Telegram id (digits 0-9 only); left out", value)
    return frozenset(ids)


# The largest webhook request body read. An update is a message (4,096 characters, up to 4
# bytes each in UTF-8, plus entities) and perhaps the message it replies to: well under this.
# Larger bodies are refused from their Content-Length, before they are read or the secret checked.
WEBHOOK_MAX_BODY = 128 * 1024


def limit_webhook_bodies(max_body: int = WEBHOOK_MAX_BODY) -> None:
    """Make every tornado HTTPServer (python-telegram-bot's webhook server) refuse larger bodies."""
    from tornado.httpserver import HTTPServer

    HTTPServer.configure(None, max_body_size=max_body)


def webhook_settings(env: Mapping[str, str]) -> dict[str, Any] | None:
    """run_webhook arguments from the environment, or None for long polling.

    Telegram sends the secret token with every update and PTB rejects requests without
    it (403). When HELPLINE_WEBHOOK_SECRET is unset a fresh one is made at each start:
    setWebhook hands it to Telegram, so nobody has to manage it.
    """
    url = env.get("HELPLINE_WEBHOOK_URL")
    if not url:
        return None
    return {
        "listen": env.get("HELPLINE_WEBHOOK_LISTEN", "0.0.0.0"),
        "port": int(env.get("HELPLINE_WEBHOOK_PORT", "8443")),
        "url_path": env.get("HELPLINE_WEBHOOK_PATH", "telegram"),
        "webhook_url": url,
        "secret_token": env.get("HELPLINE_WEBHOOK_SECRET") or secrets.token_urlsafe(32),
    }


def run(engine: Engine) -> int:
    """Start from the environment: long polling, or a webhook when HELPLINE_WEBHOOK_URL is set.

    Exit codes: 0 stopped by a signal, 1 another failure, 2 Telegram rejected the token
    (at start or later) or the configuration is wrong: restarting cannot help, a person must act.
    """
    from bot.health import Heartbeat, heartbeat_path
    from bot.people import Keyring
    from bot.usage import UsageLog

    token = os.environ["TELEGRAM_BOT_TOKEN"]
    webhook = webhook_settings(os.environ)
    protect_logs(token, webhook["secret_token"] if webhook else "", os.environ.get("HELPLINE_HASH_KEY", ""))
    try:
        usage = UsageLog.from_env()
        keyring = Keyring.load()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    usage.close_timeout = STOP_USAGE_WITHIN
    watch = Watch(Heartbeat(heartbeat_path(usage.path)))
    app = build_application(
        token, engine,
        base_url=os.environ.get("TELEGRAM_API_BASE_URL"), usage=usage, keyring=keyring,
        staff_ids=staff_ids(os.environ.get("HELPLINE_STAFF_IDS", "")), watch=watch,
    )
    if webhook:
        limit_webhook_bodies()
    try:
        return asyncio.run(serve(app, watch, webhook))
    except InvalidToken:
        log.error("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather")
        return 2
    except Exception as exc:  # noqa: BLE001 - PTB's messages may quote the token: never print them as they are
        log.error("the bot stopped: %s: %s", type(exc).__name__, str(exc).replace(token, "<token>"))
        return 1


async def serve(app: Application[Any, Any, Any, Any, Any, Any], watch: Watch,
                webhook: dict[str, Any] | None) -> int:
    """Run until SIGTERM/SIGINT or a rejected token, then stop within STOP_*_WITHIN seconds.

    PTB's run_polling skips post_shutdown when polling died of a rejected token, so the usage
    log was never closed and its thread held the process until SIGKILL: here every step of
    the stop is bounded and the usage log is always closed.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch.on_rejected = stop.set
    heartbeat = watch.heartbeat
    if heartbeat is not None:
        heartbeat.clear()
    assert app.updater is not None and app.post_init is not None
    updates = list(Update.ALL_TYPES)
    checker: asyncio.Task[None] | None = None
    try:
        await app.initialize()
        await app.post_init(app)
        if webhook:
            log.info("starting webhook on %s:%s", webhook["listen"], webhook["port"])
            await app.updater.start_webhook(**webhook, allowed_updates=updates)
            checker = asyncio.create_task(_check_webhook(app, webhook["webhook_url"], watch, stop))
        else:
            log.info("starting long polling")
            await app.updater.start_polling(allowed_updates=updates)
        await app.start()
        await stop.wait()
        log.info("stopping")
    finally:
        if checker is not None:
            checker.cancel()
        await _stop(app)
        if heartbeat is not None:
            heartbeat.clear()
    return 2 if watch.rejected else 0


async def _stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop fetching, answer what is in hand for up to STOP_UPDATES_WITHIN s, then close everything."""
    try:
        async with asyncio.timeout(STOP_UPDATES_WITHIN):
            if app.updater is not None and app.updater.running:
                with contextlib.suppress(Exception):  # polling may have died of the rejected token
                    await app.updater.stop()
            if app.running:
                await app.stop()
    except TimeoutError:
        log.warning("stopping: %d fetched updates (and those in progress) left unanswered",
                    max(app.update_queue.qsize() - 1, 0))  # less the stop signal
    with contextlib.suppress(Exception):
        await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)  # closes the usage log (bounded by its close_timeout)


async def _check_webhook(app: Application[Any, Any, Any, Any, Any, Any], url: str, watch: Watch,
                         stop: asyncio.Event) -> None:
    """Webhook mode has no getUpdates: ask Telegram whether it still delivers to our URL without errors."""
    while not stop.is_set():
        try:
            info = await app.bot.get_webhook_info()
            recent_error = info.last_error_date is not None and (
                dt.datetime.now(dt.UTC) - info.last_error_date).total_seconds() < 2 * WEBHOOK_CHECK_EVERY
            if info.url == url and not recent_error and watch.heartbeat is not None:
                watch.heartbeat.beat()
        except Exception as exc:  # noqa: BLE001 - a failed check only leaves the heartbeat stale
            log.warning("webhook check failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WEBHOOK_CHECK_EVERY)
