"""The one road every message takes: text in, referral out. Pure: no I/O, no Telegram.

normalise -> detect language -> match topics and crisis -> compose the reply.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.content import Content, load
from bot.matcher import Match
from bot.replies import Reply, compose, compose_check_in, compose_clarify, compose_more, reply_language
from bot.romanised import reading_text
from bot.semantic import Reading, SemanticModel, load_semantic
from bot.text import detect_language, normalise, split_known, tokenise

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
SELF_HARM = "self_harm"
# How many words before a crisis phrase a "not" cancels it ("I'm not in danger"), within its clause.
_NEGATION_WINDOW = 2
_CLAUSE_END = re.compile(r"[,.;:!?…]")
# Extra distinct phrases of a topic add a little, so corroborated topics rank higher.
_CORROBORATION = 0.25
_REPLY_CACHE = 4096
# A message read for meaning has a new word in every 10 at least, up to 20 different words:
# a real long message has hundreds; a letter run or one line pasted over and over has few.
_WORDS_PER_NEW_WORD = 10
_DISTINCT_ENOUGH = 20
# The heads may dispute an urgent phrase, or be backed by a cry for help, only in a message
# with this many other words.
_CONTEXT_WORDS = 4
# The heads lead over the phrases' topic only when they find theirs this many times as likely
# (on the development sets, top-1 rose on six of ten sets and fell by one message on one).
_LEAD_RATIO = 2.0
_KINDS = ("danger", "suicide")


@dataclass(frozen=True)
class Hints:
    """What the channel knows besides the text: a chosen language, a pressed topic button,
    an urgent situation the user named by answering "Are you safe right now?"."""

    language: str | None = None
    topic: str | None = None
    crisis: tuple[str, ...] = ()
    more: bool = False  # the topic's other organisations ("More organisations")


@dataclass(frozen=True)
class Response:
    """The engine's answer, and the anonymous facts the usage log may keep about it."""

    language: str
    intents: tuple[str, ...]
    crisis: bool
    crisis_kinds: tuple[str, ...]
    provinces: tuple[str, ...]
    partners: tuple[str, ...]
    reply: str  # plain text (console, classify)
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    check_in: bool = False  # the reply asks "Are you safe right now?"
    choices: tuple[str, ...] = ()  # the reply asks "Is this about ...?" with these topics
    confidence: float = 0.0  # 1.0 for a phrase match, else the semantic probability of intents[0]
    html: str = ""  # the same reply as Telegram HTML: names in bold, every content string escaped
    more: bool = False  # the reply lists a topic's other organisations

    @property
    def matched(self) -> bool:
        """Whether the bot recognised anything it can help with."""
        return self.intents != (UNKNOWN,)

    @property
    def form(self) -> str:
        """What the reply does: urgent, check_in, clarify, referral, menu (nothing recognised),
        or fixed (a channel's own text, such as /help, made without the engine: no intents)."""
        if not self.intents:
            return "fixed"
        if self.crisis:
            return "urgent"
        if self.check_in:
            return "check_in"
        if self.choices:
            return "clarify"
        return "referral" if self.matched else "menu"


@dataclass(frozen=True)
class _Urgency:
    """What the phrases say about urgency."""

    kinds: tuple[str, ...]  # crisis kinds named and counted
    suicide_named: bool  # suicide named in words an exclusion says are not urgent
    discounted: bool  # urgent-sounding words negated or excluded ("I'm not in danger")
    now: bool  # words saying it is happening now, not told as the past or as a story
    inferred: bool  # danger only from a violent topic and a "now" word, no urgent phrase naming it
    distress: bool  # a plain cry for help or fear ("help me", "sos", "I'm scared")
    doubted: tuple[str, ...]  # crisis kinds named laughing, told as the past or as a story ("I want
    # to die 😂", "years ago I tried to end my life", "a film where she jumps"): urgent only when the
    # heads find them likely too
    says_more: bool  # _CONTEXT_WORDS words beyond the urgent phrases: context the heads read, the phrases not


class Engine:
    """Turns messages into referrals using one loaded, validated Content.

    Phrases first (precise, explainable); then, when a semantic model is given, its heads:
    crisis is phrase crisis OR semantic crisis, a topic the phrases missed comes from the
    heads when they are confident, and when they are unsure the reply asks instead of guessing.
    """

    def __init__(self, content: Content, semantic: SemanticModel | None = None) -> None:
        self.content = content
        self.semantic = semantic
        self._replies: dict[tuple[object, ...], Reply] = {}

    def respond(self, text: str, hints: Hints = Hints()) -> Response:
        """The reply to one message; never raises on any input text."""
        normalised = normalise(text if isinstance(text, str) else "")
        tokens = split_known(tokenise(normalised, self.content.khmer_words), self.content.khmer_words)
        language = detect_language(normalised, tokens, self.content.markers)
        by_role: dict[str, list[Match]] = defaultdict(list)
        for match in self.content.phrases.find(tokens, variants=language == "kh-latn"):
            by_role[match.phrase.role].append(match)
        vetoed = frozenset(m.phrase.label for m in by_role["exclude"])  # "សាលាក្តី" (court) is not school
        scores = self._score_topics(by_role, vetoed)
        urgency = self._crisis(by_role, normalised, tokens, scores.keys())
        kinds = set(urgency.kinds) | {k for k in hints.crisis if k in _KINDS}
        if hints.topic == SELF_HARM:
            kinds.add("suicide")  # the self-harm button is the same cry for help as typing it
        intents = sorted(scores, key=lambda t: (-scores[t], self.content.topics[t].order))
        confidence = 1.0 if intents else 0.0
        reading = self.semantic.read(reading_text(self.content.romanised, normalised, language)) \
            if self.semantic and hints.topic is None and self._readable(tokens) else None
        # A plain "help me", "sos", "I'm scared" with no topic the phrases know asks "Are you safe?".
        # ("Where can I get help in Battambang?" names a place: a question, not a cry.)
        cry = not kinds and not intents and urgency.distress and not by_role["province"] \
            and not self._off_topic(reading)
        check_in = cry or (not kinds and bool(urgency.doubted))
        choices: tuple[str, ...] = ()
        if reading is not None:
            # "help me please" alone: the heads' topic would be a guess from three words.
            bare_cry = cry and not urgency.says_more
            kinds, ask = self._semantic_crisis(kinds, reading, urgency, scores.keys())
            check_in = not kinds and (cry or ask)
            if intents:
                intents = self._semantic_first(intents, reading, vetoed)
            elif not bare_cry:
                intents, choices, confidence = self._semantic_topics(reading, vetoed)
        ordered = tuple(k for k in _KINDS if k in kinds)
        # Danger now with a suicide reading that only the heads found ("they are waiting to beat me
        # tonight, please help"): the urgent reply gives both lines, and the topic stays what the
        # message is about; the heads' suicide score rises with any urgent message.
        heads_suicide = "suicide" not in urgency.kinds and "suicide" not in hints.crisis \
            and hints.topic != SELF_HARM and "danger" in kinds
        if "suicide" in kinds and SELF_HARM in self.content.topics and not heads_suicide:
            intents = _first(SELF_HARM, intents)
        elif (urgency.suicide_named or "suicide" in kinds) and SELF_HARM in self.content.topics \
                and SELF_HARM not in intents:
            intents.append(SELF_HARM)  # e.g. a school project on suicide prevention: the topic, no alarm
        if hints.topic is not None and hints.topic in self.content.topics:
            intents = _first(hints.topic, intents)
        if ordered or check_in or (hints.topic is not None):
            choices = ()
        provinces = tuple(dict.fromkeys(m.phrase.label for m in by_role["province"]))
        lang = reply_language(language, hints.language)
        topic = intents[0] if intents else None
        more = hints.more and hints.topic in self.content.topics and not ordered
        reply = self._compose(lang, topic, ordered, provinces, check_in, choices, more)
        return Response(
            language=language,
            intents=tuple(intents) or (UNKNOWN,),
            crisis=bool(ordered),
            crisis_kinds=ordered,
            provinces=provinces,
            partners=reply.partners,
            reply=reply.text,
            html=reply.html,
            scores=scores,
            check_in=check_in,
            choices=choices,
            confidence=round(confidence, 3),
            more=more,
        )

    def _semantic_crisis(self, kinds: set[str], reading: Reading, urgency: _Urgency,
                         topics: Collection[str]) -> tuple[set[str], bool]:
        """The crisis kinds once the heads have read the message, and whether to ask "Are you safe?".

        A likely reading is urgent only when the phrases back it: a plain cry for help, or for
        danger words saying "now" or a violent topic they recognised. Alone it asks: the small
        model confuses "I love my life" with "end my life", and "Are you safe right now?" costs
        one tap when it is wrong either way. When the phrases explain the urgent-sounding words
        as not urgent ("I'm not in danger", "this homework is killing me"), it also only asks.
        An urgent phrase that the heads find unlikely (below the floor, where few urgent
        examples score) asks too, when there is no cry for help and the message has more to it
        than the phrase, context the heads read and the phrase cannot ("our team lost again, this
        game makes me want to die"); "I'm in danger" alone stays urgent. On unseen set 3 this cut urgent false
        alarms from 15 to 5 of 173 (they were asked instead) and caught as many urgent messages.
        Urgent words said laughing, told as the past or as a story (a film, a school project) are
        urgent when the heads find them likely, asked about when possible, and neither below.
        Once the reply is urgent, a second backed kind the heads find possible joins it, since no
        question can be asked beside the urgent reply ("please help, my stepdad is hitting mum
        and I just want it all to end" gives the danger and the suicide lines).
        """
        assert self.semantic is not None
        t = self.semantic.thresholds
        heard = urgency.distress or not urgency.says_more
        low = set() if heard else {k for k in kinds if reading.crisis[k] < t.crisis_floor[k]}
        # Danger only inferred from a topic and "now" ("now I am 20, but as a child...") is dropped
        # without asking when the heads, reading the whole message, find it this unlikely.
        disputed = bool(low - ({"danger"} if urgency.inferred else set()))
        kinds = kinds - low
        likely = {k for k, p in reading.crisis.items() if p >= t.crisis_likely[k]}
        in_band = {k for k, p in reading.crisis.items() if p >= t.crisis_possible[k]}
        possible = bool(likely or in_band)
        if urgency.doubted:  # laughing, the past, a story: the heads decide between urgent, asking, and neither
            return kinds | (likely & set(urgency.doubted)), possible
        if urgency.discounted:
            return kinds, bool(likely) or disputed
        # A cry for help backs the heads only when the message says more than the cry: "help me
        # please" alone is asked about (the heads cannot know more than those words).
        cry = urgency.distress and urgency.says_more
        backed = {"suicide": cry, "danger": urgency.now or cry or bool(self.content.now_topics.intersection(topics))}
        urgent = kinds | {k for k in likely if backed[k]}
        if urgent:  # the urgent reply is given anyway: a backed kind the heads find possible joins it
            urgent |= {k for k in in_band if backed[k]}
        return urgent, possible or disputed

    def _readable(self, tokens: Sequence[str]) -> bool:
        """Worth reading for meaning: some word the content knows, and not a few words over and
        over (an embedding finds a topic even in "ကကကက...", "កខគឃង" repeated or a keyboard mash)."""
        distinct = len(set(tokens))
        return any(t in self.content.vocabulary for t in tokens) and (len(tokens) == 1 or distinct > 1) \
            and distinct >= min(len(tokens) // _WORDS_PER_NEW_WORD, _DISTINCT_ENOUGH)

    def _off_topic(self, reading: Reading | None) -> bool:
        """The heads are sure the message is about nothing the bot helps with ("help me with my homework")."""
        return reading is not None and self.semantic is not None and reading.top[0] == UNKNOWN \
            and reading.top[1] >= self.semantic.thresholds.topic_confident

    def _semantic_first(self, intents: list[str], reading: Reading, vetoed: Collection[str]) -> list[str]:
        """The phrases' topics, led by the heads' topic when they are confident of a help topic.

        A phrase sees words, the heads the whole message: "my daughter is on TikTok until 2am"
        names an app, and is about parenting. The heads lead from `topic_lead` (see training),
        and when they find their topic at least _LEAD_RATIO times as likely as the phrases' own
        ("I need parenting advice, we live in Kratie": the heads had learnt places as family
        separation). The heads' "unknown" never removes a topic the phrases found, nor does a
        topic whose `exclude` phrases the message holds lead.
        """
        assert self.semantic is not None
        best, p = reading.top
        if best in self.content.topics and best not in vetoed and p >= self.semantic.thresholds.topic_lead \
                and p >= _LEAD_RATIO * dict(reading.topics).get(intents[0], 0.0):
            return _first(best, intents)
        return intents

    def _semantic_topics(self, reading: Reading, vetoed: Collection[str]) -> tuple[list[str], tuple[str, ...], float]:
        """(intents, topics to ask about, confidence) from the heads, for a message the phrases missed;
        never a topic whose `exclude` phrases the message holds, as for the phrases."""
        assert self.semantic is not None
        t = self.semantic.thresholds
        ranked = [(topic, p) for topic, p in reading.topics if topic in self.content.topics and topic not in vetoed]
        if not ranked or ranked[0][1] < t.topic_unsure:
            return [], (), 0.0
        best, p = ranked[0]
        if p >= t.topic_confident:
            return [best] + [topic for topic, q in ranked[1:] if q >= t.topic_unsure], (), p
        choices = tuple(topic for topic, _ in ranked if self.content.topics[topic].menu)[:2]
        return list(choices), choices, p

    def _compose(self, lang: str, topic: str | None, crisis_kinds: tuple[str, ...],
                 provinces: tuple[str, ...], check_in: bool, choices: tuple[str, ...], more: bool) -> Reply:
        """The reply, remembered: it depends only on these few values, and they repeat."""
        key = (lang, topic, crisis_kinds, provinces, check_in, choices, more)
        if key not in self._replies:
            if len(self._replies) >= _REPLY_CACHE:
                self._replies.clear()
            if more and topic:
                self._replies[key] = compose_more(self.content, lang, topic, provinces)
            elif check_in:
                self._replies[key] = compose_check_in(self.content, lang)
            elif choices:
                self._replies[key] = compose_clarify(self.content, lang, choices)
            else:
                self._replies[key] = compose(self.content, lang, [topic] if topic else [], crisis_kinds, provinces)
        return self._replies[key]

    def _score_topics(self, by_role: Mapping[str, list[Match]], vetoed: Collection[str]) -> dict[str, float]:
        """Score each matched topic, unless vetoed, by its most specific phrase, plus corroboration."""
        by_topic: dict[str, list[float]] = defaultdict(list)
        for match in by_role["topic"]:
            if match.phrase.label not in vetoed:
                by_topic[match.phrase.label].append(match.phrase.specificity)
        scores = {}
        for topic_id, found in by_topic.items():
            found.sort(reverse=True)
            extra = _CORROBORATION * min(len(found) - 1, 2)
            scores[topic_id] = round((found[0] + extra) * self.content.topics[topic_id].weight, 3)
        return scores

    def _crisis(self, by_role: Mapping[str, list[Match]], normalised: str, tokens: Sequence[str],
                topics: Collection[str]) -> _Urgency:
        """Which urgent situations the phrases name ("danger" now, "suicide"), and the clues the
        semantic layer needs: words said to be not urgent, words saying "now", a plain cry for help.

        Danger is also a violent topic together with words saying it is happening now
        ("my uncle touches me... he's in the house right now"), unless it is told as the past or as
        a story. Said laughing, or told as the past or a story without a cry for help, nothing
        counts as urgent: the bot asks instead; with the heads, they decide (see _semantic_crisis).
        """
        blocked = [m.span for m in by_role["crisis_exclude"]]

        def excluded(match: Match) -> bool:
            return any(_overlaps(match.span, b) for b in blocked)

        # A negated urgent phrase negates the phrases inside it too: in "អត់មែនចង់សម្លាប់ខ្លួនទេ" (it's
        # not that I want to kill myself) "សម្លាប់ខ្លួន" starts after the negation's window.
        negated = [m.span for m in by_role["crisis"] if self._negated(m, tokens, normalised)]

        def counts(match: Match) -> bool:
            return not self._negated(match, tokens, normalised) and not excluded(match) \
                and not any(_overlaps(match.span, n) for n in negated)

        urgent = [m for m in by_role["crisis"] if counts(m)]
        kinds = {m.phrase.label for m in urgent}
        covered = {i for m in urgent for i in range(*m.span)}
        happening_now = any(counts(m) for m in by_role["crisis_now"]) and not by_role["crisis_told"]
        inferred = happening_now and "danger" not in kinds and bool(self.content.now_topics.intersection(topics))
        if inferred:
            kinds.add("danger")
        joking = self.content.laughter.found(normalised, tokens)
        told = bool(urgent and by_role["crisis_told"]) and not by_role["distress"]  # "...and now, help me" is a cry
        named = tuple(k for k in _KINDS if k in kinds)
        return _Urgency(
            kinds=() if joking or told else named,
            suicide_named=any(m.phrase.label == "suicide" and (excluded(m) or told) for m in by_role["crisis"]),
            discounted=joking or told or bool(blocked) or any(not counts(m) for m in by_role["crisis"]),
            now=happening_now,
            inferred=inferred,
            says_more=len(tokens) - len(covered) >= _CONTEXT_WORDS,
            distress=bool(by_role["distress"]),
            doubted=named if joking or told else (),
        )

    def _negated(self, match: Match, tokens: Sequence[str], normalised: str) -> bool:
        """A negation a few words before the phrase, in the same clause: "I'm not suicidal" is
        negated, "not good, want to die" is not (the "not" belongs to "good")."""
        start = match.span[0]
        near = [i for i in range(max(0, start - _NEGATION_WINDOW), start) if tokens[i] in self.content.negations]
        if not near:
            return False
        at = _offsets(normalised, tokens[: start + 1])
        return at is None or any(not _CLAUSE_END.search(normalised, at[i], at[start]) for i in near)


def load_engine(root: Path | None = None) -> Engine:
    """The content (raises ContentError) and, unless HELPLINE_SEMANTIC=off, the semantic layer.

    A semantic layer that cannot load is logged once; the bot then answers with phrases alone.
    """
    content = load(root)
    if os.environ.get("HELPLINE_SEMANTIC", "on").lower() in ("off", "0", "no", "false"):
        log.info("semantic layer off (HELPLINE_SEMANTIC)")
        return Engine(content)
    status = load_semantic(content.root)
    if status.model is None or status.stale:
        log.warning("%s", status.message)
    else:
        log.info("%s", status.message)
    return Engine(content, status.model)


def _first(topic: str, intents: list[str]) -> list[str]:
    """`intents` with `topic` moved (or added) to the front."""
    return [topic] + [t for t in intents if t != topic]


def _offsets(normalised: str, tokens: Sequence[str]) -> list[int] | None:
    """Where each token starts in the text it was cut from (None if one is not found in order)."""
    found, pos = [], 0
    for token in tokens:
        pos = normalised.find(token, pos)
        if pos < 0:
            return None
        found.append(pos)
        pos += len(token)
    return found


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
