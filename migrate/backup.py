"""Backups of the sources, and the gate that ``run`` passes before uploading.

A backup is one plain, uncompressed tar archive (opens with the tools every OS
ships: tar, 7-Zip, macOS Archive Utility) holding every file of each store,
indexes and non-mail files included, plus ``MANIFEST.json`` (each file's path,
size, mtime and SHA-256). The manifest is also written beside the archive.
A backup counts only once :func:`verify_backup` has re-read the archive and
matched every member against the manifest; it then gets a ``.verified`` file.
See docs/backup.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path
from typing import Iterable

from migrate import __version__
from migrate.errors import BackupError
from migrate.sources.base import Store

MANIFEST_NAME = "MANIFEST.json"
FORMAT = "mailmigrate-backup"
COPY_CHUNK = 1 << 20


@dataclasses.dataclass
class BackupResult:
    archive: Path
    manifest: dict
    manifest_sha256: str
    verified: bool
    size: int


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(COPY_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _store_root(store: Store) -> Path:
    return store.path if store.path.is_dir() else store.path.parent


def _store_files(store: Store) -> list[tuple[Path, str]]:
    """(absolute path, path relative to the store root) for each file of a store."""
    root = _store_root(store)
    return [(p, p.relative_to(root).as_posix()) for p in store.files()]


def describe_sources(stores: Iterable[Store], hashes: bool = True) -> list[dict]:
    """The sources as a manifest lists them (sizes, mtimes, hashes)."""
    out = []
    for i, store in enumerate(stores):
        files = []
        for path, rel in _store_files(store):
            st = path.stat()
            entry = {"path": rel, "size": st.st_size, "mtime": st.st_mtime}
            if hashes:
                entry["sha256"] = _sha256_file(path)
            files.append(entry)
        out.append({"source": str(store.path.resolve()), "kind": store.kind,
                    "archive_prefix": f"store{i}", "files": files})
    return out


def check_destination(stores: list[Store], backup_dir: Path, needed: int) -> None:
    """Refuse a destination inside a source, or one without room."""
    dest = backup_dir.resolve()
    for store in stores:
        root = store.path.resolve()
        if dest == root or root in dest.parents:
            raise BackupError(f"the backup directory {backup_dir} is inside the source "
                              f"{store.path}; choose a directory outside every source")
    probe = dest
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    margin = 16 * 1024 * 1024
    if free < needed + margin:
        raise BackupError(f"not enough free space in {backup_dir}: the backup needs about "
                          f"{needed / 1e6:.1f} MB and {free / 1e6:.1f} MB are free; "
                          "choose another --backup-dir or free some space")


def _private_open(path: Path, mode: str = "wb"):
    """Open *path* for writing, readable only by its owner (the content is private mail)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    return os.fdopen(fd, mode)


class _HashingReader:
    """Read a source file while hashing it, for tarfile.addfile."""

    def __init__(self, f):
        self.f = f
        self.h = hashlib.sha256()
        self.n = 0

    def read(self, size=-1):
        data = self.f.read(size)
        self.h.update(data)
        self.n += len(data)
        return data


def sidecar(archive: Path, kind: str) -> Path:
    """``x.tar`` / ``x.tar.gz`` -> ``x.manifest.json`` or ``x.verified``."""
    name = archive.name
    for ext in (".tar.gz", ".tar"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return archive.with_name(name + kind)


def count_messages(store: Store) -> dict:
    """Messages per store, as the manifest records them (one read of the store)."""
    total = skipped = 0
    for folder in store.folders():
        for msg in folder.messages():
            total += 1
            skipped += msg.skip_reason is not None
    return {"messages": total, "skipped_by_source": skipped, "not_mail": len(store.non_mail)}


def create_backup(stores: list[Store], backup_dir: Path, progress=None,
                  counts: dict | None = None, compress: bool = False) -> BackupResult:
    """Write and verify an archive of every file of *stores* into *backup_dir*.

    *counts* (store path -> message counts) comes from the plan when ``run``
    has one; otherwise the stores are counted here. *compress* writes
    ``.tar.gz`` (gzip level 1) instead of plain ``.tar``.
    """
    backup_dir = Path(backup_dir)
    sources = describe_sources(stores, hashes=False)
    needed = sum(f["size"] + 1024 for s in sources for f in s["files"])
    check_destination(stores, backup_dir, needed)
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    ext = ".tar.gz" if compress else ".tar"
    archive = backup_dir / f"mailmigrate-backup-{stamp}{ext}"
    n = 1
    while archive.exists() or sidecar(archive, ".manifest.json").exists():
        n += 1
        archive = backup_dir / f"mailmigrate-backup-{stamp}-{n}{ext}"
    manifest = {"format": FORMAT, "version": 1, "tool_version": __version__,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(),
                "compressed": compress, "stores": []}
    mode = "w:gz" if compress else "w"
    extra = {"compresslevel": 1} if compress else {}
    try:
        with _private_open(archive) as raw, tarfile.open(fileobj=raw, mode=mode,
                                                        format=tarfile.PAX_FORMAT, **extra) as tar:
            for store, desc in zip(stores, sources):
                entry = dict(desc, files=[])
                entry["counts"] = (counts or {}).get(str(store.path)) or count_messages(store)
                for (path, rel), f in zip(_store_files(store), desc["files"]):
                    entry["files"].append(_add_file(tar, path, f"{desc['archive_prefix']}/{rel}",
                                                    f, progress))
                manifest["stores"].append(entry)
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    except OSError as e:
        raise BackupError(f"writing the backup {archive} failed: {e}") from e
    manifest_path = sidecar(archive, ".manifest.json")
    with _private_open(manifest_path) as f:
        f.write(data)
    verify_backup(archive)
    return load_backup(archive)


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str, desc: dict, progress) -> dict:
    st = path.stat()
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
    with open(path, "rb") as f:
        reader = _HashingReader(f)
        tar.addfile(info, reader)
    if reader.n != st.st_size or path.stat().st_size != st.st_size:
        raise BackupError(f"{path} changed while it was being backed up; stop the mail "
                          "client and run again")
    if progress:
        progress(st.st_size)
    return {"path": desc["path"], "size": st.st_size, "mtime": st.st_mtime,
            "sha256": reader.h.hexdigest()}


def _verified_marker(archive: Path) -> Path:
    return sidecar(archive, ".verified")


def verify_backup(archive: Path) -> dict:
    """Re-read *archive*, check every member against its manifest; mark it verified."""
    archive = Path(archive)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            member = tar.getmember(MANIFEST_NAME)
            manifest = json.loads(tar.extractfile(member).read())
            if manifest.get("format") != FORMAT:
                raise BackupError(f"{archive} is not a mailmigrate backup")
            for store in manifest["stores"]:
                for f in store["files"]:
                    name = f"{store['archive_prefix']}/{f['path']}"
                    extracted = tar.extractfile(tar.getmember(name))
                    h = hashlib.sha256()
                    size = 0
                    while chunk := extracted.read(COPY_CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                    if size != f["size"] or h.hexdigest() != f["sha256"]:
                        raise BackupError(f"backup {archive} is damaged: {name} does not match "
                                          "its manifest; make a new backup")
    except (tarfile.TarError, KeyError, OSError, ValueError, EOFError) as e:
        raise BackupError(f"backup {archive} failed verification ({e}); make a new backup") from e
    side = sidecar(archive, ".manifest.json")
    if side.exists() and json.loads(side.read_bytes()) != manifest:
        raise BackupError(f"{side} does not match the manifest inside {archive}")
    marker = _verified_marker(archive)
    marker.unlink(missing_ok=True)
    with _private_open(marker) as f:
        f.write(json.dumps({"verified": dt.datetime.now(dt.timezone.utc).isoformat(),
                            "manifest_sha256": _manifest_digest(manifest)}).encode())
    return manifest


def _manifest_digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def load_backup(archive: Path) -> BackupResult:
    archive = Path(archive)
    manifest = json.loads(sidecar(archive, ".manifest.json").read_bytes())
    marker = _verified_marker(archive)
    digest = _manifest_digest(manifest)
    verified = marker.exists() and json.loads(marker.read_bytes()).get("manifest_sha256") == digest
    return BackupResult(archive, manifest, digest, verified, archive.stat().st_size)


def _same_files(manifest: dict, current: list[dict]) -> bool:
    def key(stores):
        return sorted((s["source"], f["path"], f["size"], f["sha256"])
                      for s in stores for f in s["files"])
    return key(manifest["stores"]) == key(current)


def find_verified_backup(stores: list[Store], backup_dir: Path) -> BackupResult | None:
    """The newest verified backup in *backup_dir* of exactly the current *stores*."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return None
    current = describe_sources(stores)
    archives = [p for p in backup_dir.glob("mailmigrate-backup-*")
                if p.name.endswith((".tar", ".tar.gz"))]
    for archive in sorted(archives, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            result = load_backup(archive)
        except (OSError, ValueError):
            continue
        if result.verified and _same_files(result.manifest, current):
            return result
    return None


def use_backup(stores: list[Store], archive: Path) -> BackupResult:
    """An archive the user points at: re-verified, and it must hold exactly the current sources."""
    archive = Path(archive)
    if not archive.exists():
        raise BackupError(f"the backup {archive} does not exist")
    verify_backup(archive)
    result = load_backup(archive)
    if not _same_files(result.manifest, describe_sources(stores)):
        raise BackupError(f"the backup {archive} does not hold the current sources (they changed "
                          "since, or it is another store's); make a new one with --backup-dir")
    return result


def restore_backup(archive: Path, to: Path) -> list[Path]:
    """Verify *archive*, then extract its stores under *to*; returns the store roots."""
    manifest = verify_backup(archive)
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    roots = []
    with tarfile.open(archive, mode="r:*") as tar:
        for store in manifest["stores"]:
            root = to / store["archive_prefix"]
            for f in store["files"]:
                member = tar.getmember(f"{store['archive_prefix']}/{f['path']}")
                dest = root / f["path"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                if to.resolve() not in dest.resolve().parents:
                    raise BackupError(f"refusing to restore {f['path']} outside {to}")
                with tar.extractfile(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, COPY_CHUNK)
                os.utime(dest, (f["mtime"], f["mtime"]))
            roots.append(root)
    return roots
