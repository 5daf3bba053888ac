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
from bot.romanised import LATIN_WORD, LEXICON_FILE, Lexicon
from bot.text import LanguageMarkers, is_khmer, normalise

REPLY_LANGUAGES = ("km", "en")
MATCH_LANGUAGES = ("km", "en", "kh-latn")
ORG_KINDS = ("government", "un", "ngo", "helpline", "emergency", "supporter")
CONTACT_TYPES = ("phone", "website", "telegram", "messenger", "email")
PHONE_MODES = ("voice", "sms")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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
    "partners_header", "no_contact", "check_in", "check_in_danger", "check_in_suicide",
    "check_in_safe", "clarify", "something_else", "counsellor_button", "more_button", "topics_button",
    "helpful_button", "not_meant_button", "thanks_feedback", "deep_link_intro", "bot_short_description",
    "bot_description", "hours", "open_now", "closed_now", "weekdays", "works_in",
)
# Telegram: inline button labels stay readable on a phone at this length; profile texts have limits.
LABEL_MAX = 24
_TEXT_LIMITS = {"bot_short_description": 120, "bot_description": 512}
_WORD = re.compile(r"\w")  # a laughter sign with a letter or digit is a word, matched whole; else an emoji


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
    modes: tuple[str, ...] = ()  # for a phone: "voice", "sms"; empty when the source does not say

    @property
    def live(self) -> bool:
        """A way to reach a person now (a phone or a chat), as opposed to a website or an email."""
        return self.type in ("phone", "telegram", "messenger")


@dataclass(frozen=True)
class Fact:
    """Where one fact about an organisation was seen, and when: `key` names it (e.g. "hours")."""

    key: str
    source: str
    checked: dt.date


@dataclass(frozen=True)
class Slot:
    """Opening times on some weekdays, in Cambodia's time (UTC+7, no daylight saving)."""

    days: tuple[str, ...]
    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class Hours:
    """When a service is open: always (24/7) or in weekly slots, with a note on public holidays."""

    always: bool
    slots: tuple[Slot, ...]
    holidays: Localised


@dataclass(frozen=True)
class Organization:
    """A partner or service in the directory (HSDS organization + service, service_area, schedule).

    Each fact beyond the name (area, hours, languages, ages, each contact) carries its own
    source and checked date in `facts` or in the contact, so a stale fact can be found.
    An empty `service_area` with `national` false means the area is not known.
    """

    id: str
    name: Localised
    alternate_name: str
    kind: str
    description: Localised
    topics: tuple[str, ...]
    service_area: tuple[str, ...]
    contacts: tuple[Contact, ...]
    national: bool = False
    hours: Hours | None = None
    languages: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    facts: tuple[Fact, ...] = ()

    @property
    def referable(self) -> bool:
        """Supporters (funders) are listed for the record but never offered to a child."""
        return self.kind != "supporter"


@dataclass(frozen=True)
class Province:
    """A province, with the names people type for it; `code` is its official (MEF) code."""

    id: str
    name: Localised
    code: str = ""


@dataclass(frozen=True)
class Topic:
    """A topic the bot recognises, with the referral it gives."""

    id: str
    title: Localised
    label: Localised  # short, for a button
    chi_category: str
    reply: Localised
    partners: tuple[str, ...]
    weight: float
    order: int
    menu: bool


@dataclass(frozen=True)
class Laughter:
    """Signs of laughing ("lol", "555", "ហាហា", "😂"): beside death words they usually mean a joke.
    Words (Latin or Khmer) are whole tokens, never part of one (បញ្ហា, problem, holds ហា);
    emoji are looked for anywhere in the text."""

    words: frozenset[str]
    marks: tuple[str, ...]

    def found(self, normalised: str, tokens: Sequence[str]) -> bool:
        return any(t in self.words for t in tokens) or any(m in normalised for m in self.marks)


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
    laughter: Laughter
    khmer_words: frozenset[str]
    vocabulary: frozenset[str]  # every word the content knows, in any language
    romanised: Lexicon  # romanised Khmer spellings of Khmer words, for the semantic layer

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


class _Unreadable(str):
    """A file that could not be read at all: every other problem may only be a consequence of it."""


class _Reader:
    """Reads one YAML file, recording problems as 'file: key: what is wrong'.

    A file that is not valid YAML (or not UTF-8) gets that one problem and no more: what it
    lacks ("is required") is a consequence, not news, and would bury the line to fix.
    """

    def __init__(self, root: Path, path: Path, problems: list[str]) -> None:
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        self.problems = problems
        self.data: Any = None
        self.unreadable = False
        try:
            with path.open(encoding="utf-8") as handle:
                self.data = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except FileNotFoundError:
            self.problem("", "file is missing")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            self._unreadable(f"{where}not valid YAML ({getattr(exc, 'problem', exc)})")
        except UnicodeDecodeError:
            self._unreadable("not UTF-8 text")

    def _unreadable(self, message: str) -> None:
        self.problems.append(_Unreadable(f"{self.name}: {message}"))
        self.unreadable = True

    def problem(self, key: str, message: str) -> None:
        if not self.unreadable:
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
    for key, limit in _TEXT_LIMITS.items():
        for lang, text in texts.get(key, {}).items():
            if len(text) > limit:
                texts_file.problem(f"{key}.{lang}", f"is {len(text)} characters; Telegram allows {limit}")
    for key in ("helpline", "unknown", "check_in", "crisis_suicide", "crisis_danger"):
        for lang, text in texts.get(key, {}).items():
            if HELPLINE_NUMBER not in text:
                texts_file.problem(f"{key}.{lang}", f"must contain {HELPLINE_NUMBER}")

    for lang, days in texts.get("weekdays", {}).items():
        if len(days.split()) != len(WEEKDAYS):
            texts_file.problem(f"weekdays.{lang}", "must name the 7 days, Monday first, separated by spaces")

    romanised = _load_romanised(root, problems)
    lang_file = _Reader(root, root / "intents" / "_languages.yaml", problems)
    markers = LanguageMarkers(
        english=frozenset(w.casefold() for w in lang_file.strings(lang_file.data, "en", "")),
        # Every spelling in the romanised lexicon is a romanised Khmer word too: "jg slab" (want
        # to die) has no word of the common list and was read as English.
        romanised_khmer=frozenset(w.casefold() for w in lang_file.strings(lang_file.data, "kh-latn", ""))
        .union(romanised.spellings),
        khmer=frozenset(normalise(w) for w in lang_file.strings(lang_file.data, "km", "")),
    )

    classes = _load_classes(root, problems)
    crisis_file = _Reader(root, root / "intents" / "_crisis.yaml", problems)
    phrases = list(crisis_file.phrases(crisis_file.data, "suicide", "suicide", "crisis", classes))
    phrases += crisis_file.phrases(crisis_file.data, "danger", "danger", "crisis", classes)
    phrases += crisis_file.phrases(crisis_file.data, "exclude", "exclude", "crisis_exclude", classes)
    phrases += crisis_file.phrases(crisis_file.data, "now", "now", "crisis_now", classes)
    for told in ("past", "story"):  # told as the past or as a story: not urgent by the words alone
        phrases += crisis_file.phrases(crisis_file.data, told, told, "crisis_told", classes)
    phrases += crisis_file.phrases(crisis_file.data, "distress", "distress", "distress", classes)
    now_topics = frozenset(crisis_file.strings(crisis_file.data, "now_topics", ""))
    negations = frozenset(
        n.casefold()
        for lang in MATCH_LANGUAGES
        for n in crisis_file.strings(crisis_file.get(crisis_file.data, "negations", "", dict, {}), lang, "negations")
    )
    laughs = [normalise(w) for w in crisis_file.strings(crisis_file.data, "laughter", "")]
    laughter = Laughter(words=frozenset(w for w in laughs if _WORD.search(w)),
                        marks=tuple(w for w in laughs if not _WORD.search(w)))

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
    if unreadable := [str(p) for p in problems if isinstance(p, _Unreadable)]:
        raise ContentError(unreadable)  # what other files miss because of them would only confuse
    if problems:
        raise ContentError(problems)
    phrase_set = PhraseSet(phrases, romanised.spellings)
    khmer_words = markers.khmer | phrase_set.khmer_words | negations | {w for w in laughter.words if is_khmer(w)}
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
        laughter=laughter,
        khmer_words=khmer_words,
        vocabulary=khmer_words | markers.english | markers.romanised_khmer | phrase_set.latin_words,
        romanised=romanised,
    )


def _read_topic(reader: _Reader, organizations: Mapping[str, Organization]) -> Topic | None:
    data = reader.data
    if not isinstance(data, dict):
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
    title = reader.localised(data, "title", "")
    label = reader.localised(data, "label", "", required=False) or title
    for lang, text in label.items():
        if len(text) > LABEL_MAX:
            reader.problem(f"label.{lang}", f"is {len(text)} characters; a button label has at most {LABEL_MAX}")
    topic = Topic(
        id=topic_id or expected,
        title=title,
        label=label,
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
        contacts = [_read_contact(reader, raw, f"{path}.contacts[{j}]")
                    for j, raw in enumerate(reader.get(entry, "contacts", path, list, []) or [])]
        facts: list[Fact] = []
        area, national = _read_area(reader, entry, path, facts)
        ages = _read_fact(reader, entry, "ages", path, facts) or {}
        min_age = reader.get(ages, "min", f"{path}.ages", int, None)
        max_age = reader.get(ages, "max", f"{path}.ages", int, None)
        if ages and min_age is None and max_age is None:
            reader.problem(f"{path}.ages", "give min, max or both (whole years)")
        languages = _read_fact(reader, entry, "languages", path, facts) or {}
        org = Organization(
            id=org_id or "",
            name=reader.localised(entry, "name", path),
            alternate_name=reader.get(entry, "alternate_name", path, str, "") or "",
            kind=kind or "",
            description=reader.localised(entry, "description", path),
            topics=tuple(reader.strings(entry, "topics", path)),
            service_area=area,
            contacts=tuple(contacts),
            national=national,
            hours=_read_hours(reader, entry, path, facts),
            languages=tuple(reader.strings(languages, "codes", f"{path}.languages")),
            min_age=min_age,
            max_age=max_age,
            facts=tuple(facts),
        )
        if org.kind == "supporter" and (org.topics or org.contacts):
            reader.problem(path, "a supporter has no topics and no contacts: it is never offered as a referral")
        if org_id:
            organizations[org_id] = org
    return organizations


def _read_contact(reader: _Reader, raw: Any, where: str) -> Contact:
    ctype = reader.get(raw, "type", where, str)
    if ctype is not None and ctype not in CONTACT_TYPES:
        reader.problem(f"{where}.type", f"'{ctype}' is not one of {', '.join(CONTACT_TYPES)}")
    modes = reader.strings(raw, "modes", where)
    for mode in modes:
        if mode not in PHONE_MODES or ctype != "phone":
            reader.problem(f"{where}.modes", f"'{mode}': a phone's modes are {', '.join(PHONE_MODES)}")
    value = reader.get(raw, "value", where, (str, int))
    source = reader.get(raw, "source", where, str)
    checked = reader.get(raw, "checked", where, dt.date)
    return Contact(
        type=ctype or "", value=str(value or ""), label=reader.localised(raw, "label", where, required=False),
        source=source or "", checked=checked or dt.date.min, modes=tuple(modes),
    )


def _read_fact(reader: _Reader, entry: Any, key: str, path: str, facts: list[Fact]) -> dict[str, Any] | None:
    """An optional block of facts with its own `source` and `checked`; None when absent."""
    block: dict[str, Any] | None = reader.get(entry, key, path, dict, None)
    if block is None:
        return None
    source = reader.get(block, "source", f"{path}.{key}", str)
    checked = reader.get(block, "checked", f"{path}.{key}", dt.date)
    facts.append(Fact(key=key, source=source or "", checked=checked or dt.date.min))
    return block


def _read_area(reader: _Reader, entry: Any, path: str, facts: list[Fact]) -> tuple[tuple[str, ...], bool]:
    """`service_area`: {provinces: [...]} or {national: true}, with source and checked.

    The older plain list of province ids is still read (without a source, which `check` reports).
    """
    if isinstance(entry, dict) and isinstance(entry.get("service_area"), list):
        return tuple(reader.strings(entry, "service_area", path)), False
    block = _read_fact(reader, entry, "service_area", path, facts)
    if block is None:
        return (), False
    provinces = tuple(reader.strings(block, "provinces", f"{path}.service_area"))
    national = reader.get(block, "national", f"{path}.service_area", bool, False) or False
    if national == bool(provinces):
        reader.problem(f"{path}.service_area", "give either provinces or national: true")
    return provinces, national


def _read_hours(reader: _Reader, entry: Any, path: str, facts: list[Fact]) -> Hours | None:
    """`hours`: open: "24/7", or weekly slots {days, opens, closes} in Cambodia's time."""
    block = _read_fact(reader, entry, "hours", path, facts)
    if block is None:
        return None
    where = f"{path}.hours"
    always = reader.get(block, "open", where, str, "") == "24/7"
    if "open" in block and not always:
        reader.problem(f"{where}.open", "the only value is \"24/7\"; give weekly slots otherwise")
    slots = []
    for k, raw in enumerate(reader.get(block, "weekly", where, list, []) or []):
        at = f"{where}.weekly[{k}]"
        days = reader.strings(raw, "days", at)
        for day in days:
            if day not in WEEKDAYS:
                reader.problem(f"{at}.days", f"'{day}' is not one of {', '.join(WEEKDAYS)}")
        opens, closes = _time(reader, raw, "opens", at), _time(reader, raw, "closes", at)
        if opens and closes:
            if opens >= closes:
                reader.problem(at, "opens must be before closes")
            slots.append(Slot(days=tuple(days), opens=opens, closes=closes))
    if always == bool(slots):
        reader.problem(where, "give either open: \"24/7\" or weekly slots")
    return Hours(always=always, slots=tuple(slots), holidays=reader.localised(block, "holidays", where, False))


def _time(reader: _Reader, node: Any, key: str, path: str) -> dt.time | None:
    text = reader.get(node, key, path, str)
    try:
        return dt.time.fromisoformat(text) if text is not None else None
    except ValueError:
        reader.problem(f"{path}.{key}", f"'{text}' is not a time like \"08:00\" (in quotes)")
        return None


def _load_classes(root: Path, problems: list[str]) -> dict[str, list[str]]:
    """Word classes (`@parent`, `@hit`) that phrases may use; see intents/_words.yaml."""
    reader = _Reader(root, root / "intents" / "_words.yaml", problems)
    return {name: reader.strings(reader.data, name, "") for name in (reader.data or {})}


def _load_romanised(root: Path, problems: list[str]) -> Lexicon:
    """intents/_romanised.yaml: each Khmer word and its Latin spellings (see bot/romanised.py)."""
    reader = _Reader(root, root / LEXICON_FILE, problems)
    if not isinstance(reader.data, dict):
        if reader.data is not None or not reader.problems:
            reader.problem("", "must map Khmer words to lists of spellings")
        return Lexicon({})
    spellings: dict[str, str] = {}
    for word in reader.data:
        if not isinstance(word, str) or not is_khmer(word):
            reader.problem(str(word), "must be a word in Khmer script")
            continue
        for i, spelling in enumerate(reader.strings(reader.data, word, "")):
            if not LATIN_WORD.fullmatch(spelling):
                reader.problem(f"{word}[{i}]", f"'{spelling}' must be lower-case Latin letters, no spaces")
            else:
                spellings.setdefault(spelling, word)
    return Lexicon(spellings)


def _load_provinces(root: Path, problems: list[str]) -> tuple[dict[str, Province], list[Phrase]]:
    """Provinces and the phrases that name them: our spellings, the official names, the districts.

    The official names are the Ministry of Economy and Finance list in places.yaml. The
    provincial town is recognised alone (unless its name is short: "Suong" is also "song",
    a monk); other districts only with a word that says
    "district" (ស្រុកពួក, "Puok district", "srok Puok"), because many of them are also
    everyday words (ពួក "group", សំបូរ "plenty"). A name two provinces share is left out.
    """
    places = _Reader(root, root / "directory" / "places.yaml", problems)
    official = places.get(places.data, "provinces", "", dict, {}) or {}
    reader = _Reader(root, root / "directory" / "provinces.yaml", problems)
    provinces: dict[str, Province] = {}
    names: dict[str, set[str]] = {}
    for i, entry in enumerate(reader.get(reader.data, "provinces", "", list) or []):
        province_id = reader.get(entry, "id", f"provinces[{i}]", str)
        if not province_id:
            continue
        name = reader.localised(entry, "name", province_id)
        code = reader.get(entry, "code", province_id, str, "") or ""
        provinces[province_id] = Province(id=province_id, name=name, code=code)
        own = {*name.values(), *reader.strings(entry, "aliases", province_id),
               *reader.strings(entry, "km_aliases", province_id)}
        if code and code not in official:
            reader.problem(f"{province_id}.code", f"'{code}' is not a province code in directory/places.yaml")
        elif code:
            own |= set(places.localised(official[code], "name", code).values())
            districts = places.get(official[code], "districts", code, dict, {}) or {}
            capital = reader.get(entry, "capital", province_id, str, "") or ""
            if capital and capital not in districts:
                reader.problem(f"{province_id}.capital", f"'{capital}' is not a district of province {code}")
            for district_code in districts:
                found = places.localised(districts, district_code, f"{code}.districts")
                khmer, english = found.get("km", "").replace(" ", ""), found.get("en", "")
                if district_code == capital:  # a short town name alone is too easily another word
                    own |= {n for n in (khmer, english) if len(n) >= (4 if is_khmer(n) else 6)}
                own |= _district_names(khmer, english)
        names[province_id] = {" ".join(normalise(n).split()) for n in own}
    owners: dict[str, set[str]] = {}
    for province_id, own in names.items():
        for n in own:
            owners.setdefault(n, set()).add(province_id)
    phrases = [compile_phrase(province_id, n, role="province")
               for province_id, own in names.items() for n in sorted(own) if len(owners[n]) == 1]
    return provinces, phrases


def _district_names(khmer: str, english: str) -> set[str]:
    """A district's name as people write it with the word for district before or after it."""
    return {*(f"{word}{khmer}" for word in ("ស្រុក", "ខណ្ឌ", "ក្រុង")),
            f"{english} district", *(f"{word} {english}" for word in ("srok", "khan", "krong"))}
