"""The partner directory as facts: opening hours, service areas, review and export.

Pure functions over the loaded content. Replies use `hours_note`, `area_note`,
`live_first` and `rank_by_province`; `helpline-bot check` uses `review`; `helpline-bot
directory` writes the directory as Open Referral HSDS 3.0 JSON (for other referral tools)
or as a CSV with one row per fact (for partners to review their own entries).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.content import WEEKDAYS, Contact, Content, Hours, Organization

# Cambodia keeps UTC+7 all year (no daylight saving): no time-zone database needed.
CAMBODIA = dt.timezone(dt.timedelta(hours=7), "ICT")
STALE_AFTER = dt.timedelta(days=365)
# Stable ids: the same directory id always gives the same UUID, in every export.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cambodia-protect-helpline-bot:directory")
_HSDS_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_CHI = "Child Helpline International data framework (categories)"
_TOPICS = "helpline-bot topics"
_CHANNELS = "helpline-bot contact channels"
CSV_COLUMNS = ("id", "organisation", "fact", "value", "source", "checked")


def rank_by_province(orgs: Iterable[Organization], provinces: Sequence[str]) -> list[Organization]:
    """Partners working in a province the user named first; otherwise the order is kept."""
    named = set(provinces)
    return sorted(orgs, key=lambda org: not named & set(org.service_area))


def live_first(contacts: Iterable[Contact]) -> list[Contact]:
    """A phone or a chat (something a child can use now) before websites and email."""
    return sorted(contacts, key=lambda contact: not contact.live)


def is_open(hours: Hours, now: dt.datetime) -> bool:
    """Whether the service is open at `now` (any time zone; compared in Cambodia's time)."""
    if hours.always:
        return True
    local = now.astimezone(CAMBODIA)
    day, time = WEEKDAYS[local.weekday()], local.time().replace(tzinfo=None)
    return any(day in slot.days and slot.opens <= time < slot.closes for slot in hours.slots)


def hours_note(content: Content, org: Organization, lang: str, now: dt.datetime | None = None) -> str:
    """"Open Mon–Fri 08:00–17:00 (Cambodia time), open now" for a partner that is not 24/7.

    Empty for a 24/7 service (its contact label says so) and when the hours are not known.
    Without `now` it gives the hours only: a reply that may be cached must not say "open now".
    """
    hours = org.hours
    if hours is None or hours.always:
        return ""
    names = dict(zip(WEEKDAYS, content.text("weekdays", lang).split(), strict=True))
    slots = ", ".join(
        f"{_days(slot.days, names)} {slot.opens:%H:%M}–{slot.closes:%H:%M}" for slot in hours.slots
    )
    note = content.text("hours", lang).format(slots=slots)
    if now is not None:
        note += ", " + content.text("open_now" if is_open(hours, now) else "closed_now", lang)
    if hours.holidays:
        note += f". {hours.holidays[lang]}"
    return note


def _days(days: Sequence[str], names: dict[str, str]) -> str:
    """Consecutive weekdays as a range (Mon–Fri), others listed."""
    indexes = sorted(WEEKDAYS.index(d) for d in days)
    if len(indexes) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return f"{names[WEEKDAYS[indexes[0]]]}–{names[WEEKDAYS[indexes[-1]]]}"
    return ", ".join(names[WEEKDAYS[i]] for i in indexes)


def area_note(content: Content, org: Organization, lang: str) -> str:
    """"Works in: Battambang" for a partner that works in some provinces only."""
    if not org.service_area:
        return ""
    names = ", ".join(content.provinces[p].name[lang] for p in org.service_area if p in content.provinces)
    return content.text("works_in", lang).format(provinces=names)


def review(content: Content, today: dt.date) -> list[str]:
    """Warnings for a pre-launch review: facts checked over 12 months ago, facts without a
    source, and partners a child cannot reach by phone or chat (the bot then points to 1280)."""
    warnings = []
    for org in content.organizations.values():
        dated = [(f"{org.id}.contacts[{j}] ({c.value})", c.checked) for j, c in enumerate(org.contacts)]
        dated += [(f"{org.id}.{fact.key}", fact.checked) for fact in org.facts]
        for where, checked in dated:
            if today - checked > STALE_AFTER:
                warnings.append(f"directory/partners.yaml: {where}: checked {checked}, more than 12 months "
                                "ago: check it again against its source and update `checked`")
        if org.service_area and not any(f.key == "service_area" for f in org.facts):
            warnings.append(f"directory/partners.yaml: {org.id}.service_area: no source and checked date "
                            "(write it as provinces: [...] with source and checked)")
        if org.referable and not org.contacts:
            warnings.append(f"directory/partners.yaml: {org.id}: no contact at all (the reply points to 1280)")
        elif org.referable and not any(c.live for c in org.contacts):
            warnings.append(f"directory/partners.yaml: {org.id}: no phone or chat contact, "
                            "only a website or an email")
    return warnings


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _url(value: str) -> str:
    return value if "://" in value else f"https://{value}"


def hsds(content: Content) -> list[dict[str, Any]]:
    """The directory as HSDS 3.0 organizations, each with its referral service nested."""
    return [_organization(content, org) for org in content.organizations.values()]


def _organization(content: Content, org: Organization) -> dict[str, Any]:
    out: dict[str, Any] = {"id": _uuid("organization", org.id), "name": org.name["en"],
                           "description": org.description["en"]}
    if org.alternate_name:
        out["alternate_name"] = org.alternate_name
    if website := next((c.value for c in org.contacts if c.type == "website"), None):
        out["website"] = _url(website)
    if email := next((c.value for c in org.contacts if c.type == "email"), None):
        out["email"] = email
    if org.referable:  # supporters fund the campaign: listed, but they offer no service
        out["services"] = [_service(content, org, out)]
    return out


def _service(content: Content, org: Organization, organization: dict[str, Any]) -> dict[str, Any]:
    """One service per partner: what the bot refers to, with its phones, hours, area and topics."""
    service_id = _uuid("service", org.id)
    checked = [c.checked for c in org.contacts] + [f.checked for f in org.facts]
    service: dict[str, Any] = {
        "id": service_id, "organization_id": organization["id"], "name": org.name["en"],
        "description": org.description["en"], "status": "active",
        "phones": [
            {"id": _uuid("phone", org.id, str(j), mode), "service_id": service_id, "number": c.value,
             **({"type": {"sms": "text"}.get(mode, mode)} if mode else {}),
             **({"description": c.label["en"]} if c.label else {})}
            for j, c in enumerate(org.contacts) if c.type == "phone" for mode in (c.modes or ("",))
        ],
        "schedules": _schedules(org, service_id),
        "service_areas": _areas(content, org, service_id),
        "languages": [{"id": _uuid("language", org.id, code), "service_id": service_id, "code": code}
                      for code in org.languages],
        "attributes": list(_attributes(content, org, service_id)),
    }
    if checked:
        service["assured_date"] = min(checked).isoformat()  # every fact was verified on or after it
    if "website" in organization:
        service["url"] = organization["website"]
    if org.min_age is not None:
        service["minimum_age"] = org.min_age
    if org.max_age is not None:
        service["maximum_age"] = org.max_age
    return service


def _schedules(org: Organization, service_id: str) -> list[dict[str, Any]]:
    hours = org.hours
    if hours is None:
        return []
    week = [(WEEKDAYS, dt.time(0, 0), dt.time(23, 59))] if hours.always else [
        (slot.days, slot.opens, slot.closes) for slot in hours.slots]
    return [{
        "id": _uuid("schedule", org.id, str(k)), "service_id": service_id, "freq": "WEEKLY", "wkst": "MO",
        "byday": ",".join(_HSDS_DAYS[WEEKDAYS.index(d)] for d in days), "opens_at": f"{opens:%H:%M}",
        "closes_at": f"{closes:%H:%M}", "timezone": 7,
        **({"description": "24 hours a day, 7 days a week"} if hours.always else {}),
        **({"notes": hours.holidays["en"]} if hours.holidays else {}),
    } for k, (days, opens, closes) in enumerate(week)]


def _areas(content: Content, org: Organization, service_id: str) -> list[dict[str, Any]]:
    if org.national:
        return [{"id": _uuid("service_area", org.id, "KH"), "service_id": service_id, "name": "Cambodia",
                 "description": "the whole country"}]
    return [{"id": _uuid("service_area", org.id, p), "service_id": service_id,
             "name": content.provinces[p].name["en"],
             **({"description": f"province code {content.provinces[p].code} (MEF)"}
                if content.provinces[p].code else {})}
            for p in org.service_area if p in content.provinces]


def _attributes(content: Content, org: Organization, service_id: str) -> Iterator[dict[str, Any]]:
    """Our topics and their CHI categories as taxonomy terms; chat links as channel terms."""
    terms = []
    for topic_id in org.topics:
        topic = content.topics[topic_id]
        terms.append((_TOPICS, topic.id, topic.title["en"], ""))
        if topic.chi_category:
            terms.append((_CHI, topic.chi_category, topic.chi_category, ""))
    terms += [(_CHANNELS, c.type, c.type.capitalize(), _url(c.value))
              for c in org.contacts if c.type in ("telegram", "messenger")]
    for taxonomy, code, name, value in dict.fromkeys(terms):
        term_id = _uuid("taxonomy_term", taxonomy, code)
        yield {
            "id": _uuid("attribute", org.id, taxonomy, code), "link_id": service_id, "link_type": "service",
            "link_entity": "service", "taxonomy_term_id": term_id,
            **({"value": value} if value else {}),
            "taxonomy_term": {"id": term_id, "code": code, "name": name, "description": f"{taxonomy}: {name}",
                              "taxonomy": taxonomy},
        }


def csv_rows(content: Content) -> Iterator[dict[str, str]]:
    """One row per fact with its source and checked date, for a partner to confirm or correct."""
    for org in content.organizations.values():
        base = {"id": org.id, "organisation": org.name["en"]}
        facts = {f.key: f for f in org.facts}
        for contact in org.contacts:
            label = contact.label.get("en", "")
            yield {**base, "fact": f"contact ({contact.type})",
                   "value": contact.value + (f" ({label})" if label else ""),
                   "source": contact.source, "checked": contact.checked.isoformat()}
        values = {
            "service_area": "whole country" if org.national else ", ".join(
                content.provinces[p].name["en"] for p in org.service_area if p in content.provinces),
            "hours": _hours_text(content, org),
            "languages": ", ".join(org.languages),
            "ages": "" if org.min_age is None and org.max_age is None else
                    "–".join("" if a is None else str(a) for a in (org.min_age, org.max_age)),
        }
        for key, value in values.items():
            fact = facts.get(key)
            yield {**base, "fact": key, "value": value, "source": fact.source if fact else "",
                   "checked": fact.checked.isoformat() if fact else ""}


def _hours_text(content: Content, org: Organization) -> str:
    if org.hours is None:
        return ""
    return "24/7" if org.hours.always else hours_note(content, org, "en")


def write(content: Content, fmt: str, out: Path) -> Path:
    """Write the export into folder `out`; returns the file written."""
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "hsds":
        path = out / "organizations.json"
        path.write_text(json.dumps(hsds(content), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(content))
    path = out / "directory.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")  # with a BOM, spreadsheets read Khmer right
    return path
