"""Outlook ``.msg`` files (one message each), dragged out of Outlook into folders.

A .msg is an OLE2 compound file (read with ``olefile``, the optional extra
``mailmigrate[msg]``) holding the item's MAPI properties: a
``__properties_version1.0`` stream of 16-byte entries (fixed-size values
inline), variable-size values in ``__substg1.0_IIIITTTT`` streams, recipients
and attachments in ``__recip_version1.0_#N`` / ``__attach_version1.0_#N``
storages, an attached message in an attachment's ``__substg1.0_3701000D``
storage (MS-OXMSG). The message is rebuilt from those properties by the same
code as a .pst item (``pst_mime.build_from``): the original Internet headers
where Outlook kept them, the bodies (the compressed RTF body unpacked,
``rtf_lzfu``), every attachment. Items that are not mail (contacts,
appointments, tasks, notes) are listed as not mail, like a .pst's. A file named
``.msg`` that is really an RFC 822 message is read as one.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

from migrate.errors import SourceError
from migrate.sources import pst_mime
from migrate.sources.base import SKIP_UNREADABLE, Folder, NonMail, SourceMessage, Store
from migrate.sources.files import best_date, looks_like_message, read_message_file
from migrate.sources.flags import from_mbox_headers
from migrate.sources.rtf_lzfu import RtfError, decompress

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PROPERTIES = "__properties_version1.0"
EMBEDDED = "__substg1.0_3701000D"
MESSAGE_CLASS, RTF_COMPRESSED, ATTACH_DATA = 0x001A, 0x1009, 0x3701
FIXED_SIZE = {0x2: 2, 0x3: 4, 0x4: 4, 0x5: 8, 0x6: 8, 0x7: 8, 0xA: 4, 0xB: 2, 0x14: 8, 0x40: 8,
              0x48: 16}
MAX_DEPTH = 8  # messages attached to attached messages: deeper is a crafted file


def _olefile():
    try:
        import olefile
    except ImportError:
        raise SourceError("reading Outlook .msg files needs the optional extra: "
                          "pip install 'mailmigrate[msg]' (the olefile package), then run "
                          "the same command again") from None
    return olefile


class MsgProps(pst_mime.Props):
    """The MAPI properties of one storage of a .msg file (message, recipient,
    attachment): what ``pst_mime`` reads a .pst item's properties as."""

    def __init__(self, ole, prefix: list[str], header: int):
        super().__init__(None)
        try:
            table = ole.openstream(prefix + [PROPERTIES]).read()
        except OSError:
            table = b""
        for at in range(header, len(table) - 15, 16):
            tag, _ = struct.unpack_from("<II", table, at)
            kind, prop = tag & 0xFFFF, tag >> 16
            if kind in FIXED_SIZE:
                self.values[prop] = (kind, table[at + 8:at + 8 + FIXED_SIZE[kind]], None)
        for entry in ole.listdir(streams=True, storages=False):
            if len(entry) != len(prefix) + 1 or entry[:len(prefix)] != prefix:
                continue
            name = entry[-1]
            if not name.startswith("__substg1.0_") or len(name) != 20:
                continue
            try:
                prop, kind = int(name[12:16], 16), int(name[16:20], 16)
            except ValueError:
                continue
            if kind & 0x1000:
                continue  # multi-valued: none of them is read for the message
            self.values[prop] = (kind, ole.openstream(entry).read(), None)
        cpid = self.integer(pst_mime.MESSAGE_CODEPAGE) or self.integer(pst_mime.INTERNET_CPID)
        if cpid:
            self.codepage = pst_mime._codec_for(self)


def _children(ole, prefix: list[str], kind: str) -> list[list[str]]:
    names = {tuple(e[:len(prefix) + 1]) for e in ole.listdir(streams=True, storages=True)
             if len(e) > len(prefix) and e[:len(prefix)] == prefix
             and e[len(prefix)].startswith(kind)}
    return [list(n) for n in sorted(names)]


def build(ole, prefix: list[str], seed: str, depth: int = 0) -> pst_mime.Built:
    """The message at *prefix* (``[]`` for the file's own) as RFC 5322 bytes."""
    if depth > MAX_DEPTH:
        raise ValueError("messages attached inside each other deeper than 8 levels")
    props = MsgProps(ole, prefix, 32 if not prefix else 24)
    recipients = [MsgProps(ole, p, 8) for p in _children(ole, prefix, "__recip_version1.0_")]
    parts = []
    for index, place in enumerate(_children(ole, prefix, "__attach_version1.0_")):
        attachment = MsgProps(ole, place, 8)
        embedded = None
        if ole.exists("/".join(place + [EMBEDDED])):
            embedded = build(ole, place + [EMBEDDED], f"{seed}.{index}", depth + 1).data
        data = attachment.raw(ATTACH_DATA) or b""
        parts.append(pst_mime.attachment_part(attachment, data, index, embedded))
    rtf = props.raw(RTF_COMPRESSED)
    if rtf:
        try:
            rtf = decompress(rtf)
        except RtfError:
            rtf = None
    bodies = (None, None, rtf)  # plain and HTML are properties: build_from reads them
    return pst_mime.build_from(props, recipients, bodies, parts, seed)


class MsgFolder(Folder):
    def __init__(self, store, name, path: Path, files: list[Path]):
        super().__init__(store, name, path)
        self.files = files

    def inputs(self) -> list[Path]:
        return [self.path, *self.files]

    def messages(self) -> Iterator[SourceMessage]:
        olefile = _olefile()
        for path in self.files:
            key = path.name
            try:
                with open(path, "rb") as f:
                    head = f.read(8)
            except OSError as e:
                yield _unreadable(key, path, e.strerror or str(e))
                continue
            if head != OLE_MAGIC:  # an RFC 822 message saved with a .msg name
                msg, from_line = read_message_file(path, key)
                if not msg.skip_reason:
                    msg.flags, msg.keywords, msg.skip_reason, msg.notes = \
                        from_mbox_headers(msg.data)
                    msg.internaldate = best_date(msg.data, from_line, path)
                yield msg
                continue
            try:
                with olefile.OleFileIO(str(path)) as ole:  # mail only: the store named the rest
                    built = build(ole, [], f"msg:{path.name}")
            except Exception as e:  # noqa: BLE001 - olefile and email raise many kinds
                yield _unreadable(key, path, f"not a readable .msg file ({type(e).__name__}: "
                                             f"{e})")
                continue
            yield SourceMessage(key=key, location=str(path), data=built.data, flags=built.flags,
                                keywords=built.keywords,
                                internaldate=built.internaldate or best_date(built.data, b"",
                                                                             path))


def _unreadable(key: str, path: Path, why: str) -> SourceMessage:
    return SourceMessage(key=key, location=str(path), data=b"", skip_reason=SKIP_UNREADABLE,
                         notes=(why,))


def not_mail(message_class: str) -> str | None:
    from migrate.sources.pst import not_mail_kind
    return not_mail_kind(message_class)


class MsgStore(Store):
    """A folder tree of .msg files (and .eml beside them): each directory a folder."""

    kind = "msg"

    def folders(self) -> list[Folder]:
        listing = self.listing()
        root = self.path if self.path.is_dir() else self.path.parent
        by_dir: dict[Path, list[Path]] = {}
        for path in listing.files:
            if path.suffix.lower() == ".msg" or (path.suffix.lower() == ".eml"
                                                 and looks_like_message(path)):
                kind = self._class_of(path)
                reason = not_mail(kind) if kind else None
                if reason:
                    self.non_mail.append(NonMail(path, reason))
                    continue
                by_dir.setdefault(path.parent, []).append(path)
        return [MsgFolder(self, d.relative_to(root).parts, d, sorted(files))
                for d, files in sorted(by_dir.items())]

    @staticmethod
    def _class_of(path: Path) -> str | None:
        try:
            with open(path, "rb") as f:
                if f.read(8) != OLE_MAGIC:
                    return None
            olefile = _olefile()
            with olefile.OleFileIO(str(path)) as ole:
                return MsgProps(ole, [], 32).string(MESSAGE_CLASS)
        except SourceError:
            raise
        except Exception:  # noqa: BLE001 - a damaged file: its reading names it
            return None


def looks_like_msg_tree(listing) -> bool:
    return any(p.suffix.lower() == ".msg" for p in listing.files)
