"""Outlook Express files, parsed from bytes (no I/O here): OE5/6 ``.dbx``, OE4 ``.mbx``.

OE5/6 ``.dbx`` (publicly documented by Arne Schloh's "oedbx" notes; checked here
against every corpus file: the tree's entries equal the header's count):

* header: magic ``CF AD 12 FE``, then ``C5 FD 74 6F`` for a folder of messages or
  ``C6 FD 74 6F`` for ``Folders.dbx``; the number of items at 0xC4, the tree's
  root node at 0xE4;
* a tree node: its own offset, a child node at +8, a byte count of entries at
  +0x11, then entries of three 32-bit words from +0x18: an item's offset, the
  entry's child node, a count. Children before the entry, in order;
* an item: its own offset, the length of its body, the number of fields at +10;
  the body (at +12) starts with one 4-byte field entry each: the low 7 bits of
  the first byte name the field; with the high bit the other three bytes are the
  value, else they are the offset of the value in the data after the entries;
* a message item's field 0x04 is the offset of its text: a chain of blocks of a
  16-byte header (own offset, size, bytes used as 16 bits at +8, next block at
  +12) and data. Field 0x01 holds the flags (0x80 read, 0x20 flagged, 0x40
  deleted, waiting for compaction), 0x12 the time received (FILETIME);
* a Folders.dbx item: 0x00 id, 0x01 parent id, 0x02 name, 0x03 the file's name.

OE4 ``.mbx`` ("JMF6"): a 0x54-byte header, then records of a 16-byte header
(``00 7F 00 7F``, number, record length, text length) and the text. Its flags are
in a separate ``.idx`` file this reader does not read (named in the docs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import struct

DBX_MAGIC = b"\xcf\xad\x12\xfe"
MESSAGES, FOLDERS = b"\xc5\xfd\x74\x6f", b"\xc6\xfd\x74\x6f"
MBX_MAGIC = b"JMF6"
MBX_RECORD = 0x7F007F00
ARF_READ, ARF_FLAGGED, ARF_ENDANGERED = 0x80, 0x20, 0x40
MAX_DEPTH = 64  # a tree deeper than this is damaged (a balanced tree of 2**32 items is ~10)


class DbxError(ValueError):
    """The bytes are not what the format says: the sentence says where."""


def kind_of(head: bytes) -> str | None:
    """'messages', 'folders', 'other' (another .dbx: Offline, Pop3uidl, News) or
    'mbx' from a file's first bytes; None for none of these."""
    if head.startswith(DBX_MAGIC):
        return {MESSAGES: "messages", FOLDERS: "folders"}.get(head[4:8], "other")
    if head.startswith(MBX_MAGIC):
        return "mbx"
    return None


def _u32(data, at: int) -> int:
    if at < 0 or at + 4 > len(data):
        raise DbxError(f"a pointer leads outside the file (offset {at})")
    return struct.unpack_from("<I", data, at)[0]


def _byte(data, at: int) -> int:
    if at < 0 or at >= len(data):
        raise DbxError(f"a pointer leads outside the file (offset {at})")
    return data[at]


def tree_items(data, root: int) -> list[int]:
    """Every item offset of the tree whose root node is at *root*, in order."""
    found: list[int] = []
    seen: set[int] = set()
    work: list = [("node", root, 0)]  # depth first, a node's child before each entry
    while work:
        what, at, depth = work.pop()
        if what == "item":
            found.append(at)
            continue
        if not at:
            continue
        if at in seen or depth > MAX_DEPTH:
            raise DbxError(f"the index tree loops or is too deep at offset {at}")
        seen.add(at)
        if _u32(data, at) != at:
            raise DbxError(f"no index node at offset {at}")
        count = _byte(data, at + 0x11)
        pending = [("node", _u32(data, at + 8), depth + 1)]
        for i in range(count):
            entry = at + 0x18 + 12 * i
            pending += [("item", _u32(data, entry), depth),
                        ("node", _u32(data, entry + 4), depth + 1)]
        work.extend(reversed(pending))
    return found


@dataclasses.dataclass
class Item:
    """One indexed item: its fields as raw values (direct ints or offsets into body)."""

    body: bytes
    direct: dict[int, int]
    offsets: dict[int, int]

    def number(self, field: int, size: int = 4) -> int | None:
        if field in self.direct:
            return self.direct[field]
        at = self.offsets.get(field)
        if at is None or at + size > len(self.body):
            return None
        return int.from_bytes(self.body[at:at + size], "little")

    def text(self, field: int) -> bytes | None:
        at = self.offsets.get(field)
        if at is None or at >= len(self.body):
            return None
        end = self.body.find(b"\0", at)
        return self.body[at:end if end >= 0 else len(self.body)]

    def filetime(self, field: int) -> dt.datetime | None:
        value = self.number(field, 8)
        if not value:
            return None
        seconds = value / 10_000_000 - 11_644_473_600
        if not 0 < seconds < 4_102_444_800:
            return None
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def read_item(data, at: int) -> Item:
    if _u32(data, at) != at:
        raise DbxError(f"no indexed item at offset {at}")
    length = _u32(data, at + 4)
    count = _byte(data, at + 10)
    body = bytes(data[at + 12:at + 12 + length])
    if len(body) != length or 4 * count > length:
        raise DbxError(f"the item at offset {at} runs past the end of the file")
    direct, offsets = {}, {}
    for i in range(count):
        field, value = body[4 * i] & 0x7F, int.from_bytes(body[4 * i + 1:4 * i + 4], "little")
        if body[4 * i] & 0x80:
            direct[field] = value
        else:
            offsets[field] = 4 * count + value
    return Item(body, direct, offsets)


def message_text(data, at: int) -> bytes:
    """The text of a message whose first block is at *at*."""
    parts, seen = [], set()
    while at:
        if at in seen:
            raise DbxError(f"the message's blocks loop at offset {at}")
        seen.add(at)
        if _u32(data, at) != at:
            raise DbxError(f"no message block at offset {at}")
        size = _u32(data, at + 4)
        used = _u32(data, at + 8) & 0xFFFF
        if used > size or at + 16 + used > len(data):
            raise DbxError(f"the message block at offset {at} runs past its end")
        parts.append(bytes(data[at + 16:at + 16 + used]))
        at = _u32(data, at + 12)
    return b"".join(parts)


def dbx_messages(data) -> list[tuple[int, Item]]:
    """(item offset, item) of every message of an OE5/6 message file."""
    if kind_of(bytes(data[:8])) != "messages":
        raise DbxError("not an Outlook Express message file (.dbx)")
    count, root = _u32(data, 0xC4), _u32(data, 0xE4)
    items = tree_items(data, root)
    if len(items) != count:
        raise DbxError(f"its header counts {count} messages, its index holds {len(items)}")
    return [(at, read_item(data, at)) for at in items]


def dbx_folders(data) -> list[dict]:
    """The folders Folders.dbx lists: id, parent, name and file name (bytes)."""
    if kind_of(bytes(data[:8])) != "folders":
        raise DbxError("not an Outlook Express folder list (Folders.dbx)")
    found = []
    for at in tree_items(data, _u32(data, 0xE4)):
        item = read_item(data, at)
        found.append({"id": item.number(0x00), "parent": item.number(0x01),
                      "name": item.text(0x02) or b"", "file": item.text(0x03) or b""})
    return found


def mbx_messages(data) -> list[tuple[int, bytes]]:
    """(offset, text) of every message of an OE4 .mbx file."""
    if not bytes(data[:4]) == MBX_MAGIC:
        raise DbxError("not an Outlook Express 4 mailbox (.mbx)")
    at, found = 0x54, []
    marker = struct.pack("<I", MBX_RECORD)
    while at + 16 <= len(data):
        tag, _, record, length = struct.unpack_from("<4I", data, at)
        if tag != MBX_RECORD:
            raise DbxError(f"no message record at offset {at}")
        following = at + record
        if record >= 16 + length and (following == len(data) or (
                following + 4 <= len(data) and bytes(data[following:following + 4]) == marker)):
            found.append((at, bytes(data[at + 16:at + 16 + length])))
            at = following
            continue
        # lengths that do not meet the next record (a file edited by hand, cut short):
        # the text runs to the next record's marker; mail text holds no NUL bytes
        nxt = data.find(marker, at + 16)
        end = len(data) if nxt < 0 else nxt
        found.append((at, bytes(data[at + 16:end]).rstrip(b"\r\n\0") + b"\r\n"))
        at = end
    return found
