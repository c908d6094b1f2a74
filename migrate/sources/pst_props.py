"""MAPI properties of an Outlook item, by tag: what every Outlook reader (pypff's
items, a node's raw heap, a .msg file's streams) answers the message builder with."""

from __future__ import annotations

import datetime as dt
from typing import Any

EPOCH_1601 = dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)  # FILETIME's zero


class Props:
    """MAPI properties of a pypff item (record set *index*): tag -> typed value."""

    def __init__(self, item, index: int = 0, codepage: str | None = None):
        self.values: dict[int, tuple[int, bytes | None, Any]] = {}
        self.codepage = codepage
        if item is None or item.number_of_record_sets <= index:
            return
        record_set = item.get_record_set(index)
        for i in range(record_set.number_of_entries):
            entry = record_set.get_entry(i)
            try:
                data = entry.data
            except (IOError, OSError):
                continue
            self.values[entry.entry_type] = (entry.value_type, data, entry)

    def raw(self, tag: int) -> bytes | None:
        found = self.values.get(tag)
        return found[1] if found else None

    def string(self, tag: int) -> str | None:
        found = self.values.get(tag)
        if not found:
            return None
        kind, data, entry = found
        if data is None:
            return None
        if kind == 0x1F:
            return data.decode("utf-16-le", "replace").rstrip("\0")
        if kind == 0x1E:
            if entry is not None:
                try:
                    return entry.get_data_as_string()
                except (IOError, OSError, UnicodeError):
                    pass
            return data.rstrip(b"\0").decode(self.codepage or "cp1252", "replace")
        if kind == 0x102:
            return data.rstrip(b"\0").decode("utf-8", "replace")
        return None

    def integer(self, tag: int) -> int | None:
        found = self.values.get(tag)
        if not found:
            return None
        kind, data, _ = found
        if not data:
            return None
        if kind in (0x2, 0x3, 0xB, 0x14):
            return int.from_bytes(data[:{0x2: 2, 0x3: 4, 0xB: 1, 0x14: 8}[kind]], "little",
                                  signed=kind != 0xB)
        return None

    def time(self, tag: int) -> dt.datetime | None:
        found = self.values.get(tag)
        if not found or not found[1] or found[0] != 0x40 or len(found[1]) < 8:
            return None
        ticks = int.from_bytes(found[1][:8], "little")
        if not ticks:
            return None
        when = EPOCH_1601 + dt.timedelta(microseconds=ticks // 10)
        return when if 1971 <= when.year <= 2100 else None
