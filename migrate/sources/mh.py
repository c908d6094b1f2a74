"""MH folders: nmh, Sylpheed, Claws Mail (numbered files, one message each).

A folder is a directory whose messages are files named by a positive number;
subfolders are its subdirectories. The read state lives beside the messages:

* ``.mh_sequences`` (nmh, and Claws when told to keep it): ``unseen``, ``flagged``
  and ``replied`` sequences (``unseen: 1-4 9``); a message not in ``unseen`` is
  read, as nmh counts it;
* ``.sylpheed_mark`` / ``.claws_mark`` (binary, native byte order: a 32-bit
  version, then pairs of 32-bit message number and flags: 1 new, 2 unread,
  4 marked, 8 deleted, 16 replied, 32 forwarded). Where one exists it is the
  client's own state and wins; a message it does not list is new (unread), as
  those clients treat it.

Why not ``mailbox.MH``: it opens messages ``rb+`` and raises where a folder has no
``.mh_sequences`` (Sylpheed's inbox and trash have none). nmh "removes" a
message by renaming it ``,12`` or ``#12``: such files are named as deleted, not
migrated.
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path
from typing import Iterator

from migrate.sources.base import SKIP_DELETED, Folder, NonMail, SourceMessage, Store
from migrate.sources.files import best_date, read_message_file
from migrate.sources.flags import ANSWERED, FLAGGED, FORWARDED, SEEN

MARK_FILES = (".claws_mark", ".sylpheed_mark")  # Claws first: a migrated Sylpheed tree keeps both
MARKERS = {".mh_sequences", *MARK_FILES}
HARMLESS = {".mh_sequences", ".sylpheed_mark", ".claws_mark", ".sylpheed_cache", ".claws_cache",
            ".xmhcache", ".mh_profile", "context", ".claws_tags", ".sylpheed_tags",
            ".mh_sequences.lock"}
NEW, UNREAD, MARKED, DELETED, REPLIED, FORWARDED_MARK = 1, 2, 4, 8, 16, 32
_NUMBER = re.compile(r"[1-9][0-9]*")
_REMOVED = re.compile(r"[,#][1-9][0-9]*")


def parse_sequences(text: str) -> dict[str, set[int]]:
    """``.mh_sequences`` as {name: message numbers}; bad ranges are left out."""
    sequences: dict[str, set[int]] = {}
    for line in text.replace("\n ", " ").replace("\n\t", " ").splitlines():
        name, colon, rest = line.partition(":")
        if not colon:
            continue
        numbers = sequences.setdefault(name.strip(), set())
        for item in rest.split():
            first, _, last = item.partition("-")
            if first.isdigit() and (not last or last.isdigit()):
                low, high = int(first), int(last or first)
                if 0 < low <= high and high - low < 10_000_000:
                    numbers.update(range(low, high + 1))
    return sequences


def parse_marks(data: bytes) -> dict[int, int] | None:
    """A Sylpheed/Claws mark file as {message number: flags}, or None when it is not
    one (an unknown version, a torn pair): then the sequences decide."""
    if len(data) < 4:
        return None
    for order in ("<" if sys.byteorder == "little" else ">", ">" if sys.byteorder ==
                  "little" else "<"):  # written in the writer's byte order: try ours first
        (version,) = struct.unpack_from(order + "I", data)
        if version in (2, 3) and (len(data) - 4) % 8 == 0:
            return {number: flags for number, flags in struct.iter_unpack(order + "II", data[4:])}
    return None


class MhFolder(Folder):
    def __init__(self, store, name, path, files: list[Path]):
        super().__init__(store, name, path)
        self.files = files

    def inputs(self) -> list[Path]:
        around = [self.path / n for n in (".mh_sequences", *MARK_FILES)]
        return [self.path, *(p for p in around if p.is_file()), *self.files]

    def state(self):
        """(marks or None, sequences): what the folder's clients recorded."""
        marks = None
        for name in MARK_FILES:
            try:
                marks = parse_marks((self.path / name).read_bytes())
            except OSError:
                continue
            if marks is not None:
                break
        try:
            sequences = parse_sequences((self.path / ".mh_sequences").read_text(
                encoding="utf-8", errors="replace"))
        except OSError:
            sequences = {}
        return marks, sequences

    def messages(self) -> Iterator[SourceMessage]:
        marks, sequences = self.state()
        for path in self.files:
            msg, _ = read_message_file(path, path.name, strip_from_line=False)
            if msg.skip_reason:
                yield msg
                continue
            number = int(path.name)
            if marks is not None:
                bits = marks.get(number, NEW | UNREAD)
                flags = {flag for bit, flag in ((MARKED, FLAGGED), (REPLIED, ANSWERED))
                         if bits & bit}
                if not bits & (NEW | UNREAD):
                    flags.add(SEEN)
                msg.keywords = frozenset({FORWARDED} if bits & FORWARDED_MARK else ())
                if bits & DELETED:
                    msg.skip_reason = SKIP_DELETED
            else:
                flags = set() if number in sequences.get("unseen", ()) else {SEEN}
                if number in sequences.get("flagged", ()):
                    flags.add(FLAGGED)
                if number in sequences.get("replied", ()):
                    flags.add(ANSWERED)
            msg.flags = frozenset(flags)
            msg.internaldate = best_date(msg.data, b"", path)
            yield msg


class MhStore(Store):
    kind = "mh"

    def folders(self) -> list[Folder]:
        listing = self.listing()
        by_dir: dict[Path, list[Path]] = {d: [] for d in listing.dirs}
        for path in listing.files:
            if _NUMBER.fullmatch(path.name) and path.parent in by_dir:
                by_dir[path.parent].append(path)
            elif _REMOVED.fullmatch(path.name):
                self.non_mail.append(NonMail(path, "message removed in MH (renamed with "
                                                   "',' or '#'): not migrated"))
        found: list[Folder] = []
        for directory, files in sorted(by_dir.items()):
            name = directory.relative_to(self.path).parts
            if any(part.startswith(".") for part in name):
                continue  # a client's hidden directory: its files are named if not harmless
            if name or files or _has_marker(directory):  # every subfolder, empty or not
                found.append(MhFolder(self, name, directory,
                                      sorted(files, key=lambda p: int(p.name))))
        return found

    def harmless(self, path: Path) -> str | None:
        if path.name in HARMLESS:
            return "MH or Sylpheed/Claws index (read for flags where it holds them)"
        return super().harmless(path)


def _has_marker(directory: Path) -> bool:
    return any((directory / m).is_file() for m in MARKERS)


def looks_like_mh_tree(listing) -> bool:
    """An MH tree: a folder with an MH or Sylpheed/Claws state file and numbered messages."""
    marked = {p.parent for p in listing.files if p.name in MARKERS}
    return any(_NUMBER.fullmatch(p.name) and p.parent in marked for p in listing.files) or \
        bool(marked and not any(p.suffix.lower() == ".eml" for p in listing.files))
