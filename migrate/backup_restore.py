"""Restore a verified backup: every path checked before anything is written, nothing
outside ``--to`` and nothing existing overwritten; files private, with their times."""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import zlib
from pathlib import Path

from migrate.backup_archive import COPY_CHUNK, local_name, member_file, verify_backup
from migrate.errors import BackupError

log = logging.getLogger("migrate.backup")


def restore_backup(archive: Path, to: Path, force: bool = False) -> list[Path]:
    """Verify *archive*, then extract its stores under *to*; returns the store roots.

    Like a careful archiver: every path is checked before anything is
    created; *to* must be new or empty (unless *force*), and is not followed
    if it is a link; nothing existing is overwritten unless *force*; files are
    written 0600 in 0700 directories, with their original times.
    """
    archive, to = Path(archive), Path(to)
    if not archive.is_file():
        raise BackupError(f"the backup {archive} does not exist or is not a file")
    if to.is_symlink():
        raise BackupError(f"--to {to} is a symbolic link; give the real directory")
    if to.exists() and not to.is_dir():
        raise BackupError(f"--to {to} exists and is not a directory")
    if to.is_dir() and any(to.iterdir()) and not force:
        raise BackupError(f"--to {to} is not empty; restore into a new or empty directory "
                          "(or pass --force to add to it, never overwriting)")
    manifest = verify_backup(archive, mark=False)  # validates every path first
    to.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = to.resolve()
    roots = []
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for store in manifest["stores"]:
                root = to / store["archive_prefix"]
                for f in store["files"]:
                    name = f"{store['archive_prefix']}/{f['path']}"
                    member = tar.getmember(name)
                    parts = [local_name(part) for part in name.split("/")]
                    if parts != name.split("/"):
                        log.warning("%s is restored as %s: this system cannot hold its "
                                    "name", name, "/".join(parts))
                    dest = base.joinpath(*parts)
                    make_dirs(base, parts[:-1])
                    try:
                        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                                     getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0),
                                     0o600)
                    except FileExistsError:
                        raise BackupError(f"{dest} already exists; nothing is overwritten. "
                                          "Restore into an empty directory") from None
                    with member_file(tar, member, archive) as src, os.fdopen(fd, "wb") as out:
                        shutil.copyfileobj(src, out, COPY_CHUNK)
                    os.utime(dest, (f["mtime"], f["mtime"]))
                roots.append(root)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise BackupError(f"restoring {archive} into {to} failed: {e}") from None
    return roots


def make_dirs(base: Path, parts: list[str]) -> None:
    """Create base/parts... (0700), refusing any link on the way."""
    current = base
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise BackupError(f"{current} is a symbolic link; refusing to restore through it")
        if not current.exists():
            current.mkdir(mode=0o700)
