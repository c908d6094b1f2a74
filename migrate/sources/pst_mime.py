"""Outlook items (MAPI properties) as RFC 5322 messages.

Headers: the item's original transport headers when it has them (received
mail), minus the MIME headers that described the original body structure;
otherwise headers made from MAPI properties (From, To/Cc/Bcc folded by the
email package, Date, Subject, Message-ID, In-Reply-To, References); see
docs/sources/pst.md. Body: text/plain and text/html as stored (HTML keeps its
bytes and declares its code page); HTML that Outlook kept only inside the RTF
body is unpacked (:mod:`migrate.sources.rtf_html`); plain RTF only when
nothing else has content.
Attachments keep their names, MIME types and Content-IDs; embedded messages
become message/rfc822 parts. Every MIME boundary is derived from the item, so
the same item always gives the same bytes (exactly-once relies on that).
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import email.policy
import email.utils
import hashlib
import mimetypes
from email.headerregistry import Address, Group
from email.message import EmailMessage, Message, MIMEPart

from migrate import headers as header_tools
from migrate.sources import rtf_html
from migrate.sources.pst_heap import HeapProps
from migrate.sources.pst_props import Props  # also named pst_mime.Props by the readers

POLICY = email.policy.SMTP.clone(max_line_length=78)

# property tags (MS-OXPROPS)
SUBJECT, SUBMIT_TIME, DELIVERY_TIME, CREATION_TIME, MODIFIED_TIME = \
    0x0037, 0x0039, 0x0E06, 0x3007, 0x3008
TRANSPORT_HEADERS, MESSAGE_FLAGS, LAST_VERB, FLAG_STATUS = 0x007D, 0x0E07, 0x1081, 0x1090
BODY, HTML, INTERNET_CPID, MESSAGE_CODEPAGE = 0x1000, 0x1013, 0x3FDE, 0x3FFD
MESSAGE_ID, IN_REPLY_TO, REFERENCES = 0x1035, 0x1042, 0x1039
SENDER_NAME, SENDER_ADDRTYPE, SENDER_EMAIL, SENDER_SMTP = 0x0C1A, 0x0C1E, 0x0C1F, 0x5D01
SENT_REPR_NAME, SENT_REPR_ADDRTYPE, SENT_REPR_EMAIL, SENT_REPR_SMTP = \
    0x0042, 0x0064, 0x0065, 0x5D02
DISPLAY_TO, DISPLAY_CC = 0x0E04, 0x0E03
RCPT_TYPE, RCPT_NAME, RCPT_ADDRTYPE, RCPT_EMAIL, RCPT_SMTP = 0x0C15, 0x3001, 0x3002, 0x3003, 0x39FE
ATTACH_METHOD, ATTACH_LONG_NAME, ATTACH_NAME, ATTACH_MIME, ATTACH_CID = \
    0x3705, 0x3707, 0x3704, 0x370E, 0x3712
DISPLAY_NAME = 0x3001
MSGFLAG_READ, MSGFLAG_UNSENT = 0x01, 0x08
VERB_REPLY, VERB_REPLY_ALL, VERB_FORWARD = 102, 103, 104
MIME_STRUCTURE = {"content-type", "content-transfer-encoding", "mime-version",
                  "content-disposition", "content-id", "content-description"}
_CPID_CODEC = {65001: "utf-8", 20127: "us-ascii", 28591: "iso-8859-1", 50220: "iso-2022-jp",
               50221: "iso-2022-jp", 50222: "iso-2022-jp", 51932: "euc-jp", 932: "shift_jis",
               936: "gb2312", 54936: "gb18030", 950: "big5", 949: "ks_c_5601-1987",
               20866: "koi8-r", 21866: "koi8-u", 1200: "utf-16-le"}


@dataclasses.dataclass
class Built:
    data: bytes
    flags: frozenset
    keywords: frozenset
    internaldate: dt.datetime | None


def build_message(item) -> Built:
    """The RFC 5322 bytes, flags and INTERNALDATE of one pypff message item."""
    props = Props(item)
    recipients = []
    if item.recipients is not None:
        for i in range(item.recipients.number_of_record_sets):
            recipients.append(Props(item.recipients, i))
    attachments = [item.get_attachment(i) for i in range(item.number_of_attachments)]
    seed = f"{item.identifier}"
    parts = [_attachment_part(a, i, seed) for i, a in enumerate(attachments)]
    return build_from(props, recipients, (item.plain_text_body, item.html_body, item.rtf_body),
                      parts, seed, getattr(item, "subject", None))


def build_from(props, recipients: list, bodies: tuple, parts: list, seed: str,
               subject_hint: str | None = None) -> Built:
    """A message from its MAPI properties, wherever they were read (.pst, .msg):
    *bodies* is (plain, HTML, uncompressed RTF) as bytes or None."""
    body = _body(props, *bodies)
    data = _assemble(props, recipients, body, parts, seed, subject_hint)
    flags, keywords = _flags(props)
    when = props.time(DELIVERY_TIME) or props.time(SUBMIT_TIME) or props.time(CREATION_TIME)
    return Built(data, flags, keywords, when)


def build_embedded(raw: bytes, seed: str, codepage: str | None = None) -> bytes:
    """An embedded message (attachment method 5) from its raw property context.

    libpff-python hands over the node's heap, not the item: properties kept
    in sub-nodes (long bodies, the embedded message's recipients and own
    attachments) are out of reach, so what the heap holds is used.
    """
    props = HeapProps(raw, codepage)
    plain = props.raw_text(BODY)
    html = props.raw(HTML)
    body = _body(props, plain, html, None)
    return _assemble(props, [], body, [], seed, None)


# -- pieces ---------------------------------------------------------------------


def _codec_for(props) -> str:
    cpid = props.integer(INTERNET_CPID) or props.integer(MESSAGE_CODEPAGE)
    if cpid in _CPID_CODEC:
        return _CPID_CODEC[cpid]
    if cpid:
        try:
            return codecs.lookup(f"cp{cpid}").name
        except LookupError:
            pass
    return "windows-1252"


def _text(props, tag: int, fallback: bytes | None) -> str | None:
    """A body property as text: the property itself, else what pypff decoded (UTF-8)."""
    value = props.string(tag)
    if value is None and fallback:
        value = fallback.decode("utf-8", "replace")
    return value


def _body(props, plain_bytes, html_bytes, rtf_bytes) -> MIMEPart:
    plain = _text(props, BODY, plain_bytes)
    html = props.raw(HTML) if props.raw(HTML) is not None else html_bytes
    has_plain = bool(plain and plain.strip())
    has_html = bool(html and html.strip(b"\0 \r\n\t"))
    unpacked = None
    if not has_html and rtf_bytes:  # HTML mail that Outlook kept only as RTF
        unpacked = rtf_html.extract_html(rtf_bytes)
    parts = []
    if has_plain:
        part = MIMEPart(policy=POLICY)
        part.set_content((plain or "").replace("\r\n", "\n"), subtype="plain", charset="utf-8",
                         cte="quoted-printable")
        parts.append(part)
    if has_html:
        part = MIMEPart(policy=POLICY)
        kind = props.values.get(HTML, (0x102,))[0]
        if kind == 0x1F:  # stored as Unicode text
            part.set_content(html.decode("utf-16-le", "replace").rstrip("\0"), subtype="html",
                             charset="utf-8", cte="quoted-printable")
        else:  # bytes in the message's Internet code page: keep them, name the charset
            part.set_content(html.rstrip(b"\0"), maintype="text", subtype="html",
                             cte="base64")
            part.set_param("charset", _codec_for(props))
        parts.append(part)
    if unpacked:
        part = MIMEPart(policy=POLICY)
        part.set_content(unpacked, subtype="html", charset="utf-8", cte="quoted-printable")
        parts.append(part)
    if not parts and rtf_bytes and rtf_bytes.strip(b"\0 \r\n"):
        part = MIMEPart(policy=POLICY)
        part.set_content(rtf_bytes.rstrip(b"\0"), maintype="text", subtype="rtf", cte="base64")
        parts.append(part)
    if not parts:
        part = MIMEPart(policy=POLICY)
        part.set_content(plain or "", subtype="plain", charset="utf-8")
        return part
    if len(parts) == 1:
        return parts[0]
    return _container("alternative", parts)


def _attachment_part(attachment, index: int, seed: str) -> Message:
    props = Props(attachment)
    size = attachment.get_size() or 0
    data = attachment.read_buffer(size) if size else b""
    embedded = None
    if props.integer(ATTACH_METHOD) == 5:  # an embedded message
        embedded = build_embedded(data, f"{seed}.{index}", props.codepage)
    return attachment_part(props, data, index, embedded)


def attachment_part(props, data: bytes, index: int, embedded: bytes | None = None) -> Message:
    """One attachment as a MIME part: *embedded* (an attached message's bytes) becomes
    message/rfc822; anything else keeps its name, type and Content-ID."""
    name = (props.string(ATTACH_LONG_NAME) or props.string(ATTACH_NAME)
            or props.string(DISPLAY_NAME) or f"attachment-{index + 1}")
    if embedded is not None:
        part = MIMEPart(policy=POLICY)
        part.set_content(email.message_from_bytes(embedded, policy=POLICY))
        part.add_header("Content-Disposition", "attachment",
                        filename=name if name.lower().endswith(".eml") else name + ".eml")
        return part
    mime = props.string(ATTACH_MIME) or mimetypes.guess_type(name)[0] or \
        "application/octet-stream"
    maintype, _, subtype = mime.lower().partition("/")
    if mime.lower() == "message/rfc822" and data:  # attached mail kept as a file
        return attachment_part(props, b"", index, data)
    if maintype in ("message", "multipart"):  # such a type is a structure, never base64:
        maintype, subtype = "application", "octet-stream"  # the bytes kept as a file
    part = MIMEPart(policy=POLICY)
    part.set_content(data, maintype=maintype or "application",
                     subtype=subtype or "octet-stream", cte="base64",
                     disposition="inline" if props.string(ATTACH_CID) else "attachment",
                     filename=name, cid=f"<{props.string(ATTACH_CID)}>"
                     if props.string(ATTACH_CID) else None)
    return part


def _assemble(props, recipients, body: MIMEPart, parts: list, seed: str,
              subject_hint: str | None) -> bytes:
    if parts:
        inline = [p for p in parts if p.get("Content-ID") and body.get_content_type() in
                  ("text/html", "multipart/alternative")]
        if inline:
            body = _container("related", [body, *inline])
        rest = [p for p in parts if not any(p is q for q in inline)]
        if rest:
            body = _container("mixed", [body, *rest])
    _fix_boundaries(body, seed)
    content = body.as_bytes(policy=POLICY)
    transport = props.string(TRANSPORT_HEADERS)
    if transport and transport.strip():
        return _transport_headers(transport) + b"MIME-Version: 1.0\r\n" + content
    return _synthesised_headers(props, recipients, seed, subject_hint) + content


def _container(subtype: str, parts: list) -> MIMEPart:
    """A multipart/*subtype* holding *parts* in order."""
    container = MIMEPart(policy=POLICY)
    container["Content-Type"] = f"multipart/{subtype}"  # set_type would add MIME-Version
    for part in parts:
        container.attach(part)
    return container


def _fix_boundaries(msg: Message, seed: str) -> None:
    """Boundaries derived from the item: the same item always gives the same bytes."""
    for n, part in enumerate(msg.walk()):
        if part.get_content_maintype() == "multipart":
            digest = hashlib.sha256(f"{seed}/{n}".encode()).hexdigest()[:24]
            part.set_boundary(f"=_mailmigrate_{digest}")


def _transport_headers(text: str) -> bytes:
    """The original Internet headers, without those that described the old MIME body."""
    block = header_tools.to_crlf(text.strip("\r\n\0 ").encode("utf-8", "replace") + b"\r\n")
    kept = []
    for name, raw in _header_fields(block):
        if name.lower() not in MIME_STRUCTURE:
            kept.append(raw)
    return b"".join(kept)


def _header_fields(block: bytes):
    """(name, raw bytes incl. folded lines) for each field of a CRLF header block."""
    current: list[bytes] = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and current:
            current.append(line + b"\r\n")
            continue
        if current:
            yield current[0].split(b":", 1)[0].decode("latin-1").strip(), b"".join(current)
        current = [line + b"\r\n"]
    if current:
        yield current[0].split(b":", 1)[0].decode("latin-1").strip(), b"".join(current)


def _address(name: str | None, addr: str | None) -> Address | None:
    name = (name or "").strip().strip("'\"")
    addr = (addr or "").strip()
    if addr and "@" in addr and " " not in addr:
        local, _, domain = addr.rpartition("@")
        try:
            return Address(display_name=name if name != addr else "", username=local,
                           domain=domain)
        except (ValueError, IndexError):
            pass
    if name:  # Exchange-only sender: keep the name, with an address that says so
        return Address(display_name=name, username="unknown", domain="exchange.invalid")
    return None


def _smtp(props, smtp_tag, type_tag, email_tag) -> str | None:
    found = props.string(smtp_tag)
    if found:
        return found
    if (props.string(type_tag) or "").upper() == "SMTP":
        return props.string(email_tag)
    return None


def _synthesised_headers(props, recipients, seed: str, subject_hint: str | None) -> bytes:
    head = EmailMessage(policy=POLICY)
    sender = _address(props.string(SENDER_NAME) or props.string(SENT_REPR_NAME),
                      _smtp(props, SENDER_SMTP, SENDER_ADDRTYPE, SENDER_EMAIL)
                      or _smtp(props, SENT_REPR_SMTP, SENT_REPR_ADDRTYPE, SENT_REPR_EMAIL))
    if sender:
        head["From"] = sender
    groups: dict[int, list[Address]] = {1: [], 2: [], 3: []}
    for r in recipients:
        found = _address(r.string(RCPT_NAME), _smtp(r, RCPT_SMTP, RCPT_ADDRTYPE, RCPT_EMAIL))
        if found:
            groups.get(r.integer(RCPT_TYPE) or 1, groups[1]).append(found)
    for field, kind in (("To", 1), ("Cc", 2), ("Bcc", 3)):
        if groups[kind]:
            head[field] = groups[kind]
    if not recipients:  # an embedded message: only the names are reachable
        for field, tag in (("To", DISPLAY_TO), ("Cc", DISPLAY_CC)):
            names = [n.strip() for n in (props.string(tag) or "").split(";") if n.strip()]
            if names:  # RFC 5322 groups without members: the names, no invented address
                head[field] = [Group(display_name=n) for n in names]
    subject = subject_hint if subject_hint is not None else clean_subject(props.string(SUBJECT))
    if subject:
        head["Subject"] = subject
    when = (props.time(SUBMIT_TIME) or props.time(DELIVERY_TIME) or
            props.time(MODIFIED_TIME) or props.time(CREATION_TIME))
    if when:
        head["Date"] = email.utils.format_datetime(when)
    message_id = (props.string(MESSAGE_ID) or "").strip()
    if not message_id:
        basis = f"{seed}|{when}|{subject}|{sender}".encode("utf-8", "replace")
        message_id = f"<{hashlib.sha256(basis).hexdigest()[:32]}@pst.mailmigrate.invalid>"
    head["Message-ID"] = message_id
    for field, tag in (("In-Reply-To", IN_REPLY_TO), ("References", REFERENCES)):
        value = (props.string(tag) or "").strip()
        if value:
            head[field] = value
    head["MIME-Version"] = "1.0"
    return head.as_bytes(policy=POLICY).rstrip(b"\r\n") + b"\r\n"


def clean_subject(value: str | None) -> str | None:
    """MAPI subjects may start with \\x01 and a prefix-length character."""
    if value and value.startswith("\x01") and len(value) >= 2:
        return value[2:]
    return value


def _flags(props) -> tuple[frozenset, frozenset]:
    flags, keywords = set(), set()
    message_flags = props.integer(MESSAGE_FLAGS) or 0
    if message_flags & MSGFLAG_READ:
        flags.add("\\Seen")
    if message_flags & MSGFLAG_UNSENT:
        flags.add("\\Draft")
    verb = props.integer(LAST_VERB)
    if verb in (VERB_REPLY, VERB_REPLY_ALL):
        flags.add("\\Answered")
    elif verb == VERB_FORWARD:
        keywords.add("$Forwarded")
    if props.integer(FLAG_STATUS) == 2:
        flags.add("\\Flagged")
    return frozenset(flags), frozenset(keywords)
