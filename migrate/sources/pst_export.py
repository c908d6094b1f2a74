"""Contacts, calendar items, tasks and notes of a .pst as .vcf and .ics files.

They are not mail and are never uploaded; ``plan --export-non-mail DIR``
writes them so that nothing in the file is silently left behind: vCard 3.0
(RFC 2426) for contacts and distribution lists, iCalendar (RFC 5545) for
appointments (VEVENT), tasks (VTODO), notes and journal entries (VJOURNAL).

Many of their fields are MAPI *named* properties, whose tags differ from file
to file; :class:`NamedProps` reads the file's name-to-id map (MS-PST 2.4.7)
to find them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path

from migrate.sources.pst_mime import BODY, DISPLAY_NAME, SUBJECT, Props, clean_subject
from migrate.sources.pst_props import EPOCH_1601

PSETID_ADDRESS = uuid.UUID("00062004-0000-0000-c000-000000000046")
PSETID_APPOINTMENT = uuid.UUID("00062002-0000-0000-c000-000000000046")
PSETID_TASK = uuid.UUID("00062003-0000-0000-c000-000000000046")
PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")

# (property set, long id) of the named properties used here (MS-OXPROPS)
EMAIL1, EMAIL2, EMAIL3 = ((PSETID_ADDRESS, lid) for lid in (0x8083, 0x8093, 0x80A3))
START, END, LOCATION, ALL_DAY = ((PSETID_APPOINTMENT, lid)
                                 for lid in (0x820D, 0x820E, 0x8208, 0x8215))
TASK_START, TASK_DUE, TASK_DONE = ((PSETID_TASK, lid) for lid in (0x8104, 0x8105, 0x811C))
GIVEN, SURNAME, COMPANY, TITLE = 0x3A06, 0x3A11, 0x3A16, 0x3A17
PHONES = {"WORK": 0x3A08, "HOME": 0x3A09, "CELL": 0x3A1C, "FAX": 0x3A24}


class NamedProps:
    """(property set GUID, long id) -> the property tag this file uses for it."""

    def __init__(self, pst_file):
        self.tags: dict[tuple[uuid.UUID, int], int] = {}
        item = pst_file.get_name_to_id_map()
        if item is None:
            return
        streams = Props(item)
        guids = streams.raw(0x0002) or b""
        entries = streams.raw(0x0003) or b""
        for at in range(0, len(entries) - 7, 8):
            number = int.from_bytes(entries[at:at + 4], "little")
            guid_and_kind = int.from_bytes(entries[at + 4:at + 6], "little")
            index = int.from_bytes(entries[at + 6:at + 8], "little")
            if guid_and_kind & 1:
                continue  # named by string: none of ours are
            guid_index = guid_and_kind >> 1
            if guid_index == 1:
                guid = PS_MAPI
            elif guid_index == 2:
                guid = PS_PUBLIC_STRINGS
            else:
                raw = guids[(guid_index - 3) * 16:(guid_index - 2) * 16]
                if len(raw) != 16:
                    continue
                guid = uuid.UUID(bytes_le=raw)
            self.tags[(guid, number)] = 0x8000 + index

    def tag(self, name: tuple[uuid.UUID, int]) -> int | None:
        return self.tags.get(name)


def vcard_escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Content lines of at most 75 octets (RFC 5545 3.1, RFC 2426 2.6)."""
    out: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def vcard_lines(rows: list[str]) -> str:
    return "".join(_fold(row) + "\r\n" for row in rows)


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _named_time(props: Props, named: NamedProps, name) -> dt.datetime | None:
    tag = named.tag(name)
    return props.time(tag) if tag else None


def _named_string(props: Props, named: NamedProps, name) -> str | None:
    tag = named.tag(name)
    return props.string(tag) if tag else None


def vcard(props: Props, named: NamedProps, kind: str) -> str:
    """A contact (or a distribution list, by name only) as vCard 3.0."""
    name = props.string(DISPLAY_NAME) or clean_subject(props.string(SUBJECT)) or "(no name)"
    rows = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{vcard_escape(name)}",
            f"N:{vcard_escape(props.string(SURNAME) or '')};"
            f"{vcard_escape(props.string(GIVEN) or '')};;;"]
    for tag, field in ((COMPANY, "ORG"), (TITLE, "TITLE")):
        if value := props.string(tag):
            rows.append(f"{field}:{vcard_escape(value)}")
    for name_ in (EMAIL1, EMAIL2, EMAIL3):
        address = _named_string(props, named, name_)
        if address:
            rows.append(f"EMAIL;TYPE=INTERNET:{vcard_escape(address)}")
    for label, tag in PHONES.items():
        if value := props.string(tag):
            rows.append(f"TEL;TYPE={label}:{vcard_escape(value)}")
    note = props.string(BODY) or ""
    if "DistList" in kind:
        rows.append("X-ADDRESSBOOKSERVER-KIND:group")
        note = ("Outlook distribution list (its members are not exported). " + note).strip()
    if note.strip():
        rows.append(f"NOTE:{vcard_escape(note.strip())}")
    rows.append("END:VCARD")
    return vcard_lines(rows)


def icalendar(props: Props, named: NamedProps, kind: str, uid: str) -> str:
    """An appointment, task, note or journal entry as an iCalendar object."""
    summary = clean_subject(props.string(SUBJECT)) or ""
    body = props.string(BODY) or ""
    stamp = props.time(0x3008) or props.time(0x3007) or EPOCH_1601
    rows = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mailmigrate//PST export//EN"]
    if "Appointment" in kind:
        component = "VEVENT"
        rows += [f"BEGIN:{component}", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}"]
        start, end = _named_time(props, named, START), _named_time(props, named, END)
        if start:
            rows.append(f"DTSTART:{_utc(start)}")
        if end:
            rows.append(f"DTEND:{_utc(end)}")
        where = _named_string(props, named, LOCATION)
        if where:
            rows.append(f"LOCATION:{vcard_escape(where)}")
    elif "Task" in kind:
        component = "VTODO"
        rows += [f"BEGIN:{component}", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}"]
        for name, field in ((TASK_START, "DTSTART"), (TASK_DUE, "DUE")):
            when = _named_time(props, named, name)
            if when:
                rows.append(f"{field}:{_utc(when)}")
        done = named.tag(TASK_DONE)
        if done and props.integer(done):
            rows.append("STATUS:COMPLETED")
    else:  # notes, journal entries
        component = "VJOURNAL"
        rows += [f"BEGIN:{component}", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}"]
    if summary:
        rows.append(f"SUMMARY:{vcard_escape(summary)}")
    if body.strip():
        rows.append(f"DESCRIPTION:{vcard_escape(body.strip())}")
    rows += [f"END:{component}", "END:VCALENDAR"]
    return vcard_lines(rows)


def export_non_mail(store, directory: Path) -> dict[str, int]:
    """Write every non-mail item of *store* (a PstStore) under *directory*; counts by kind."""
    named = NamedProps(store._open())
    written: dict[str, int] = {}
    for folder, item, kind in store.non_mail_items():
        props = Props(item, codepage=store.codepage)
        ident = hashlib.sha256(f"{store.path.name}/{item.identifier}".encode()).hexdigest()[:16]
        if "Contact" in kind or "DistList" in kind:
            text, suffix = vcard(props, named, kind), ".vcf"
        elif "Microsoft" in kind:
            continue  # Outlook's own configuration: nothing a person made
        else:
            text, suffix = icalendar(props, named, kind, f"{ident}@pst.mailmigrate.invalid"), \
                ".ics"
        target = Path(directory) / store.path.stem
        if folder.name:
            target = target / Path(*[safe_file_name(p) for p in folder.name])
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{item.identifier}{suffix}").write_text(text, encoding="utf-8",
                                                           newline="")
        written[kind] = written.get(kind, 0) + 1
    return written


def safe_file_name(part: str) -> str:
    return "".join(c if c.isalnum() or c in " -_.()" else "_" for c in part).strip() or "_"
