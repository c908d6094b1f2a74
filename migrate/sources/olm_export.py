"""Contacts, groups, calendar, tasks and notes of an .olm as .vcf and .ics files.

What ``plan --export-non-mail DIR`` writes for an Outlook for Mac archive, as it
does for a .pst (``pst_export``): vCard 3.0 for contacts (name, e-mail addresses,
company, title, phones, note) and groups (their members as e-mail addresses),
iCalendar for appointments (VEVENT), tasks (VTODO) and notes (VJOURNAL). OLM
writes times without a zone: events keep them as floating local times, exactly as
written; HTML notes are reduced to their text.
"""

from __future__ import annotations

import hashlib
import html.parser
import zipfile
from pathlib import Path

from migrate.sources.olm import NON_MAIL, OlmError, parse_xml, read_member
from migrate.sources.pst_export import safe_file_name, vcard_escape, vcard_lines

FILES = {"Contacts.xml": ("contact", ".vcf"), "Groups.xml": ("group", ".vcf"),
         "Calendar.xml": ("appointment", ".ics"), "Tasks.xml": ("task", ".ics"),
         "Notes.xml": ("note", ".ics")}


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def plain(text: str | None) -> str:
    if not text:
        return ""
    if "<" not in text:
        return text.strip()
    parser = _Text()
    parser.feed(text)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line).strip()


def _get(el, tag: str) -> str:
    found = el.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _floating(value: str) -> str | None:
    digits = value.replace("-", "").replace(":", "")
    return digits[:15] if len(digits) >= 15 and digits[8] == "T" else None


def contact(el) -> str:
    name = _get(el, "OPFContactCopyDisplayName") or "(no name)"
    rows = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{vcard_escape(name)}",
            f"N:{vcard_escape(_get(el, 'OPFContactCopyLastName'))};"
            f"{vcard_escape(_get(el, 'OPFContactCopyFirstName'))};;;"]
    for tag, field in (("OPFContactCopyBusinessCompany", "ORG"),
                       ("OPFContactCopyBusinessTitle", "TITLE")):
        if _get(el, tag):
            rows.append(f"{field}:{vcard_escape(_get(el, tag))}")
    for address in el.iter("contactEmailAddress"):
        if address.get("OPFContactEmailAddressAddress"):
            rows.append(f"EMAIL;TYPE=INTERNET:{vcard_escape(address.get('OPFContactEmailAddressAddress'))}")
    for tag, kind in (("OPFContactCopyBusinessPhone", "WORK"), ("OPFContactCopyHomePhone", "HOME"),
                      ("OPFContactCopyCellPhone", "CELL"), ("OPFContactCopyBusinessFax", "FAX")):
        if _get(el, tag):
            rows.append(f"TEL;TYPE={kind}:{vcard_escape(_get(el, tag))}")
    note = plain(_get(el, "OPFContactCopyNotesPlain") or _get(el, "OPFContactCopyNotes"))
    if note:
        rows.append(f"NOTE:{vcard_escape(note)}")
    return vcard_lines(rows + ["END:VCARD"])


def group(el) -> str:
    rows = ["BEGIN:VCARD", "VERSION:3.0",
            f"FN:{vcard_escape(_get(el, 'OPFGroupCopyDisplayName') or '(no name)')}",
            "X-ADDRESSBOOKSERVER-KIND:group"]
    for member in el.iter("emailAddress"):
        address = member.get("OPFContactEmailAddressAddress")
        if address:
            rows.append(f"X-ADDRESSBOOKSERVER-MEMBER:mailto:{vcard_escape(address)}")
    return vcard_lines(rows + ["END:VCARD"])


def calendar(el, kind: str, uid: str) -> str:
    rows = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mailmigrate//OLM export//EN"]
    if kind == "appointment":
        component, summary = "VEVENT", _get(el, "OPFCalendarEventCopySummary")
        times: tuple[tuple[str, str], ...] = (("DTSTART", "OPFCalendarEventCopyStartTime"),
                                              ("DTEND", "OPFCalendarEventCopyEndTime"))
        body = plain(_get(el, "OPFCalendarEventCopyDescriptionPlain") or
                     _get(el, "OPFCalendarEventCopyDescription"))
        uid = _get(el, "OPFCalendarEventCopyUUID") or uid
    elif kind == "task":
        component, summary = "VTODO", _get(el, "OPFTaskCopyName")
        times = (("DTSTART", "OPFTaskCopyStartDateTime"), ("DUE", "OPFTaskCopyDueDateTime"),
                 ("COMPLETED", "OPFTaskCopyCompletedDateTime"))
        body = plain(_get(el, "OPFTaskCopyNotePlain") or _get(el, "OPFTaskCopyNote"))
    else:
        component, summary = "VJOURNAL", _get(el, "OPFNoteCopyTitle")
        times = (("DTSTART", "OPFNoteCopyCreationDate"),)
        body = plain(_get(el, "OPFNoteCopyText"))
    rows += [f"BEGIN:{component}", f"UID:{vcard_escape(uid)}"]
    stamp = None
    for field, tag in times:
        when = _floating(_get(el, tag))
        if when:
            rows.append(f"{field}:{when}")
            stamp = stamp or when
    rows.append(f"DTSTAMP:{stamp or '19700101T000000'}")
    if kind == "appointment" and _get(el, "OPFCalendarEventCopyLocation"):
        rows.append(f"LOCATION:{vcard_escape(_get(el, 'OPFCalendarEventCopyLocation'))}")
    if summary:
        rows.append(f"SUMMARY:{vcard_escape(summary)}")
    if body:
        rows.append(f"DESCRIPTION:{vcard_escape(body)}")
    return vcard_lines(rows + [f"END:{component}", "END:VCALENDAR"])


ITEM_TAGS = {"contact": "contact", "group": "group", "appointment": "appointment",
             "task": "task", "note": "note"}


def export_non_mail(store, directory: Path) -> dict[str, int]:
    """Write the non-mail items of every .olm of *store* under *directory*; counts by kind."""
    written: dict[str, int] = {}
    for archive_path in store.archives():
        try:
            archive = zipfile.ZipFile(archive_path)
        except (OSError, zipfile.BadZipFile):
            continue
        with archive:
            for name in archive.namelist():
                base = Path(name).name
                if base not in FILES or base not in NON_MAIL:
                    continue
                kind, suffix = FILES[base]
                try:
                    root = parse_xml(read_member(archive, name), name)
                except OlmError:
                    continue
                target = Path(directory) / archive_path.stem / Path(
                    *[safe_file_name(p) for p in Path(name).parent.parts])
                for n, el in enumerate(root.iter(ITEM_TAGS[kind])):
                    uid = hashlib.sha256(f"{archive_path.name}/{name}/{n}".encode()).hexdigest()
                    text = (contact(el) if kind == "contact" else group(el) if kind == "group"
                            else calendar(el, kind, f"{uid[:16]}@olm.mailmigrate.invalid"))
                    target.mkdir(parents=True, exist_ok=True)
                    (target / f"{kind}-{n + 1:05d}{suffix}").write_text(text, encoding="utf-8",
                                                                         newline="")
                    written[kind] = written.get(kind, 0) + 1
    return written
