"""What the tests of test_hostile share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from migrate import backup
from migrate.errors import ExitCode

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX links, FIFOs and modes")


def no_traceback(r):
    assert "Traceback" not in r.err and r.code != ExitCode.INTERNAL, r.err
    return r


def run(mm, account, src, tmp_path, *extra):
    return mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / "state.sqlite", "--yes", *extra, account=account)


def backed_up(archive: Path) -> set[str]:
    """'storeN/relative/path' of every file in a backup's manifest."""
    manifest = json.loads(backup.sidecar(archive, ".manifest.json").read_text())
    return {f"{s['archive_prefix']}/{f['path']}" for s in manifest["stores"] for f in s["files"]}


def read_files(store) -> set[Path]:
    """The files the readers took messages from (mbox locations name the file first)."""
    out = set()
    for folder in store.folders():
        for m in folder.messages():
            out.add(Path(m.location.split(" at byte ")[0]))
    return out


def assert_read_is_backed_up(store, tmp_path):
    result = backup.create_backup([store], tmp_path / "bk-check")
    names = backed_up(result.archive)
    root = store.path if store.path.is_dir() else store.path.parent
    for path in read_files(type(store)(store.path)):
        assert f"store0/{path.relative_to(root).as_posix()}" in names, path
    return names


def crafted_archive(path: Path, manifest, members=()) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        info = tarfile.TarInfo(backup.MANIFEST_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def manifest_for(path: str, data: bytes = b"x", prefix: str = "store0") -> dict:
    import hashlib
    return {"format": backup.FORMAT, "version": 1, "stores": [{
        "source": "/nowhere", "kind": "mbox", "archive_prefix": prefix,
        "files": [{"path": path, "size": len(data), "mtime": 0,
                   "sha256": hashlib.sha256(data).hexdigest()}]}]}
