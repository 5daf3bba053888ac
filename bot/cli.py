"""Command line: `helpline-bot [run|chat|classify|eval|check|stats]`.

With no command it starts the Telegram bot when TELEGRAM_BOT_TOKEN is set, and the
console chat otherwise, so one command always gives something to talk to.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bot.content import ContentError, load
from bot.engine import Engine, Hints, load_engine
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


def cmd_chat(args: argparse.Namespace) -> int:
    """Console conversation through exactly the engine Telegram uses, logged as channel "console".

    When a reply asks ("Are you safe right now?", "Is this about ...?") its answers are
    numbered, and typing the number answers like a Telegram button.
    """
    from bot.choices import hints_for, offered
    from bot.replies import reply_language
    from bot.usage import UsageLog, make_event, run_in_thread

    engine = engine_or_exit()
    usage = UsageLog.from_env()
    interactive = sys.stdin.isatty()
    language: str | None = None
    numbered: dict[str, str] = {}
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
            kind = "text"
            if text.strip() in numbered:
                kind = "button"
                hints = hints_for(numbered[text.strip()], engine.content, language) or Hints(language=language)
                response = engine.respond("", hints)
            else:
                response = engine.respond(text, Hints(language=language))
            lang = reply_language(response.language, language)
            options = offered(engine.content, response, lang)
            numbered = {str(i): choice.data for i, choice in enumerate(options, 1)}
            listing = "".join(f"\n{i}. {choice.label}" for i, choice in enumerate(options, 1))
            print(response.reply + listing, end="\n" if interactive else "\n\n", flush=True)
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

    try:
        content = load()
        examples = load_examples(content.root, content.topics)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found.")
        return 1
    print(f"Content OK: {len(content.topics)} topics, {len(content.organizations)} organisations, "
          f"{len(content.phrases.phrases)} phrases, {len(examples)} examples, {len(content.provinces)} provinces "
          f"({content.root}).")
    status = load_semantic(content.root)
    print(("Semantic layer: " if status.model else "Semantic layer problem: ") + status.message)
    if status.missing or status.stale:
        return 1
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
    sub.add_parser("check", help="validate intents/, directory/ and the semantic heads").set_defaults(func=cmd_check)
    sub.add_parser("train", help="fit the semantic heads on intents/examples/").set_defaults(func=cmd_train)
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
