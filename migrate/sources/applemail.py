"""Apple Mail's own store: ``~/Library/Mail/V2`` ... ``V10`` (and any tree of ``.emlx``).

* Each version directory holds one directory per account (a UUID from V3 on,
  ``POP-user@host`` and ``Mailboxes`` in V2) and ``MailData`` (indexes, rules,
  signatures: not mail). Only the newest version directory is read: Mail copies
  the older one forward when it upgrades; the older ones are named, not read.
* A mailbox is a ``Name.mbox`` directory; its messages are in ``Messages/`` (V2)
  or ``<UUID>/Data/<digits>/.../Messages/`` (V3 on); nested mailboxes are
  ``Name.mbox/Child.mbox``. Folder names are relative to the account, so every
  account's INBOX goes to INBOX (the fingerprint keeps copies from doubling).
* A message is ``N.emlx`` or ``N.partial.emlx`` (``sources.emlx``): flags and the
  date received from its property list; a partial one gets its detached parts
  back from ``Attachments/N/<part>/`` beside ``Messages/``. Where such a file is
  not on the disk (Mail had not downloaded it) the message moves as Mail holds
  it, and the plan says so. A message Mail marked deleted (not yet erased) does
  not move.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from migrate.sources.base import (
    SKIP_DELETED,
    SKIP_UNREADABLE,
    Folder,
    NonMail,
    SourceMessage,
    Store,
)
from migrate.sources.emlx import Emlx, EmlxError, rebuild
from migrate.sources.files import best_date

_VERSION = re.compile(r"V([0-9]+)")
_NUMBER = re.compile(r"([0-9]+)(?:\.partial)?\.emlx")
NOTE_DETACHED_MISSING = "attachments-missing"


def is_emlx(path: Path) -> bool:
    return path.name.lower().endswith(".emlx")


def _attachments_of(message_file: Path) -> Path:
    number = message_file.name.split(".", 1)[0]
    return message_file.parent.parent / "Attachments" / number


class AppleMailFolder(Folder):
    store: AppleMailStore

    def __init__(self, store, name, path, files: list[Path]):
        super().__init__(store, name, path)
        self.files = files

    def inputs(self) -> list[Path]:
        found = [self.path, *sorted({p.parent for p in self.files}), *self.files]
        for path in self.files:
            if ".partial." in path.name:
                found += self.store.attachment_files(_attachments_of(path))
        return found

    def messages(self) -> Iterator[SourceMessage]:
        for path in self.files:
            key = path.relative_to(self.path).as_posix()
            try:
                data = path.read_bytes()
            except OSError as e:
                yield SourceMessage(key=key, location=str(path), data=b"",
                                    skip_reason=SKIP_UNREADABLE, notes=(e.strerror or str(e),))
                continue
            try:
                emlx = Emlx.parse(data)
            except EmlxError as e:
                yield SourceMessage(key=key, location=str(path), data=b"",
                                    skip_reason=SKIP_UNREADABLE, notes=(str(e),))
                continue
            message = emlx.message
            notes: tuple[str, ...] = ()
            if ".partial." in path.name:
                message, missing = rebuild(message, _attachments_of(path))
                if missing:
                    notes = (NOTE_DETACHED_MISSING,)
            flags, keywords = emlx.flags()
            yield SourceMessage(
                key=key, location=str(path), data=message, flags=flags, keywords=keywords,
                internaldate=emlx.received() or best_date(message, b"", path),
                skip_reason=SKIP_DELETED if emlx.deleted else None, notes=notes)


def _number(path: Path):
    m = _NUMBER.fullmatch(path.name)
    return (int(m.group(1)), path.name) if m else (1 << 62, path.name)


class AppleMailStore(Store):
    kind = "apple-mail"

    def accounts(self) -> list[Path]:
        """The directories whose mailboxes are named from them: the accounts of the
        newest ``V*`` directory, or the path itself."""
        listing = self.listing()
        root = self.path
        if (root / "Mail").is_dir() and not any(_VERSION.fullmatch(d.name) for d in listing.dirs
                                                 if d.parent == root):
            root = root / "Mail"  # given ~/Library: Apple Mail's folder in it
        versions = sorted((int(m.group(1)), d) for d in listing.dirs
                          if d.parent == root and (m := _VERSION.fullmatch(d.name)))
        if versions:
            for _, older in versions[:-1]:
                self.non_mail.append(NonMail(older, "an older Apple Mail store, copied forward "
                                                    "by Mail into the newest: not read (give "
                                                    "it as a source to read it too)"))
            root = versions[-1][1]
        if _VERSION.fullmatch(root.name):
            return sorted(d for d in listing.dirs if d.parent == root and d.name != "MailData")
        return [root]

    def folders(self) -> list[Folder]:
        listing = self.listing()
        by_folder: dict[tuple[Path, Path], list[Path]] = {}
        accounts = self.accounts()
        for account in accounts:
            for path in listing.files_under(account):
                if not is_emlx(path):
                    continue
                by_folder.setdefault((account, _mailbox_of(path, account)), []).append(path)
            for directory in listing.dirs:  # every mailbox arrives, empty or not
                if directory.name.endswith(".mbox") and account in directory.parents:
                    by_folder.setdefault((account, directory), [])
        found: list[Folder] = []
        for (account, directory), files in sorted(by_folder.items()):
            name = tuple(p[:-5] if p.endswith(".mbox") else p
                         for p in directory.relative_to(account).parts)
            found.append(AppleMailFolder(self, name, directory, sorted(files, key=_number)))
        return found

    def attachment_files(self, directory: Path) -> list[Path]:
        """The files under ``Attachments/<number>`` (indexed once: a store of many
        partial messages is not listed again for each)."""
        index: dict[Path, list[Path]] | None = getattr(self, "_attachments", None)
        if index is None:
            index = {}
            self._attachments = index
            for path in self.listing().files:
                parts = path.parts
                if "Attachments" in parts:
                    at = len(parts) - 1 - parts[::-1].index("Attachments")
                    if at + 1 < len(parts) - 1:
                        index.setdefault(Path(*parts[:at + 2]), []).append(path)
        return index.get(directory, [])

    def harmless(self, path: Path) -> str | None:
        if "MailData" in path.parts or path.name.startswith("Envelope Index"):
            return "Apple Mail index or settings"
        return super().harmless(path)


def _mailbox_of(message: Path, account: Path) -> Path:
    """The nearest ``.mbox`` directory above a message, else the directory holding
    ``Messages/`` (a copied tree), else the message's own directory (loose files)."""
    for parent in message.parents:
        if parent == account:
            break
        if parent.name.endswith(".mbox"):
            return parent
    return message.parent.parent if message.parent.name == "Messages" else message.parent


def looks_like_apple_mail(listing) -> bool:
    return any(is_emlx(p) for p in listing.files)
