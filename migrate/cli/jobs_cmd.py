"""``mailmigrate jobs plan|run|verify|status FILE``: many accounts from one jobs file."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from migrate import jobs as jobs_mod
from migrate import jobs_report
from migrate.errors import ExitCode
from migrate.jobs_report_html import write_summaries
from migrate.stopping import on_stop_signals
from migrate.textsafe import shown


def add_parser(sub):
    p = sub.add_parser("jobs", help="plan, run, verify or check many migrations from a jobs "
                                    "file (docs/msp-runbook.md)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("plan", "plan every job (reports per job)"),
                       ("run", "run every job: back up, upload, verify"),
                       ("verify", "verify every job against its server"),
                       ("status", "what the state databases say (offline)"),
                       ("check", "only check the jobs file"),
                       ("login", "sign in every person whose job uses OAuth 2, one after "
                                 "the other (a code to enter for each)")):
        a = actions.add_parser(name, help=text)
        a.add_argument("jobs_file", type=Path, metavar="FILE", help="the jobs file (TOML)")
        a.add_argument("--only", action="append", metavar="JOB", default=[],
                       help="only this job (repeatable)")
        if name == "run":
            a.add_argument("--notify-command", metavar="CMD",
                           help="when every job has ended, run CMD (no shell) with the "
                                "combined summary as JSON on its stdin")
        if name not in ("check", "login"):
            a.add_argument("--parallel", type=int, default=1, metavar="N",
                           help="run N jobs at once, each its own process (default 1)")
            a.add_argument("--json", action="store_true",
                           help="print the combined summary as JSON on stdout")
    return p


def run(args) -> int:
    jobs = every = jobs_mod.load(args.jobs_file, check_sources=args.action != "status")
    if args.only:
        unknown = set(args.only) - {j.name for j in jobs}
        if unknown:
            from migrate.errors import UsageError
            raise UsageError(f"no such job in {args.jobs_file}: {', '.join(sorted(unknown))}")
        jobs = [j for j in jobs if j.name in args.only]
    if args.action == "check":
        print(f"{args.jobs_file}: {len(jobs)} jobs, no problems found")
        for job in jobs:
            print(f"  {job.name}: {len(job.sources)} sources -> "
                  f"{shown(str(job.settings['user']))} at "
                  f"{shown(str(job.settings['host']))}")
        for (host, user), names in jobs_mod.shared_accounts(jobs).items():
            print(f"  note: {', '.join(names)} move mail into the same account ({shown(user)}"
                  f" at {shown(host)}): they run one after the other, never at once")
        return int(ExitCode.SUCCESS)
    if args.action == "login":
        return sign_in_everyone(jobs)
    _install_forwarding()
    lock = threading.Lock()

    def done(result: jobs_mod.JobResult) -> None:
        with lock:
            print(f"{result.name}: {result.state}", file=sys.stderr, flush=True)

    watcher, started = None, jobs_mod.now_iso()
    if args.action == "run":
        watcher = LiveProgress(jobs, sys.stderr, lock)
        watcher.start()
    try:
        results = jobs_mod.run_jobs(jobs, args.action, args.parallel, on_done=done)
    finally:
        if watcher:
            watcher.stop()
    this_time = jobs_report.summary_of(args.action, args.jobs_file, results, started,
                                       jobs_mod.now_iso())
    out_dir = every[0].work_dir.parent if every else args.jobs_file.parent
    summary = write_summaries(out_dir, this_time, every)
    name = f"summary-{args.action}"  # each command its own: status never hides the run's
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(jobs_report.render_text(summary))
        print(f"\nsummary: {out_dir / (name + '.json')} and {name}.html")
    if args.action == "run":
        from migrate.credentials import notify
        notify(args.notify_command, summary, summary["exit_code"])
    return summary["exit_code"]


def sign_in_everyone(jobs) -> int:
    """``credentials login`` for each job with an OAuth 2 app, in turn, on this terminal:
    the technician (or each person) enters each code; the sign-ins go to the keyring."""
    import subprocess
    worst = 0
    oauth_jobs = [j for j in jobs if j.settings.get("oauth2_client_id")]
    if not oauth_jobs:
        print("no job of this file signs in with OAuth 2 (oauth2_client_id); nothing to do")
        return int(ExitCode.SUCCESS)
    for job in oauth_jobs:
        who = shown(str(job.settings.get("user")))
        print(f"{job.name}: signing in {who}", flush=True)
        argv = [sys.executable, "-m", "migrate", "credentials", "login",
                *job.option_args("credentials")]
        code = subprocess.run(argv).returncode
        print(f"{job.name}: {'signed in' if code == 0 else f'NOT signed in (exit {code})'}",
              flush=True)
        worst = max(worst, code)
    return worst


class LiveProgress(threading.Thread):
    """While ``jobs run`` works: a line per running job (messages, MB, rate, time left)
    and a total, every few seconds; plain lines, so a log file reads them too."""

    def __init__(self, jobs, stream, lock, every: float | None = None):
        super().__init__(daemon=True)
        self.jobs, self.stream, self.lock = jobs, stream, lock
        self.every = every or (2.0 if stream.isatty() else 10.0)
        self.done = threading.Event()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self.done.wait(self.every):
            lines = self.lines()
            if lines:
                with self.lock:
                    print("\n".join(lines), file=self.stream, flush=True)

    def lines(self) -> list[str]:
        out, total = [], [0, 0, 0, 0, 0.0]
        for job in self.jobs:
            p = jobs_report.read_json(job.progress_file)
            if not p or p.get("finished"):
                continue
            rate = p["messages_per_second"]
            left = p.get("seconds_left")  # by the bytes the server confirmed
            if left is None and rate:
                left = (p["of_messages"] - p["messages"]) / rate
            elapsed, took = p.get("elapsed_seconds"), jobs_report.duration
            out.append(f"  {job.name}: {p['messages']}/{p['of_messages']} messages, "
                       f"{p['bytes'] / 1e6:.1f}/{p['of_bytes'] / 1e6:.1f} MB, {rate:.1f} msg/s"
                       + (f", {took(elapsed)} so far" if elapsed is not None else "")
                       + (f", about {took(left)} left" if left is not None else ""))
            for i, key in enumerate(("messages", "of_messages", "bytes", "of_bytes")):
                total[i] += p[key]
            total[4] += rate
        if out:
            out.append(f"  all running jobs: {total[0]}/{total[1]} messages, "
                       f"{total[2] / 1e6:.1f}/{total[3] / 1e6:.1f} MB, {total[4]:.1f} msg/s")
        return out


def _install_forwarding() -> None:
    """Ctrl-C/SIGTERM: pass it on to the running jobs and start no more; twice: again."""
    def handler(signum, frame):
        n = jobs_mod.forward_signal()
        print(f"\nmailmigrate jobs: {signal.Signals(signum).name}: passed on to {n} running "
              "job(s); no further job starts", file=sys.stderr, flush=True)

    on_stop_signals(handler)
