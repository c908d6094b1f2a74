"""Issue 34.2, 34.4, 34.5: runs into one account never overlap, and what discover: the
server tests (tests/functional/test_one_account.py has the rest, and says what they
prove)."""

from __future__ import annotations

import os
import textwrap

from migrate.errors import ExitCode
from tests.support.builders import crlf, message, write_mbox


def test_a_run_into_an_account_another_run_uploads_to_waits_its_turn(tmp_path, account, mm):
    """Another run holds the account (its own state file): this one says so and sends
    nothing; once it is gone, the same command runs."""
    from migrate.lock import account_lock
    write_mbox(tmp_path / "src.mbox", [message(f"m {i}") for i in range(3)])
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    os.environ_backup = dict(os.environ)
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    try:
        held = account_lock(account.host, account.user.upper()).acquire()  # any spelling
    finally:
        if old is None:
            os.environ.pop("XDG_DATA_HOME")
        else:
            os.environ["XDG_DATA_HOME"] = old
    args = ["run", tmp_path / "src.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
            "--state", tmp_path / "other-state.sqlite", "--yes"]
    try:
        busy = mm(*args, account=account, env=env)
    finally:
        held.release()
    assert busy.code == ExitCode.USAGE and "another mailmigrate run is uploading" in busy.err
    assert account.read_back().get("INBOX", []) == []
    assert mm(*args, account=account, env=env).code == 0
    assert len(account.read_back()["INBOX"]) == 3


def test_two_jobs_of_one_person_run_one_after_the_other_and_double_nothing(tmp_path,
                                                                           account, mm):
    """An old PST export and a Thunderbird profile of one person, both holding the same
    mail, as two jobs with --parallel 2: every message once on the server."""
    msgs = [message(f"shared {i}") for i in range(20)]
    write_mbox(tmp_path / "export" / "Inbox", msgs)
    write_mbox(tmp_path / "profile" / "Inbox", msgs + [message("only in the profile")])
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(textwrap.dedent(f"""\
        [defaults]
        host = "127.0.0.1"
        port = {account.server.imaps_port}
        ca_file = '{account.server.ca_file}'
        password = "env:MM_TEST_PASSWORD"

        [jobs.ann-export]
        sources = ["export"]
        user = "{account.user}"

        [jobs.ann-profile]
        sources = ["profile"]
        user = "{account.user.upper()}"
        """))
    check = mm("jobs", "check", jobs, account=account)
    assert check.code == 0 and "ann-export, ann-profile move mail into the same account" \
        in check.out, check.out
    r = mm("jobs", "run", jobs, "--parallel", "2", account=account)
    assert r.code == 0, r.out + r.err
    got = sorted(m.data for m in account.read_back()["INBOX"])
    assert got == sorted(crlf(m) for m in msgs + [message("only in the profile")])
    verify = mm("jobs", "verify", jobs, "--json", account=account)
    assert verify.code == 0, verify.out + verify.err


