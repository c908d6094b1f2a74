"""``run`` reads the sources while it logs in and while it writes the backup.

The plan names the folders for the server only after reading them (the login
runs meanwhile); the backup is written beside the plan and the upload still
waits for it, verified. A failed login or backup stops the reading early, and
a backup that is stopped leaves no archive behind.
"""

from __future__ import annotations

import os

import pytest

from migrate import plan as planning
from migrate import plan_rows
from migrate.errors import AuthFailed, ExitCode
from migrate.mapping import ServerLayout
from migrate.run import BackupGate
from migrate.sources import open_store
from tests.support.builders import message, snapshot, write_mbox
from tests.support.overlap_shared import _before_the_comparison, _flip_byte, gate_args, rows


def test_the_layout_is_asked_for_once_after_the_sources_are_read(tmp_path, monkeypatch):
    root = tmp_path / "mail"
    write_mbox(root / "Inbox", [message("a"), message("b")])
    write_mbox(root / "Work", [message("c")])
    read, asked = [], []
    real = plan_rows.message_row
    monkeypatch.setattr(plan_rows, "message_row", lambda m, body=True: read.append(m.key) or real(m, body))

    def layout():
        asked.append(len(read))
        return ServerLayout(delimiter=".")
    later = planning.build_plan([open_store(root)], layout)
    assert asked == [3]  # once, with every message read
    given = planning.build_plan([open_store(root)], ServerLayout(delimiter="."))
    assert rows(later) == rows(given) and later.layout.delimiter == "."


def test_folders_merged_by_case_dedup_as_one_mailbox(tmp_path):
    root = tmp_path / "mail"
    write_mbox(root / "Projects", [message("same"), message("upper")])
    write_mbox(root / "projects", [message("same"), message("lower")])
    plan = planning.build_plan([open_store(root)], lambda: ServerLayout())
    assert {f.target for f in plan.folders} == {"Projects"}
    actions = [p.action for f in plan.folders for p in f.messages]
    assert actions.count(planning.DUPLICATE) == 1 and actions.count(planning.UPLOAD) == 3


def test_same_message_in_two_stores_for_one_mailbox_is_a_duplicate(tmp_path):
    write_mbox(tmp_path / "a.mbox", [message("shared"), message("only a")])
    write_mbox(tmp_path / "b.mbox", [message("shared")])
    plan = planning.build_plan([open_store(tmp_path / "a.mbox"), open_store(tmp_path / "b.mbox")],
                               lambda: ServerLayout())
    assert [p.action for f in plan.folders for p in f.messages] == [
        planning.UPLOAD, planning.UPLOAD, planning.DUPLICATE]
    # in two mailboxes, each keeps its copy
    plan = planning.build_plan([open_store(tmp_path / "a.mbox"), open_store(tmp_path / "b.mbox")],
                               lambda: ServerLayout(), rules=None)
    assert plan.folders[0].target == plan.folders[1].target == "INBOX"


def test_a_failed_login_stops_the_reading_at_once(tmp_path, monkeypatch):
    root = tmp_path / "mail"
    for name in ("A", "B", "C"):
        write_mbox(root / name, [message(f"{name}{i}") for i in range(3)])
    store = open_store(root)
    read = []
    real = plan_rows.facts_rows
    monkeypatch.setattr(plan_rows, "facts_rows", lambda folder, workers=None:
                        read.append(folder.name) or real(folder, workers))
    calls = []

    def check():
        calls.append(1)
        if len(calls) > 1:
            raise AuthFailed("the server refused the login")
    with pytest.raises(AuthFailed):
        planning.build_plan([store], lambda: pytest.fail("no layout after a failed login"),
                            check=check)
    assert len(read) == 1  # the second folder was never read


def test_a_backup_written_beside_the_plan_holds_its_counts(tmp_path):
    write_mbox(tmp_path / "src" / "one.mbox", [message(f"m{i}") for i in range(5)])
    store = open_store(tmp_path / "src" / "one.mbox")
    gate = BackupGate([store], **gate_args(tmp_path))
    assert gate._thread is not None  # being written while the plan reads
    counts = {str(store.path): {"messages": 5, "skipped_by_source": 0, "not_mail": 0}}
    result = gate.result(counts)
    assert result.verified and result.manifest["stores"][0]["counts"] == counts[str(store.path)]


def test_a_stopped_backup_leaves_no_archive(tmp_path):
    src = tmp_path / "src"
    write_mbox(src / "one.mbox", [message(f"m{i}", body="x" * 5000 + "\n") for i in range(400)])
    before = snapshot(src)
    gate = BackupGate([open_store(src / "one.mbox")], **gate_args(tmp_path))
    gate.cancel()  # the plan failed: the gate is not passed
    assert not gate._thread.is_alive()
    assert [p.name for p in (tmp_path / "bk").iterdir()] == []
    assert snapshot(src) == before


def test_pop_leftovers_are_backed_up_after_the_plan_downloads_them(tmp_path):
    from migrate.sources.pop3 import Pop3Store
    store = Pop3Store("pop3://ann@127.0.0.1:1", cache_root=tmp_path / "cache", take=False)
    gate = BackupGate([store], **gate_args(tmp_path))
    assert gate._thread is None and gate.found is None  # nothing asked of the store yet


@pytest.mark.parametrize("beside_plan", [True, False])
def test_a_backup_written_wrong_is_never_passed(tmp_path, monkeypatch, beside_plan):
    """What reaches the archive must be what was read from the source: re-read while
    the plan runs (beside it), or after (the backup command)."""
    from migrate import backup
    src = tmp_path / "src"
    write_mbox(src / "one.mbox", [message(f"m{i}") for i in range(5)])
    real = backup._HashingReader.read
    monkeypatch.setattr(backup._HashingReader, "read",  # a disk that flips a byte
                        lambda self, size=-1: bytes(real(self, size)).replace(b"m3", b"M3"))
    counts = (lambda: {}) if beside_plan else None
    with pytest.raises(backup.BackupError, match="damaged|does not match"):
        backup.create_backup([open_store(src / "one.mbox")], tmp_path / "bk", counts=counts)
    assert not any(p.name.endswith(".verified") for p in (tmp_path / "bk").iterdir())


@pytest.mark.parametrize("change", ["archive damaged on disk", "source rewritten, same size",
                                    "source appended to"])
def test_the_archive_is_compared_with_its_sources_as_they_are(tmp_path, monkeypatch, change):
    """The archive is re-read from disk and compared byte for byte with the sources: a
    member damaged there is refused, and so is a source that changed after it was
    written (its messages may be in the plan and not in the backup)."""
    from migrate import backup
    src = tmp_path / "src" / "one.mbox"
    write_mbox(src, [message(f"m{i}") for i in range(5)])
    _before_the_comparison(monkeypatch, {
        "archive damaged on disk": lambda archive, source: _flip_byte(archive, b"Subject: m3"),
        "source rewritten, same size": lambda archive, source: _flip_byte(source, b"Subject: m3"),
        "source appended to": lambda archive, source: source.open("ab").write(
            b"\n" + message("m5"))}[change])
    with pytest.raises(backup.BackupError, match="does not match its source as read"):
        backup.create_backup([open_store(src)], tmp_path / "bk", counts=lambda: {})
    assert list((tmp_path / "bk").iterdir()) == []  # no archive, no marker


def test_a_source_written_to_while_the_run_reads_it_is_not_uploaded(tmp_path, monkeypatch):
    """A mail client appends to the mbox after the backup copied and compared it, before
    the plan reads it: the plan holds a message the backup does not. ``run`` looks at
    the sources again once both are done (as it does, in this order) and uploads
    nothing: "close the mail client, then run again"."""
    import threading

    from migrate import backup
    src = tmp_path / "src" / "one.mbox"
    write_mbox(src, [message(f"m{i}") for i in range(5)])
    store = open_store(src)
    written_to = threading.Event()
    real = backup._compare_written

    def compared_then_written_to(archive, written, *args):
        checked = real(archive, written, *args)
        with src.open("ab") as f:  # the mail client's new message
            f.write(b"From MAILER-DAEMON Wed Jan  1 12:00:00 2020\n" +
                    message("arrived meanwhile") + b"\n")
        written_to.set()
        return checked
    monkeypatch.setattr(backup, "_compare_written", compared_then_written_to)
    before = backup.source_stats([store])
    gate = BackupGate([store], **gate_args(tmp_path))
    assert written_to.wait(60)
    plan = planning.build_plan([store], ServerLayout())
    result = gate.result({})
    assert result.verified and len(plan.folders[0].messages) == 6  # the backup holds 5
    with pytest.raises(backup.BackupError, match="changed while this run read it.*close the "
                                                 "mail client, then run the same command"):
        backup.check_unchanged(plan.folders, before)
    backup.check_unchanged(plan.folders, backup.source_stats([store]))  # as it is now: fine


@pytest.mark.parametrize("command", ["plan", "verify"])
def test_plan_and_verify_log_in_while_the_sources_are_read(tmp_path, monkeypatch, capsys,
                                                             command):
    """The dry runs overlap the login with the reading too: a login that can only
    end once a message has been read ends (here refused) instead of waiting forever."""
    import threading

    from migrate.cli import common, main
    write_mbox(tmp_path / "one.mbox", [message(f"m{i}") for i in range(3)])
    read = threading.Event()
    real = plan_rows.message_row
    monkeypatch.setattr(plan_rows, "message_row", lambda m, body=True: read.set() or real(m, body))

    class LoginAfterReading:
        def __init__(self, config):
            pass

        def __enter__(self):
            assert read.wait(10), "the login came before the reading"
            raise AuthFailed("the server refused the login (test)")
    monkeypatch.setattr(common, "IMAPTarget", LoginAfterReading)
    monkeypatch.setenv("MM_TEST_PASSWORD", "secret")
    umask = os.umask(0o022)  # main() sets its own: put this process's back after it
    try:
        code = main([command, str(tmp_path / "one.mbox"), "--host", "127.0.0.1", "--user", "u",
                     "--password-env", "MM_TEST_PASSWORD", "--state", str(tmp_path / "s.sqlite")])
    finally:
        os.umask(umask)
    err = capsys.readouterr().err
    assert code == ExitCode.AUTH and "refused the login (test)" in err and "Traceback" not in err
