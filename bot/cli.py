"""Command line: `helpline-bot [run|chat|classify|eval|check|stats]`.

With no command it starts the Telegram bot when TELEGRAM_BOT_TOKEN is set, and the
console chat otherwise, so one command always gives something to talk to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bot.content import ContentError, load
from bot.engine import Engine, Hints
from bot.stats import add_stats_command


def load_engine() -> Engine:
    """Load content or stop with the problems, each naming the file and key."""
    try:
        return Engine(load())
    except ContentError as exc:
        print("The content files have problems; fix them and start again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1) from None




def cmd_chat(args: argparse.Namespace) -> int:
    """Console conversation through exactly the engine Telegram uses, logged as channel "console"."""
    from bot.usage import Keyring, UsageLog, make_event, run_in_thread

    engine = load_engine()
    usage = UsageLog.from_env()
    keyring = Keyring.load(usage.path)
    interactive = sys.stdin.isatty()
    language: str | None = None
    with run_in_thread(usage):
        if interactive:
            print(engine.respond("hello").reply)
            print("\n(Type a message and press Enter; /km or /en for the reply language; Ctrl-D or /quit to leave.)")
        while True:
            if interactive:
                print("\n> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            text = line.rstrip("\n")
            if text.strip() in ("/quit", "/exit"):
                return 0
            if text.strip() in ("/km", "/en"):
                language = text.strip()[1:]
                continue
            response = engine.respond(text, Hints(language=language))
            print(response.reply, end="\n" if interactive else "\n\n", flush=True)
            usage.record(make_event(response, channel="console", kind="text", user_id=None, keyring=keyring))


def cmd_classify(args: argparse.Namespace) -> int:
    """One JSON object per input line: language, intents, crisis, partners, reply."""
    engine = load_engine()
    for line in sys.stdin:
        text = line.rstrip("\n")
        response = engine.respond(text)
        print(json.dumps({
            "text": text,
            "language": response.language,
            "intents": list(response.intents),
            "crisis": response.crisis,
            "partners": list(response.partners),
            "reply": response.reply,
        }, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a labelled JSONL file; non-zero exit under the given thresholds."""
    from bot.evaluate import evaluate

    report = evaluate(load_engine(), Path(args.file))
    print("\n".join(report.lines()))
    failed = report.top1_rate < args.min_top1 or report.crisis_recall < args.min_crisis_recall
    return 1 if failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the content files; print every problem with its file and key."""
    try:
        content = load()
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found.")
        return 1
    print(f"Content OK: {len(content.topics)} topics, {len(content.organizations)} organisations, "
          f"{len(content.phrases.phrases)} phrases, {len(content.provinces)} provinces ({content.root}).")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The Telegram bot (needs TELEGRAM_BOT_TOKEN)."""
    if not os.environ.get("TELEGRAM_BOT_TOKEN"):
        print("Set TELEGRAM_BOT_TOKEN (from @BotFather) to run the Telegram bot; "
              "`helpline-bot chat` needs no token.", file=sys.stderr)
        return 2
    from bot.telegram_app import run

    return run()


def cmd_default(args: argparse.Namespace) -> int:
    """Telegram when a token is set, the console chat otherwise."""
    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        return cmd_run(args)
    print("TELEGRAM_BOT_TOKEN is not set: starting the console chat.", file=sys.stderr)
    return cmd_chat(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline-bot", description=__doc__.splitlines()[0])
    parser.set_defaults(func=cmd_default)
    sub = parser.add_subparsers(title="commands")
    sub.add_parser("run", help="start the Telegram bot (TELEGRAM_BOT_TOKEN)").set_defaults(func=cmd_run)
    sub.add_parser("chat", help="talk to the bot in this terminal").set_defaults(func=cmd_chat)
    sub.add_parser("classify", help="stdin lines -> JSON lines").set_defaults(func=cmd_classify)
    ev = sub.add_parser("eval", help="score a labelled JSONL file")
    ev.add_argument("file")
    ev.add_argument("--min-top1", type=float, default=0.0)
    ev.add_argument("--min-crisis-recall", type=float, default=0.0)
    ev.set_defaults(func=cmd_eval)
    sub.add_parser("check", help="validate intents/ and directory/").set_defaults(func=cmd_check)
    add_stats_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        sys.stderr.close()
        return 0
