"""MSP fleets: jobs files, keyring credentials, discovery, POP leftovers."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from migrate.errors import ExitCode
from tests.builders import crlf, message, write_mbox

KEYRING_ENV = {"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring"}


def keyring_env(tmp_path) -> dict:
    return {**KEYRING_ENV, "MM_TEST_KEYRING_FILE": str(tmp_path / "keyring.json")}


def set_password(mm, tmp_path, account, password: str):
    """`credentials set` reads the password from stdin when stdin is not a terminal."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    env = dict(os.environ, **keyring_env(tmp_path))
    return subprocess.run([sys.executable, "-m", "migrate", "credentials", "set", "--host",
                           account.host, "--user", account.user], input=password + "\n",
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def client_store(root: Path, who: str, n: int = 4) -> list[bytes]:
    msgs = [message(f"{who} {i}", msgid=f"<{who}.{i}@example.org>") for i in range(n)]
    write_mbox(root / "Inbox", msgs)
    write_mbox(root / "Sent", [message(f"{who} sent", msgid=f"<{who}.s@example.org>")])
    return msgs


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


def test_bad_jobs_file_is_rejected_before_anything_starts(tmp_path, mm):
    (tmp_path / "store").mkdir()
    jobs = tmp_path / "bad.toml"
    jobs.write_text(textwrap.dedent("""\
        [defaults]
        hots = "imap.example.net"

        [jobs.one]
        sources = ["store"]
        host = "imap.example.net"
        user = "a@example.net"
        port = 99999

        [jobs.two]
        sources = ["missing-folder"]
        host = "imap.example.net"
        password = "s3cret-typed-here"
        """))
    r = mm("jobs", "run", jobs)
    assert r.code == ExitCode.USAGE
    assert f"{jobs}:2: [defaults] hots: unknown key (did you mean 'host'?)" in r.err
    assert f"{jobs}:8: [jobs.one] port: 99999: a port is a number from 1 to 65535" in r.err
    assert f"{jobs}:11: [jobs.two] sources:" in r.err and "does not exist" in r.err
    assert f"{jobs}:10: [jobs.two]: missing 'user'" in r.err
    assert "[jobs.two] password: write where the password is" in r.err
    assert "s3cret-typed-here" not in r.err + r.out
    assert "nothing was started" in r.err and not (tmp_path / "work").exists()
    broken = tmp_path / "broken.toml"
    broken.write_text("[jobs.x\nsources = 1\n")
    r = mm("jobs", "check", broken)
    assert r.code == ExitCode.USAGE and "not valid TOML" in r.err and "line 1" in r.err


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


def thunderbird_profile(profile: Path) -> None:
    local = profile / "Mail" / "Local Folders"
    write_mbox(local / "Inbox", [message(f"tb {i}") for i in range(3)])
    write_mbox(local / "Sent", [message("tb sent")])
    (profile / "prefs.js").write_text("// Mozilla User Preferences\n")


@pytest.mark.parametrize("layout", ["windows", "linux", "macos"])
def test_discover_finds_thunderbird_profile_in_a_home(tmp_path, mm, layout):
    home = tmp_path / "home"
    root = {"windows": home / "AppData" / "Roaming" / "Thunderbird",
            "linux": home / ".thunderbird",
            "macos": home / "Library" / "Thunderbird"}[layout]
    relative = "Profiles/k3x9.default-release" if layout != "linux" else "k3x9.default-release"
    thunderbird_profile(root / Path(relative))
    (root / "profiles.ini").write_text(textwrap.dedent(f"""\
        [Install8216C80C92C4E828]
        Default={relative}
        Locked=1

        [Profile0]
        Name=default-release
        IsRelative=1
        Path={relative}
        Default=1

        [General]
        StartWithLastProfile=1
        Version=2
        """), encoding="utf-8")
    if layout == "windows":  # an Outlook file in its usual place: reported, with advice
        outlook = home / "AppData" / "Local" / "Microsoft" / "Outlook"
        outlook.mkdir(parents=True)
        (outlook / "ann@example.org.pst").write_bytes(b"!BDN" + b"\0" * 512)
    env = {"HOME": str(home), "USERPROFILE": str(home), "APPDATA": "", "LOCALAPPDATA": ""}
    r = mm("discover", "--write-jobs", tmp_path / "jobs.toml", env=env)
    assert r.code == 0, r.err
    assert "thunderbird" in r.out and "k3x9.default-release" in r.out
    assert "2 folders, 4 messages" in r.out and "profiles.ini" in r.out
    if layout == "windows":
        assert "ann@example.org.pst" in r.out and "readpst" in r.out
    skeleton = (tmp_path / "jobs.toml").read_text()
    assert "k3x9.default-release" in skeleton and "[jobs.thunderbird-k3x9-default-release]" \
        in skeleton
    check = mm("jobs", "check", tmp_path / "jobs.toml")  # a valid jobs file, to fill in
    assert check.code == 0, check.err


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
    from tests.test_exactly_once import assert_exactly_once, make_store
    from tests.test_overnight import messages_on_server
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


def test_live_progress_lines_for_running_jobs(tmp_path):
    import io
    import threading

    from migrate.cli.jobs_cmd import LiveProgress
    from migrate.jobs import Job
    jobs = [Job(name, {"sources": ["x"], "host": "h", "user": "u"}, tmp_path)
            for name in ("anna", "ben", "cleo")]
    numbers = {"anna": (120, 400, 40.0, False), "ben": (50, 50, 10.0, True),
               "cleo": (10, 100, 5.0, False)}
    for job in jobs:
        done, total, rate, finished = numbers[job.name]
        job.progress_file.parent.mkdir(parents=True)
        job.progress_file.write_text(json.dumps({
            "messages": done, "of_messages": total, "bytes": done * 1_000_000,
            "of_bytes": total * 1_000_000, "messages_per_second": rate,
            "finished": finished}))
    lines = LiveProgress(jobs, io.StringIO(), threading.Lock()).lines()
    assert lines == ["  anna: 120/400 messages, 120.0/400.0 MB, 40.0 msg/s, about 0m07s left",
                     "  cleo: 10/100 messages, 10.0/100.0 MB, 5.0 msg/s, about 0m18s left",
                     "  all running jobs: 130/500 messages, 130.0/500.0 MB, 45.0 msg/s"]


def local_jobs(tmp_path, *names):
    """A jobs file of *names*, each into its own account, loaded (no server is asked)."""
    from migrate import jobs as jobs_mod
    (tmp_path / "src").mkdir()
    text = '[defaults]\nhost = "127.0.0.1"\npassword = "env:HOME"\n' + "".join(
        f'[jobs.{name}]\nsources = ["src"]\nuser = "{name}@x"\n' for name in names)
    (tmp_path / "jobs.toml").write_text(text)
    return jobs_mod.load(tmp_path / "jobs.toml")


@pytest.mark.parametrize("leftover", [b'{"summary": {}}', b"{ damaged"])
def test_a_job_that_dies_before_its_log_is_that_jobs_failure(tmp_path, monkeypatch, leftover):
    """Issue 34.12: a job's process exits before it makes its log file while an older
    plan.json lies in its work folder (or a damaged one): the runner names that job's
    failure and the others' results, and the summary is written."""
    import sys
    import time as clock

    from migrate import jobs as jobs_mod
    jobs = local_jobs(tmp_path, "early", "other", "broken")
    old = jobs[0].work_dir / "plan" / "plan.json"
    old.parent.mkdir(parents=True)
    old.write_bytes(leftover)
    if leftover == b'{"summary": {}}':
        os.utime(old, (clock.time() - 3600, clock.time() - 3600))
    monkeypatch.setattr(jobs_mod.Job, "command", lambda self, name, log: [
        sys.executable, "-c", "raise SystemExit(3)"])
    real = jobs_mod.run_job

    def run_job(job, command, env=None):
        if job.name == "broken":
            raise PermissionError(13, "Permission denied", str(job.work_dir))
        return real(job, command, env)
    monkeypatch.setattr(jobs_mod, "run_job", run_job)
    results = jobs_mod.run_jobs(jobs, "plan", parallel=2)
    assert [(r.name, r.exit_code) for r in results] == [("early", 3), ("other", 3),
                                                        ("broken", 70)]
    assert "could not run this job" in results[2].error
    assert results[0].data == {}


def test_a_job_killed_by_a_signal_counts_as_interrupted(tmp_path, monkeypatch):
    """Issue 39.1: after kill -9 of one job, jobs run said 'exit -9' and exited 0 (the
    highest of the jobs' codes): cron and monitoring read that code."""
    import sys

    from migrate import jobs as jobs_mod
    jobs = local_jobs(tmp_path, "killed", "fine")
    monkeypatch.setattr(jobs_mod.Job, "command", lambda self, name, log: [
        sys.executable, "-c",
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)" if self.name == "killed"
        else "pass"])
    results = jobs_mod.run_jobs(jobs, "run", parallel=2)
    assert [(r.name, r.exit_code) for r in results] == [("killed", 130), ("fine", 0)]
    assert "killed by SIGKILL" in results[0].error and "run the same command again" in \
        results[0].error
    assert jobs_mod.worst_exit_code(results) == 130
    assert jobs_mod.exit_code_of(0xC000013A) == (130, "ended by Ctrl-C or Ctrl-Break")


def test_the_whole_file_summary_keeps_the_others_even_from_an_older_summary():
    """A --only run merges with what the last summary said of the others; a summary
    written before times were kept (or a damaged one) still gives a line for each."""
    from migrate.jobs_report import render_text, whole_file
    this_time = {"command": "plan", "jobs_file": "f.toml", "exit_code": 0, "seconds": 3,
                 "started": "2026-12-07T22:00:00+01:00", "ended": "2026-12-07T22:00:03+01:00",
                 "jobs": [{"job": "c", "state": "ok", "exit_code": 0, "counts": {},
                           "error": None, "log": "l", "output": "o", "started": None,
                           "ended": None, "seconds": 3}]}
    older = {"jobs": [{"job": "a", "state": "ok", "exit_code": 0, "counts": "broken",
                       "seconds": "ten", "ended": 5}, {"job": 7}]}
    merged = whole_file(this_time, older, ["a", "b", "c"])
    assert [(j["job"], j["this_time"], j["state"]) for j in merged["jobs"]] == [
        ("a", False, "ok"), ("b", False, "not run yet"), ("c", True, "ok")]
    text = render_text(merged)
    assert "2 others not run this time" in text and "not run yet" in text
    from migrate.jobs_report_html import render_jobs_html
    assert "not run yet" in render_jobs_html(merged)
    for damaged in ([1, 2], {"jobs": 7}, None):  # valid JSON, not a summary
        assert [j["state"] for j in whole_file(this_time, damaged, ["a", "c"])["jobs"]] == [
            "not run yet", "ok"]


def test_report_html_from_damaged_files_names_them_and_goes_on(tmp_path):
    """The history and a job's run.json are files on disk a person can edit or a full
    disk can cut: whatever JSON they hold, report.html is written (no traceback)."""
    import json

    from migrate.jobs import Job
    from migrate.jobs_report import nights_of
    from migrate.jobs_report_html import write_client_report
    history = tmp_path / "work" / "history"
    history.mkdir(parents=True)
    (history / "1-run.json").write_text(json.dumps({"command": "run", "jobs": [
        {"job": "a", "started": 5, "seconds": "x", "state": [], "counts": [1]},
        {"job": "a", "started": "2026-12-07T22:00:00", "seconds": 61,
         "counts": {"moved now": 4}, "state": "ok"}, "junk"]}))
    (history / "2-run.json").write_text(json.dumps({"command": "run", "jobs": 3}))
    job = Job("a", {"sources": ["x"], "host": "h", "user": "u"}, tmp_path)
    job.work_dir.mkdir(parents=True, exist_ok=True)
    job.state.with_suffix(".run.json").write_text("[1, 2]")
    nights = nights_of(tmp_path / "work")["a"]
    assert [(n["started"], n["seconds"], n["moved"]) for n in nights] == [
        (None, None, None), ("2026-12-07T22:00:00", 61, 4)]
    page = write_client_report([job], tmp_path / "work").read_text()
    assert "state.run.json cannot be read" in page and "not known" in page
