"""Every file under a source: read as mail, known and harmless, or named.

A store half recognised must never pass in silence (KMail subfolders dropped,
an Apple Mail tree read as nothing). After the readers listed their folders,
every file of the store's listing is put in one of three places:

* **read**: a folder's ``inputs()`` (its message files, its mbox, its index of
  flags);
* **named**: listed by the reader as not mail (a calendar, an unfinished
  delivery, a link the walk refused), or **known and harmless**: an index or
  settings file of a mail client (``Store.harmless``);
* **not read**: anything else, named in the plan with its size; one that looks
  like mail (starts like a message or an mbox, or has a mail store's suffix)
  makes ``plan`` and ``run`` exit 1 with its name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from migrate.sources.files import looks_like_message

MAIL_SUFFIXES = {".eml", ".emlx", ".msg", ".mbox", ".mbx", ".dbx", ".pst", ".ost", ".olm",
                 ".mbs", ".nws"}
NOT_READ = "not read: unknown format"


@dataclasses.dataclass(frozen=True)
class Unread:
    """A file under a source that no reader took and no rule knows."""

    path: Path
    size: int
    mail_like: bool  # starts like a message or an mbox, or has a mail store's suffix

    @property
    def why(self) -> str:
        return "looks like mail that no reader took" if self.mail_like else NOT_READ


def unread_files(store, folders) -> list[Unread]:
    """The files of *store* its *folders* did not read and nothing names (see above)."""
    listing = store.listing()
    if not listing.files:
        return []
    taken: set[Path] = set()
    for folder in folders:
        inputs = folder.inputs()
        if inputs is None:
            return []  # a reader that cannot tell what it read: never guess
        taken.update(map(Path, inputs))
    named = {Path(item.path) for item in store.non_mail}
    taken |= named
    named_dirs = {p for p in named if listing.has_dir(p)}  # ImapMail/: all of it named
    found = []
    for path in listing.files:
        if path in taken or store.harmless(path) is not None:
            continue
        if named_dirs and any(parent in named_dirs for parent in path.parents):
            continue
        found.append(Unread(path, _size(path), mail_like(path)))
    return found


def mail_like(path: Path) -> bool:
    """A mail store's suffix, or a start like a message (after any From_ line); a file
    that cannot be looked into counts as mail: never called harmless unseen."""
    return path.suffix.lower() in MAIL_SUFFIXES or looks_like_message(path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
