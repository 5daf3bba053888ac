"""Content loading and validation: real files, and copies broken on purpose in tmp_path."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest

from bot.content import HELPLINE_ID, HELPLINE_NUMBER, Content, ContentError, load

ROOT = Path(__file__).resolve().parent.parent
CONTACTS_MD = ROOT / "directory" / "SOURCES.md"
CHC_PHONE_SOURCE = (
    '        source: "childhelplinecambodia.org; campaign partner text (shared/seed), via shared/contacts.md"\n'
)
PAGODA_CATEGORY = 'chi_category: "Violence › Violence in institutions (religious settings)"\n'


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load(root)
    assert info.value.problems
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_real_content_loads(content: Content) -> None:
    assert HELPLINE_ID in content.organizations
    assert list(content.organizations)[0] == HELPLINE_ID
    assert len(content.provinces) == 25
    assert {"self_harm", "school_violence", "online_safety", "smalltalk"} <= set(content.topics)
    assert all(t.reply["km"] and t.reply["en"] for t in content.topics.values())


def test_unchanged_copy_loads(copy: Path) -> None:
    assert load(copy).root == copy


def test_broken_yaml_names_file_and_line(copy: Path) -> None:
    path = copy / "intents" / "pagoda.yaml"
    _edit(path, "partners: [mocr, chc, mosvy]", "partners: [mocr, chc, mosvy")
    [problem] = [p for p in _problems(copy) if "pagoda.yaml" in p]
    assert problem.startswith("intents/pagoda.yaml: ")
    line = int(re.search(r"line (\d+)", problem).group(1))  # type: ignore[union-attr]
    assert abs(line - _line_of(path, "partners: [mocr")) <= 2
    assert "YAML" in problem


def test_a_yaml_error_is_reported_alone(copy: Path) -> None:
    """What a broken file fails to define (its texts, a topic partners list) is a knock-on, not news."""
    for name in ("_texts.yaml", "school_violence.yaml"):
        path = copy / "intents" / name
        path.write_text(path.read_text(encoding="utf-8") + "\nfoo: [unclosed\n", encoding="utf-8")
    problems = _problems(copy)
    assert [p.split(":")[0] for p in problems] == ["intents/_texts.yaml", "intents/school_violence.yaml"]
    assert all("not valid YAML" in p for p in problems)


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_tab_indentation_is_reported(copy: Path) -> None:
    _edit(copy / "directory" / "provinces.yaml", "  - id: kampot", "\t- id: kampot")
    assert any(p.startswith("directory/provinces.yaml: line ") for p in _problems(copy))


def test_missing_key_names_file_and_key(copy: Path) -> None:
    _edit(copy / "intents" / "pagoda.yaml", PAGODA_CATEGORY, "")
    assert "intents/pagoda.yaml: chi_category: is required" in _problems(copy)


def test_missing_reply_language(copy: Path) -> None:
    path = copy / "intents" / "pagoda.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("reply:\n  km:")
    end = text.index("\n", start + len("reply:\n  km:"))
    path.write_text(text[: start + len("reply:\n")] + text[end + 1 :], encoding="utf-8")
    assert "intents/pagoda.yaml: reply.km: is required" in _problems(copy)


@pytest.mark.parametrize(("old", "new", "key", "says"), [
    ("partners: [mocr, chc, mosvy]", "partners: [mocr, chc, nobody_here]", "partners[2]: ", "nobody_here"),
    ("partners: [mocr, chc, mosvy]", "partners: [mocr, chc, japan]", "partners[2]: ", "supporter"),
    ("partners: [", "partners: [plan, ", "partners[0]:", "'plan'"),  # plan does not list the topic
    ("phrases:\n  en:\n", "phrases:\n  en:\n    - \"@nosuchclass hit\"\n", "phrases.en[0]:", "@nosuchclass"),
], ids=["unknown partner", "supporter as partner", "partner without the topic", "unknown word class"])
def test_a_broken_topic_file_names_the_key(copy: Path, old: str, new: str, key: str, says: str) -> None:
    _edit(copy / "intents" / "pagoda.yaml", old, new)
    problems = _problems(copy)
    assert any(p.startswith(f"intents/pagoda.yaml: {key}") and says in p for p in problems)


def test_contact_without_source(copy: Path) -> None:
    _edit(copy / "directory" / "partners.yaml", CHC_PHONE_SOURCE, "")
    assert "directory/partners.yaml: chc.contacts[0].source: is required" in _problems(copy)


def test_contact_without_checked_date(copy: Path) -> None:
    _edit(copy / "directory" / "partners.yaml", "        checked: 2026-11-25\n", "")
    assert "directory/partners.yaml: chc.contacts[0].checked: is required" in _problems(copy)


def test_unknown_topic_in_partner(copy: Path) -> None:
    _edit(copy / "directory" / "partners.yaml", "topics: [pagoda, about]", "topics: [pagoda, temples]")
    assert "directory/partners.yaml: mocr.topics: unknown topic 'temples'" in _problems(copy)


def test_unknown_province_in_service_area(copy: Path) -> None:
    _edit(copy / "directory" / "partners.yaml", "provinces: [battambang]", "provinces: [atlantis]")
    assert "directory/partners.yaml: cct.service_area: unknown province 'atlantis'" in _problems(copy)


def test_topic_id_must_match_file_name(copy: Path) -> None:
    _edit(copy / "intents" / "pagoda.yaml", "id: pagoda", "id: temple")
    assert any(p.startswith("intents/pagoda.yaml: id: ") for p in _problems(copy))


def test_topic_ids_are_plain_lower_case(copy: Path) -> None:
    path = copy / "intents" / "pagoda.yaml"
    _edit(path, "id: pagoda", "id: Pagoda")
    path.rename(copy / "intents" / "Pagoda.yaml")
    assert any(p.startswith("intents/Pagoda.yaml: id: 'Pagoda' must be lower-case") for p in _problems(copy))


@pytest.mark.parametrize("category", ['"=HYPERLINK(\\"http://x\\")"', '"Violence › Anything I like"', '"\\e[31mRed"'])
def test_chi_category_comes_from_the_chi_list(copy: Path, category: str) -> None:
    _edit(copy / "intents" / "pagoda.yaml", PAGODA_CATEGORY, f"chi_category: {category}\n")
    assert any(p.startswith("intents/pagoda.yaml: chi_category: ") and "CHI list" in p for p in _problems(copy))


def test_helpline_text_must_contain_1280(copy: Path) -> None:
    _edit(copy / "intents" / "_texts.yaml", "call or text 1280, free, 24 hours a day", "call us")
    assert "intents/_texts.yaml: helpline.en: must contain 1280" in _problems(copy)


def test_unquoted_yes_in_phrase_list(copy: Path) -> None:
    _edit(copy / "intents" / "pagoda.yaml", "    - pagodas\n", "    - yes\n")
    assert any("pagoda.yaml: phrases.en[" in p and "quotes" in p for p in _problems(copy))


def test_every_problem_is_reported_at_once(copy: Path) -> None:
    _edit(copy / "intents" / "pagoda.yaml", "partners: [mocr, chc, mosvy]", "partners: [mocr, chc, japan]")
    _edit(copy / "intents" / "about.yaml", "id: about", "id: abut")
    problems = _problems(copy)
    assert any("pagoda.yaml" in p for p in problems) and any("about.yaml" in p for p in problems)


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLINE_CONTENT_DIR": str(root), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_check_command_fails_on_a_broken_copy(copy: Path) -> None:
    _edit(copy / "directory" / "partners.yaml", CHC_PHONE_SOURCE, "")
    result = _check(copy)
    assert result.returncode == 1
    assert "directory/partners.yaml: chc.contacts[0].source: is required" in result.stdout


def test_check_command_passes_on_a_good_copy(copy: Path) -> None:
    result = _check(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Content OK" in result.stdout
    assert result.stdout.startswith(f"Checking the content in {copy} (HELPLINE_CONTENT_DIR)")


def test_every_contact_has_source_and_checked_date(content: Content) -> None:
    for org in content.organizations.values():
        for contact in org.contacts:
            assert contact.source.strip(), org.id
            assert dt.date(2020, 1, 1) <= contact.checked <= dt.date.today() + dt.timedelta(days=400), org.id


def test_supporters_are_never_offered(content: Content) -> None:
    supporters = {o.id for o in content.organizations.values() if not o.referable}
    assert supporters
    for topic in content.topics.values():
        assert not supporters & set(topic.partners), topic.id


def test_helpline_is_1280(content: Content) -> None:
    phones = [c.value for c in content.organizations[HELPLINE_ID].contacts if c.type == "phone"]
    assert HELPLINE_NUMBER in phones


@pytest.mark.parametrize(("org_id", "number"), [("police", "117"), ("fire", "118"), ("ambulance", "119")])
def test_emergency_numbers(content: Content, org_id: str, number: str) -> None:
    phones = [c.value for c in content.organizations[org_id].contacts if c.type == "phone"]
    assert phones == [number]
    assert phonenumbers.is_emergency_number(number, "KH")


def test_only_emergency_services_have_emergency_numbers(content: Content) -> None:
    for org in content.organizations.values():
        for contact in org.contacts:
            if contact.type == "phone" and phonenumbers.is_emergency_number(contact.value, "KH"):
                assert org.kind == "emergency", org.id


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_every_phone_comes_from_the_listed_sources(content: Content) -> None:
    source = CONTACTS_MD.read_text(encoding="utf-8")
    numbers = {_digits(n) for n in re.findall(r"[+(]?\d[\d ()+-]{1,}\d", source)}
    for org in content.organizations.values():
        for contact in org.contacts:
            if contact.type == "phone":
                assert contact.value in source or _digits(contact.value) in numbers, (org.id, contact.value)


def test_every_web_contact_comes_from_the_listed_sources(content: Content) -> None:
    source = CONTACTS_MD.read_text(encoding="utf-8")
    for org in content.organizations.values():
        for contact in org.contacts:
            if contact.type != "phone":
                assert contact.value in source, (org.id, contact.value)


def test_a_key_written_twice_names_file_and_line(copy: Path) -> None:
    path = copy / "intents" / "pagoda.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nweight: 2\n", encoding="utf-8")
    problems = _problems(copy)
    assert any(p.startswith("intents/pagoda.yaml: line ") and "'weight' is written twice" in p for p in problems)
