"""Every folder and every message arrives, or is explained once and correctly.

Real Dovecot servers; one test per case of the "whole tree" promise: empty
folders, keywords that are not atoms, undecodable and control-character
names, non-ASCII passwords, a server that changes mail on arrival, refused
messages (same verdict in run and verify), state bound to its account, a
recreated mailbox, a damaged state, and a folder of exported mbox files.
"""

from __future__ import annotations

import json
import os

import pytest

from migrate.errors import ExitCode
from tests.support.builders import crlf, message, write_mbox
from tests.support.every_folder_shared import (
    EIGHT_BIT,
    _every_command_says_damaged,
    _state_after_a_run,
    account_messages,
    run,
    thunderbird_with_empty_folder,
    verify,
)
from tests.support.faults import RewriteProxy


@pytest.mark.parametrize("variant, leer", [("default", "Projekte/Leer"),
                                           ("courier", "INBOX.Projekte.Leer")])
def test_empty_thunderbird_folder_is_created(tmp_path, make_account, mm, variant, leer):
    account = make_account(variant)
    src = thunderbird_with_empty_folder(tmp_path / "Local Folders")
    plan = mm("plan", src, *account.cli_args(), account=account)
    assert plan.code == 0, plan.err
    assert f"{leer} (new, empty)" in plan.out
    r = run(mm, account, src, tmp_path)
    assert r.code == 0, r.out + r.err
    server = account.read_back()
    assert server[leer] == []
    assert verify(mm, account, src, tmp_path).code == 0


def test_empty_maildir_folder_and_all_skipped_folder_are_created(tmp_path, account, mm):
    root = tmp_path / "Maildir"
    for folder in ("", ".Empty", ".Gone"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    (root / "cur" / "1.host:2,S").write_bytes(message("inbox"))
    (root / ".Gone" / "cur" / "2.host:2,ST").write_bytes(message("trashed"))  # T: skipped
    r = run(mm, account, root, tmp_path)
    assert r.code == 0, r.out + r.err  # the trashed message stays behind, as meant
    server = account.read_back()
    assert server["Empty"] == [] and server["Gone"] == []
    assert [m.data for m in server["INBOX"]] == [crlf(message("inbox"))]


def test_keywords_that_are_not_atoms_migrate(tmp_path, account, mm):
    msgs = [message("percent", extra="X-Keywords: 50% star* Müll"),
            message("plain", extra="X-Keywords: NonJunk")]
    write_mbox(tmp_path / "one.mbox", msgs)
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == 0, r.out + r.err
    inbox = {m.data: m.keyflags for m in account.read_back()["INBOX"]}
    assert len(inbox) == 2
    flags = next(f for d, f in inbox.items() if b"percent" in d)
    assert {"50_", "star_", "M&APw-ll"} <= flags


def test_a_keyword_the_server_refuses_costs_the_keyword_not_the_message(tmp_path, account, mm):
    long = "k" * 300  # a valid atom, longer than Dovecot takes (mail_max_keyword_length)
    msgs = [message("long keyword", extra=f"X-Keywords: {long} kept"), message("other")]
    write_mbox(tmp_path / "one.mbox", msgs)
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json")
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert len(summary["flags_dropped"]) == 1
    assert "without its keywords" in summary["flags_dropped"][0]["reason"]
    inbox = account.read_back()["INBOX"]
    assert sorted(m.data for m in inbox) == sorted(crlf(m) for m in msgs)


def test_undecodable_and_control_character_names_do_not_stop_the_run(tmp_path, account, mm):
    root = tmp_path / "exports"
    root.mkdir()
    write_mbox(root / "Work.mbox", [message("work")])
    write_mbox(root / os.fsdecode(b"Caf\xe9.mbox"), [message("latin-1 name")])
    write_mbox(root / "Tab\tName.mbox", [message("control character")])
    r = run(mm, account, root, tmp_path)
    assert r.code == 0, r.out + r.err
    server = account.read_back()
    assert [m.data for m in server["Work"]] == [crlf(message("work"))]
    assert [m.data for m in server["Café"]] == [crlf(message("latin-1 name"))]
    assert [m.data for m in server["Tab_Name"]] == [crlf(message("control character"))]
    plan = mm("plan", root)
    assert "not UTF-8; read as Windows-1252" in plan.out
    assert verify(mm, account, root, tmp_path).code == 0


def test_a_folder_the_server_refuses_is_skipped_and_the_rest_migrates(tmp_path, account, mm):
    root = tmp_path / "exports"
    root.mkdir()
    write_mbox(root / "Work.mbox", [message("work")])
    # Maildir++ puts a whole path in one directory name: over 255 bytes, CREATE fails
    write_mbox(root / ("a" * 100) / ("b" * 100) / ("c" * 100 + ".mbox"), [message("too long")])
    r = run(mm, account, root, tmp_path, "--json")
    summary = json.loads(r.out)
    assert r.code == ExitCode.VERIFY_FAILED, r.err
    assert len(summary["failed_folders"]) == 1 and "--map" in summary["failed_folders"][0]["reason"]
    assert [m.data for m in account.read_back()["Work"]] == [crlf(message("work"))]
    again = verify(mm, account, root, tmp_path)
    assert again.code == ExitCode.VERIFY_FAILED
    assert "folders missing" in again.out and "--map" in again.out


def test_non_ascii_password_logs_in(tmp_path, dovecot_servers, mm):
    account = dovecot_servers("default").add_user(password="Müller2024!")
    write_mbox(tmp_path / "one.mbox", [message("umlaut password")])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == 0, r.out + r.err
    assert len(account.read_back()["INBOX"]) == 1


def test_message_the_server_changes_is_present_and_never_sent_twice(tmp_path, account, mm):
    """Cyrus replaces 8-bit header bytes with 'X' on APPEND; a proxy does the same here."""
    raw = EIGHT_BIT.encode()
    proxy = RewriteProxy(account.server.imap_port,
                         {raw: bytes(b if b < 0x80 else 0x58 for b in raw)}).start()
    target = account.cli_args(tls="none", port=proxy.port)
    try:
        msgs = [message(EIGHT_BIT), message("plain ascii")]
        write_mbox(tmp_path / "one.mbox", msgs)
        r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json", target=target)
        assert proxy.rewritten == 1
        assert r.code == 0, r.out + r.err
        summary = json.loads(r.out)
        assert summary["missing"] == 0 and summary["final_check"] == {"by_uid": 2,
                                                                      "by_headers": 0}

        checked = verify(mm, account, tmp_path / "one.mbox", tmp_path, target=target)
        assert checked.code == 0, checked.out
        assert "changed by the server on arrival" in checked.out
        assert "UID recorded at upload" in checked.out
        fresh = verify(mm, account, tmp_path / "one.mbox", tmp_path, state="none.sqlite",
                       target=target)
        assert fresh.code == 0, fresh.out

        again = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json", state="fresh.sqlite",
                    target=target)
        assert again.code == 0, again.out + again.err
        assert json.loads(again.out)["totals"].get("uploaded", 0) == 0
        inbox = account.read_back()["INBOX"]
        assert len(inbox) == 2
        assert any(b"Subject: GrXXXXe aus KXXln" in m.data for m in inbox)
    finally:
        proxy.stop()


def test_refused_message_same_verdict_in_run_and_verify(tmp_path, make_account, mm):
    account = make_account(max_mail_size="20k")  # refused on APPEND, not advertised
    msgs = [message("small 1"), message("huge", body="h" * 40_000 + "\n"), message("small 2")]
    write_mbox(tmp_path / "one.mbox", msgs)
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json")
    assert r.code == ExitCode.SKIPPED, r.out + r.err
    summary = json.loads(r.out)
    assert summary["missing"] == 0 and summary["refused_on_check"] == 1

    checked = verify(mm, account, tmp_path / "one.mbox", tmp_path, "--report", tmp_path / "rep")
    assert checked.code == ExitCode.SKIPPED, checked.out
    assert "COMPLETE EXCEPT 1 messages the server refuses" in checked.out
    assert "run the same" not in checked.out
    report = json.loads((tmp_path / "rep" / "verify.json").read_text())
    assert report["missing"] == 0 and report["refused"] == 1
    assert "server refused" in report["mailboxes"][0]["refused"][0]["reason"]


def test_state_of_another_account_is_refused(tmp_path, make_account, mm):
    first, second = make_account(), make_account()
    write_mbox(tmp_path / "one.mbox", [message("one"), message("two")])
    assert run(mm, first, tmp_path / "one.mbox", tmp_path).code == 0
    r = run(mm, second, tmp_path / "one.mbox", tmp_path)
    assert r.code == ExitCode.USAGE
    assert f"belongs to {first.user}@" in r.err and "Traceback" not in r.err
    assert account_messages(second) == 0
    v = verify(mm, second, tmp_path / "one.mbox", tmp_path)
    assert v.code == ExitCode.USAGE and "belongs to" in v.err


def test_recreated_mailbox_is_checked_again(tmp_path, account, mm):
    msgs = [message(f"archived {i}") for i in range(3)]
    write_mbox(tmp_path / "Archive.mbox", msgs)  # a special folder name: keeps its name
    assert run(mm, account, tmp_path / "Archive.mbox", tmp_path).code == 0
    c = account.client()
    try:
        c.delete_folder("Archive")
        c.create_folder("Archive")
    finally:
        c.logout()
    assert account.read_back()["Archive"] == []
    r = run(mm, account, tmp_path / "Archive.mbox", tmp_path, "--json")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["totals"]["uploaded"] == 3
    assert sorted(m.data for m in account.read_back()["Archive"]) == sorted(map(crlf, msgs))
    r = run(mm, account, tmp_path / "Archive.mbox", tmp_path, "--json")
    assert json.loads(r.out)["totals"].get("uploaded", 0) == 0


@pytest.mark.parametrize("content", [os.urandom(4096), b"SQLite format 3\x00" + b"\x00" * 50])
def test_damaged_state_is_a_usage_error(tmp_path, account, mm, content):
    write_mbox(tmp_path / "one.mbox", [message("one")])
    (tmp_path / "state.sqlite").write_bytes(content)
    for command in (run, verify):
        r = command(mm, account, tmp_path / "one.mbox", tmp_path)
        assert r.code == ExitCode.USAGE, r.err
        assert "Move it aside" in r.err and "Traceback" not in r.err


def test_refused_messages_can_be_exported_to_handle_by_hand(tmp_path, make_account, mm):
    account = make_account(max_mail_size="20k")
    huge = message("huge", body="h" * 40_000 + "\n")
    write_mbox(tmp_path / "one.mbox", [message("small"), huge])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json", "--export-refused",
            tmp_path / "refused")
    assert r.code == ExitCode.SKIPPED, r.out + r.err
    [path] = json.loads(r.out)["refused_exported"]
    assert open(path, "rb").read() == crlf(huge)
    v = verify(mm, account, tmp_path / "one.mbox", tmp_path, "--export-refused",
               tmp_path / "again")
    assert v.code == ExitCode.SKIPPED and "refused message written to" in v.out
    assert [p.read_bytes() for p in (tmp_path / "again").rglob("*.eml")] == [crlf(huge)]


def test_refused_messages_are_never_exported_into_a_source(tmp_path, account, mm):
    from tests.support.builders import snapshot
    root = tmp_path / "Local Folders"
    write_mbox(root / "Inbox", [message("in")])
    before = snapshot(root)
    for command in (run, verify):
        r = command(mm, account, root, tmp_path, "--export-refused", root / "refused")
        assert r.code == ExitCode.USAGE and "inside the source" in r.err, r.err
    assert snapshot(root) == before and account.read_back()["INBOX"] == []


def test_flags_the_server_drops_on_append_are_added_back(tmp_path, account, mm):
    """A provider that stores APPENDed mail without \\Seen (a proxy turns it into a keyword
    here): the run checks the flags of what it uploaded and adds \\Seen back."""
    proxy = RewriteProxy(account.server.imap_port, {b'(\\Seen) "': b'(Xseen) "'}).start()
    try:
        write_mbox(tmp_path / "one.mbox", [message("read one", extra="Status: RO"),
                                           message("unread one")])
        r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json",
                target=account.cli_args(tls="none", port=proxy.port))
        assert proxy.rewritten == 1
        assert r.code == 0, r.out + r.err
        assert json.loads(r.out)["flags_repaired"] == 1
    finally:
        proxy.stop()
    flags = {m.data: m.keyflags for m in account.read_back()["INBOX"]}
    assert "\\Seen" in flags[crlf(message("read one", extra="Status: RO"))]
    assert "\\Seen" not in flags[crlf(message("unread one"))]


@pytest.mark.parametrize("option", ["--state", "--log-file", "--progress-file", "--report"])
def test_nothing_of_ours_is_written_into_a_source(tmp_path, account, mm, option):
    """The state (with its lock, logs and work file), the log, the progress file and the
    reports are refused inside a source before anything is opened: the source directory
    stays byte for byte as it was, with no file added."""
    from tests.support.builders import snapshot
    root = tmp_path / "Local Folders"
    write_mbox(root / "Inbox", [message("in")])
    before = snapshot(root)
    place = root / ("x.sqlite" if option == "--state" else "out")
    commands = [("run", "--backup-dir", tmp_path / "bk", "--yes"), ("plan",), ("verify",)]
    for command, *extra in commands:
        if (option == "--progress-file") != (command == "run") and option in (
                "--progress-file", "--report"):
            continue  # --progress-file is run's, --report plan's and verify's
        args = [command, root, *account.cli_args(), *extra, option, place]
        if option != "--state":
            args += ["--state", tmp_path / "state.sqlite"]
        r = mm(*args, account=account)
        assert r.code == ExitCode.USAGE and "inside the source" in r.err, (command, r.err)
        assert "Traceback" not in r.err
    assert snapshot(root) == before and sorted(p.name for p in root.iterdir()) == ["Inbox"]
    assert account.read_back()["INBOX"] == []


def test_a_folder_the_server_will_not_open_skips_that_folder_alone(tmp_path, account, mm):
    """A server folder that exists but will not open (Dovecot: SELECT fails with
    [SERVERBUG] when it cannot read the folder) stopped `plan` at that folder and
    ended `run`'s final check with no summary. Now the plan names it, the run
    uploads the rest and names it in the summary (exit 1), and once the server
    opens it the same command moves it."""
    account.append("Locked", message("already there"))
    box = account.server.homes / account.user / "Maildir" / ".Locked"
    src = tmp_path / "store"
    write_mbox(src / "Good", [message("good 1")])
    write_mbox(src / "Locked", [message("locked 1")])
    os.chmod(box, 0)
    try:
        plan = mm("plan", src, *account.cli_args(), account=account)
        assert plan.code == 0, plan.err
        assert "Locked: could not look into Locked on the server" in plan.out
        assert "Good" in plan.out and "Traceback" not in plan.err
        r = run(mm, account, src, tmp_path)
        assert r.code == ExitCode.SKIPPED, r.out + r.err
        assert "Locked: not checked: the server will not open mailbox 'Locked'" in r.out
        assert "folder skipped: Locked" in r.out and "Traceback" not in r.err
        v = verify(mm, account, src, tmp_path)
        assert v.code == ExitCode.VERIFY_FAILED and "Good: 1 expected" in v.out, v.out + v.err
        assert "not checked: the server will not open mailbox 'Locked'" in v.out
    finally:
        os.chmod(box, 0o700)
    assert [m.data for m in account.read_back()["Good"]] == [crlf(message("good 1"))]
    again = run(mm, account, src, tmp_path)
    assert again.code == 0, again.out + again.err
    got = account.read_back()
    assert sorted(m.data for m in got["Locked"]) == sorted(
        [crlf(message("already there")), crlf(message("locked 1"))])
    assert len(got["Good"]) == 1


def test_an_export_never_follows_a_planted_link_nor_overwrites(tmp_path, make_account, mm):
    """Issue 34.6: a link planted where an exported file goes is not written through,
    a file already there is not overwritten, and every export is private (0600)."""
    import os
    import stat
    account = make_account(max_mail_size="20k")
    huge = message("huge", body="h" * 40_000 + "\n")
    write_mbox(tmp_path / "one.mbox", [message("small"), huge])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--json", "--export-refused",
            tmp_path / "first")
    [first] = json.loads(r.out)["refused_exported"]
    out = tmp_path / "refused" / os.path.basename(os.path.dirname(first))
    out.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.symlink(victim, out / "0001.eml")
    (out / "0001-2.eml").write_bytes(b"someone else's file")
    v = verify(mm, account, tmp_path / "one.mbox", tmp_path, "--export-refused",
               tmp_path / "refused")
    assert v.code == ExitCode.SKIPPED, v.out + v.err
    assert victim.read_bytes() == b"precious"
    assert (out / "0001-2.eml").read_bytes() == b"someone else's file"
    written = out / "0001-3.eml"
    assert written.read_bytes() == crlf(huge)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    again = verify(mm, account, tmp_path / "one.mbox", tmp_path, "--export-refused",
                   tmp_path / "refused")  # the same export again: nothing new
    assert again.code == ExitCode.SKIPPED and sorted(p.name for p in out.iterdir()) == [
        "0001-2.eml", "0001-3.eml", "0001.eml"]
    linked = tmp_path / "elsewhere"
    linked.mkdir()
    os.symlink(linked, tmp_path / "link-dir")
    bad = verify(mm, account, tmp_path / "one.mbox", tmp_path, "--export-refused",
                 tmp_path / "link-dir")
    assert bad.code == ExitCode.USAGE and "symbolic link" in bad.err
    assert list(linked.iterdir()) == []


def test_a_state_whose_data_pages_are_damaged_is_a_sentence(tmp_path, account, mm):
    """Issue 34.11: the SQLite header intact, a data page of the messages overwritten."""
    import sqlite3
    state = _state_after_a_run(tmp_path, account, mm)
    db = sqlite3.connect(state)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='messages'").fetchone()[0]
    db.close()
    data = bytearray(state.read_bytes())
    at = (root - 1) * page
    data[at:at + page] = os.urandom(page)
    state.write_bytes(bytes(data))
    _every_command_says_damaged(tmp_path, account, mm, "damaged")


@pytest.mark.parametrize("edit", ["UPDATE messages SET uid='abc'",
                                  "UPDATE messages SET uidvalidity=99999999999999",
                                  "UPDATE messages SET size=NULL WHERE 0",  # no change: fine
                                  "UPDATE message_facts SET size='big'",
                                  "UPDATE batches SET uidnext=-1"])
def test_a_state_edited_by_hand_is_a_sentence(tmp_path, account, mm, edit):
    import sqlite3
    state = _state_after_a_run(tmp_path, account, mm, n=3)
    db = sqlite3.connect(state)
    db.execute("INSERT INTO batches (mailbox, uidvalidity, uidnext, created) "
               "VALUES ('INBOX', 1, 1, 0)") if "batches" in edit else None
    changed = db.execute(edit).rowcount
    db.commit()
    db.close()
    if not changed:  # nothing edited: nothing to complain about
        assert run(mm, account, tmp_path / "one.mbox", tmp_path).code == 0
        return
    _every_command_says_damaged(tmp_path, account, mm, "edited by hand")
