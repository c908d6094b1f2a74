"""The property context of an embedded message, read from its raw heap (MS-PST 2.3).

libpff-python gives an embedded message attachment only as the bytes of its
node: a heap-on-node (HN) holding a B-tree (BTH) of properties. This reads
the properties kept in the heap itself; values kept in sub-nodes (long
bodies, recipient and attachment tables) are not reachable this way and come
back as absent.
"""

from __future__ import annotations

from migrate.sources.pst_props import Props

BLOCK_SIZE = 8176  # data bytes of a full PST block; a node's data is a run of these
HN_SIGNATURE = 0xEC
PC_CLIENT = 0xBC
BTH_TYPE = 0xB5
INLINE_TYPES = {0x2: 2, 0x3: 4, 0x4: 4, 0xA: 4, 0xB: 1}  # values stored in the record itself


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "little")


class Heap:
    def __init__(self, raw: bytes):
        if len(raw) < 12 or raw[2] != HN_SIGNATURE:
            raise ValueError("not a heap-on-node")
        self.blocks = [raw[i:i + BLOCK_SIZE] for i in range(0, len(raw), BLOCK_SIZE)]
        self.client = raw[3]
        self.user_root = _u32(raw, 4)

    def get(self, hid: int) -> bytes | None:
        """The allocation a heap id points to; None for a sub-node id or a bad id."""
        if hid == 0 or hid & 0x1F:
            return None
        index, block = (hid >> 5) & 0x7FF, hid >> 16
        if block >= len(self.blocks) or index == 0:
            return None
        data = self.blocks[block]
        page_map = _u16(data, 0)
        count = _u16(data, page_map)
        if index > count:
            return None
        start = _u16(data, page_map + 4 + 2 * (index - 1))
        end = _u16(data, page_map + 4 + 2 * index)
        return data[start:end] if start <= end <= len(data) else None


def properties(raw: bytes) -> dict[int, tuple[int, bytes | None]]:
    """tag -> (property type, value bytes or None when out of reach)."""
    heap = Heap(raw)
    if heap.client != PC_CLIENT:
        raise ValueError("the heap is not a property context")
    header = heap.get(heap.user_root)
    if not header or header[0] != BTH_TYPE:
        raise ValueError("no property B-tree")
    key_size, entry_size, levels, root = header[1], header[2], header[3], _u32(header, 4)
    found: dict[int, tuple[int, bytes | None]] = {}

    def walk(hid: int, level: int) -> None:
        records = heap.get(hid) or b""
        step = key_size + (4 if level else entry_size)
        for at in range(0, len(records) - step + 1, step):
            if level:
                walk(_u32(records, at + key_size), level - 1)
                continue
            tag = _u16(records, at)
            kind = _u16(records, at + key_size)
            value = records[at + key_size + 2:at + key_size + 6]
            if kind in INLINE_TYPES:
                found[tag] = (kind, value)
            else:
                found[tag] = (kind, heap.get(_u32(value, 0)))

    walk(root, levels)
    return found


class HeapProps(Props):
    """:class:`Props` over an embedded message's raw property context."""

    def __init__(self, raw: bytes, codepage: str | None = None):
        super().__init__(None, codepage=codepage)
        try:
            found = properties(raw)
        except (ValueError, IndexError):
            found = {}
        self.values = {tag: (kind, data, None) for tag, (kind, data) in found.items()}

    def raw_text(self, tag: int) -> bytes | None:
        """A text property as UTF-8 bytes (what pypff gives for an item's body)."""
        value = self.string(tag)
        return value.encode("utf-8") if value is not None else None
