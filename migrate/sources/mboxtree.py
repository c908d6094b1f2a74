"""A directory tree of mbox files: Thunderbird folders, readpst output, Apple Mail exports.

Each mbox file is a folder named by its path relative to the root, without a
``.mbox`` suffix; a ``Name.sbd/`` directory holds the subfolders of ``Name``
(Thunderbird's layout). A file named exactly ``mbox`` is the folder of its
directory (``readpst -r`` output, Apple Mail's ``Name.mbox/mbox``), and a lone
wrapper directory at the top (readpst's PST root) is unwrapped. readpst's
``calendar``, ``contacts`` and ``journal`` files are counted as not mail. Index
files (``.msf``...) are part of the store (backed up) but not mail.
"""

from __future__ import annotations

from pathlib import Path

from migrate.errors import SourceError
from migrate.sources.base import Folder, NonMail, Store
from migrate.sources.mbox import MBOX_SUFFIXES, MboxFolder, looks_like_mbox

INDEX_SUFFIXES = {".eml", ".msf", ".dat", ".ibex", ".idx", ".toc", ".json", ".sqlite", ".ini",
                  ".txt"}
SUBFOLDER_DIR = ".sbd"


READPST_NON_MAIL = {"calendar": "calendar items", "contacts": "contacts",
                    "journal": "journal entries", "table_of_contents": "index"}


def _strip_suffix(part: str) -> str:
    if part.endswith(SUBFOLDER_DIR):
        return part[: -len(SUBFOLDER_DIR)]
    return _mbox_stem(part)


def _mbox_stem(name: str) -> str:
    """"Work.mbox" and exported "Work.mbox.txt" are the folder "Work"."""
    inner = Path(Path(name).stem).suffix.lower()
    if Path(name).suffix.lower() == ".txt" and inner in MBOX_SUFFIXES:
        name = Path(name).stem
    return Path(name).stem if Path(name).suffix.lower() in MBOX_SUFFIXES else name


def folder_name(root: Path, path: Path) -> tuple[str, ...]:
    parts = list(path.relative_to(root).parts)
    if parts[-1] == "mbox":
        return tuple(_strip_suffix(p) for p in parts[:-1])
    parts = [p[: -len(SUBFOLDER_DIR)] if p.endswith(SUBFOLDER_DIR) else p for p in parts[:-1]] \
        + [_mbox_stem(parts[-1])]
    return tuple(parts)


def is_mbox_file(path: Path) -> bool:
    """An mbox with content (empty files are only mbox by Thunderbird's naming).

    A ``.txt`` file is an mbox when it starts with a From_ line (exported
    mailboxes are often saved so), other index suffixes never are.
    """
    if path.suffix.lower() == ".txt":
        return path.stat().st_size > 0 and looks_like_mbox(path)
    if path.suffix.lower() in INDEX_SUFFIXES:
        return False
    if path.name == "mbox":
        return True
    if path.stat().st_size == 0:
        return path.suffix.lower() in MBOX_SUFFIXES or path.with_name(path.name + ".msf").exists()
    return looks_like_mbox(path)


class MboxTreeStore(Store):
    kind = "mbox-tree"

    def folders(self) -> list[Folder]:
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a directory")
        from migrate.sources.emltree import unwrap
        listing = self.listing()
        root = unwrap(self.path, listing)
        found: list[Folder] = []
        for path in listing.files_under(root):
            if path.name in READPST_NON_MAIL:
                self.non_mail.append(NonMail(path, READPST_NON_MAIL[path.name]))
            elif is_mbox_file(path):
                found.append(MboxFolder(self, folder_name(root, path), path))
            # anything else: an index (harmless) or named by the plan (sources.accounting)
        found.sort(key=lambda f: f.name)
        return found


def looks_like_mbox_tree(path: Path, listing=None) -> bool:
    from migrate.sources.walk import walk
    files = (listing or walk(path)).files if path.is_dir() else []
    return any(p.stat().st_size and is_mbox_file(p) for p in files)
