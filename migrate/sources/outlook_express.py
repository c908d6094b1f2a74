"""Outlook Express: a store folder of ``.dbx`` files (OE5/6) or ``.mbx`` files (OE4).

``Folders.dbx`` names the folders and their tree (``sources.dbx_format``); each
folder's messages are in its own file, found by name whatever its case (OE6
writes ``KDE.dbx`` in the list and ``kde.dbx`` on disk). A message file the list
does not name is a folder by its file name; a folder the list names whose file
was never written (OE writes it on first use) arrives empty. The format is told
by the magic bytes, not the suffix (OE4 files renamed ``.dbx`` exist). Folder
names are the system's ANSI code page: read as UTF-8 where they are, else
Windows-1252.

Flags: read, flagged; a message marked deleted and not yet compacted does not
move. OE4 keeps flags in ``.idx`` files, not read: its messages move unread.
A damaged file moves what can be read; what cannot is named, with the offset.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any, Iterator, cast

from migrate.sources import dbx_format as fmt
from migrate.sources.base import (
    SKIP_DELETED,
    SKIP_UNREADABLE,
    Folder,
    NonMail,
    SourceMessage,
    Store,
)
from migrate.sources.files import best_date
from migrate.sources.flags import FLAGGED, SEEN

INBOXES = {"inbox", "posteingang", "boîte de réception", "bandeja de entrada",
           "posta in arrivo", "postvak in", "inkorgen", "caixa de entrada", "indbakke",
           "innboks", "saapuneet"}
SETTINGS = "Outlook Express settings or cache (not mail)"


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def file_kind(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return fmt.kind_of(f.read(8))
    except OSError:
        return None


class _Mapped:
    """A file's bytes, mapped read-only (a 2 GB .dbx is not read into memory)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.f = open(self.path, "rb")
        try:
            self.data = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            self.data = b""
        return self.data

    def __exit__(self, *exc):
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        self.f.close()


class OutlookExpressFolder(Folder):
    def __init__(self, store, name, path: Path, file: Path | None,
                 listed_in: Path | None = None):
        super().__init__(store, name, path)
        self.file = file  # None: listed in Folders.dbx, never written
        self.listed_in = listed_in  # the Folders.dbx that names it

    def inputs(self) -> list[Path]:
        return [p for p in (self.file, self.listed_in) if p is not None]

    def messages(self) -> Iterator[SourceMessage]:
        if self.file is None:
            return
        try:
            with _Mapped(self.file) as data:
                kind = fmt.kind_of(bytes(data[:8]))
                if kind == "mbx":
                    yield from self._mbx(data)
                else:
                    yield from self._dbx(data)
        except OSError as e:
            yield self._unreadable("@file", str(self.file), e.strerror or str(e))

    def _unreadable(self, key: str, location: str, why: str) -> SourceMessage:
        return SourceMessage(key=key, location=location, data=b"",
                             skip_reason=SKIP_UNREADABLE, notes=(why,))

    def _dbx(self, data) -> Iterator[SourceMessage]:
        try:
            items = fmt.dbx_messages(data)
        except fmt.DbxError as e:  # the index itself: nothing can be listed
            yield self._unreadable("@index", str(self.file),
                                   f"the file's index is damaged ({e}): its messages "
                                   "cannot be listed; open and compact it in Outlook "
                                   "Express, or give a backup copy")
            return
        for n, (at, item) in enumerate(items, 1):
            key, location = f"@{at}", f"{self.file} message {n}"
            try:
                text = fmt.message_text(data, item.number(0x04) or 0)
            except fmt.DbxError as e:
                yield self._unreadable(key, location, str(e))
                continue
            bits = item.number(0x01) or 0
            flags = {flag for bit, flag in ((fmt.ARF_READ, SEEN), (fmt.ARF_FLAGGED, FLAGGED))
                     if bits & bit}
            yield SourceMessage(
                key=key, location=location, data=text, flags=frozenset(flags),
                internaldate=item.filetime(0x12) or best_date(text, b"", cast(Path, self.file)),
                skip_reason=SKIP_DELETED if bits & fmt.ARF_ENDANGERED else None)

    def _mbx(self, data) -> Iterator[SourceMessage]:
        try:
            records = fmt.mbx_messages(data)
        except fmt.DbxError as e:
            yield self._unreadable("@index", str(self.file), f"the file is damaged ({e})")
            return
        for n, (at, text) in enumerate(records, 1):
            yield SourceMessage(key=f"@{at}", location=f"{self.file} message {n}", data=text,
                                internaldate=best_date(text, b"", cast(Path, self.file)))


class OutlookExpressStore(Store):
    kind = "outlook-express"

    def folders(self) -> list[Folder]:
        listing = self.listing()
        root = self.path if self.path.is_dir() else self.path.parent
        kinds = {p: file_kind(p) for p in listing.files}
        found: list[Folder] = []
        used: set[Path] = set()
        for listed in sorted(p for p, kind in kinds.items() if kind == "folders"):
            used.add(listed)  # each identity's (store folder's) own list, and its files
            beside = {p.name.casefold(): p for p in listing.files if p.parent == listed.parent}
            for name, file in self._tree(listed, beside):
                if file is not None:
                    used.add(file)
                found.append(OutlookExpressFolder(self, name, file or listed.parent / name[-1],
                                                  file, listed))
        for path, kind in sorted(kinds.items()):
            if path in used:
                continue
            if kind in ("messages", "mbx"):
                parts = path.parent.relative_to(root).parts if path != self.path else ()
                found.append(OutlookExpressFolder(self, _named_chain([*parts, path.stem]),
                                                  path, path))
            elif kind == "other":
                self.non_mail.append(NonMail(path, SETTINGS))
        return found

    def _tree(self, listed: Path, files: dict) -> list[tuple[tuple[str, ...], Path | None]]:
        with _Mapped(listed) as data:
            try:
                rows = fmt.dbx_folders(data)
            except fmt.DbxError:
                self.non_mail.append(NonMail(listed, "Outlook Express folder list, damaged: "
                                                     "folders named by their files"))
                return []
        by_id = {r["id"] or 0: r for r in rows}
        out = []
        for row in rows:
            if not row["file"]:
                continue  # the tree's top ("Outlook Express", "Local Folders"), accounts
            chain, seen = [], set()
            at: dict[str, Any] | None = row
            while at is not None and (at["id"] or 0) not in seen:
                seen.add(at["id"] or 0)
                if at["file"]:
                    chain.append(_text(at["name"]))
                at = by_id.get(at["parent"]) if at["parent"] not in (None, 0xFFFFFFFF) else None
            file = files.get(_text(row["file"]).casefold())
            out.append((_named_chain(chain[::-1]), file))
        return sorted(out, key=lambda pair: pair[0])

    def harmless(self, path: Path) -> str | None:
        if path.suffix.lower() in (".idx", ".nch") or path.name.lower() == "folders.nch":
            return "Outlook Express 4 index"
        return super().harmless(path)


def _named_chain(chain: list[str]) -> tuple[str, ...]:
    if chain and chain[0].casefold() in INBOXES:
        chain = ["Inbox"] + chain[1:]
    return tuple(chain)


def looks_like_outlook_express(listing) -> bool:
    return any(p.suffix.lower() in (".dbx", ".mbx") and file_kind(p) in ("messages", "folders",
                                                                         "mbx")
               for p in listing.files)
