"""Command line: `helpline-bot [run|chat|classify|eval|check|health|directory|train|stats]`.

With no command it starts the Telegram bot when TELEGRAM_BOT_TOKEN is set, and the
console chat otherwise, so one command always gives something to talk to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from bot.content import HELPLINE_NUMBER, ContentError, default_root, load
from bot.directory import review, write
from bot.engine import Engine, Hints, load_engine
from bot.health import DEFAULT_MAX_AGE
from bot.stats import add_stats_command


def engine_or_exit() -> Engine:
    """Load the engine or stop with the content problems, each naming the file and key."""
    try:
        return load_engine()
    except ContentError as exc:
        print("The content files have problems; fix them and start again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1) from None


_CONSOLE_COMMANDS = {"/help": "help", "/helpline": "helpline_numbers", "/privacy": "privacy"}


def cmd_chat(args: argparse.Namespace) -> int:
    """Console conversation through exactly the engine Telegram uses, logged as channel "console".

    The choices a reply offers (topics, "Are you safe right now?", "More organisations"...)
    are numbered, and typing the number answers like a Telegram button. In a pipe, each reply
    ends with an empty line, or is one JSON object per line with --json.
    """
    from bot.choices import Choice, feedback, hints_for, offered, topics
    from bot.replies import reply_language
    from bot.usage import UsageLog, make_event, run_in_thread

    engine = engine_or_exit()
    content = engine.content
    usage = UsageLog.from_env()
    interactive = sys.stdin.isatty() and not args.json
    language: str | None = None
    numbered: dict[str, str] = {}

    def show(text: str, options: list[Choice]) -> None:
        nonlocal numbered
        numbered = {str(i): c.data for i, c in enumerate(options, 1)}
        if args.json:
            print(json.dumps({"reply": text, "choices": [c.label for c in options]}, ensure_ascii=False), flush=True)
            return
        listing = "".join(f"\n{i}. {c.label}" for i, c in enumerate(options, 1))
        print(text + listing, end="\n" if interactive else "\n\n", flush=True)

    def fixed(key: str, lang: str, options: list[Choice] | None = None) -> None:
        text = content.text(key, lang)
        show(text if HELPLINE_NUMBER in text else f"{text}\n\n{content.text('helpline', lang)}", options or [])

    with run_in_thread(usage):
        lang = language or "km"
        welcome = "\n\n".join((content.text("welcome", "km"), content.text("welcome", "en"),
                               content.text("helpline", lang), content.text("menu_prompt", lang)))
        if interactive:
            print("(Type a message and press Enter, or a number to choose; /km or /en for the reply language; "
                  "/topics, /help, /helpline, /privacy; Ctrl-D or /quit to leave.)\n")
            show(welcome, topics(content, lang))
        while True:
            if interactive:
                print("\n> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            text = line.strip()
            lang = language or "km"
            if not text:
                continue
            if text in ("/quit", "/exit"):
                return 0
            if text in ("/km", "/en"):
                language = text[1:]
                fixed("language_set", language)
                continue
            if text in _CONSOLE_COMMANDS:
                fixed(_CONSOLE_COMMANDS[text], lang)
                continue
            if text in ("/topics", "/start"):
                fixed("menu_prompt", lang, topics(content, lang))
                continue
            kind, hints = "text", Hints(language=language)
            if text in numbered:
                kind, data = "button", numbered[text]
                chosen = hints_for(data, content, language)
                if chosen is None:  # "Helpful" thanks; anything else shows the topics
                    rated = feedback(data, content)
                    fixed("thanks_feedback" if rated and rated[1] else "menu_prompt", lang, topics(content, lang))
                    continue
                hints, text = chosen, ""
            response = engine.respond(text, hints)
            show(response.reply, offered(content, response, reply_language(response.language, language)))
            usage.record(make_event(response, channel="console", kind=kind))


def cmd_classify(args: argparse.Namespace) -> int:
    """One JSON object per input line: language, intents, crisis, check_in, confidence, partners, reply."""
    engine = engine_or_exit()
    for line in sys.stdin:
        text = line.rstrip("\n")
        response = engine.respond(text)
        print(json.dumps({
            "text": text,
            "language": response.language,
            "intents": list(response.intents),
            "crisis": response.crisis,
            "check_in": response.check_in,
            "confidence": response.confidence,
            "choices": list(response.choices),
            "partners": list(response.partners),
            "reply": response.reply,
        }, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a labelled JSONL file; non-zero exit under the given thresholds."""
    from bot.evaluate import evaluate

    report = evaluate(engine_or_exit(), Path(args.file))
    print("\n".join(report.lines()))
    failed = report.top1_rate < args.min_top1 or report.crisis_recall < args.min_crisis_recall
    return 1 if failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the content files and the semantic heads; print every problem with its file and key."""
    from bot.examples import load_examples
    from bot.semantic import load_semantic

    root = default_root()
    print(f"Checking the content in {root}"
          + (" (HELPLINE_CONTENT_DIR)" if os.environ.get("HELPLINE_CONTENT_DIR") else "") + ":")
    try:
        content = load(root)
        examples = load_examples(content.root, content.topics)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found.")
        return 1
    print(f"Content OK: {len(content.topics)} topics, {len(content.organizations)} organisations, "
          f"{len(content.phrases.phrases)} phrases, {len(examples)} examples, {len(content.provinces)} provinces.")
    status = load_semantic(content.root)
    print(("Semantic layer: " if status.model else "Semantic layer problem: ") + status.message)
    if status.missing or status.stale:
        return 1
    warnings = review(content, dt.date.today())
    for warning in warnings:
        print(f"warning: {warning}")
    if warnings:
        print(f"{len(warnings)} warning(s)" + (": --strict makes them fail." if args.strict else
                                               " (not failures; --strict makes them fail, for a pre-launch review)."))
    return 1 if warnings and args.strict else 0


def cmd_directory(args: argparse.Namespace) -> int:
    """Export the directory: HSDS 3.0 JSON for other referral tools, or CSV for partners to review."""
    try:
        content = load()
    except ContentError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    print(f"Wrote {write(content, args.format, Path(args.out))}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Fit the semantic heads on intents/examples/ and write them beside the examples."""
    from bot.semantic import E5Embedder
    from bot.training import train, write

    try:
        content = load()
        heads = train(content, E5Embedder())
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found.")
        return 1
    print(f"Wrote {write(heads, content.root)}: run `helpline-bot check`, then the tests.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The Telegram bot (needs TELEGRAM_BOT_TOKEN)."""
    if not os.environ.get("TELEGRAM_BOT_TOKEN"):
        print("Set TELEGRAM_BOT_TOKEN (from @BotFather) to run the Telegram bot; "
              "`helpline-bot chat` needs no token.", file=sys.stderr)
        return 2
    from bot.telegram_app import run

    logging.getLogger().setLevel(os.environ.get("HELPLINE_LOG_LEVEL", "INFO"))
    return run(engine_or_exit())


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the running bot fetched updates from Telegram within --max-age seconds (see bot/health.py)."""
    from bot.health import age, heartbeat_path
    from bot.usage import default_db_path

    path = heartbeat_path(default_db_path())
    seconds = age(path)
    if seconds is None:
        print(f"Not receiving updates: no heartbeat yet ({path}).")
        return 1
    if seconds > args.max_age:
        print(f"Not receiving updates: the last answer from Telegram was {seconds:.0f} s ago ({path}).")
        return 1
    print(f"Receiving updates: the last answer from Telegram was {seconds:.0f} s ago.")
    return 0


def cmd_default(args: argparse.Namespace) -> int:
    """Telegram when a token is set, the console chat otherwise."""
    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        return cmd_run(args)
    print("TELEGRAM_BOT_TOKEN is not set: starting the console chat.", file=sys.stderr)
    return cmd_chat(argparse.Namespace(json=False))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline-bot", description=__doc__.splitlines()[0])
    parser.set_defaults(func=cmd_default)
    sub = parser.add_subparsers(title="commands")
    sub.add_parser("run", help="start the Telegram bot (TELEGRAM_BOT_TOKEN)").set_defaults(func=cmd_run)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="one JSON object per reply: reply, choices")
    chat.set_defaults(func=cmd_chat)
    sub.add_parser("classify", help="stdin lines -> JSON lines").set_defaults(func=cmd_classify)
    ev = sub.add_parser("eval", help="score a labelled JSONL file")
    ev.add_argument("file")
    ev.add_argument("--min-top1", type=float, default=0.0)
    ev.add_argument("--min-crisis-recall", type=float, default=0.0)
    ev.set_defaults(func=cmd_eval)
    check = sub.add_parser("check", help="validate intents/, directory/ and the semantic heads; warn on stale facts")
    check.add_argument("--strict", action="store_true", help="warnings fail too (for a pre-launch review)")
    check.set_defaults(func=cmd_check)
    export = sub.add_parser("directory", help="export the partner directory (HSDS 3.0 JSON or CSV)")
    export.add_argument("--format", choices=("hsds", "csv"), default="hsds")
    export.add_argument("--out", required=True, help="folder to write into")
    export.set_defaults(func=cmd_directory)
    sub.add_parser("train", help="fit the semantic heads on intents/examples/").set_defaults(func=cmd_train)
    health = sub.add_parser("health", help="exit 0 when the running bot is receiving updates (for health checks)")
    health.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE,
                        help=f"seconds without an answer from Telegram that mean down (default {DEFAULT_MAX_AGE:.0f})")
    health.set_defaults(func=cmd_health)
    add_stats_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("HELPLINE_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        sys.stderr.close()
        return 0
