"""Hostile and unlucky input: the backup is exactly what was read, restores are safe,
and every bad input ends with a sentence and its exit code, never a traceback.

One test per reproduction of the backup issue, plus hypothesis-made manifests and
archive members.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migrate import backup
from migrate.errors import ExitCode
from migrate.sources import open_store
from tests.support.builders import message, write_mbox
from tests.support.hostile_shared import (
    assert_read_is_backed_up,
    crafted_archive,
    manifest_for,
    no_traceback,
    posix_only,
)

# -- the gate ------------------------------------------------------------------


@pytest.mark.parametrize("manifest, members", [
    ({"format": backup.FORMAT, "stores": [1]}, []),
    (b"{not json", []),
    (manifest_for("dir"), [("store0/dir", None)]),
    (manifest_for("../../escape/sub/file"), [("store0/../../escape/sub/file", b"x")]),
    (manifest_for("/abs/file"), [("store0//abs/file", b"x")]),
    (manifest_for("file", prefix="../up"), [("../up/file", b"x")]),
])
def test_crafted_backups_are_refused_before_anything_is_written(tmp_path, mm, manifest, members):
    archive = crafted_archive(tmp_path / "bad.tar", manifest, members)
    to = tmp_path / "deep" / "er" / "to"
    r = no_traceback(mm("restore", archive, "--to", to))
    assert r.code == ExitCode.BACKUP, r.err
    assert not (tmp_path / "deep").exists() and not (tmp_path / "escape").exists()
    assert not (tmp_path / "deep" / "escape").exists()
    write_mbox(tmp_path / "one.mbox", [message("a")])
    r = no_traceback(mm("plan", tmp_path / "one.mbox"))  # sanity: the tool still works
    assert r.code == 0


def test_damaged_sidecar_manifest(tmp_path, mm):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    assert mm("backup", tmp_path / "one.mbox", "--backup-dir", tmp_path / "bk").code == 0
    [archive] = (tmp_path / "bk").glob("*.tar")
    backup.sidecar(archive, ".manifest.json").write_text("{broken")
    r = no_traceback(mm("restore", archive, "--to", tmp_path / "to"))
    assert r.code == ExitCode.BACKUP and "does not match" in r.err


@posix_only
def test_restore_is_private_refuses_non_empty_and_links(tmp_path, mm):
    src = tmp_path / "src"
    (src / "Archive.sbd").mkdir(parents=True)
    write_mbox(src / "Inbox", [message("a")])
    write_mbox(src / "Archive.sbd" / "2019", [message("b")])
    result = backup.create_backup([open_store(src)], tmp_path / "bk")
    os.umask(0o022)
    to = tmp_path / "to"
    assert mm("restore", result.archive, "--to", to).code == 0
    for path in to.rglob("*"):
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, path
    again = no_traceback(mm("restore", result.archive, "--to", to))
    assert again.code == ExitCode.BACKUP and "not empty" in again.err
    (to / "store0" / "Inbox").write_bytes(b"mine")
    forced = no_traceback(mm("restore", result.archive, "--to", to, "--force"))
    assert forced.code == ExitCode.BACKUP and "already exists" in forced.err
    assert (to / "store0" / "Inbox").read_bytes() == b"mine"
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    linked = no_traceback(mm("restore", result.archive, "--to", tmp_path / "link"))
    assert linked.code == ExitCode.BACKUP and list((tmp_path / "real").iterdir()) == []


def test_restore_writes_nothing_beside_the_backup(tmp_path, mm):
    """A backup on read-only media: restore must not rewrite its .verified marker."""
    write_mbox(tmp_path / "one.mbox", [message("a")])
    result = backup.create_backup([open_store(tmp_path / "one.mbox")], tmp_path / "bk")
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "bk").iterdir()}
    assert mm("restore", result.archive, "--to", tmp_path / "to").code == 0
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "bk").iterdir()}
    assert before == after


# -- links and special files: what is read is what is backed up ------------------


@posix_only
def test_special_files_and_links_leaving_the_store(tmp_path, mm):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.x:2,S").write_bytes(message("real mail"))
    os.mkfifo(root / "cur" / "2.x:2,S")
    (root / "cur" / "3.x:2,S").symlink_to("/dev/zero")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "cur" / "4.x:2,S").symlink_to(secret)
    r = no_traceback(mm("plan", root, timeout=60))
    assert r.code == 0, r.err
    assert "1 messages" in r.out or " 1 " in r.out
    store = open_store(root)
    msgs = [m for f in store.folders() for m in f.messages()]
    assert [Path(m.location).name for m in msgs] == ["1.x:2,S"]
    reasons = {p.name: why for p, why in ((n.path, n.kind) for n in store.non_mail)}
    assert "special file" in reasons["2.x:2,S"] and "special file" in reasons["3.x:2,S"]
    assert "outside the store" in reasons["4.x:2,S"]
    names = assert_read_is_backed_up(open_store(root), tmp_path)
    assert not any(n.endswith(("2.x:2,S", "3.x:2,S", "4.x:2,S")) for n in names)


@posix_only
def test_fifo_given_as_the_source_is_refused(tmp_path, mm):
    os.mkfifo(tmp_path / "pipe")
    r = no_traceback(mm("plan", tmp_path / "pipe", timeout=60))
    assert r.code == ExitCode.USAGE and "FIFO" in r.err


# -- input hygiene ----------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("--user", "bob\r\nA1 DELETE INBOX"),
                                           ("--host", "imap.example.org\n")])
def test_line_breaks_in_target_strings_are_refused(tmp_path, mm, option, value):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    args = {"--host": "127.0.0.1", "--user": "bob", option: value}
    r = no_traceback(mm("plan", tmp_path / "one.mbox", "--host", args["--host"], "--user",
                        args["--user"], "--password-env", "PW", env={"PW": "x"}))
    assert r.code == ExitCode.USAGE and "line break" in r.err


def test_line_breaks_in_a_pop_user_are_refused_before_connecting(tmp_path, mm):
    r = no_traceback(mm("plan", "pop3s://bob%0D%0ADELE%201@127.0.0.1:1", "--pop-password-env",
                        "PW", env={"PW": "x"}))
    assert r.code == ExitCode.USAGE and "line break" in r.err


def test_pop_source_errors_are_sentences(tmp_path, mm):
    r = no_traceback(mm("plan", "pop3s://bob@127.0.0.1:1?ca_file=/missing/ca.pem"))
    assert r.code == ExitCode.USAGE and "does not exist" in r.err
    r = mm("plan", "pop3://bob@127.0.0.1:1?tls=none", "--pop-password-env", "PW",
           env={"PW": "x"})
    assert "unencrypted" in r.err


def test_csv_cells_never_become_formulas(tmp_path, mm):
    root = tmp_path / "exports"
    root.mkdir()
    write_mbox(root / "=HYPERLINK(1).mbox", [message("a")])
    write_mbox(root / "@SUM(1).mbox", [message("b")])
    assert mm("plan", root, "--report", tmp_path / "rep").code == 0
    import csv
    with open(tmp_path / "rep" / "plan.csv", newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c[:1] in "=+-@" for c in cells if c), cells
    assert "'=HYPERLINK(1)" in cells


def test_jobs_sources_cannot_become_options(tmp_path, mm):
    marker = tmp_path / "ran"
    (tmp_path / "jobs.toml").write_text(
        '[defaults]\nhost = "127.0.0.1"\n\n[jobs.a]\nuser = "bob"\n'
        f'sources = ["--oauth2-token-command=touch {marker} ://x"]\n')
    r = no_traceback(mm("jobs", "check", tmp_path / "jobs.toml"))
    assert r.code == ExitCode.USAGE and "pop3://" in r.err
    assert not marker.exists()


@pytest.mark.parametrize("option", ["--state", "--log-file"])
def test_a_symlink_loop_where_we_write_is_a_sentence_not_a_traceback(tmp_path, mm, option):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    r = mm("plan", tmp_path / "one.mbox", option, tmp_path / "loop-a" / "x")
    assert r.code in (0, ExitCode.USAGE) and "Traceback" not in r.err, r.err
    loop_source = mm("plan", tmp_path / "loop-a", "--state", tmp_path / "loop-a" / "s.sqlite")
    assert loop_source.code == ExitCode.USAGE and "Traceback" not in loop_source.err
