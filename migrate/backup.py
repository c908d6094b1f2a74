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

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any, Iterable

from migrate import __version__
from migrate.backup_archive import (  # the archive's format, read and checked there
    COPY_CHUNK,
    FORMAT,
    MANIFEST_NAME,
    check_manifest,
    damaged,
    durable,
    identity,
    local_name,
    manifest_digest,
    private_open,
    sidecar,
    verified_marker,
    verify_backup,
)
from migrate.backup_restore import restore_backup
from migrate.errors import BackupError
from migrate.filestat import sha256_file, stat_text
from migrate.sources.base import Store, held_open, held_open_advice, source_containing

# Imported from here by callers (cli, tests): one name for the backup step
REEXPORTED = (FORMAT, MANIFEST_NAME, local_name, restore_backup, sidecar)


@dataclasses.dataclass
class BackupResult:
    archive: Path
    manifest: dict
    manifest_sha256: str
    verified: bool
    size: int
    verified_at: dt.datetime | None = None  # when it was last re-read whole (its marker)


REREAD_AFTER = dt.timedelta(days=1)  # a backup verified longer ago is re-read before use


def verified_words(result: BackupResult) -> str:
    """What "verified" means for *result*, for people: when it was re-read whole, and
    what has been checked since (docs/backup.md)."""
    if not result.verified or result.verified_at is None:
        return "NOT verified"
    when = result.verified_at.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"verified {when}, unchanged since: size, time, identity"


def check_backup(archive: Path) -> BackupResult:
    """Re-read *archive* whole now (``backup --check``): every member against its
    manifest; the marker is renewed."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"the backup {archive} does not exist or is not a file")
    return load_backup(archive, verify_backup(archive))


log = logging.getLogger(__name__)


def _store_root(store: Store) -> Path:
    return store.path if store.path.is_dir() else store.path.parent


def _store_files(store: Store) -> list[tuple[Path, str]]:
    """(absolute path, path relative to the store root) for each file of a store."""
    root = _store_root(store)
    return [(p, p.relative_to(root).as_posix()) for p in store.files()]


def source_bytes(stores: Iterable[Store]) -> int:
    """The size of every file of the stores: what a backup reads."""
    return sum(f.stat().st_size for s in stores for f in s.files())


def describe_sources(stores: Iterable[Store], hashes: bool = True, known=None) -> list[dict]:
    """The sources as a manifest lists them (sizes, mtimes, hashes).

    *known* (``quickcheck.FileHashes``) gives the hash a run recorded for a
    file that has not changed since (same size, times and inode), so the gate
    does not read every source file again on each run.
    """
    out = []
    for i, store in enumerate(stores):
        files = []
        for path, rel in _store_files(store):
            st = path.stat()
            entry = {"path": rel, "size": st.st_size, "mtime": st.st_mtime}
            if hashes:
                entry["sha256"] = known.sha256(path, st) if known else sha256_file(path)
            files.append(entry)
        out.append({"source": str(store.path.resolve()), "kind": store.kind,
                    "archive_prefix": f"store{i}", "files": files})
    return out


def check_destination(stores: list[Store], backup_dir: Path, needed: int) -> None:
    """Refuse a destination inside a source, or one without room."""
    inside = source_containing(stores, backup_dir)
    if inside is not None:
        raise BackupError(f"the backup directory {backup_dir} is inside the source "
                          f"{inside.path}; choose a directory outside every source")
    probe = backup_dir.resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    margin = 16 * 1024 * 1024
    if free < needed + margin:
        raise BackupError(f"not enough free space in {backup_dir}: the backup needs about "
                          f"{needed / 1e6:.1f} MB and {free / 1e6:.1f} MB are free; "
                          "choose another --backup-dir or free some space")


class BackupCancelled(Exception):
    """The run stopped while its backup was being written (the archive is removed)."""


class _HashingReader:
    """Read a source file while hashing it, for tarfile.addfile."""

    def __init__(self, f, cancelled=None):
        self.f = f
        self.h = hashlib.sha256()
        self.n = 0
        self.cancelled = cancelled
        self.buf = bytearray()

    def read(self, size=-1):
        """The next *size* bytes, hashed: a view of one buffer used again by the next
        read (tarfile writes each piece before it reads on), not a new megabyte each
        time (their page faults cost as much as the hashing)."""
        if self.cancelled is not None and self.cancelled.is_set():
            raise BackupCancelled()
        if size < 0:
            data = self.f.read()
        else:
            if len(self.buf) != size:
                self.buf = bytearray(size)
            with memoryview(self.buf) as whole:
                data = whole[:self.f.readinto(whole)]
        self.h.update(data)
        self.n += len(data)
        return data


def count_messages(store: Store) -> dict:
    """Messages per store, as the manifest records them (one read of the store)."""
    total = skipped = 0
    for folder in store.folders():
        for msg in folder.messages():
            total += 1
            skipped += msg.skip_reason is not None
    return {"messages": total, "skipped_by_source": skipped, "not_mail": len(store.non_mail)}


def create_backup(stores: list[Store], backup_dir: Path, progress=None,
                  counts=None, compress: bool = False,
                  known=None, cancelled=None) -> BackupResult:
    """Write and verify an archive of every file of *stores* into *backup_dir*.

    *counts* (store path -> message counts, or a function returning them once
    the files are in) comes from the plan when ``run`` has one; otherwise
    the stores are counted here. *compress* writes ``.tar.gz`` (gzip level
    1) instead of plain ``.tar``. *known* (``quickcheck.FileHashes``) learns
    each file's hash for the next gate. Setting *cancelled* (a
    ``threading.Event``) stops the writing: the archive is removed.
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
    manifest: dict[str, Any] = {"format": FORMAT, "version": 1, "tool_version": __version__,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(),
                "compressed": compress, "stores": []}
    mode = "w:gz" if compress else "w"
    extra = {"compresslevel": 1} if compress else {}
    try:
        with private_open(archive) as raw, tarfile.open(fileobj=raw, mode=mode,
                                                        format=tarfile.PAX_FORMAT,
                                                        copybufsize=COPY_CHUNK,  # type: ignore[call-overload]
                                                        **extra) as tar:
            written: list[tuple[str, Path, dict]] = []  # (member, source, its entry)
            for store, desc in zip(stores, sources):
                entry = dict(desc, files=[])
                for (path, rel), f in zip(_store_files(store), desc["files"]):
                    name = f"{desc['archive_prefix']}/{rel}"
                    entry["files"].append(_add_file(tar, path, name, f, progress, known,
                                                    cancelled))
                    written.append((name, path, entry["files"][-1]))
                manifest["stores"].append(entry)
            checked = None
            if callable(counts):  # the plan still reads: re-read what is written meanwhile
                if not compress:
                    raw.flush()
                    os.fsync(raw.fileno())  # on the disk while the plan reads, not after it
                    checked = _compare_written(archive, written, cancelled)
                counts = counts()  # the plan's, once it has read everything
            for store, entry in zip(stores, manifest["stores"]):
                entry["counts"] = (counts or {}).get(str(store.path)) or count_messages(store)
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
        durable(archive)  # before anything says verified: a crash must not leave a
        # marker beside an archive the disk never got (the system writes it back later)
    except BaseException as e:
        archive.unlink(missing_ok=True)  # never leave a partial archive behind
        if isinstance(e, OSError) and held_open(e):
            raise BackupError(f"{held_open_advice(e.filename or 'a source file')}; nothing "
                              "was uploaded") from None
        if isinstance(e, OSError):
            raise BackupError(f"writing the backup {archive} failed: {e}; nothing was "
                              "uploaded") from None
        raise
    manifest_path = sidecar(archive, ".manifest.json")
    try:
        with private_open(manifest_path) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise BackupError(f"writing the backup's manifest {manifest_path} failed: {e}; nothing "
                          "was uploaded") from None
    try:
        verify_backup(archive, checked=checked)
    except BaseException:  # a backup that fails its check is not left to pile up
        archive.unlink(missing_ok=True)
        manifest_path.unlink(missing_ok=True)
        raise
    return load_backup(archive)


def _compare_written(archive: Path, written: list[tuple[str, Path, dict]],
                     cancelled=None) -> dict:
    """Re-read the members written so far from the archive on disk and compare them
    byte for byte with their source files: {name: (size, sha256)} of those found equal.

    While ``run`` plans, the archive's files are verified here, so only the manifest
    and the archive's end are left for ``verify_backup`` then (the archive is only
    appended to in between). Equal to the source, a member holds exactly the bytes
    its manifest hash was taken from while writing (a source changed since differs
    too, and is refused), at a fifth of the CPU of hashing it again: this runs on
    the cores the plan reads with, before the first upload.
    """
    checked = {}
    try:
        with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r:") as tar, \
                open(archive, "rb", buffering=0) as again:
            for name, source, entry in written:
                member = tar.next()
                if member is None or member.name != name or not member.isfile() \
                        or member.size != entry["size"]:
                    raise damaged(archive, f"{name} is not where it was written")
                if not _same_bytes(again, member.offset_data, source, member.size, cancelled):
                    raise BackupError(f"backup {archive} is damaged: {name} does not match "
                                      f"its source as read (did {source} change meanwhile? "
                                      "close any mail client using it); run again")
                checked[name] = (entry["size"], entry["sha256"])
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BackupError(f"backup {archive} failed verification ({e}); make a new backup") from e
    return checked


def _same_bytes(archive, offset: int, source: Path, size: int, cancelled=None) -> bool:
    """Whether *size* bytes of the open *archive* at *offset* are the file *source*.

    Read into two buffers made once: two new megabytes a read cost more page
    faults than the comparison itself."""
    mine, theirs = bytearray(COPY_CHUNK), bytearray(COPY_CHUNK)
    with open(source, "rb", buffering=0) as f:
        archive.seek(offset)
        left = size
        while left:
            if cancelled is not None and cancelled.is_set():
                raise BackupCancelled()
            if left < len(mine):
                mine, theirs = bytearray(left), bytearray(left)
            if not (_read_into(archive, mine) and _read_into(f, theirs)) or mine != theirs:
                return False
            left -= len(mine)
        return f.read(1) == b""


def _read_into(f, buf: bytearray) -> bool:
    """Fill *buf* from the unbuffered file *f*; False if it ends first."""
    with memoryview(buf) as view:
        got = 0
        while got < len(buf):
            n = f.readinto(view[got:])
            if not n:
                return False
            got += n
    return True


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str, desc: dict, progress,
              known=None, cancelled=None) -> dict:
    st = path.stat()
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
    with open(path, "rb") as f:
        reader = _HashingReader(f, cancelled)
        tar.addfile(info, reader)
    if reader.n != st.st_size or path.stat().st_size != st.st_size:
        raise BackupError(f"{path} changed while it was being backed up; stop the mail "
                          "client and run again")
    if progress:
        progress(st.st_size)
    if known:
        known.remember(path, st, reader.h.hexdigest())
    return {"path": desc["path"], "size": st.st_size, "mtime": st.st_mtime,
            "sha256": reader.h.hexdigest()}


def source_stats(stores: list[Store]) -> dict[bytes, str]:
    """Size, times and identity of every file of *stores*, taken before the backup and
    the plan read them (``check_unchanged`` looks again once both are done). Stores
    whose files the plan itself fetches (POP leftovers) pass their gate after it."""
    seen = {}
    for store in stores:
        if not store.files_fixed:
            continue
        for path in store.files():
            try:
                seen[os.fsencode(path)] = stat_text(os.stat(path))
            except OSError:
                pass  # gone already: the backup and the plan say so
    return seen


def check_unchanged(fplans, before: dict[bytes, str]) -> None:
    """Refuse to upload when a file a folder of the plan reads changed while the run
    read it (a mail client still writing to it): the backup and the plan each read
    it at their own moment, and the upload sends only what the plan read, so
    unchanged from before both began to after both ended, the backup holds exactly
    what will be uploaded (non-negotiable 4). A file gone meanwhile is not looked at:
    its messages cannot be read again, and are named one by one as such."""
    changed = []
    for f in fplans:
        if f.excluded or not f.store.files_fixed:
            continue
        for path in f.folder.inputs() or ():
            key = os.fsencode(path)
            if key not in before:  # a directory, or a file this run did not list
                continue
            try:
                now = stat_text(os.stat(path))
            except OSError:
                continue
            if now != before[key] and path not in changed:
                changed.append(path)
    if changed:
        more = f" (and {len(changed) - 1} other files)" if len(changed) > 1 else ""
        raise BackupError(f"{changed[0]}{more} changed while this run read it (a mail client "
                          "writing to it?), so the backup may not hold what would be "
                          "uploaded; nothing was uploaded: close the mail client, then run "
                          "the same command again")


def load_backup(archive: Path, manifest: dict | None = None) -> BackupResult:
    """The backup at *archive*, ``verified`` only if its marker matches this very archive.

    The per-run gate: the marker records the archive's size, time and
    identity at verification; a truncated, rewritten or replaced archive no
    longer matches and counts as unverified (a stat, no re-read).
    """
    archive = Path(archive)
    if manifest is None:
        manifest = check_manifest(json.loads(sidecar(archive, ".manifest.json").read_bytes()),
                                  archive)
    marker = verified_marker(archive)
    digest = manifest_digest(manifest)
    verified, when = False, None
    if marker.exists():
        try:
            mark = json.loads(marker.read_bytes())
            verified = (mark.get("manifest_sha256") == digest
                        and mark.get("archive") == identity(archive))
            when = dt.datetime.fromisoformat(mark["verified"])
            if when.tzinfo is None:
                raise ValueError("a time without its zone")
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            verified, when = False, None
    return BackupResult(archive, manifest, digest, verified, archive.stat().st_size, when)


def _same_files(manifest: dict, current: list[dict]) -> bool:
    def key(stores):
        return sorted((s["source"], f["path"], f["size"], f["sha256"])
                      for s in stores for f in s["files"])
    return key(manifest["stores"]) == key(current)


def find_verified_backup(stores: list[Store], backup_dir: Path,
                         known=None) -> BackupResult | None:
    """The newest verified backup in *backup_dir* of exactly the current *stores*."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return None
    current = describe_sources(stores, known=known)
    archives = [p for p in backup_dir.glob("mailmigrate-backup-*")
                if p.name.endswith((".tar", ".tar.gz"))]
    for archive in sorted(archives, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            result = load_backup(archive)
        except (OSError, ValueError, BackupError):
            continue
        if result.verified and _same_files(result.manifest, current):
            try:
                return _fresh(result)
            except BackupError as e:  # damaged since (bit rot): never used, never again
                log.warning("%s; it is no longer used, a new backup is written", e)
                with contextlib.suppress(OSError):
                    verified_marker(archive).unlink()
    return None


def _fresh(result: BackupResult) -> BackupResult:
    """*result*, re-read whole first when it was verified more than a day ago: its
    marker only says the file has the size, time and identity it had then, and bit
    rot leaves all three (reading it costs far less than the upload it guards)."""
    now = dt.datetime.now(dt.timezone.utc)
    if result.verified_at is not None and now - result.verified_at <= REREAD_AFTER:
        return result
    log.info("re-reading the backup %s (%s, more than a day ago)", result.archive,
             verified_words(result))
    return check_backup(result.archive)


def use_backup(stores: list[Store], archive: Path) -> BackupResult:
    """An archive the user points at: re-verified, and it must hold exactly the current sources."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"the backup {archive} does not exist or is not a file")
    manifest = verify_backup(archive)
    result = load_backup(archive, manifest)
    if not _same_files(result.manifest, describe_sources(stores)):
        raise BackupError(f"the backup {archive} does not hold the current sources (they changed "
                          "since, or it is another store's); make a new one with --backup-dir")
    return result


