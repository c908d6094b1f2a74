"""Outlook .pst files, read directly with libpff (``pip install mailmigrate[pst]``).

The folder tree under the IPM subtree root (the localised "Top of Outlook
data file") becomes the account's tree. Each mail item (IPM.Note and its
variants, IPM.Post, meeting messages; reports/NDRs unless ``--pst-reports
skip``) is rebuilt as an RFC 5322 message by :mod:`migrate.sources.pst_mime`;
calendar items, contacts, tasks, notes, journal entries and distribution lists
are listed as not mail, by kind.

The file is only read. libpff reads items on demand, so memory stays bounded
by the largest single message. A PST password is not encryption (a header
checksum): such files open as any other.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any, Iterator

from migrate.errors import SourceError
from migrate.sources import pst_mime
from migrate.sources.base import (
    SKIP_REPORT,
    SKIP_UNREADABLE,
    Folder,
    NonMail,
    SourceMessage,
    Store,
    held_open,
    held_open_advice,
)
from migrate.sources.pst_mime import Props

PR_IPM_SUBTREE_ENTRYID = 0x35E0
PR_MESSAGE_CODEPAGE = 0x3FFD
PR_INTERNET_CPID = 0x3FDE
PR_MESSAGE_CLASS = 0x001A
ANSI_VERSIONS = (14, 15)  # wVer of 32-bit (ANSI) files; 23 is Unicode

NOT_MAIL = {"ipm.appointment": "calendar item", "ipm.contact": "contact",
            "ipm.task": "task", "ipm.stickynote": "note", "ipm.distlist": "distribution list",
            "ipm.activity": "journal entry", "ipm.microsoft": "Outlook configuration item"}

INSTALL_HINT = ("reading .pst files directly needs the optional extra: "
                "pip install 'mailmigrate[pst]' (libpff-python). Or export it first with "
                "'readpst -r -D -j 0 -o OUTDIR {path}' (Debian/Ubuntu: apt-get install "
                "pst-utils) and pass OUTDIR (docs/sources/pst.md)")

# Outlook's Windows code page for an Internet code page found in messages.
_CPID_TO_ANSI = {50220: "cp932", 50221: "cp932", 50222: "cp932", 51932: "cp932", 932: "cp932",
                 936: "cp936", 54936: "cp936", 52936: "cp936", 20936: "cp936", 950: "cp950",
                 949: "cp949", 51949: "cp949", 874: "cp874", 20866: "cp1251", 21866: "cp1251",
                 28592: "cp1250", 28595: "cp1251", 28597: "cp1253", 28599: "cp1254",
                 28598: "cp1255", 28596: "cp1256", 28594: "cp1257", 28605: "cp1252"}
_CPID_TO_ANSI.update({cp: f"cp{cp}" for cp in range(1250, 1259)})


def _pypff():
    try:
        import pypff
    except ImportError:
        return None
    return pypff


def pst_version(path: Path) -> int | None:
    """wVer from the file header (14/15 ANSI, 23 Unicode), None if not a PST."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as e:
        if held_open(e):
            raise SourceError(held_open_advice(path)) from None
        raise
    if head[:4] != b"!BDN":
        return None
    return int.from_bytes(head[10:12], "little")


class PstFolder(Folder):
    store: PstStore

    def __init__(self, store: "PstStore", name: tuple[str, ...], path: Path, node: int,
                 route: tuple[int, ...] = ()):
        super().__init__(store, name, path)
        self.node = node
        self.route = route  # sub-folder indexes from the IPM root: found again without a search

    def messages(self) -> Iterator[SourceMessage]:
        yield from self.store.iter_messages(self)

    def inputs(self) -> list[Path]:
        return [self.store.path]

    def reader_options(self) -> tuple:
        return (self.store.codepage, self.store.reports)


class PstStore(Store):
    kind = "pst"

    def __init__(self, path: Path, codepage: str | None = None, reports: str = "upload"):
        super().__init__(path)
        self.pypff = _pypff()
        if self.pypff is None:
            raise SourceError(f"{path} is an Outlook .pst file: "
                              + INSTALL_HINT.format(path=path))
        version = pst_version(self.path)
        if version is None:
            raise SourceError(f"{path} is not an Outlook data file (no !BDN signature)")
        self.ansi = version in ANSI_VERSIONS
        self.codepage = codepage
        self.codepage_guessed = False
        self.reports = reports
        self._local = threading.local()  # libpff is not thread-safe: a handle per thread
        self._lock = threading.Lock()
        self._folders: list[PstFolder] | None = None
        self.not_mail_counts: collections.Counter = collections.Counter()

    # -- opening -------------------------------------------------------------

    def _open(self):
        """This thread's libpff handle (the code page is guessed once, on first open)."""
        handle = getattr(self._local, "file", None)
        if handle is not None:
            return handle
        with self._lock:
            handle = self._open_file()
            if self.ansi and not self.codepage:
                guess = self._guess_codepage(handle)
                self.codepage = guess or "cp1252"
                self.codepage_guessed = bool(guess)
                if self.codepage != "cp1252":
                    handle.close()
                    handle = self._open_file()
        self._local.file = handle
        return handle

    def _open_file(self):
        f = self.pypff.file()
        if self.ansi and self.codepage:
            try:
                f.set_ascii_codepage(self.codepage)
            except (IOError, OSError, ValueError, TypeError) as e:
                raise SourceError(f"--pst-codepage {self.codepage!r} is not supported "
                                  f"({e}); try e.g. cp932, cp1251, cp1250") from None
        try:
            f.open(str(self.path))  # read-only
        except (IOError, OSError) as e:
            if isinstance(e, OSError) and held_open(e):
                raise SourceError(held_open_advice(self.path)) from None
            raise SourceError(f"{self.path}: libpff cannot open it ({e}); if Outlook "
                              "still runs, close it; else try 'scanpst' first") from None
        return f

    def _guess_codepage(self, handle) -> str | None:
        """The ANSI code page the items declare most often (first 200 items)."""
        seen: collections.Counter[str] = collections.Counter()
        for item in self._walk_items(handle.get_root_folder(), limit=200):
            props = Props(item)
            cp = props.integer(PR_MESSAGE_CODEPAGE) or props.integer(PR_INTERNET_CPID)
            if cp and cp in _CPID_TO_ANSI:
                seen[_CPID_TO_ANSI[cp]] += 1
        return seen.most_common(1)[0][0] if seen else None

    def _walk_items(self, folder, limit: int):
        stack, count = [folder], 0
        while stack and count < limit:
            current = stack.pop()
            for i in range(current.number_of_sub_messages):
                try:
                    yield current.get_sub_message(i)
                except (IOError, OSError):
                    continue
                count += 1
                if count >= limit:
                    return
            stack.extend(current.get_sub_folder(i) for i in range(current.number_of_sub_folders))

    def _ipm_root(self):
        """The folder Outlook shows as the data file's top (its name is localised)."""
        f = self._open()
        root = f.get_root_folder()
        target = None
        store = f.get_message_store()
        if store is not None:
            entry = Props(store).raw(PR_IPM_SUBTREE_ENTRYID)
            if entry and len(entry) >= 24:
                target = int.from_bytes(entry[20:24], "little")
        children = [root.get_sub_folder(i) for i in range(root.number_of_sub_folders)]
        for child in children:
            if target is not None and child.identifier == target:
                return child
        # no store entry: the child with the most folders (search roots have none)
        return max(children, key=lambda c: c.number_of_sub_folders, default=root)

    # -- Store ------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        if self._folders is None:
            found: list[PstFolder] = []
            top = self._ipm_root()
            stack: list[tuple[tuple[str, ...], tuple[int, ...], Any]] = [((), (), top)]
            while stack:
                name, route, folder = stack.pop(0)
                path = self.path.joinpath(*name) if name else self.path
                found.append(PstFolder(self, name, path, folder.identifier, route))
                for i in range(folder.number_of_sub_folders):
                    sub = folder.get_sub_folder(i)
                    stack.append((name + (sub.name or f"folder {sub.identifier}",),
                                  route + (i,), sub))
            self._folders = found
            self._count_not_mail()
        return list(self._folders)

    def _folder_object(self, folder: PstFolder):
        """This thread's libpff folder for *folder*, by its route from the IPM root."""
        obj = self._ipm_root()
        for index in folder.route:
            obj = obj.get_sub_folder(index)
        if obj.identifier != folder.node:
            raise SourceError(f"{self.path}: folder {folder.display_name!r} changed while "
                              "reading; is Outlook still writing to this file?")
        return obj

    def _items(self, folder: PstFolder):
        """(index, item, message class) of a folder in order; item None if unreadable."""
        obj = self._folder_object(folder)
        for i in range(obj.number_of_sub_messages):
            try:
                item = obj.get_sub_message(i)
            except (IOError, OSError) as e:
                yield i, None, str(e)
                continue
            yield i, item, Props(item).string(PR_MESSAGE_CLASS) or "IPM.Note"

    def _count_not_mail(self) -> None:
        """List calendar items, contacts, ... per folder as not mail (never uploaded)."""
        for folder, _, kind in self.non_mail_items():
            self.not_mail_counts[kind] += 1
            self.non_mail.append(NonMail(folder.path, kind))

    def non_mail_items(self):
        """(folder, pypff item, kind) for every item that is not mail."""
        for folder in self._folders if self._folders is not None else self.folders():
            for _, item, cls in self._items(folder):
                kind = not_mail_kind(cls) if item is not None else None
                if kind:
                    yield folder, item, kind

    def iter_messages(self, folder: PstFolder) -> Iterator[SourceMessage]:
        where = folder.display_name
        for i, item, cls in self._items(folder):
            if item is None:  # cls holds the error
                yield SourceMessage(key=f"{folder.node}:{i}", data=b"",
                                    location=f"{self.path} {where} item {i}",
                                    skip_reason=SKIP_UNREADABLE, notes=(cls,))
                continue
            if not_mail_kind(cls):
                continue  # listed as not mail in folders()
            key = f"nid:{item.identifier}"
            location = f"{self.path} {where} item {item.identifier}"
            if cls.upper().startswith("REPORT.") and self.reports == "skip":
                yield SourceMessage(key=key, location=location, data=b"",
                                    skip_reason=SKIP_REPORT)
                continue
            try:
                built = pst_mime.build_message(item)
            except Exception as e:  # noqa: BLE001 - one bad item must not stop the store
                yield SourceMessage(key=key, location=location, data=b"",
                                    skip_reason=SKIP_UNREADABLE,
                                    notes=(f"{type(e).__name__}: {e}",))
                continue
            yield SourceMessage(key=key, location=location, data=built.data,
                                flags=built.flags, keywords=built.keywords,
                                internaldate=built.internaldate)

    def close(self) -> None:
        handle = getattr(self._local, "file", None)
        if handle is not None:
            handle.close()
            self._local.file = None


def not_mail_kind(message_class: str) -> str | None:
    """'contact', 'calendar item', ... for items that are not mail; None for mail."""
    lower = message_class.lower()
    for prefix, kind in NOT_MAIL.items():
        if lower == prefix or lower.startswith(prefix + "."):
            return f"{kind} ({message_class})"
    return None
