"""A tree of one-message files: ``.eml`` exports, readpst ``-e``/``-M`` output.

Each directory is a folder (the root is INBOX); each file that starts like a
message is one message, whatever its extension. A leading mbox ``From `` line
(common in real .eml files, and readpst's ``-e`` output) is not part of the
message: it is dropped, and its date used. Other files are listed as not mail
(``.ics`` calendars and ``.vcf`` contacts from readpst, attachments, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from migrate.errors import SourceError
from migrate.sources.base import Folder, NonMail, SourceMessage, Store
from migrate.sources.files import best_date, looks_like_message, read_message_file
from migrate.sources.flags import from_mbox_headers
from migrate.sources.mbox import split_mbox

NON_MAIL_KINDS = {".ics": "calendar item", ".vcf": "contact", ".vcs": "calendar item"}


def unwrap(root: Path, listing) -> Path:
    """Descend through a lone wrapper directory (a PST's root folder, an export folder)."""
    while True:
        entries = {p.relative_to(root).parts[0] for p in listing.files_under(root)}
        entries |= {d.name for d in listing.dirs if d.parent == root}
        visible = [e for e in entries if not e.startswith(".")]
        if len(visible) == 1 and listing.has_dir(root / visible[0]):
            root = root / visible[0]
        else:
            return root


class EmlFolder(Folder):
    def __init__(self, store, name, path, files: list[Path]):
        super().__init__(store, name, path)
        self.files = files

    def inputs(self) -> list[Path]:
        return list(self.files) + sorted({p.parent for p in self.files} | {self.path})

    def messages(self) -> Iterator[SourceMessage]:
        for path in self.files:
            parts = _mbox_parts(path)
            if len(parts) > 1:  # really an mbox: never merge its messages
                for n, (from_line, data) in enumerate(parts):
                    msg = SourceMessage(key=f"{path.name}#{n}", location=f"{path} message {n + 1}",
                                        data=data)
                    yield self._finish(msg, from_line, path)
                continue
            msg, from_line = read_message_file(path, path.name)
            yield self._finish(msg, from_line, path)

    @staticmethod
    def _finish(msg: SourceMessage, from_line: bytes, path: Path) -> SourceMessage:
        if not msg.skip_reason:
            msg.flags, msg.keywords, msg.skip_reason, msg.notes = from_mbox_headers(msg.data)
            msg.internaldate = best_date(msg.data, from_line, path)
        return msg


def _mbox_parts(path: Path) -> list[tuple[bytes, bytes]]:
    """(From_ line, message) pairs if *path* starts with a From_ line, else []."""
    try:
        with open(path, "rb") as f:
            if not f.read(5) == b"From ":
                return []
            f.seek(0)
            return [(line, data) for _, line, data in split_mbox(f)]
    except (OSError, SourceError):
        return []


def _natural(path: Path):
    """Sort 2.eml before 10.eml (readpst numbers its files)."""
    stem = path.stem
    return (0, int(stem), path.name) if stem.isdigit() else (1, 0, path.name)


class EmlTreeStore(Store):
    kind = "eml-tree"
    folder_class = EmlFolder

    def folders(self) -> list[Folder]:
        listing = self.listing()
        root = unwrap(self.path, listing)
        by_dir: dict[Path, list[Path]] = {}
        for path in listing.files_under(root):
            if path.name.startswith("."):
                continue
            kind = NON_MAIL_KINDS.get(path.suffix.lower())
            if kind is not None:
                self.non_mail.append(NonMail(path, kind))
            elif looks_like_message(path):
                by_dir.setdefault(path.parent, []).append(path)
            # anything else the plan names as not read, with its size (sources.accounting)
        return [self.folder_class(self, directory.relative_to(root).parts, directory,
                                  sorted(files, key=_natural))
                for directory, files in sorted(by_dir.items())]


def looks_like_eml_tree(path: Path, listing=None) -> bool:
    from migrate.sources.walk import walk
    return any(looks_like_message(p) for p in (listing or walk(path)).files)
