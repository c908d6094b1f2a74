"""The one enumeration of a store's files: what is read is what is backed up.

Every reader lists folders and message files from a store's :class:`Listing`,
and the backup archives exactly ``Listing.files``, so mail that is uploaded
is by construction in the verified backup. The link policy (docs/backup.md):

* a link to a **directory** is followed wherever it points (a Thunderbird
  ``Mail`` folder moved to another disk is common), unless it leads back to a
  directory already on the way down (a loop) or already read through another
  path (the same mail twice);
* a link to a **file** is followed only when the file is inside the store or
  inside a directory reached through a followed link: a link to
  ``/etc/passwd`` in a maildir is not mail;
* a followed link's bytes are archived under the link's own path, so a
  restore gives back the tree as the readers saw it;
* FIFOs, sockets and devices are never opened (a FIFO would hang the read,
  ``/dev/zero`` would never end), nor are broken links.

Everything not read is listed in ``refused`` with the reason, and the plan
shows it among the files that are not mail.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

SPECIAL = "special file (FIFO, socket or device): not read"
LOOP = "link back to a folder above it (a loop): not followed"
TWICE = "link to a folder that is already read through another path: not followed"
OUTSIDE = "link to a file outside the store: not read"
BROKEN = "broken link: not read"
UNREADABLE = "folder cannot be read"


@dataclasses.dataclass
class Listing:
    """Regular files and descendable directories under *root*, paths as seen from it."""

    root: Path
    files: list[Path] = dataclasses.field(default_factory=list)
    dirs: set[Path] = dataclasses.field(default_factory=set)
    refused: list[tuple[Path, str]] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self._files = set(self.files)
        self._refused = set(self.refused)

    def has_file(self, path: Path) -> bool:
        return Path(path) in self._files

    def is_broken(self, path: Path) -> bool:
        """A link to nothing: readers report it as an unreadable message, never skip it."""
        return (Path(path), BROKEN) in self._refused

    def has_dir(self, path: Path) -> bool:
        return Path(path) in self.dirs

    def files_under(self, directory: Path) -> list[Path]:
        """Files at any depth below *directory*, sorted."""
        directory = Path(directory)
        if directory == self.root:
            return list(self.files)
        return [p for p in self.files if directory in p.parents]


def walk(root: Path) -> Listing:
    """List *root* (a directory, or a single file) by the link policy above."""
    root = Path(root)
    listing = Listing(root)
    try:
        st = os.stat(root)
    except OSError as e:
        listing.refused.append((root, f"cannot be read: {e.strerror}"))
        return listing
    if stat.S_ISREG(st.st_mode):
        listing.files.append(root)  # named by the user: followed even if it is a link
    elif stat.S_ISDIR(st.st_mode):
        real = Path(os.path.realpath(root))
        listing.dirs.add(root)
        roots = [real]
        links: list[tuple[Path, Path]] = []
        _walk(listing, root, (real,), roots, {real}, links)
        for path, target in links:  # once every followed directory is known
            if _inside(target, roots):
                listing.files.append(path)
            else:
                listing.refused.append((path, OUTSIDE))
    else:
        listing.refused.append((root, SPECIAL))
    listing.files.sort()
    listing.__post_init__()
    return listing


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _walk(listing: Listing, directory: Path, ancestors: tuple, roots: list, seen: set,
          links: list) -> None:
    """Depth first, in name order, with a stack of its own: a tree nested thousands of
    folders deep is listed like any other (recursion stopped at Python's limit)."""
    stack = [(directory, ancestors, _entries(listing, directory))]
    while stack:
        directory, ancestors, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        path = directory / entry.name
        try:
            link = entry.is_symlink()
            st = os.stat(path) if link else entry.stat(follow_symlinks=False)
        except OSError:
            listing.refused.append((path, BROKEN))
            continue
        if stat.S_ISDIR(st.st_mode):
            real = Path(os.path.realpath(path)) if link else ancestors[-1] / entry.name
            if link and real in ancestors:
                listing.refused.append((path, LOOP))
                continue
            if real in seen:
                listing.refused.append((path, TWICE))
                continue
            seen.add(real)
            if link:
                roots.append(real)
            listing.dirs.add(path)
            stack.append((path, ancestors + (real,), _entries(listing, path)))
        elif stat.S_ISREG(st.st_mode):
            if link:
                links.append((path, Path(os.path.realpath(path))))
            else:
                listing.files.append(path)
        else:
            listing.refused.append((path, SPECIAL))


def _entries(listing: Listing, directory: Path):
    """The entries of *directory* in name order (none when it cannot be read: named)."""
    try:
        return iter(sorted(os.scandir(directory), key=lambda e: e.name))
    except OSError as e:
        listing.refused.append((directory, f"{UNREADABLE}: {e.strerror}"))
        return iter(())
