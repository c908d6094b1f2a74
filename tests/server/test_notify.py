"""--notify-command: the technician hears when the night ends, whatever its outcome
(issue 39). The command gets the summary as JSON on stdin, no shell, and its own
failure never changes the run's exit code."""

from __future__ import annotations

import json
import sys

from tests.support.builders import message, write_jobs, write_mbox

HOOK = "import json, os, sys; open(sys.argv[1], 'a').write(json.dumps({{'code': " \
       "os.environ['MAILMIGRATE_EXIT_CODE'], 'summary': json.load(sys.stdin)}}) + '\\n')"


def hook(tmp_path) -> tuple[str, object]:
    script = tmp_path / "hook.py"
    script.write_text(HOOK.replace("{{", "{").replace("}}", "}"))
    out = tmp_path / "notified.jsonl"
    return f'"{sys.executable}" "{script}" "{out}"', out


def test_notified_after_a_good_run_and_a_refused_login(account, mm, tmp_path):
    command, out = hook(tmp_path)
    write_mbox(tmp_path / "in.mbox", [message("n1"), message("n2")])
    base = ["run", tmp_path / "in.mbox", *account.cli_args(), "--state", tmp_path / "s.sqlite",
            "--backup-dir", tmp_path / "bk", "--yes", "--notify-command", command]
    assert mm(*base, account=account).code == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert first["code"] == "0" and first["summary"]["totals"]["uploaded"] == 2
    assert account.password not in out.read_text()
    r = mm(*base, env={"MM_TEST_PASSWORD": "wrong"})
    assert r.code == 4
    second = json.loads(out.read_text().splitlines()[1])
    assert second["code"] == "4" and "refused the login" in second["summary"]["error"]


def test_a_failing_hook_changes_nothing(account, mm, tmp_path):
    write_mbox(tmp_path / "in.mbox", [message("f1")])
    r = mm("run", tmp_path / "in.mbox", *account.cli_args(), "--state", tmp_path / "s.sqlite",
           "--backup-dir", tmp_path / "bk", "--yes", "--notify-command",
           f'"{sys.executable}" -c "raise SystemExit(3)"', account=account)
    assert r.code == 0 and "--notify-command exited 3" in r.err, r.err


def test_jobs_run_notifies_with_the_combined_summary(account, mm, tmp_path):
    command, out = hook(tmp_path)
    write_mbox(tmp_path / "a.mbox", [message("j1")])
    jobs = write_jobs(tmp_path / "jobs.toml", {
        "host": account.host, "port": account.server.imaps_port,
        "ca_file": account.server.ca_file, "password": "env:MM_TEST_PASSWORD",
        "work_dir": tmp_path / "work"}, {
        "ann": {"sources": [tmp_path / "a.mbox"], "user": account.user}})
    r = mm("jobs", "run", jobs, "--notify-command", command, account=account)
    assert r.code == 0, r.out + r.err
    (line,) = out.read_text().splitlines()
    got = json.loads(line)
    assert got["code"] == "0" and [j["job"] for j in got["summary"]["jobs"]] == ["ann"]


def test_notified_when_the_run_cannot_begin(account, mm, tmp_path):
    command, out = hook(tmp_path)
    r = mm("run", tmp_path / "missing.mbox", *account.cli_args(), "--backup-dir",
           tmp_path / "bk", "--yes", "--notify-command", command, account=account)
    assert r.code == 2
    (line,) = out.read_text().splitlines()
    got = json.loads(line)
    assert got["code"] == "2" and "does not exist" in got["summary"]["error"]
