"""Loading and validating the content staff edit: intents/*.yaml and directory/*.yaml.

Everything is read once at start into frozen dataclasses. Any mistake stops the start
with a message that names the file, the key and (for broken YAML) the line, so a staff
member who edited a file knows exactly where to look.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.matcher import Phrase, PhraseError, PhraseSet, compile_phrase, expand_phrase
from bot.text import LanguageMarkers, normalise

REPLY_LANGUAGES = ("km", "en")
MATCH_LANGUAGES = ("km", "en", "kh-latn")
ORG_KINDS = ("government", "un", "ngo", "helpline", "emergency", "supporter")
CONTACT_TYPES = ("phone", "website", "telegram", "messenger", "email")
HELPLINE_NUMBER = "1280"
HELPLINE_ID = "chc"
# Topic ids reach the usage log, callback data and reports: a closed, plain shape.
TOPIC_ID = re.compile(r"[a-z][a-z0-9_]*")
# Child Helpline International categories ("Group › Category") a topic may roll up to in staff reports.
CHI_CATEGORIES = (
    "Violence › Physical and emotional violence and neglect (family)",
    "Violence › Sexual violence",
    "Violence › Violence and bullying at school",
    "Violence › Online violence, exploitation and abuse",
    "Violence › Violence in institutions (religious settings)",
    "Violence › Child marriage and teenage pregnancy",
    "Commercial exploitation › Child labour and trafficking",
    "Mental health › Suicidal thoughts and self-harm",
    "Mental health › Emotional wellbeing (sadness, loneliness, anxiety)",
    "Family relationships › Family separation and alternative care",
    "Family relationships › Parenting",
    "Information › About the service",
    "Non-counselling contact › Greetings",
)
# Texts every reply path needs; _texts.yaml must define each in km and en.
REQUIRED_TEXTS = (
    "helpline", "crisis_suicide", "crisis_danger", "unknown", "topics_header",
    "partners_header", "no_contact", "truncated", "check_in", "check_in_danger", "check_in_suicide",
    "check_in_safe", "clarify", "something_else",
)


class ContentError(Exception):
    """One or more problems in the content files, each naming file and key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


Localised = Mapping[str, str]


@dataclass(frozen=True)
class Contact:
    """A way to reach an organisation (HSDS: phone / url / email), with its provenance."""

    type: str
    value: str
    label: Localised
    source: str
    checked: dt.date


@dataclass(frozen=True)
class Organization:
    """A partner or service in the directory (HSDS organization + service_area)."""

    id: str
    name: Localised
    alternate_name: str
    kind: str
    description: Localised
    topics: tuple[str, ...]
    service_area: tuple[str, ...]
    contacts: tuple[Contact, ...]

    @property
    def referable(self) -> bool:
        """Supporters (funders) are listed for the record but never offered to a child."""
        return self.kind != "supporter"


@dataclass(frozen=True)
class Province:
    """A province, with the names people type for it."""

    id: str
    name: Localised


@dataclass(frozen=True)
class Topic:
    """A topic the bot recognises, with the referral it gives."""

    id: str
    title: Localised
    chi_category: str
    reply: Localised
    partners: tuple[str, ...]
    weight: float
    order: int
    menu: bool


@dataclass(frozen=True)
class Content:
    """All content, validated and compiled for matching."""

    root: Path
    topics: Mapping[str, Topic]
    organizations: Mapping[str, Organization]
    provinces: Mapping[str, Province]
    texts: Mapping[str, Localised]
    markers: LanguageMarkers
    phrases: PhraseSet
    negations: frozenset[str]
    now_topics: frozenset[str]
    khmer_words: frozenset[str]
    vocabulary: frozenset[str]  # every word the content knows, in any language

    def text(self, key: str, lang: str) -> str:
        """A shared text in the reply language."""
        return self.texts[key][lang]

    @property
    def menu_topics(self) -> list[Topic]:
        """Topics offered as buttons and in the 'I didn't understand' list."""
        return [t for t in self.topics.values() if t.menu]


def default_root() -> Path:
    """Where the content lives: $HELPLINE_CONTENT_DIR, the installed copy, or the repository."""
    if env := os.environ.get("HELPLINE_CONTENT_DIR"):
        return Path(env)
    packaged = Path(__file__).parent / "content"
    if (packaged / "intents").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice: YAML would silently keep only the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key}' is written twice (only one is kept)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Reader:
    """Reads one YAML file, recording problems as 'file: key: what is wrong'."""

    def __init__(self, root: Path, path: Path, problems: list[str]) -> None:
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        self.problems = problems
        self.data: Any = None
        try:
            with path.open(encoding="utf-8") as handle:
                self.data = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except FileNotFoundError:
            self.problem("", "file is missing")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            self.problem("", f"{where}not valid YAML ({getattr(exc, 'problem', exc)})")
        except UnicodeDecodeError:
            self.problem("", "not UTF-8 text")

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.name}: {key + ': ' if key else ''}{message}")

    def get(self, node: Any, key: str, path: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        """node[key] checked against `kind`; records a problem and returns None when wrong."""
        where = f"{path}.{key}" if path else key
        if not isinstance(node, dict) or key not in node or node[key] is None:
            if default is ...:
                self.problem(where, "is required")
                return None
            return default
        value = node[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.problem(where, f"must be a {_plain(names)}")
            return None
        return value

    def localised(self, node: Any, key: str, path: str, required: bool = True) -> dict[str, str]:
        """A {km: ..., en: ...} text; both languages are required when the key is."""
        value = self.get(node, key, path, dict, ... if required else None)
        if value is None:
            return {}
        where = f"{path}.{key}" if path else key
        out = {}
        for lang in REPLY_LANGUAGES:
            text = self.get(value, lang, where, str)
            if text is not None:
                if not text.strip():
                    self.problem(f"{where}.{lang}", "is empty")
                out[lang] = text.strip()
        return out

    def strings(self, node: Any, key: str, path: str) -> list[str]:
        """An optional list of non-empty strings."""
        values = self.get(node, key, path, list, [])
        where = f"{path}.{key}" if path else key
        out = []
        for i, value in enumerate(values or []):
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                out.append(str(value).strip())
            elif isinstance(value, bool):
                self.problem(f"{where}[{i}]", "yes/no/on/off are read as true/false: put the word in quotes")
            else:
                self.problem(f"{where}[{i}]", "must be a non-empty text")
        return out

    def phrases(self, node: Any, key: str, label: str, role: str,
                classes: Mapping[str, Sequence[str]]) -> Iterator[Phrase]:
        """Phrase lists per language: {km: [...], en: [...], kh-latn: [...]}."""
        by_lang = self.get(node, key, "", dict, {})
        for lang in by_lang or {}:
            if lang not in MATCH_LANGUAGES:
                self.problem(f"{key}.{lang}", f"unknown language (use {', '.join(MATCH_LANGUAGES)})")
                continue
            for i, text in enumerate(self.strings(by_lang, lang, key)):
                try:
                    yield from expand_phrase(label, text, romanised=lang == "kh-latn", role=role, classes=classes)
                except PhraseError as exc:
                    self.problem(f"{key}.{lang}[{i}]", str(exc))


def _plain(type_name: str) -> str:
    return {"str": "text", "dict": "mapping (key: value)", "list": "list", "int": "whole number",
            "float": "number", "date": "date (YYYY-MM-DD)"}.get(type_name, type_name)


def load(root: Path | None = None) -> Content:
    """Load, validate and compile all content; raise ContentError listing every problem."""
    root = root or default_root()
    problems: list[str] = []
    texts_file = _Reader(root, root / "intents" / "_texts.yaml", problems)
    texts = {key: texts_file.localised(texts_file.data, key, "") for key in REQUIRED_TEXTS}
    for key in texts_file.data or {}:
        if key not in texts:
            texts[key] = texts_file.localised(texts_file.data, key, "")
    for key in ("helpline", "unknown", "check_in", "crisis_suicide", "crisis_danger"):
        for lang, text in texts.get(key, {}).items():
            if HELPLINE_NUMBER not in text:
                texts_file.problem(f"{key}.{lang}", f"must contain {HELPLINE_NUMBER}")

    lang_file = _Reader(root, root / "intents" / "_languages.yaml", problems)
    markers = LanguageMarkers(
        english=frozenset(w.casefold() for w in lang_file.strings(lang_file.data, "en", "")),
        romanised_khmer=frozenset(w.casefold() for w in lang_file.strings(lang_file.data, "kh-latn", "")),
        khmer=frozenset(normalise(w) for w in lang_file.strings(lang_file.data, "km", "")),
    )

    classes = _load_classes(root, problems)
    crisis_file = _Reader(root, root / "intents" / "_crisis.yaml", problems)
    phrases = list(crisis_file.phrases(crisis_file.data, "suicide", "suicide", "crisis", classes))
    phrases += crisis_file.phrases(crisis_file.data, "danger", "danger", "crisis", classes)
    phrases += crisis_file.phrases(crisis_file.data, "exclude", "exclude", "crisis_exclude", classes)
    phrases += crisis_file.phrases(crisis_file.data, "now", "now", "crisis_now", classes)
    phrases += crisis_file.phrases(crisis_file.data, "past", "past", "crisis_past", classes)
    phrases += crisis_file.phrases(crisis_file.data, "distress", "distress", "distress", classes)
    now_topics = frozenset(crisis_file.strings(crisis_file.data, "now_topics", ""))
    negations = frozenset(
        n.casefold()
        for lang in MATCH_LANGUAGES
        for n in crisis_file.strings(crisis_file.get(crisis_file.data, "negations", "", dict, {}), lang, "negations")
    )

    organizations = _load_organizations(root, problems)
    provinces, province_phrases = _load_provinces(root, problems)
    phrases += province_phrases
    for org in organizations.values():
        for area in org.service_area:
            if area not in provinces:
                problems.append(f"directory/partners.yaml: {org.id}.service_area: unknown province '{area}'")

    topics: dict[str, Topic] = {}
    for path in sorted((root / "intents").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        reader = _Reader(root, path, problems)
        topic = _read_topic(reader, organizations)
        if topic is None:
            continue
        if topic.id in topics:
            reader.problem("id", f"'{topic.id}' is used by another topic file too")
        topics[topic.id] = topic
        phrases += reader.phrases(reader.data, "phrases", topic.id, "topic", classes)
        phrases += reader.phrases(reader.data, "exclude", topic.id, "exclude", classes)
    if not topics:
        problems.append("intents/: no topic files found")
    for topic_id in sorted(now_topics - topics.keys()):
        problems.append(f"intents/_crisis.yaml: now_topics: unknown topic '{topic_id}'")
    for org in organizations.values():
        for topic_id in org.topics:
            if topic_id not in topics:
                problems.append(f"directory/partners.yaml: {org.id}.topics: unknown topic '{topic_id}'")
    chc = organizations.get(HELPLINE_ID)
    if chc is None or not any(c.value == HELPLINE_NUMBER for c in chc.contacts):
        problems.append(f"directory/partners.yaml: {HELPLINE_ID}: must exist with the phone {HELPLINE_NUMBER}")
    topics = dict(sorted(topics.items(), key=lambda item: (item[1].order, item[0])))
    if problems:
        raise ContentError(problems)
    phrase_set = PhraseSet(phrases)
    khmer_words = markers.khmer | phrase_set.khmer_words | negations
    return Content(
        root=root,
        topics=topics,
        organizations=organizations,
        provinces=provinces,
        texts=texts,
        markers=markers,
        phrases=phrase_set,
        negations=negations,
        now_topics=now_topics,
        khmer_words=khmer_words,
        vocabulary=khmer_words | markers.english | markers.romanised_khmer | phrase_set.latin_words,
    )


def _read_topic(reader: _Reader, organizations: Mapping[str, Organization]) -> Topic | None:
    data = reader.data
    if not isinstance(data, dict):
        if data is not None or not reader.problems:
            reader.problem("", "must be a mapping of keys (id, title, reply, ...)")
        return None
    topic_id = reader.get(data, "id", "", str)
    expected = Path(reader.name).stem
    if topic_id is not None and topic_id != expected:
        reader.problem("id", f"'{topic_id}' must match the file name '{expected}'")
    if not TOPIC_ID.fullmatch(expected):
        reader.problem("id", f"'{expected}' must be lower-case letters a-z, digits and _, starting with a letter "
                       "(rename the file too)")
    chi_category = reader.get(data, "chi_category", "", str) or ""
    if chi_category and chi_category not in CHI_CATEGORIES:
        reader.problem("chi_category", f"'{chi_category}' is not in the CHI list; use one of: "
                       + "; ".join(CHI_CATEGORIES) + " (or add it to CHI_CATEGORIES in bot/content.py)")
    partners = reader.strings(data, "partners", "")
    for i, partner in enumerate(partners):
        org = organizations.get(partner)
        if org is None:
            reader.problem(f"partners[{i}]", f"unknown organisation '{partner}' (see directory/partners.yaml)")
        elif not org.referable:
            reader.problem(f"partners[{i}]", f"'{partner}' is a supporter, never offered as a referral")
        elif expected not in org.topics:
            reader.problem(f"partners[{i}]", f"'{partner}' does not list '{expected}' in its topics in "
                           "directory/partners.yaml: add it there too, so the directory says the same")
    weight = reader.get(data, "weight", "", (int, float), 1.0)
    menu = reader.get(data, "menu", "", bool, True)
    order = reader.get(data, "order", "", int, 99)
    topic = Topic(
        id=topic_id or expected,
        title=reader.localised(data, "title", ""),
        chi_category=chi_category,
        reply=reader.localised(data, "reply", ""),
        partners=tuple(partners),
        weight=float(weight if weight is not None else 1.0),
        order=order if order is not None else 99,
        menu=bool(menu),
    )
    return topic


def _load_organizations(root: Path, problems: list[str]) -> dict[str, Organization]:
    reader = _Reader(root, root / "directory" / "partners.yaml", problems)
    organizations: dict[str, Organization] = {}
    entries = reader.get(reader.data, "organizations", "", list) or []
    for i, entry in enumerate(entries):
        org_id = reader.get(entry, "id", f"organizations[{i}]", str)
        path = org_id or f"organizations[{i}]"
        if org_id in organizations:
            reader.problem(path, "id is used twice")
        kind = reader.get(entry, "kind", path, str)
        if kind is not None and kind not in ORG_KINDS:
            reader.problem(f"{path}.kind", f"'{kind}' is not one of {', '.join(ORG_KINDS)}")
        contacts = []
        for j, raw in enumerate(reader.get(entry, "contacts", path, list, []) or []):
            where = f"{path}.contacts[{j}]"
            ctype = reader.get(raw, "type", where, str)
            if ctype is not None and ctype not in CONTACT_TYPES:
                reader.problem(f"{where}.type", f"'{ctype}' is not one of {', '.join(CONTACT_TYPES)}")
            value = reader.get(raw, "value", where, (str, int))
            source = reader.get(raw, "source", where, str)
            checked = reader.get(raw, "checked", where, dt.date)
            contacts.append(Contact(
                type=ctype or "", value=str(value or ""), label=reader.localised(raw, "label", where, required=False),
                source=source or "", checked=checked or dt.date.min,
            ))
        org = Organization(
            id=org_id or "",
            name=reader.localised(entry, "name", path),
            alternate_name=reader.get(entry, "alternate_name", path, str, "") or "",
            kind=kind or "",
            description=reader.localised(entry, "description", path),
            topics=tuple(reader.strings(entry, "topics", path)),
            service_area=tuple(reader.strings(entry, "service_area", path)),
            contacts=tuple(contacts),
        )
        if org.kind == "supporter" and (org.topics or org.contacts):
            reader.problem(path, "a supporter has no topics and no contacts: it is never offered as a referral")
        if org_id:
            organizations[org_id] = org
    return organizations


def _load_classes(root: Path, problems: list[str]) -> dict[str, list[str]]:
    """Word classes (`@parent`, `@hit`) that phrases may use; see intents/_words.yaml."""
    reader = _Reader(root, root / "intents" / "_words.yaml", problems)
    return {name: reader.strings(reader.data, name, "") for name in (reader.data or {})}


def _load_provinces(root: Path, problems: list[str]) -> tuple[dict[str, Province], list[Phrase]]:
    reader = _Reader(root, root / "directory" / "provinces.yaml", problems)
    provinces: dict[str, Province] = {}
    phrases: list[Phrase] = []
    for i, entry in enumerate(reader.get(reader.data, "provinces", "", list) or []):
        province_id = reader.get(entry, "id", f"provinces[{i}]", str)
        if not province_id:
            continue
        name = reader.localised(entry, "name", province_id)
        provinces[province_id] = Province(id=province_id, name=name)
        names = [*name.values(), *reader.strings(entry, "aliases", province_id),
                 *reader.strings(entry, "km_aliases", province_id)]
        phrases += (compile_phrase(province_id, n, role="province") for n in names)
    return provinces, phrases

