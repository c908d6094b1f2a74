"""LIST answers read by migrate/target/list_response.py: byte literals, then every: the
server tests (tests/unit/test_list_response.py has the rest, and says what they prove)."""

from __future__ import annotations

from migrate.target.list_response import parse_list
from tests.support.list_response_shared import NAMES


def test_every_name_a_real_server_lists_is_read(account, tmp_path, mm):
    """Mailboxes with hard names made by another client; plan, run and verify of an
    mbox into the same account all end with a sentence, never exit 70."""
    from tests.support.builders import message, write_mbox
    c = account.client()
    made = []
    for name in NAMES:
        try:
            c.create_folder(name)
            made.append(name)
        except Exception:  # noqa: BLE001 - a name this server refuses is not listed
            pass
    c.logout()
    assert "Evil_[31mRed" in made and "a]b" in made
    write_mbox(tmp_path / "src" / "Evil\x1b[31mRed", [message("one")])
    for command in (["plan"], ["run", "--backup-dir", tmp_path / "bk", "--yes"], ["verify"],
                    ["plan"]):
        r = mm(command[0], tmp_path / "src", *account.cli_args(), *command[1:],
               account=account)
        assert r.code == 0, (command, r.out, r.err)
        assert "\x1b" not in r.out + r.err
    c = account.client()  # imapclient's own LIST refuses these names: read them here
    typ, data = c._imap._simple_command("LIST", b'""', b'"*"')
    _, data = c._imap._untagged_response(typ, data, "LIST")
    c.logout()
    listed = {raw for _, _, raw in parse_list(data)}
    assert {b"a]b", b"Evil_[31mRed"} <= listed


def test_subjects_and_names_from_data_reach_the_terminal_as_text(tmp_path, account, mm):
    """Issue 34.7: a subject with ESC[2J and an OSC sequence (a foreign message verify
    names), a folder and a file name with escapes and a bidi override (plan): printed
    as visible escapes, never as control; the log file too."""
    from tests.support.builders import message, write_mbox
    evil = "\x1b[2J\x1b]0;owned\x07\u202eevil"
    write_mbox(tmp_path / "src" / f"Box{evil}", [message(f"Subject {evil}")])
    plan = mm("plan", tmp_path / "src", *account.cli_args(), account=account)
    verify = mm("verify", tmp_path / "src", *account.cli_args(), "--log-file",
                tmp_path / "verify.log", account=account)
    assert plan.code == 0 and verify.code == 6, plan.err + verify.out + verify.err
    for text in (plan.out, plan.err, verify.out, verify.err,
                 (tmp_path / "verify.log").read_text(encoding="utf-8")):
        assert not any(c in text for c in "\x1b\x07\u202e"), text
    assert "\\x1b[2J" in verify.out and "\\u202e" in verify.out
    assert "Box\\x1b[2J" in plan.out


