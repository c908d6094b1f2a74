"""A backup archive read and checked: its manifest, every member against it, the
``.verified`` marker tied to the file it vouches for, names this system can hold.

The archive's format (docs/backup.md): one tar, ``MANIFEST.json`` inside and
beside it; a backup counts once :func:`verify_backup` has re-read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import tarfile
import zlib
from pathlib import Path
from typing import IO

from migrate.errors import BackupError
from migrate.filestat import CHUNK, sha256_of
from migrate.textsafe import windows_device

log = logging.getLogger("migrate.backup")

MANIFEST_NAME = "MANIFEST.json"
FORMAT = "mailmigrate-backup"
COPY_CHUNK = CHUNK


def private_open(path: Path, mode: str = "wb"):
    """Open *path* for writing, readable only by its owner (the content is private mail)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    return os.fdopen(fd, mode)


def durable(path: Path) -> None:
    """*path*'s bytes on the disk itself, not only in the system's cache."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_directory(directory: Path) -> None:
    """The names in *directory* on the disk (POSIX; NTFS journals them itself). Some
    file systems (network shares, FUSE) cannot flush a directory: theirs is left to them."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def sidecar(archive: Path, kind: str) -> Path:
    """``x.tar`` / ``x.tar.gz`` -> ``x.manifest.json`` or ``x.verified``."""
    name = archive.name
    for ext in (".tar.gz", ".tar"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return archive.with_name(name + kind)


def verified_marker(archive: Path) -> Path:
    return sidecar(archive, ".verified")


def identity(archive: Path) -> dict:
    """What the marker ties the verification to: any change means verify again."""
    st = archive.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
            "device": st.st_dev}


def damaged(archive: Path, why) -> BackupError:
    return BackupError(f"the backup {archive} is damaged or not a mailmigrate backup ({why}); "
                       "make a new one with --backup-dir")


def check_manifest(manifest, archive: Path) -> dict:
    """*manifest* if it is well formed, else BackupError: it drives what is read and written."""
    def bad(why):
        return damaged(archive, f"manifest: {why}")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad("not a mailmigrate manifest")
    stores = manifest.get("stores")
    if not isinstance(stores, list):
        raise bad("no list of stores")
    prefixes = set()
    for store in stores:
        if not isinstance(store, dict) or not isinstance(store.get("files"), list):
            raise bad("a store entry is not an object with a list of files")
        prefix = store.get("archive_prefix")
        if not isinstance(prefix, str) or not prefix.startswith("store") \
                or not prefix[5:].isdigit() or prefix in prefixes:
            raise bad(f"bad archive prefix {prefix!r}")
        prefixes.add(prefix)
        for f in store["files"]:
            if not isinstance(f, dict):
                raise bad("a file entry is not an object")
            check_member_path(f.get("path"), bad)
            if not isinstance(f.get("size"), int) or f["size"] < 0 or \
                    not isinstance(f.get("mtime"), (int, float)) or \
                    not isinstance(f.get("sha256"), str) or len(f["sha256"]) != 64:
                raise bad(f"bad size, time or hash for {f.get('path')!r}")
    return manifest


def check_member_path(path, bad) -> None:
    """A relative path ('/' between its parts) that stays inside its store: no '..', no
    '.', no empty part, no root, no NUL. Any other name a source's file system holds
    is legal here (``Taxes: 2020``, ``a\\b`` on Linux and macOS): restore makes a
    name this system cannot hold safe (``local_name``), it never refuses one."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise bad(f"bad file path {path!r}")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise bad(f"file path {path!r} would leave the restore directory")


WINDOWS_BAD = set('<>:"|?*\\') | {chr(i) for i in range(32)}


def local_name(part: str, windows: bool = os.name == "nt") -> str:
    """One part of a backed-up path as this system can hold it. On Windows, characters
    it refuses (``< > : " | ? * \\`` and controls) become %XX, a trailing dot or
    space too, and a reserved device name (CON, AUX, NUL...) gets a '_'; a '%' that
    could be read as such an escape becomes %25. Elsewhere the name is kept."""
    if not windows:
        return part
    out = "".join(f"%{ord(c):02X}" if c in WINDOWS_BAD or c == "%" else c for c in part)
    if out[-1:] in (".", " "):
        out = out[:-1] + f"%{ord(out[-1]):02X}"
    if windows_device(out):
        out = "_" + out
    return out


def regular_member(tar: tarfile.TarFile, name: str, archive: Path) -> tarfile.TarInfo:
    """The member *name*, which must be there and be a regular file (not a link or dir)."""
    try:
        member = tar.getmember(name)
    except KeyError:
        raise damaged(archive, f"{name} is missing") from None
    if not member.isfile():
        raise damaged(archive, f"{name} is not a regular file")
    return member


def member_file(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path) -> IO[bytes]:
    """The bytes of a regular *member* (the manifest's checks let no other kind in)."""
    opened = tar.extractfile(member)
    if opened is None:
        raise damaged(archive, f"{member.name} is not a regular file")
    return opened


def read_manifest(tar: tarfile.TarFile, archive: Path) -> dict:
    member = regular_member(tar, MANIFEST_NAME, archive)
    try:
        manifest = json.loads(member_file(tar, member, archive).read())
    except (ValueError, UnicodeDecodeError) as e:
        raise damaged(archive, f"{MANIFEST_NAME} is not JSON: {e}") from None
    return check_manifest(manifest, archive)


def check_complete(tar: tarfile.TarFile, archive: Path) -> None:
    """The archive ends as a tar must (two zero blocks): a cut file is damaged even
    when every listed member happens to be whole."""
    tar.getmembers()  # read to the end; a cut .tar.gz fails its CRC here
    if tar.fileobj is not None and not archive.name.endswith(".gz"):
        end = tar.offset
        with open(archive, "rb") as f:
            f.seek(end)
            tail = f.read(2 * tarfile.BLOCKSIZE)
        if len(tail) < 2 * tarfile.BLOCKSIZE or tail.strip(b"\0"):
            raise damaged(archive, "it ends before the end of the archive (cut short)")


def verify_backup(archive: Path, mark: bool = True, checked: dict | None = None) -> dict:
    """Re-read *archive*, check every member against its manifest; return the manifest.

    With *mark*, write the ``.verified`` marker tied to the archive's size,
    time and identity (``restore`` reads without marking: a backup on
    read-only media can be restored). *checked* ({name: (size, sha256)}):
    members ``create_backup`` has already re-read from this archive.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            manifest = read_manifest(tar, archive)
            for store in manifest["stores"]:
                for f in store["files"]:
                    name = f"{store['archive_prefix']}/{f['path']}"
                    member = regular_member(tar, name, archive)
                    expected = (f["size"], f["sha256"])
                    if member.size == f["size"] and (checked or {}).get(name) == expected:
                        continue  # re-read while the plan ran
                    if sha256_of(tar.extractfile(member)) != expected:
                        raise BackupError(f"backup {archive} is damaged: {name} does not match "
                                          "its manifest; make a new backup")
            check_complete(tar, archive)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise BackupError(f"backup {archive} failed verification ({e}); make a new backup") from e
    side = sidecar(archive, ".manifest.json")
    if side.exists():
        try:
            same = json.loads(side.read_bytes()) == manifest
        except (OSError, ValueError):
            same = False
        if not same:
            raise BackupError(f"{side} does not match the manifest inside {archive}; make a "
                              "new backup")
    if mark:
        marker = verified_marker(archive)
        try:
            marker.unlink(missing_ok=True)
            with private_open(marker) as out:
                out.write(json.dumps({"verified": dt.datetime.now(dt.timezone.utc).isoformat(),
                                      "manifest_sha256": manifest_digest(manifest),
                                      "archive": identity(archive)}).encode())
                out.flush()
                os.fsync(out.fileno())
            durable_directory(archive.parent)  # the names too
        except OSError as e:
            with contextlib.suppress(OSError):
                marker.unlink(missing_ok=True)  # never a marker whose writing failed
            raise BackupError(f"the backup {archive} was verified, but its mark {marker} "
                              f"cannot be written ({e}); free space or fix that disk, then run "
                              "again; nothing was uploaded") from None
    return manifest


def manifest_digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
