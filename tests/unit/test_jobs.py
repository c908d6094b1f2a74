"""MSP fleets: jobs files, keyring credentials, discovery, POP leftovers."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.jobs_shared import local_jobs


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
