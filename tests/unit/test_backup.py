"""Backups: round trip, damage detection, the gate before upload, permissions."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from migrate import backup, backup_archive
from migrate.errors import BackupError, ExitCode
from migrate.sources import open_store
from tests.support.backup_shared import (
    _age_marker,
    _flip,
    _remove_member,
    _rot,
    _truncate,
    make_kind,
    make_store,
)
from tests.support.builders import message, snapshot, write_mbox


def test_round_trip_is_byte_identical(tmp_path):
    src = make_store(tmp_path / "src")
    result = backup.create_backup([open_store(src)], tmp_path / "bk")
    assert result.verified
    roots = backup.restore_backup(result.archive, tmp_path / "restored")
    assert snapshot(roots[0]) == snapshot(src)  # the .msf index too


def test_single_file_round_trip(tmp_path):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    result = backup.create_backup([open_store(tmp_path / "one.mbox")], tmp_path / "bk")
    [root] = backup.restore_backup(result.archive, tmp_path / "restored")
    assert (root / "one.mbox").read_bytes() == (tmp_path / "one.mbox").read_bytes()


def test_one_flipped_byte_fails_verification(tmp_path):
    src = make_store(tmp_path / "src")
    result = backup.create_backup([open_store(src)], tmp_path / "bk")
    data = bytearray(result.archive.read_bytes())
    where = data.find(b"Subject: b")
    data[where] ^= 0x01
    result.archive.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="damaged"):
        backup.verify_backup(result.archive)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_owner_only_permissions(tmp_path):
    src = make_store(tmp_path / "src")
    result = backup.create_backup([open_store(src)], tmp_path / "bk")
    for path in (result.archive, result.archive.with_suffix(".manifest.json"),
                 result.archive.with_suffix(".verified")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "bk").stat().st_mode) == 0o700


def test_refuses_destination_inside_source(tmp_path):
    src = make_store(tmp_path / "src")
    with pytest.raises(BackupError, match="inside the source"):
        backup.create_backup([open_store(src)], src / "bk")
    assert not (src / "bk").exists()


def test_insufficient_space_reported_before_writing(tmp_path, monkeypatch):
    src = make_store(tmp_path / "src")
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1000))
    with pytest.raises(BackupError, match="not enough free space"):
        backup.create_backup([open_store(src)], tmp_path / "bk")
    assert not (tmp_path / "bk").exists()


def test_find_verified_backup_requires_same_files(tmp_path):
    src = make_store(tmp_path / "src")
    backup.create_backup([open_store(src)], tmp_path / "bk")
    assert backup.find_verified_backup([open_store(src)], tmp_path / "bk")
    write_mbox(src / "Inbox", [message("a"), message("b"), message("new")])
    assert backup.find_verified_backup([open_store(src)], tmp_path / "bk") is None


@pytest.mark.parametrize("kind", ["mbox", "mbox-tree", "maildir", "eml-tree", "thunderbird"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_store_kind(tmp_path, kind, compress):
    src = make_kind(kind, tmp_path / "src")
    store = open_store(src)
    assert store.kind == kind
    result = backup.create_backup([store], tmp_path / "bk", compress=compress)
    assert result.verified and result.archive.name.endswith(".tar.gz" if compress else ".tar")
    assert result.manifest["stores"][0]["counts"]["messages"] >= 1
    [root] = backup.restore_backup(result.archive, tmp_path / "restored")
    expected = snapshot(src)
    got = snapshot(root / src.name) if src.is_file() else snapshot(root)
    assert got == expected


def test_compressed_archive_damage_is_detected(tmp_path):
    src = make_store(tmp_path / "src")
    result = backup.create_backup([open_store(src)], tmp_path / "bk", compress=True)
    data = bytearray(result.archive.read_bytes())
    data[len(data) // 2] ^= 0x40
    result.archive.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        backup.verify_backup(result.archive)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names an fd by /proc")
def test_the_archive_is_on_the_disk_before_it_is_called_verified(tmp_path, monkeypatch):
    """A crash (power lost) after the run starts uploading must not leave a marker beside
    an archive the system had not yet written to the disk: the archive, then its
    manifest and marker, then the directory's names are flushed (fsync), in that order."""
    src = make_store(tmp_path / "src")
    flushed = []
    real = os.fsync

    def recording(fd):
        flushed.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        return real(fd)
    monkeypatch.setattr(os, "fsync", recording)
    result = backup.create_backup([open_store(src)], tmp_path / "bk", counts=lambda: {})
    archive = result.archive.name
    stem = archive[:-len(".tar")]
    assert flushed[0] == archive and flushed.index(stem + ".verified") > \
        flushed.index(stem + ".manifest.json") > max(i for i, n in enumerate(flushed)
                                                     if n == archive)
    assert flushed[-1] == "bk"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names an fd by /proc")
@pytest.mark.parametrize("failing, error", [(".verified", errno.EIO),
                                            (".manifest.json", errno.EIO), ("bk", errno.EINVAL)])
def test_a_flush_the_disk_refuses_is_a_sentence_and_no_marker(tmp_path, monkeypatch, failing,
                                                              error):
    """A disk that fails to flush the manifest or the marker stops the backup with exit 7
    and no marker; a directory the file system cannot flush (a network share) is
    left to it, and the backup counts."""
    src = make_store(tmp_path / "src")
    real = os.fsync

    def refusing(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).endswith(failing):
            raise OSError(error, os.strerror(error))
        return real(fd)
    monkeypatch.setattr(os, "fsync", refusing)
    if error == errno.EINVAL:
        assert backup.create_backup([open_store(src)], tmp_path / "bk").verified
        return
    with pytest.raises(BackupError) as caught:
        backup.create_backup([open_store(src)], tmp_path / "bk")
    assert caught.value.exit_code == ExitCode.BACKUP
    assert "nothing was uploaded" in str(caught.value)
    assert not list((tmp_path / "bk").glob("*.verified"))


def test_damage_between_writing_and_verifying_is_caught(tmp_path, monkeypatch):
    """The new archive is re-read before it counts: damage it in that window."""
    src = make_store(tmp_path / "src")
    real = backup.verify_backup

    def damaged_then_verified(archive, *args, **kwargs):
        data = bytearray(archive.read_bytes())
        data[data.find(b"Subject: b")] ^= 0x01
        archive.write_bytes(bytes(data))
        return real(archive, *args, **kwargs)

    monkeypatch.setattr(backup, "verify_backup", damaged_then_verified)
    with pytest.raises(BackupError, match="damaged"):
        backup.create_backup([open_store(src)], tmp_path / "bk")
    assert not list((tmp_path / "bk").glob("*.verified"))


@pytest.mark.parametrize("damage", [_truncate, _flip, _remove_member])
def test_damage_after_verifying_is_refused_everywhere(tmp_path, damage):
    src = make_store(tmp_path / "src")
    stores = [open_store(src)]
    result = backup.create_backup(stores, tmp_path / "bk")
    assert backup.find_verified_backup(stores, tmp_path / "bk") is not None
    damage(result.archive)
    assert backup.find_verified_backup([open_store(src)], tmp_path / "bk") is None
    with pytest.raises(BackupError):
        backup.verify_backup(result.archive)
    with pytest.raises(BackupError):
        backup.use_backup([open_store(src)], result.archive)
    with pytest.raises(BackupError):
        backup.restore_backup(result.archive, tmp_path / "to")


@pytest.mark.parametrize("kind", ["mbox-tree", "maildir"])
def test_any_name_the_source_holds_backs_up_and_restores_byte_for_byte(tmp_path, kind):
    """Issue 34.3: 'Taxes: 2020' or a file named 'a\\b' was called a damaged backup, and
    no upload could ever start. Every name a POSIX file system holds round-trips."""
    src = tmp_path / "src"
    names = ["Taxes: 2020", "a\\b", "C:", "trailing.", "CON", "50% off"]
    if kind == "mbox-tree":
        for name in names:
            write_mbox(src / name, [message(name)])
    else:
        for name in [""] + [f".{n}" for n in names]:
            for sub in ("cur", "new", "tmp"):
                (src / name / sub).mkdir(parents=True, exist_ok=True)
            (src / name / "cur" / f"1.host:2,S{name.replace('/', '')}").write_bytes(
                message(name or "inbox"))
    result = backup.create_backup([open_store(src)], tmp_path / "bk")
    assert result.verified
    [root] = backup.restore_backup(result.archive, tmp_path / "restored")
    assert snapshot(root) == snapshot(src)


def test_a_name_windows_cannot_hold_is_restored_under_a_safe_name():
    local = backup.local_name
    assert local("Taxes: 2020", windows=True) == "Taxes%3A 2020"
    assert local("a\\b", windows=True) == "a%5Cb" and local("CON", windows=True) == "_CON"
    assert local("aux.txt", windows=True) == "_aux.txt"
    assert local("dots.", windows=True) == "dots%2E" and local("50%", windows=True) == "50%25"
    assert local("Taxes: 2020", windows=False) == "Taxes: 2020"
    names = ["a:b", "a%3Ab", "x?", "x%3F"]  # two names never become one
    assert len({local(n, windows=True) for n in names}) == len(names)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\0b"])
def test_a_manifest_path_that_leaves_the_restore_directory_is_refused(path):
    with pytest.raises(BackupError):
        backup_archive.check_member_path(path, lambda why: BackupError(why))


def test_a_backup_that_fails_its_check_leaves_nothing_behind(tmp_path, monkeypatch):
    src = make_store(tmp_path / "src")

    def damaged(archive, **kwargs):
        raise BackupError(f"backup {archive} is damaged")
    monkeypatch.setattr(backup, "verify_backup", damaged)
    for _ in range(2):  # each retry as clean as the first
        with pytest.raises(BackupError):
            backup.create_backup([open_store(src)], tmp_path / "bk")
    assert list((tmp_path / "bk").iterdir()) == []


def test_a_backup_rotted_after_its_verification_is_not_used_a_day_later(tmp_path):
    """Issue 34.15: one flipped byte, the time restored. Within a day the marker says
    what it vouches for (size, time, identity); after a day the archive is re-read
    whole before it is relied on, and a damaged one is set aside."""
    src = make_store(tmp_path / "src")
    first = backup.create_backup([open_store(src)], tmp_path / "bk")
    assert backup.verified_words(first).startswith("verified ") and \
        "unchanged since: size, time, identity" in backup.verified_words(first)
    _rot(first.archive)
    assert backup.find_verified_backup([open_store(src)], tmp_path / "bk") is not None
    _age_marker(first.archive, days=2)
    assert backup.find_verified_backup([open_store(src)], tmp_path / "bk") is None
    assert not backup.load_backup(first.archive).verified  # not "verified" any more
    with pytest.raises(BackupError, match="damaged"):
        backup.check_backup(first.archive)


def test_a_backup_verified_days_ago_is_re_read_and_renewed(tmp_path):
    src = make_store(tmp_path / "src")
    first = backup.create_backup([open_store(src)], tmp_path / "bk")
    _age_marker(first.archive, days=3)
    again = backup.find_verified_backup([open_store(src)], tmp_path / "bk")
    assert again is not None and again.verified_at > first.verified_at


