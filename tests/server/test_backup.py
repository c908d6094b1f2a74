"""Backups: round trip, damage detection, the gate before upload, permissions."""

from __future__ import annotations

import os

from migrate import backup_archive
from migrate.errors import ExitCode
from tests.support.builders import message, write_mbox


def make_store(root):
    (root / "Archive.sbd").mkdir(parents=True)
    write_mbox(root / "Inbox", [message("a"), message("b")])
    write_mbox(root / "Archive.sbd" / "2019", [message("c")])
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    return root


def test_run_refuses_with_damaged_backup_and_makes_a_new_one(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    r = mm("backup", src, "--backup-dir", tmp_path / "bk")
    assert r.code == 0, r.err
    [archive] = (tmp_path / "bk").glob("*.tar")
    archive.with_suffix(".verified").unlink()  # not verified: must not count
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
           tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == 0, r.err
    assert len(list((tmp_path / "bk").glob("*.tar"))) == 2  # run wrote a fresh one first
    assert "verified" in r.out


def test_run_fails_cleanly_when_backup_impossible(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    r = mm("run", src, *account.cli_args(), "--backup-dir", src / "inside", "--state",
           tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == ExitCode.BACKUP
    assert account.read_back()["INBOX"] == []  # nothing uploaded without a backup


def make_kind(kind, root):
    """One small store of each kind the readers know."""
    from tests.server.test_readers import make_maildirpp, put
    if kind == "mbox":
        write_mbox(root / "one.mbox", [message("a"), message("b")])
        return root / "one.mbox"
    if kind == "mbox-tree":
        return make_store(root / "tree")
    if kind == "maildir":
        make_maildirpp(root / "Maildir")
        return root / "Maildir"
    if kind == "eml-tree":
        put(root / "eml" / "Inbox" / "a.eml", message("a"))
        put(root / "eml" / "Inbox" / "notes.txt", b"not mail\n")
        return root / "eml"
    profile = root / "profile"
    (profile / "prefs.js").parent.mkdir(parents=True)
    (profile / "prefs.js").write_text("// prefs\n")
    write_mbox(profile / "Mail" / "Local Folders" / "Inbox", [message("tb")])
    (profile / "Mail" / "Local Folders" / "Inbox.msf").write_text("// mork\n")
    return profile


def test_use_backup_must_match_current_sources(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    assert mm("backup", src, "--backup-dir", tmp_path / "bk").code == 0
    [archive] = (tmp_path / "bk").glob("*.tar")
    write_mbox(src / "Inbox", [message("a"), message("b"), message("changed since")])
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "other", "--use-backup",
           archive, "--state", tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == ExitCode.BACKUP
    assert "does not hold the current sources" in r.err
    assert account.read_back()["INBOX"] == []
    assert not (tmp_path / "other").exists()  # it did not quietly write another


def _truncate(archive):
    os.truncate(archive, archive.stat().st_size // 2)


def _flip(archive):
    data = bytearray(archive.read_bytes())
    data[data.find(b"Subject: c")] ^= 0x20
    archive.write_bytes(bytes(data))


def _remove_member(archive):
    import tarfile
    keep = tmp = archive.with_name("rewritten.tar")
    with tarfile.open(archive) as old, tarfile.open(tmp, "w") as new:
        for member in old.getmembers():
            if not member.name.endswith("/2019"):
                new.addfile(member, old.extractfile(member))
    os.replace(keep, archive)


def test_a_run_of_a_folder_named_with_a_colon_uploads(tmp_path, account, mm):
    write_mbox(tmp_path / "src" / "Taxes: 2020", [message("tax")])
    write_mbox(tmp_path / "src" / "a\\b", [message("backslash")])
    r = mm("run", tmp_path / "src", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--yes", account=account)
    assert r.code == 0, r.out + r.err
    assert len(list((tmp_path / "bk").glob("*.tar"))) == 1
    assert sum(len(v) for v in account.read_back().values()) == 2


def _age_marker(archive, days):
    import datetime as dt
    import json as js
    marker = backup_archive.verified_marker(archive)
    mark = js.loads(marker.read_bytes())
    mark["verified"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    marker.write_bytes(js.dumps(mark).encode())


def _rot(archive, name="Inbox"):
    """Flip one byte of a member's data, the archive's time kept (as bit rot leaves it)."""
    import tarfile
    st = archive.stat()
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(name))
    with open(archive, "r+b") as f:
        f.seek(member.offset_data)
        byte = f.read(1)
        f.seek(member.offset_data)
        f.write(bytes([byte[0] ^ 1]))
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))


