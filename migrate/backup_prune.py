"""Backups kept under control: ``backup --list`` and ``backup --prune``.

Every run that finds the sources changed writes a new archive, so a backup
folder of a month of nights holds many of the same mail. Archives are grouped
by the set of sources their manifest lists; ``--prune`` keeps, per set, the
newest verified archive, every archive newer than it (one may still be being
written), and every archive a state database still points at (the backup its
last run relied on); it removes the others with their manifest and marker. A
set without a verified archive loses nothing. Only files this tool wrote
(``mailmigrate-backup-*``) in the backup folder are ever removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from pathlib import Path

from migrate.backup import check_manifest, load_backup, sidecar
from migrate.errors import BackupError, UsageError
from migrate.state import sqlite_uri


@dataclasses.dataclass
class Archive:
    path: Path
    size: int  # with its manifest and marker
    when: float  # modification time of the archive
    verified: bool
    sources: tuple[str, ...] | None  # None: its manifest cannot be read

    @property
    def files(self) -> list[Path]:
        return files_of(self.path)


def files_of(archive: Path) -> list[Path]:
    """An archive and its sidecars: what is counted, and removed, together."""
    return [archive, sidecar(archive, ".manifest.json"), sidecar(archive, ".verified")]


def archives(backup_dir: Path) -> list[Archive]:
    """The archives in *backup_dir*, newest first."""
    found = []
    for path in Path(backup_dir).glob("mailmigrate-backup-*"):
        if not path.name.endswith((".tar", ".tar.gz")) or not path.is_file() \
                or path.is_symlink():
            continue
        try:
            manifest = check_manifest(json.loads(
                sidecar(path, ".manifest.json").read_bytes()), path)
            sources = tuple(sorted(s["source"] for s in manifest["stores"]))
            verified = load_backup(path, manifest).verified
        except (OSError, ValueError, KeyError, TypeError, BackupError):
            sources, verified = None, False
        size = sum(p.stat().st_size for p in files_of(path) if p.is_file())
        found.append(Archive(path, size, path.stat().st_mtime, verified, sources))
    return sorted(found, key=lambda a: a.when, reverse=True)


def pointed_at(states: list[Path]) -> set[Path]:
    """The backup each state's last run relied on (read-only; a state that cannot be
    read protects nothing, and is named by the caller)."""
    kept = set()
    for state in states:
        try:
            db = sqlite3.connect(sqlite_uri(Path(state).resolve()) + "?mode=ro", uri=True)
            try:
                row = db.execute("SELECT path FROM backups ORDER BY verified DESC "
                                 "LIMIT 1").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            continue
        if row:
            kept.add(Path(row[0]).resolve())
    return kept


def known_states(backup_dir: Path, given: list[Path]) -> list[Path]:
    """The states to ask: those given, every state in the data directory (where runs
    without --state keep theirs), and those beside the backup folder (a jobs file's
    work/<job>/state.sqlite beside work/<job>/backup)."""
    from migrate.state import default_state_path
    found = list(given)
    for folder in (default_state_path("h", "u").parent, Path(backup_dir).resolve().parent):
        if folder.is_dir():
            found += sorted(folder.glob("*.sqlite"))
    return found


def to_remove(found: list[Archive], protected: set[Path]) -> list[Archive]:
    """Per set of sources: every archive older than the newest verified one, unless a
    state points at it. Newest first."""
    newest_verified: dict[tuple, float] = {}
    for a in found:  # newest first: the first verified of each set is its newest
        if a.verified and a.sources is not None:
            newest_verified.setdefault(a.sources, a.when)
    return [a for a in found if a.sources is not None and a.sources in newest_verified
            and a.when < newest_verified[a.sources] and a.path.resolve() not in protected]


def remove(archive: Archive) -> None:
    for path in archive.files:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def listing(found: list[Archive], removing: list[Archive], protected: set[Path]) -> list[str]:
    """The archives by set of sources, newest first, each with its size and what prune
    does with it."""
    from migrate.textsafe import human_size, shown
    going = {a.path for a in removing}
    groups: dict[tuple | None, list[Archive]] = {}
    for a in found:
        groups.setdefault(a.sources, []).append(a)
    lines = []
    for sources, items in groups.items():
        lines.append("sources: " + (", ".join(shown(s) for s in sources) if sources else
                                    "(manifest missing or damaged: never removed)"))
        for a in items:
            when = dt.datetime.fromtimestamp(a.when).strftime("%Y-%m-%d %H:%M")
            what = ("remove" if a.path in going else
                    "keep: a state's last run used it" if a.path.resolve() in protected else
                    "keep" if a.verified else "keep: not verified")
            lines.append(f"  {when}  {human_size(a.size):>9}  {shown(a.path.name)}  "
                         f"{'verified' if a.verified else 'NOT verified'}  ({what})")
    return lines


def freeable(backup_dir: Path) -> tuple[int, int]:
    """(archives, bytes) that --prune would remove now: for the plan's backup line."""
    if not Path(backup_dir).is_dir():
        return 0, 0
    going = to_remove(archives(backup_dir), pointed_at(known_states(backup_dir, [])))
    return len(going), sum(a.size for a in going)


def prune(backup_dir: Path, states: list[Path], dry_run: bool = False
          ) -> tuple[list[str], list[Archive]]:
    """(the listing, the archives removed, or that would be with *dry_run*)."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        raise UsageError(f"{backup_dir} is not a folder of backups; give the --backup-dir "
                         "your runs use")
    found = archives(backup_dir)
    protected = pointed_at(known_states(backup_dir, states))
    removing = to_remove(found, protected)
    lines = listing(found, removing, protected)
    if not dry_run:
        for archive in removing:
            remove(archive)
    return lines, removing

