"""Outlook for Mac archives (``.olm``): a zip of XML, each message rebuilt as MIME.

Inside, ``Local/com.microsoft.__Messages/<folder>/.../message_NNNNN.xml`` holds
``<email>`` elements: addresses, subject, times, the HTML and plain bodies,
flags, categories and a list of attachments whose bytes are other members
(``com.microsoft.__Attachments/...``). An OLM keeps no internet headers, so the
message is rebuilt (``build``): From, Sender, To, Cc, Bcc, Subject, Date (the
sent time), Message-ID, X-Priority, the bodies (alternative when both differ),
the attachments (inline where they have a Content-ID, ``message/rfc822`` for
attached mail). What cannot be rebuilt is said in docs/sources/olm.md. The
bytes are the same at every read (boundaries come from the content), as the
plan's hash needs.

Read, flagged (flag status 1) and categories (keywords) are carried; the
received time is the INTERNALDATE. OLM writes times without a zone: read as
UTC. Contacts, calendar, tasks and notes are listed as not mail. The archive is
read in place, never extracted; a member larger than MAX_MEMBER, packed more
than MAX_RATIO times, or with a DTD (entity expansion) is refused by name.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
import xml.etree.ElementTree as ET
import zipfile
from email.message import EmailMessage
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator

from migrate.sources.base import SKIP_UNREADABLE, Folder, NonMail, SourceMessage, Store
from migrate.sources.flags import FLAGGED, SEEN

MESSAGES = "com.microsoft.__Messages"
ATTACHMENTS = "com.microsoft.__Attachments"
MAX_MEMBER = 1 << 30
MAX_RATIO = 200
NON_MAIL = {"Contacts.xml": "contacts", "Groups.xml": "contact groups",
            "Calendar.xml": "calendar items", "Tasks.xml": "tasks", "Notes.xml": "notes",
            "Categories.xml": "category list (read for keywords)"}


class OlmError(ValueError):
    """A member cannot be read as the format says: the sentence says why."""


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise OlmError(f"{name} is not in the archive") from None
    if info.file_size > MAX_MEMBER or (info.compress_size and
                                      info.file_size > MAX_RATIO * max(info.compress_size, 1)
                                      and info.file_size > 1 << 20):
        raise OlmError(f"{name} would unpack to {info.file_size} bytes: refused (a crafted "
                       "archive?)")
    try:
        with archive.open(info) as f:
            data = f.read(MAX_MEMBER + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise OlmError(f"{name} cannot be unpacked: {e}") from None
    if len(data) > MAX_MEMBER:
        raise OlmError(f"{name} unpacks to more than it declares: refused")
    return data


def parse_xml(data: bytes, name: str) -> ET.Element:
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise OlmError(f"{name} declares a DTD (entities are never expanded): refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise OlmError(f"{name} is not well-formed XML ({e})") from None


def _text(email_el: ET.Element, tag: str) -> str | None:
    el = email_el.find(tag)
    return el.text if el is not None and el.text is not None else None


def _true(value: str | None) -> bool:
    if not value:
        return False
    try:
        return float(value) != 0  # OLM writes 1E0 / 0E0
    except ValueError:
        return False


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _addresses(email_el: ET.Element, tag: str) -> list[str]:
    found = []
    for el in email_el.findall(f"{tag}/emailAddress"):
        address = el.get("OPFContactEmailAddressAddress") or ""
        name = el.get("OPFContactEmailAddressName") or ""
        if name.strip("'\"") == address:
            name = ""
        if address or name:
            found.append(email.utils.formataddr((name, address)))
    return found


def build(email_el: ET.Element, attachment: Callable[[str], Any]
          ) -> tuple[bytes, frozenset, frozenset, dt.datetime | None]:
    """(MIME bytes, flags, keywords, received time) of one ``<email>``; *attachment*
    gives an attachment member's bytes by its URL."""
    msg = EmailMessage(policy=email.policy.SMTP)
    for header, tag in (("From", "OPFMessageCopyFromAddresses"),
                        ("Sender", "OPFMessageCopySenderAddress"),
                        ("To", "OPFMessageCopyToAddresses"), ("Cc", "OPFMessageCopyCCAddresses"),
                        ("Bcc", "OPFMessageCopyBCCAddresses")):
        people = _addresses(email_el, tag)
        if people and not (header == "Sender" and people == _addresses(
                email_el, "OPFMessageCopyFromAddresses")):
            msg[header] = ", ".join(people)
    subject = _text(email_el, "OPFMessageCopySubject")
    if subject is not None:
        msg["Subject"] = subject
    sent = _time(_text(email_el, "OPFMessageCopySentTime"))
    received = _time(_text(email_el, "OPFMessageCopyReceivedTime"))
    when = sent or received
    if when is not None:
        msg["Date"] = email.utils.format_datetime(when)
    message_id = (_text(email_el, "OPFMessageCopyMessageID") or "").strip()
    if message_id:
        msg["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    priority = (_text(email_el, "OPFMessageGetPriority") or "3").strip()
    if priority in ("1", "2", "4", "5"):
        msg["X-Priority"] = priority
    html = _text(email_el, "OPFMessageCopyHTMLBody")
    plain = _text(email_el, "OPFMessageCopyBody")
    if plain is not None and (plain == html or plain.lstrip().startswith("<")):
        html, plain = html or plain, None
    if plain is not None:
        msg.set_content(plain, cte="quoted-printable")
        if html:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
    elif html is not None:
        msg.set_content(html, subtype="html", cte="quoted-printable")
    else:
        msg.set_content("", cte="7bit")
    for el in email_el.findall("OPFMessageCopyAttachmentList/messageAttachment"):
        _attach(msg, el, attachment(el.get("OPFAttachmentURL") or ""))
    _fix_boundaries(msg)
    data = msg.as_bytes()
    flags = {SEEN} if _true(_text(email_el, "OPFMessageGetIsRead")) else set()
    if (_text(email_el, "OPFMessageCopyGetFlagStatus") or "0").strip() == "1":
        flags.add(FLAGGED)
    keywords = frozenset(el.get("OPFCategoryCopyName") or "" for el in
                         email_el.findall("OPFMessageCopyCategoryList/category")) - {""}
    return data, frozenset(flags), keywords, received or sent


def _attach(msg: EmailMessage, el: ET.Element, data: bytes) -> None:
    kind = (el.get("OPFAttachmentContentType") or "application/octet-stream").lower()
    maintype, _, subtype = kind.partition("/")
    name = el.get("OPFAttachmentName") or "attachment"
    cid = el.get("OPFAttachmentContentID")
    if kind == "message/rfc822":  # attached mail: its bytes exactly, not parsed and redone
        if msg.get_content_type() != "multipart/mixed":
            msg.make_mixed()
        part = EmailMessage(policy=email.policy.SMTP)
        part["Content-Type"] = "message/rfc822"
        part.add_header("Content-Disposition", "attachment", filename=name)
        part._payload = data.decode(  # type: ignore[attr-defined]  # written as it is
            "ascii", "surrogateescape")
        msg.attach(part)
        return
    msg.add_attachment(data, maintype=maintype or "application",
                       subtype=subtype or "octet-stream", filename=name,
                       disposition="inline" if cid else "attachment",
                       cid=f"<{cid.strip('<>')}>" if cid else None)


def _fix_boundaries(msg: EmailMessage) -> None:
    """Boundaries from the parts' content: the same message gives the same bytes."""
    for n, part in enumerate(msg.walk()):
        if part.is_multipart():
            digest = hashlib.sha256(b"".join(
                p.as_bytes() for p in part.iter_parts())).hexdigest()[:24]
            part.set_boundary(f"=_mm_{n}_{digest}")


class OlmFolder(Folder):
    def __init__(self, store, name, path: Path, archive_path: Path, members: list[str]):
        super().__init__(store, name, path)
        self.archive_path = archive_path
        self.members = members

    def inputs(self) -> list[Path]:
        return [self.archive_path]

    def messages(self) -> Iterator[SourceMessage]:
        try:
            archive = zipfile.ZipFile(self.archive_path)
        except (OSError, zipfile.BadZipFile) as e:
            yield SourceMessage(key="@archive", location=str(self.archive_path), data=b"",
                                skip_reason=SKIP_UNREADABLE, notes=(str(e),))
            return
        with archive:
            for member in self.members:
                location = f"{self.archive_path}: {member}"
                try:
                    root = parse_xml(read_member(archive, member), member)
                    emails = list(root.iter("email"))
                    built = [build(e, lambda url: read_member(archive, url)) for e in emails]
                except OlmError as e:
                    yield SourceMessage(key=member, location=location, data=b"",
                                        skip_reason=SKIP_UNREADABLE, notes=(str(e),))
                    continue
                for i, (data, flags, keywords, when) in enumerate(built):
                    yield SourceMessage(key=f"{member}#{i}", location=location, data=data,
                                        flags=flags, keywords=keywords, internaldate=when)


class OlmStore(Store):
    kind = "olm"

    def archives(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return [p for p in self.listing().files if p.suffix.lower() == ".olm"]

    def folders(self) -> list[Folder]:
        found: list[Folder] = []
        for archive_path in self.archives():
            try:
                with zipfile.ZipFile(archive_path) as archive:
                    names = archive.namelist()
            except (OSError, zipfile.BadZipFile) as e:
                self.non_mail.append(NonMail(archive_path, f"not a readable .olm archive "
                                                           f"({e}): nothing of it can move"))
                continue
            found += self._folders_of(archive_path, names)
        return found

    def _folders_of(self, archive_path: Path, names: list[str]) -> list[Folder]:
        folders: dict[tuple[str, ...], list[str]] = {}
        for name in names:
            parts = PurePosixPath(name).parts
            if MESSAGES not in parts or ".." in parts:
                if name.endswith("/"):
                    continue
                kind = NON_MAIL.get(PurePosixPath(name).name, "not mail: unknown part of the "
                                                              "archive")
                self.non_mail.append(NonMail(archive_path / name, kind))
                continue
            inner = parts[parts.index(MESSAGES) + 1:]
            if ATTACHMENTS in inner:
                inner = inner[:inner.index(ATTACHMENTS)]
                folders.setdefault(inner, [])
                continue
            if name.endswith("/"):
                folders.setdefault(inner, [])
            elif inner and inner[-1].startswith("message_") and inner[-1].endswith(".xml"):
                folders.setdefault(inner[:-1], []).append(name)
            else:
                self.non_mail.append(NonMail(archive_path / name,
                                             "not mail: unknown part of the archive"))
        return [OlmFolder(self, name, archive_path / MESSAGES / "/".join(name), archive_path,
                          sorted(members))
                for name, members in sorted(folders.items()) if name]


def looks_like_olm(path: Path) -> bool:
    return path.suffix.lower() == ".olm" and zipfile.is_zipfile(path)
