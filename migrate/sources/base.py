"""The reader interface every store kind implements.

A :class:`Store` yields :class:`Folder` objects; a folder yields
:class:`SourceMessage` objects one at a time, with the raw bytes as they are in
the store. Readers never write, lock or index anything beside a source.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import Any, Iterator

from migrate.errors import SourceError
from migrate.sources.harmless import harmless as known_harmless

# Skip reasons: short stable codes, used in state, reports and tests.
SKIP_DELETED = "deleted"  # expunged-but-not-compacted, \Deleted, IMAP-deleted
SKIP_TRASHED = "trashed"  # maildir T flag: pending expunge
SKIP_UNREADABLE = "unreadable"  # cannot be read as a message at all
SKIP_EMPTY = "empty"  # zero bytes of message
SKIP_REPORT = "report"  # an Outlook delivery/read report, with --pst-reports skip

SKIP_REASONS = {
    SKIP_DELETED: "deleted in the mail client but not yet compacted",
    SKIP_TRASHED: "marked trashed (pending expunge)",
    SKIP_UNREADABLE: "not readable as a mail message",
    SKIP_EMPTY: "empty message",
    SKIP_REPORT: "a delivery or read report (--pst-reports skip)",
}


# Notes on a message that moves, but not whole: counted per folder in every report.
NOTES = {
    "partial": "only part of the body was downloaded by the mail client (POP): moves as "
               "the client holds it",
    "attachments-missing": "attachments Apple Mail had not downloaded to this Mac: the "
                           "message moves without them (to move it whole, open it in Mail "
                           "so that Mail downloads them, before the run)",
    "wlm-state": "moves unread and unflagged: Windows Live Mail keeps read and flag state "
                 "in Mail.MSMessageStore, which this tool cannot read (mark them read on "
                 "the server after the move)",
}


@dataclasses.dataclass(slots=True)
class SourceMessage:
    """One message as read from a store.

    ``key`` is stable within its folder for an unchanged store (an offset, a
    file name); ``location`` tells a human where to find it.
    """

    key: str
    location: str
    data: bytes
    flags: frozenset[str] = frozenset()
    keywords: frozenset[str] = frozenset()
    internaldate: dt.datetime | None = None
    skip_reason: str | None = None
    notes: tuple[str, ...] = ()  # e.g. "partial" (POP body truncated)


@dataclasses.dataclass(slots=True)
class NonMail:
    """A file in a store that is not mail (calendar, contacts, ...), counted."""

    path: Path
    kind: str


class Folder(abc.ABC):
    """A folder of a store: a name path and a way to stream its messages."""

    def __init__(self, store: "Store", name: tuple[str, ...], path: Path):
        self.store = store
        self.name = name  # path components, () for the store root
        self.path = path

    @property
    def display_name(self) -> str:
        return printable("/".join(self.name)) if self.name else "(root)"

    @abc.abstractmethod
    def messages(self) -> Iterator[SourceMessage]:
        """Yield every message of the folder in store order, skipped ones too."""

    def direct_reader(self):
        """None, or a context manager giving ``read(key)``: a message's bytes by the
        key ``messages`` gave it, without reading the others (``MboxAt``)."""
        return None

    def read_keyed(self, wanted: Iterator[Any], gone_if_unreadable: bool = False
                   ) -> Iterator[tuple[Any, bytes | None]]:
        """(item, its message's bytes now, or None when the folder no longer has it at
        that key) for *wanted*: items with the ``key`` ``messages`` gave, in store
        order. Only those are read where the folder can read by key (a reader that
        cannot place the first key is not used); else the folder is walked once.

        A source that can no longer be read raises its SourceError, or with
        *gone_if_unreadable* answers None for the item being read and every later one
        (a report names them all the same; a second look at a body finds nothing)."""
        item = next(wanted, None)
        if item is None:
            return
        try:
            direct = self.direct_reader()
            if direct is not None:
                with direct as read:
                    data = read(item.key)
                    if data is not None:
                        while item is not None:
                            yield item, data
                            item = next(wanted, None)
                            data = read(item.key) if item is not None else None
                        return
            for msg in self.messages():
                if msg.key == item.key:
                    yield item, msg.data
                    item = next(wanted, None)
                    if item is None:
                        return
        except SourceError:
            if not gone_if_unreadable:
                raise
        while item is not None:
            yield item, None
            item = next(wanted, None)

    def inputs(self) -> list[Path] | None:
        """Every file and directory whose change could change what ``messages``
        yields (for ``quickcheck``); None when unknown: read it every time."""
        return None

    def reader_options(self) -> tuple:
        """Options of the reader that change what ``messages`` yields."""
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.display_name!r} at {self.path}>"


def source_containing(stores, path) -> "Store | None":
    """The store *path* is inside (or is), if any: nothing of ours is written there."""
    root = path_inside([store.path for store in stores], path)
    return next((store for store in stores if _real(store.path) == root), None)


def path_inside(roots, path) -> Path | None:
    """The one of *roots* (resolved) that *path* is inside of, or is; else None. By name,
    and by identity (device and inode) of every folder above *path* that exists: on a
    case-insensitive file system (macOS, Windows) ``~/Mail/Backup`` is inside
    ``~/mail`` though the names differ."""
    dest = _real(path)
    roots = list(map(_real, roots))
    for root in roots:
        if dest == root or root in dest.parents:
            return root
    identities = {_identity(root): root for root in roots}
    identities.pop(None, None)
    for folder in (dest, *dest.parents):
        found = identities.get(_identity(folder))
        if found is not None:
            return found
    return None


def _identity(path: Path):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if st.st_ino else None


def _real(path) -> Path:
    """*path* with its links resolved; never raises (a symlink loop is left as is, for
    the reader to report)."""
    return Path(os.path.realpath(path))


SHARING = {32, 33}  # Windows: ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION


def held_open(e: OSError) -> bool:
    """Whether *e* says another program holds the file (Outlook its .pst on Windows)."""
    import errno
    return getattr(e, "winerror", None) in SHARING or e.errno in (errno.EBUSY, errno.ETXTBSY)


def held_open_advice(path) -> str:
    return (f"{path} is open in another program (Outlook, Windows Live Mail or Apple Mail "
            "still running?): close that program, then run the same command again")


def printable(text: str) -> str:
    """*text* with undecodable file-name bytes shown as escapes (\\xe9), so it can be
    printed, logged and stored whatever the terminal or database takes."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Store(abc.ABC):
    """A local mail store rooted at a path."""

    kind = "?"
    files_fixed = True  # its files exist before it is read: a backup may be written meanwhile

    def __init__(self, path: Path):
        self.path = Path(path)
        self.non_mail: list[NonMail] = []
        self._listing = None

    @abc.abstractmethod
    def folders(self) -> list[Folder]:
        """Return the store's folders, parents before children."""

    def listing(self):
        """The store's files by the link policy (``sources.walk``), listed once.

        Readers take folders and message files from here and the backup
        archives its ``files``: what is uploaded is what is backed up.
        """
        if self._listing is None:
            from migrate.sources.walk import walk
            self.use_listing(walk(self.path))
        return self._listing

    def use_listing(self, listing) -> None:
        """Read from *listing* (of this store's path); what it refused is named."""
        self._listing = listing
        self.non_mail.extend(NonMail(p, why) for p, why in listing.refused)

    def share_listing(self, other: "Store") -> None:
        """Read a sub-tree of *other* (a Thunderbird account) from its listing."""
        self._listing = other.listing()

    def files(self) -> list[Path]:
        """Every file that belongs to the store (for backup), sorted."""
        return list(self.listing().files)

    def harmless(self, path: Path) -> str | None:
        """What *path* is when it is a file of the store's client that is not mail
        (an index, settings), else None: the plan names every other file it did not
        read (``sources.accounting``)."""
        return known_harmless(path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path}>"
