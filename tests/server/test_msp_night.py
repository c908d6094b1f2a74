"""The MSP night, as docs/msp-runbook.md walks it, checked against the server.

Three client homes into three Dovecot accounts: Anna's Thunderbird profile (a
large Inbox, sent slowly so the night can be watched and interrupted), Ben's
Maildir into an account whose quota holds the pre-stage but not the rest, Cleo's
PST with a password changed since the plan. The technician: jobs check, a
pre-stage plan and run (``before = "2y"``), the night in a terminal (progress
lines that move, Ctrl-C), Anna again (her job killed with kill -9), the morning
(quota raised, password fixed), jobs verify. Every step's exit code, every
count on every page against what the server holds, each message exactly once,
and the pages as Chromium draws them (1280 px, nothing broken mid-word) and
prints them (one or two A4 pages).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import select
import signal
import sys
import time

from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.sources import open_store
from tests.conftest import ROOT, skip_or_fail
from tests.server.test_msp_day import anna, cleo
from tests.support.browser import layout, print_pdf
from tests.support.builders import message, write_mbox

NOW = dt.datetime.now()
OLD, NEW = dt.datetime(2019, 5, 1, 9), NOW - dt.timedelta(days=20)
BODY = ("All the details of the quarterly numbers are in this line of text.\n" * 60)


def big_anna(home):
    """Anna's profile with an Inbox of 60 old and 240 recent messages of ~4 KB."""
    anna(home)
    inbox = home / ".thunderbird" / "x1y2.default-release" / "Mail" / "Local Folders" / "Inbox"
    msgs = [message(f"anna inbox {i}", body=BODY + f"{i}\n") for i in range(300)]
    write_mbox(inbox, msgs, [OLD + dt.timedelta(hours=i) if i < 60 else
                             NEW + dt.timedelta(minutes=i) for i in range(300)])


def ben(home):
    """Ben's Maildir: 24 old and 24 recent messages of ~4 KB (file times are the dates)."""
    maildir = home / "Maildir"
    for folder in ("", ".Work"):
        for sub in ("cur", "new", "tmp"):
            (maildir / folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(24):
            path = maildir / folder / "cur" / f"{i}.host:2,S"
            path.write_bytes(message(f"ben {folder or 'inbox'} {i}", body=BODY + f"{i}\n"))
            when = (OLD if i < 12 else NEW).timestamp() + i * 60
            os.utime(path, (when, when))


def expected(path) -> int:
    plan = build_plan([open_store(path)])
    return sum(1 for f in plan.folders for p in f.messages if p.action == "upload")


def on_server(account) -> list[bytes]:
    return [m.data for box in account.read_back().values() for m in box]


class Terminal:
    """``mailmigrate jobs run`` in a real pty: what the technician sees, and Ctrl-C."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the runner, with the pty as its terminal
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "migrate", *argv], env)
        self.text = ""

    def read(self, seconds: float) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.text += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:  # the runner ended: the pty is closed
                    break
        return self.text

    def wait_for(self, pattern, timeout: float = 120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = pattern(self.read(0.5)) if callable(pattern) else \
                re.search(pattern, self.read(0.5))
            if found:
                return found
        raise AssertionError(f"not seen in {timeout} s: {pattern}\n{self.text[-3000:]}")

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def exit_code(self, timeout: float = 120) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read(0.3)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.read(0.5)
                return os.waitstatus_to_exitcode(status)
        raise AssertionError("the runner did not end:\n" + self.text[-3000:])


def progress_of(text: str, job: str) -> list[int]:
    """The message counts of *job*'s live progress lines, in order."""
    return [int(n) for n in re.findall(rf"  {re.escape(job)}: (\d+)/\d+ messages", text)]


def child_of(state) -> int | None:
    """The pid of the job process working on *state* (its command line names it; the
    first started, should a worker share its command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if str(state).encode() in argv and b"run" in argv:
                found.append(int(entry))
    return min(found, default=None)


def test_the_night_every_number_against_the_server(tmp_path, make_account, mm, corpus):
    import importlib.util
    if importlib.util.find_spec("pypff") is None:
        skip_or_fail("the .pst desktop needs the [pst] extra")
    homes = tmp_path / "home"
    big_anna(homes / "anna")
    ben(homes / "ben")
    cleo(homes / "cleo", corpus)
    sources = {"anna": homes / "anna" / ".thunderbird" / "x1y2.default-release",
               "ben": homes / "ben" / "Maildir",
               "cleo": homes / "cleo" / "Documents" / "Outlook Files" / "cleo.pst"}
    want = {who: expected(path) for who, path in sources.items()}
    accounts = {"anna": make_account(), "ben": make_account(quota_kb=120),
                "cleo": make_account()}
    server = accounts["anna"].server
    work = tmp_path / "work"

    def jobs_file(prestage: bool):
        text = (f'[defaults]\nhost = "127.0.0.1"\nport = {server.imaps_port}\n'
                f"ca_file = '{server.ca_file}'\nlanguage = \"de\"\n"
                + ('before = "2y"\n' if prestage else ""))
        for who, path in sources.items():
            text += (f'\n[jobs.{who}]\nsources = ["{path}"]\nuser = "{accounts[who].user}"\n'
                     f'password = "env:PW_{who.upper()}"\n'
                     + ("max_messages_per_second = 15\n" if who == "anna" else ""))
        (tmp_path / "clients.toml").write_text(text)
        return tmp_path / "clients.toml"

    env = {f"PW_{w.upper()}": a.password for w, a in accounts.items()}
    changed = dict(env, PW_CLEO="the old one")

    # -- days before: check, pre-stage plan and run ---------------------------------
    jobs = jobs_file(prestage=True)
    assert mm("jobs", "check", jobs, env=env).code == 0
    plan = mm("jobs", "plan", jobs, env=env)
    # Ben's account holds the pre-stage but not the rest: his plan says so (item 4)
    assert plan.code == ExitCode.QUOTA, plan.out + plan.err
    plans = {j["job"]: j for j in json.loads((work / "summary-plan.json").read_text())["jobs"]}
    assert plans["ben"]["state"] == "account full" and plans["anna"]["state"] == "ok"
    assert plans["anna"]["counts"]["left for a later pass"] == 240
    assert plans["anna"]["counts"]["will not move"] == 0  # deferred is not "will not move"
    pre = mm("jobs", "run", jobs, "--parallel", "3", env=env)
    assert pre.code == 0, pre.out + pre.err
    runs = {j["job"]: j["counts"] for j in json.loads((work / "summary-run.json").read_text())
            ["jobs"]}
    assert want["anna"] == 302 and runs["anna"]["moved now"] == 62
    assert runs["anna"]["left for a later pass"] == 240
    assert runs["ben"]["moved now"] == 24 and runs["ben"]["left for a later pass"] == 24
    assert len(on_server(accounts["anna"])) == 62 and len(on_server(accounts["ben"])) == 24

    # -- the night, in a terminal: progress moves; Ctrl-C while Anna's Inbox goes up --
    jobs = jobs_file(prestage=False)
    night = Terminal(["jobs", "run", str(jobs), "--parallel", "3"],
                     dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg-data"), **changed))
    # Ben's quota stop and Cleo's refused password end their jobs first; Ctrl-C comes
    # only after both (on a slow machine Ben may still be sending when Anna moves)
    night.wait_for(lambda text: len(set(progress_of(text, "anna"))) >= 2
                   and "ben: account full" in text and "cleo: auth error" in text)
    assert "anna: ok" not in night.text, "Anna's Inbox went up before Ctrl-C could come"
    seen = progress_of(night.text, "anna")
    assert seen == sorted(seen) and seen[-1] > seen[0], seen  # moves with the upload
    assert re.search(r"anna: \d+/240 messages", night.text)  # this run's work only
    night.ctrl_c()
    assert night.exit_code() == ExitCode.INTERRUPTED, night.text[-3000:]
    assert "passed on to" in night.text
    first = {j["job"]: j for j in json.loads((work / "summary-run.json").read_text())["jobs"]}
    assert first["anna"]["exit_code"] == ExitCode.INTERRUPTED
    assert first["ben"]["state"] == "account full"
    assert first["cleo"]["state"] == "auth error"
    # item 8: after the quota stop, Ben's counts are the server's
    ben_now = len(on_server(accounts["ben"]))
    c = first["ben"]["counts"]
    assert c["moved now"] + c["moved earlier"] + c["already in the account"] == ben_now
    assert c["left for the next run"] == want["ben"] - ben_now > 0
    a = first["anna"]["counts"]
    assert a["moved now"] + a["moved earlier"] == len(on_server(accounts["anna"]))

    # -- Anna again; her job is killed with kill -9 half-way ----------------------------
    import subprocess
    again = subprocess.Popen([sys.executable, "-m", "migrate", "jobs", "run", str(jobs),
                              "--only", "anna"], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg-data"),
                                      **env))
    before_kill = len(on_server(accounts["anna"]))
    deadline = time.monotonic() + 60
    while len(on_server(accounts["anna"])) < before_kill + 10:
        assert time.monotonic() < deadline and again.poll() is None, again.communicate()
        time.sleep(0.2)
    os.kill(child_of(work / "anna" / "state.sqlite"), signal.SIGKILL)
    out, err = again.communicate(timeout=60)
    assert again.returncode == ExitCode.INTERRUPTED, out + err
    assert "killed by SIGKILL" in out and "run the same command again" in out

    # -- the morning: quota raised, password fixed, everyone again, then the check ------
    accounts["ben"].set_limits(quota_kb=100_000)
    morning = mm("jobs", "run", jobs, "--parallel", "3", env=env)
    assert morning.code == 0, morning.out + morning.err
    assert mm("jobs", "verify", jobs, env=env).code == 0
    status = mm("jobs", "status", jobs, env=env)
    assert status.code == 0 and "took" in status.out

    final = {j["job"]: j for j in json.loads((work / "summary-run.json").read_text())["jobs"]}
    for who, account in accounts.items():
        held = on_server(account)
        assert len(held) == len(set(held)) == want[who], who  # every one, exactly once
        c = final[who]["counts"]
        assert c["moved now"] + c["moved earlier"] == want[who] and c["missing"] == 0, c
        assert c["left for the next run"] == c["left for a later pass"] == 0

    # -- the pages, every number the server's ---------------------------------------------
    report = (work / "report.html").read_text()
    total = sum(want.values())
    assert re.search(r"Moved<b>(\d+)</b>", report)[1] == str(total)
    assert re.search(r"Still to move<b>(\d+)</b>", report)[1] == "0"
    assert re.search(r"Missing on the server<b>(\d+)</b>", report)[1] == "0"
    runs_of = {who: len(re.findall(r"<tr><td>\d{4}-\d\d-\d\d \d\d:\d\d</td><td>\d+m\d\ds",
                                   report.split(f"<h2>{who}</h2>")[1].split("<h2>")[0]))
               for who in accounts}
    assert runs_of == {"anna": 4, "ben": 3, "cleo": 3}, runs_of  # every night, side by side
    anna_part = report.split("<h2>anna</h2>")[1].split("<h2>")[0]
    assert "<td>not known</td>" in anna_part  # the killed run could not say: never "0"
    kept = sorted(p.name for p in (work / "history").glob("*-run*.json"))
    assert len(kept) == 4
    for who in accounts:
        page = (work / who / "state.client.html").read_text()
        assert "Ihr E-Mail-Umzug" in page  # the client's language, from the jobs file
        assert f"Umgezogen: {want[who]} Nachrichten" in page
    pages = [work / "report.html", work / "summary-run.html", work / "summary-plan.html"]
    for who in accounts:
        pages += [work / who / "plan" / "plan.html", work / who / "state.run.html",
                  work / who / "state.client.html", work / who / "verify" / "verify.html"]
    for page in pages:
        width, inner, broken = layout(page, tmp_path)
        assert width <= inner == 1280 and not broken, (page, width, broken)
    for who in accounts:
        pdf, count = print_pdf(work / who / "state.client.html", tmp_path)
        assert 1 <= count <= 2, (who, count)

