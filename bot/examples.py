"""Labelled example messages (intents/examples/*.yaml): what the semantic heads learn from.

Staff read and extend them like the phrases. A topic file holds `topic: <id>` and lists of
messages per language, not urgent; under `danger:` or `suicide:` it lists, per language, its
messages that are urgent ("he is hitting me right now"), which teach the topic and the crisis
head both. A crisis file holds `danger:` or `suicide:` (urgent) and `not_urgent:` (the same
words, not an emergency) lists per language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.content import MATCH_LANGUAGES, ContentError, _Reader
from bot.romanised import LEXICON_FILE

EXAMPLES_DIR = Path("intents") / "examples"
UNKNOWN = "unknown"
CRISIS_KINDS = ("danger", "suicide")
NOT_URGENT = "not_urgent"


@dataclass(frozen=True)
class Example:
    """One message and what it is: a topic id, a crisis kind, or not_urgent."""

    text: str
    language: str
    label: str
    kind: str  # "topic" | "crisis" | "not_urgent"
    source: str  # "file: key[i]", so a problem or a collision can be found
    urgent: str = ""  # a topic example's crisis kind, when it is urgent too

    @property
    def crisis_kind(self) -> str:
        """The crisis kind this message is an example of, or "" when it is not urgent."""
        return self.label if self.kind == "crisis" else self.urgent


def examples_dir(root: Path) -> Path:
    return root / EXAMPLES_DIR


def example_files(root: Path) -> list[Path]:
    """The YAML files of examples, in a fixed order."""
    folder = examples_dir(root)
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def digest(root: Path) -> str:
    """A hash of what the heads learn from, as it is on disk: the example files, and the
    romanised Khmer lexicon they are read through. The heads are stale when it changes."""
    h = hashlib.sha256()
    for path in [*example_files(root), root / LEXICON_FILE]:
        if not path.is_file():
            continue
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def load_examples(root: Path, topics: Mapping[str, object]) -> list[Example]:
    """Every example, validated; raises ContentError naming the file and key of each problem."""
    problems: list[str] = []
    out: list[Example] = []
    for path in example_files(root):
        reader = _Reader(root, path, problems)
        data = reader.data
        if not isinstance(data, dict):
            if not reader.problems or data is not None:
                reader.problem("", "must be a mapping (topic, en, km, kh-latn) or (danger/suicide, not_urgent)")
            continue
        if "topic" in data:
            label = reader.get(data, "topic", "", str)
            if label is not None and label != UNKNOWN and label not in topics:
                reader.problem("topic", f"unknown topic '{label}' (see intents/)")
            lists = {k: v for k, v in data.items() if k != "topic" and k not in CRISIS_KINDS}
            out += _messages(reader, lists, "", label or "", "topic")
            for kind in CRISIS_KINDS:
                if kind in data:
                    out += _messages(reader, data[kind], kind, label or "", "topic", urgent=kind)
            continue
        for key in data:
            if key in CRISIS_KINDS:
                out += _messages(reader, data[key], key, key, "crisis")
            elif key == NOT_URGENT:
                out += _messages(reader, data[key], key, NOT_URGENT, "not_urgent")
            else:
                reader.problem(str(key), f"unknown key (use topic, or {', '.join(CRISIS_KINDS)} and {NOT_URGENT})")
    if problems:
        raise ContentError(problems)
    return out


def _messages(reader: _Reader, node: object, path: str, label: str, kind: str, urgent: str = "") -> Iterator[Example]:
    """The per-language lists of one mapping."""
    if not isinstance(node, dict):
        reader.problem(path, "must be a mapping of languages (en, km, kh-latn) to lists of messages")
        return
    for lang in node:
        where = f"{path}.{lang}" if path else str(lang)
        if lang not in MATCH_LANGUAGES:
            reader.problem(where, f"unknown language (use {', '.join(MATCH_LANGUAGES)})")
            continue
        for i, text in enumerate(reader.strings(node, lang, path)):
            yield Example(text=text, language=lang, label=label, kind=kind, source=f"{reader.name}: {where}[{i}]",
                          urgent=urgent)
