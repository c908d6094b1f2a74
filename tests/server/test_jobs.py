"""MSP fleets: jobs files, keyring credentials, discovery, POP leftovers: the server tests
(tests/unit/test_jobs.py has the rest, and says what they prove)."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from migrate.errors import ExitCode
from tests.support.builders import crlf, message
from tests.support.jobs_shared import client_store, keyring_env, set_password


def test_jobs_in_parallel_two_complete_one_fails_auth(tmp_path, make_account, mm):
    accounts = [make_account() for _ in range(3)]
    for i, account in enumerate(accounts):
        client_store(tmp_path / f"client{i}", f"client{i}")
        r = set_password(mm, tmp_path, account, account.password if i != 1 else "wrong-pw")
        assert r.returncode == 0, r.stderr
        assert account.password not in r.stdout + r.stderr
    server = accounts[0].server
    jobs = tmp_path / "clients.toml"
    jobs.write_text(textwrap.dedent(f"""\
        # three client desktops, one server
        [defaults]
        host = "127.0.0.1"
        port = {server.imaps_port}
        ca_file = '{server.ca_file}'
        connections = 2

        [jobs.acme]
        sources = ["client0"]
        user = "{accounts[0].user}"

        [jobs.bolt]
        sources = ["client1"]
        user = "{accounts[1].user}"

        [jobs.crane]
        sources = ["client2"]
        user = "{accounts[2].user}"
        """))
    r = mm("jobs", "run", jobs, "--parallel", "3", env=keyring_env(tmp_path))
    assert r.code == ExitCode.AUTH, r.out + r.err
    lines = {line.split()[0]: line for line in r.out.splitlines() if line[:1].isalpha()}
    assert "ok" in lines["acme"] and "moved now 5" in lines["acme"]
    assert "ok" in lines["crane"] and "moved now 5" in lines["crane"]
    assert "auth error" in lines["bolt"] and "refused the login" in lines["bolt"]
    summary = json.loads((tmp_path / "work" / "summary-run.json").read_text())
    states = {j["job"]: (j["exit_code"], j["counts"]) for j in summary["jobs"]}
    assert states["acme"][0] == 0 and states["acme"][1]["moved now"] == 5
    assert states["bolt"][0] == ExitCode.AUTH and summary["exit_code"] == ExitCode.AUTH
    assert "auth error" in (tmp_path / "work" / "summary-run.html").read_text()
    status = mm("jobs", "status", jobs, env=keyring_env(tmp_path))  # the truth, from the states
    assert status.code == ExitCode.AUTH, status.out + status.err
    lines = {line.split()[0]: line for line in status.out.splitlines() if line[:1].isalpha()}
    assert "auth error" in lines["bolt"] and "ok" in lines["acme"]
    assert "2 of 3 jobs whose last run completed" in status.out
    assert (tmp_path / "work" / "summary-run.json").read_text() == json.dumps(summary, indent=2) \
        or json.loads((tmp_path / "work" / "summary-run.json").read_text()) == summary
    for i in (0, 2):
        assert sorted(m.data for m in accounts[i].read_back()["INBOX"]) == \
            sorted(crlf(m) for m in client_store(tmp_path / "again", f"client{i}"))
    assert accounts[1].read_back()["INBOX"] == []
    for name in ("acme", "bolt", "crane"):  # each its own state, logs and report
        work = tmp_path / "work" / name
        assert list((work / "logs").glob("run-*.log"))
    assert (tmp_path / "work" / "acme" / "state.run.html").exists()

    # the morning after: fix the password, run again; only bolt has work left
    assert set_password(mm, tmp_path, accounts[1], accounts[1].password).returncode == 0
    again = mm("jobs", "run", jobs, env=keyring_env(tmp_path))
    assert again.code == 0, again.out + again.err
    assert len(accounts[1].read_back()["INBOX"]) == 4
    status = mm("jobs", "status", jobs, "--json", env=keyring_env(tmp_path))
    assert status.code == 0, status.err
    done = {j["job"]: j["counts"] for j in json.loads(status.out)["jobs"]}
    assert done["acme"]["moved"] == 5 and done["bolt"]["moved"] == 5
    verify = mm("jobs", "verify", jobs, "--parallel", "2", env=keyring_env(tmp_path))
    assert verify.code == 0, verify.out + verify.err

    # the secret-grep: nothing the tool wrote or printed holds a password
    secrets = [a.password.encode() for a in accounts] + [b"wrong-pw"]
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s in data for s in secrets), path
    for text in (r.out, r.err, again.out, again.err, status.out, verify.out):
        assert not any(s.decode() in text for s in secrets)


def test_credentials_set_test_delete_and_no_keyring(tmp_path, account, mm):
    env = keyring_env(tmp_path)
    assert set_password(mm, tmp_path, account, account.password).returncode == 0
    args = [a for a in account.cli_args() if a not in ("--password-env", "MM_TEST_PASSWORD")]
    ok = mm("credentials", "test", *args, env=env)
    assert ok.code == 0 and "OK" in ok.out, ok.err
    gone = mm("credentials", "delete", "--host", account.host, "--user", account.user, env=env)
    assert gone.code == 0 and "removed" in gone.out
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    missing = mm("credentials", "test", *args, env=env)
    assert missing.code == ExitCode.USAGE and "no password found" in missing.err
    none = mm("credentials", "set", "--host", "h", "--user", "u",
              env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert none.code == ExitCode.USAGE
    assert "no usable OS keyring" in none.err and "--password-env" in none.err
    # a password file others can read is refused (POSIX)
    if os.name != "nt":
        pw = tmp_path / "pw.txt"
        pw.write_text(account.password)
        pw.chmod(0o644)
        shared = mm("credentials", "test", *args, "--password-file", pw)
        assert shared.code == ExitCode.USAGE and "chmod 600" in shared.err
        pw.chmod(0o600)
        assert mm("credentials", "test", *args, "--password-file", pw).code == 0


def test_pop_leftovers_land_in_inbox_and_stay_on_the_pop_server(tmp_path, make_account, mm):
    old = make_account()  # the old POP mailbox
    new = make_account()  # the IMAP account
    waiting = [crlf(message(f"waiting {i}", body="x" * 3000 * i + "\n")) for i in range(3)]
    for data in waiting:
        old.append("INBOX", data)
    server = old.server
    url = f"pop3s://{old.user}@127.0.0.1:{server.pop3s_port}?ca_file={server.ca_file}"
    env = {"MM_POP_PASSWORD": old.password}
    plan = mm("plan", url, "--pop-password-env", "MM_POP_PASSWORD", *new.cli_args(),
              env=env, account=new)
    assert plan.code == 0, plan.err
    assert "3 of 3 messages" in plan.out
    run = mm("run", url, "--pop-password-env", "MM_POP_PASSWORD", *new.cli_args(),
             "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
             env=env, account=new)
    assert run.code == 0, run.err
    assert sorted(m.data for m in new.read_back()["INBOX"]) == sorted(waiting)
    assert len(old.read_back()["INBOX"]) == 3  # nothing deleted from the POP server

    # new mail arrives at the POP server; STARTTLS this time; only the new UIDL is taken
    old.append("INBOX", crlf(message("late arrival")))
    url = f"pop3://{old.user}@127.0.0.1:{server.pop3_port}?ca_file={server.ca_file}"
    again = mm("run", url, "--pop-password-env", "MM_POP_PASSWORD", *new.cli_args(),
               "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
               env=env, account=new)
    assert again.code == 0, again.err
    assert "moved now:              1" in again.out
    assert len(new.read_back()["INBOX"]) == 4 and len(old.read_back()["INBOX"]) == 4
    cache = tmp_path / "xdg-data" / "mailmigrate" / "pop3"
    index = json.loads(next(cache.rglob("uidl.json")).read_text())
    assert len(index) == 4
    assert old.password.encode() not in b"".join(p.read_bytes() for p in tmp_path.rglob("*")
                                                 if p.is_file())


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_to_jobs_run_stops_the_jobs_cleanly(tmp_path, account, mm):
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    from tests.server.test_exactly_once import assert_exactly_once, make_store
    from tests.support.overnight_shared import messages_on_server
    expected = make_store(tmp_path / "client", (("Inbox", 150),))
    jobs = tmp_path / "night.toml"
    jobs.write_text(textwrap.dedent(f"""\
        [jobs.slow]
        sources = ["client"]
        host = "127.0.0.1"
        port = {account.server.imaps_port}
        ca_file = '{account.server.ca_file}'
        user = "{account.user}"
        password = "env:MM_TEST_PASSWORD"
        max_messages_per_second = 40
        """))
    env = dict(os.environ, MM_TEST_PASSWORD=account.password,
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    proc = subprocess.Popen([sys.executable, "-m", "migrate", "jobs", "run", str(jobs)],
                            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while messages_on_server(account) < 20:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, out + err
    assert "passed on to 1 running job" in err and "interrupted" in out
    summary = json.loads((tmp_path / "work" / "summary-run.json").read_text())
    assert summary["jobs"][0]["counts"]["left for the next run"] > 0
    assert summary["jobs"][0]["error"] == "stopped; continues with the same command"
    status = mm("jobs", "status", jobs, env={"MM_TEST_PASSWORD": account.password})
    assert status.code == ExitCode.INTERRUPTED and "interrupted" in status.out
    again = mm("jobs", "run", jobs, env={"MM_TEST_PASSWORD": account.password})
    assert again.code == 0, again.out + again.err
    assert_exactly_once(account, expected)


