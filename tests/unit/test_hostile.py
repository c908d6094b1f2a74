"""Hostile and unlucky input: the backup is exactly what was read, restores are safe,: the
unit tests (tests/functional/test_hostile.py has the rest, and says what they prove)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate import backup
from migrate.errors import BackupError
from migrate.sources import open_store
from tests.support.builders import message, write_mbox
from tests.support.hostile_shared import assert_read_is_backed_up, crafted_archive, posix_only

# -- the gate ------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["format", "stores", "files", "path", "size", "mtime", "sha256",
                         "archive_prefix"]), children, max_size=4), max_leaves=12),
       name=st.text(min_size=1, max_size=20))
def test_any_crafted_manifest_or_member_is_a_backup_error(tmp_path, manifest, name):
    if isinstance(manifest, dict):
        manifest.setdefault("format", backup.FORMAT)
    archive = crafted_archive(tmp_path / "h.tar", manifest, [(name, b"data")])
    to = tmp_path / "h-to"
    before = set(tmp_path.rglob("*"))
    try:
        backup.restore_backup(archive, to)  # a well-formed (empty) backup may restore
    except BackupError:
        assert not to.exists()
    finally:
        archive.unlink()
    assert {p for p in set(tmp_path.rglob("*")) - before if to not in p.parents} <= {to}
    if to.exists():
        import shutil
        shutil.rmtree(to)


def test_failed_backup_leaves_no_partial_archive(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    write_mbox(src / "Inbox", [message("a")])
    write_mbox(src / "Sent", [message("b")])
    real = backup._add_file
    calls = []

    def failing(tar, path, *args):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real(tar, path, *args)

    monkeypatch.setattr(backup, "_add_file", failing)
    with pytest.raises(BackupError, match="nothing was uploaded"):
        backup.create_backup([open_store(src)], tmp_path / "bk")
    assert list((tmp_path / "bk").iterdir()) == []


# -- links and special files: what is read is what is backed up ------------------


@posix_only
def test_maildir_subfolder_behind_a_link_is_backed_up(tmp_path):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
        (tmp_path / "far" / ".Work" / sub).mkdir(parents=True, exist_ok=True)
    (root / "cur" / "1.x:2,S").write_bytes(message("inbox"))
    (tmp_path / "far" / ".Work" / "cur" / "2.x:2,S").write_bytes(message("work"))
    (root / ".Work").symlink_to(tmp_path / "far" / ".Work")
    store = open_store(root)
    names = assert_read_is_backed_up(store, tmp_path)
    assert "store0/.Work/cur/2.x:2,S" in names
    assert {f.display_name for f in open_store(root).folders()} == {"(root)", "Work"}


@posix_only
def test_a_link_loop_is_not_followed(tmp_path):
    root = tmp_path / "exports"
    (root / "Loop").mkdir(parents=True)
    write_mbox(root / "Loop" / "a.mbox", [message("a")])
    write_mbox(root / "b.mbox", [message("b")])
    (root / "Loop" / "Again").symlink_to("..")
    store = open_store(root)
    folders = store.folders()
    assert sorted(f.display_name for f in folders) == ["Loop/a", "b"]
    assert any("loop" in n.kind for n in store.non_mail)
    assert_read_is_backed_up(open_store(root), tmp_path)


# -- input hygiene ----------------------------------------------------------------


def test_damaged_pop_cache_index(tmp_path):
    from migrate.errors import UsageError
    from migrate.sources.pop3 import Pop3Store
    store = Pop3Store("pop3s://bob@127.0.0.1:1", cache_root=tmp_path, take=False)
    store.path.mkdir(parents=True)
    for content in ("{broken", '{"uidl": "../../etc/passwd"}', "[1, 2]"):
        store.index_path.write_text(content)
        with pytest.raises(UsageError, match="damaged"):
            store._index()


