"""The one road every message takes: text in, referral out. Pure: no I/O, no Telegram.

normalise -> detect language -> match topics and crisis -> compose the reply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from bot.content import Content
from bot.matcher import Match
from bot.replies import compose, reply_language
from bot.text import detect_language, normalise, split_known, tokenise

UNKNOWN = "unknown"
SELF_HARM = "self_harm"
# How many words before a crisis phrase a "not" cancels it ("I'm not in danger").
_NEGATION_WINDOW = 2
# Extra distinct phrases of a topic add a little, so corroborated topics rank higher.
_CORROBORATION = 0.25
_REPLY_CACHE = 4096


@dataclass(frozen=True)
class Hints:
    """What the channel knows besides the text: a chosen language, a pressed topic button."""

    language: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Response:
    """The engine's answer, and the anonymous facts the usage log may keep about it."""

    language: str
    intents: tuple[str, ...]
    crisis: bool
    crisis_kinds: tuple[str, ...]
    provinces: tuple[str, ...]
    partners: tuple[str, ...]
    reply: str
    scores: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def matched(self) -> bool:
        """Whether the bot recognised anything it can help with."""
        return self.intents != (UNKNOWN,)


class Engine:
    """Turns messages into referrals using one loaded, validated Content."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self._replies: dict[tuple[str, str | None, tuple[str, ...], tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}

    def respond(self, text: str, hints: Hints = Hints()) -> Response:
        """The reply to one message; never raises on any input text."""
        normalised = normalise(text if isinstance(text, str) else "")
        tokens = split_known(tokenise(normalised), self.content.khmer_words)
        language = detect_language(normalised, tokens, self.content.markers)
        by_role: dict[str, list[Match]] = defaultdict(list)
        for match in self.content.phrases.find(tokens, variants=language == "kh-latn"):
            by_role[match.phrase.role].append(match)
        scores = self._score_topics(by_role)
        crisis_kinds, suicide_named = self._crisis(by_role, tokens, scores.keys())
        intents = sorted(scores, key=lambda t: (-scores[t], self.content.topics[t].order))
        if "suicide" in crisis_kinds and SELF_HARM in self.content.topics:
            intents = _first(SELF_HARM, intents)
        elif suicide_named and SELF_HARM in self.content.topics and SELF_HARM not in intents:
            intents.append(SELF_HARM)  # e.g. a school project on suicide prevention: the topic, no alarm
        if hints.topic is not None and hints.topic in self.content.topics:
            intents = _first(hints.topic, intents)
        provinces = tuple(dict.fromkeys(m.phrase.label for m in by_role["province"]))
        lang = reply_language(language, hints.language)
        reply, partners = self._compose(lang, intents[0] if intents else None, crisis_kinds, provinces)
        return Response(
            language=language,
            intents=tuple(intents) or (UNKNOWN,),
            crisis=bool(crisis_kinds),
            crisis_kinds=crisis_kinds,
            provinces=provinces,
            partners=partners,
            reply=reply,
            scores=scores,
        )

    def _compose(self, lang: str, topic: str | None, crisis_kinds: tuple[str, ...],
                 provinces: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """compose(), remembered: a reply depends only on these few values, and they repeat."""
        key = (lang, topic, crisis_kinds, provinces)
        if key not in self._replies:
            if len(self._replies) >= _REPLY_CACHE:
                self._replies.clear()
            self._replies[key] = compose(self.content, lang, [topic] if topic else [], crisis_kinds, provinces)
        return self._replies[key]

    def _score_topics(self, by_role: Mapping[str, list[Match]]) -> dict[str, float]:
        """Score each matched topic by its most specific phrase, plus corroboration."""
        excluded = {m.phrase.label for m in by_role["exclude"]}
        by_topic: dict[str, list[float]] = defaultdict(list)
        for match in by_role["topic"]:
            if match.phrase.label not in excluded:
                by_topic[match.phrase.label].append(match.phrase.specificity)
        scores = {}
        for topic_id, found in by_topic.items():
            found.sort(reverse=True)
            extra = _CORROBORATION * min(len(found) - 1, 2)
            scores[topic_id] = round((found[0] + extra) * self.content.topics[topic_id].weight, 3)
        return scores

    def _crisis(self, by_role: Mapping[str, list[Match]], tokens: Sequence[str],
                topics: Collection[str]) -> tuple[tuple[str, ...], bool]:
        """Which urgent situations the message names ("danger" now, "suicide"), and whether
        suicide is named in words an exclusion says are not urgent.

        Danger is also a violent topic together with words saying it is happening now
        ("my uncle touches me... he's in the house right now"), unless it is told as the past.
        """
        blocked = [m.span for m in by_role["crisis_exclude"]]

        def excluded(match: Match) -> bool:
            return any(_overlaps(match.span, b) for b in blocked)

        def counts(match: Match) -> bool:
            return not self._negated(match, tokens) and not excluded(match)

        kinds = {m.phrase.label for m in by_role["crisis"] if counts(m)}
        happening_now = any(counts(m) for m in by_role["crisis_now"]) and not by_role["crisis_past"]
        if happening_now and self.content.now_topics.intersection(topics):
            kinds.add("danger")
        suicide_named = any(m.phrase.label == "suicide" and excluded(m) for m in by_role["crisis"])
        return tuple(k for k in ("danger", "suicide") if k in kinds), suicide_named

    def _negated(self, match: Match, tokens: Sequence[str]) -> bool:
        start = match.span[0]
        before = tokens[max(0, start - _NEGATION_WINDOW) : start]
        return any(t in self.content.negations for t in before)


def _first(topic: str, intents: list[str]) -> list[str]:
    """`intents` with `topic` moved (or added) to the front."""
    return [topic] + [t for t in intents if t != topic]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
