"""What the tests of test_every_folder share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

from migrate.errors import ExitCode
from tests.support.builders import message, write_mbox


def run(mm, account, src, tmp_path, *extra, state="state.sqlite", target=None):
    return mm("run", src, *(target or account.cli_args()), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / state, "--yes", *extra, account=account)


def verify(mm, account, src, tmp_path, *extra, state="state.sqlite", target=None):
    return mm("verify", src, *(target or account.cli_args()), "--state", tmp_path / state,
              *extra, account=account)


def thunderbird_with_empty_folder(root):
    (root / "Projekte.sbd").mkdir(parents=True)
    write_mbox(root / "Inbox", [message("in 1")])
    write_mbox(root / "Projekte", [message("projekt 1")])
    (root / "Projekte.sbd" / "Leer").write_bytes(b"")
    (root / "Projekte.sbd" / "Leer.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    return root


EIGHT_BIT = "Grüße aus Köln"


def account_messages(account) -> int:
    return sum(len(v) for v in account.read_back().values())


def _state_after_a_run(tmp_path, account, mm, n=300):
    write_mbox(tmp_path / "one.mbox", [message(f"m {i}", body="x" * 400 + "\n")
                                       for i in range(n)])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == 0, r.err
    return tmp_path / "state.sqlite"


def _every_command_says_damaged(tmp_path, account, mm, words):
    state = tmp_path / "state.sqlite"
    for args in (["plan", tmp_path / "one.mbox", *account.cli_args(), "--state", state],
                 ["status", "--state", state], ["verify", tmp_path / "one.mbox",
                                                *account.cli_args(), "--state", state]):
        r = mm(*args, account=account)
        assert r.code == ExitCode.USAGE, (args[0], r.out, r.err)
        assert words in r.err and "Traceback" not in r.err, r.err
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == ExitCode.USAGE and words in r.err and "Traceback" not in r.err, r.err
