"""The MSP day, end to end, as docs/msp-runbook.md tells it.

Three client homes, each laid out as its mail client leaves it: Anna's
Thunderbird profile (found through profiles.ini), Ben's ~/Maildir with
sub-folders, Cleo's Outlook .pst in Documents/Outlook Files. ``discover
--write-jobs`` on the folder of homes, fill in the server, ``jobs check``,
``jobs plan``, ``jobs run`` (one job interrupted the first night), ``jobs
status`` says so, ``jobs run`` again, ``jobs verify``: every message of every
store on the server, and the reports name each person.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap

from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.sources import open_store
from tests.conftest import skip_or_fail
from tests.support.browser import layout
from tests.support.builders import message, write_mbox


def anna(home):
    root = home / ".thunderbird"
    local = root / "x1y2.default-release" / "Mail" / "Local Folders"
    write_mbox(local / "Inbox", [message(f"anna {i}") for i in range(3)])
    write_mbox(local / "Sent", [message("anna sent")])
    write_mbox(local / "Projects.sbd" / "Old", [message("anna old")])
    (root / "x1y2.default-release" / "prefs.js").write_text("// prefs\n")
    (root / "profiles.ini").write_text(textwrap.dedent("""\
        [Profile0]
        Name=default-release
        IsRelative=1
        Path=x1y2.default-release
        Default=1
        """))


def ben(home):
    maildir = home / "Maildir"
    n = 0
    for folder in ("", ".Work", ".Work.Clients", ".Family"):
        for sub in ("cur", "new", "tmp"):
            (maildir / folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            n += 1
            (maildir / folder / "cur" / f"{n}.host:2,S").write_bytes(
                message(f"ben {folder or 'inbox'} {i}"))
    (maildir / "cur" / "99.host:2,ST").write_bytes(message("ben trashed"))  # stays behind


def cleo(home, corpus):
    outlook = home / "Documents" / "Outlook Files"
    outlook.mkdir(parents=True)
    shutil.copy(corpus / "pst" / "aleph" / "testPST.pst", outlook / "cleo.pst")


def expected_messages(path) -> int:
    plan = build_plan([open_store(path)])
    return sum(1 for f in plan.folders for p in f.messages if p.action == "upload")


def test_three_desktops_from_discovery_to_verification(tmp_path, make_account, mm, corpus):
    import importlib.util
    if importlib.util.find_spec("pypff") is None:
        skip_or_fail("the .pst desktop needs the [pst] extra")
    homes = tmp_path / "home"
    anna(homes / "anna")
    ben(homes / "ben")
    cleo(homes / "cleo", corpus)
    accounts = {who: make_account() for who in ("anna", "ben", "cleo")}
    server = accounts["anna"].server

    jobs_file = tmp_path / "clients.toml"
    found = mm("discover", homes, "--write-jobs", jobs_file)
    assert found.code == 0, found.err
    skeleton = jobs_file.read_text()
    names = re.findall(r"^\[jobs\.([^\]]+)\]", skeleton, re.M)
    assert len(names) == 3, skeleton
    who_of = {name: next(w for w in accounts if name.startswith(w)) for name in names}
    assert "maildir" in next(n for n in names if n.startswith("ben"))
    assert "pst" in next(n for n in names if n.startswith("cleo"))
    import tomllib
    sources = {name: job["sources"][0]  # one person, one job: here one store each
               for name, job in tomllib.loads(skeleton)["jobs"].items()}
    assert sources[next(n for n in names if n.startswith("ben"))].endswith("/ben/Maildir")

    # the technician fills in the server and each user (passwords from env vars)
    text = skeleton.replace('host = "imap.example.net"  # CHANGE: the IMAP server',
                            f'host = "127.0.0.1"\nport = {server.imaps_port}\n'
                            f"ca_file = '{server.ca_file}'")
    for name, who in who_of.items():
        block = text.index(f"[jobs.{name}]")
        end = text.find("\n\n", block)
        part = text[block:end].replace('user = "CHANGE-ME@example.net"',
                                       f'user = "{accounts[who].user}"').replace(
            'password = "keyring"', f'password = "env:PW_{who.upper()}"')
        text = text[:block] + part + text[end:]
    jobs_file.write_text(text)
    env = {f"PW_{w.upper()}": a.password for w, a in accounts.items()}
    env_ben_wrong = dict(env, PW_BEN="wrong")

    assert mm("jobs", "check", jobs_file, env=env).code == 0
    plan = mm("jobs", "plan", jobs_file, env=env)
    assert plan.code == 0, plan.out + plan.err
    work = tmp_path / "work"
    # one client re-planned: the summary and the client page still hold everyone
    again = mm("jobs", "plan", jobs_file, "--only", names[2], env=env)
    assert again.code == 0 and "2 others not run this time" in again.out, again.out
    plans = json.loads((work / "summary-plan.json").read_text())
    assert [j["job"] for j in plans["jobs"]] == names and plans["ran"] == 1
    assert [j["this_time"] for j in plans["jobs"]] == [n == names[2] for n in names]
    assert all(j["started"] and j["seconds"] is not None for j in plans["jobs"])
    assert all(n in (work / "report.html").read_text() for n in names)

    night = mm("jobs", "run", jobs_file, "--parallel", "3", env=env_ben_wrong)
    assert night.code == ExitCode.AUTH, night.out + night.err
    status = mm("jobs", "status", jobs_file, env=env)
    assert status.code == ExitCode.AUTH, status.out + status.err
    assert "auth error" in next(line for line in status.out.splitlines()
                                if line.startswith("ben"))
    morning = mm("jobs", "run", jobs_file, "--parallel", "3", env=env)
    assert morning.code == 0, morning.out + morning.err  # Ben's trashed mail stays behind
    status = mm("jobs", "status", jobs_file, env=env)
    assert status.code == 0 and "took" in status.out, status.out
    last = json.loads((work / "summary-status.json").read_text())["jobs"]
    assert all(j["started"] < j["ended"] or j["seconds"] == 0 for j in last)  # the run's
    verify = mm("jobs", "verify", jobs_file, env=env)
    assert verify.code == 0, verify.out + verify.err

    for name, who in who_of.items():
        on_server = sum(len(box) for box in accounts[who].read_back().values())
        assert on_server == expected_messages(sources[name]), (who, on_server)
    for name in names:  # the numbers the live progress lines were made of, final
        progress = json.loads((tmp_path / "work" / name / "progress.json").read_text())
        assert progress["finished"] and progress["messages"] == progress["of_messages"]
    runs = json.loads((tmp_path / "work" / "summary-run.json").read_text())
    assert {j["job"]: j["exit_code"] for j in runs["jobs"]} == {n: 0 for n in names}
    assert (tmp_path / "work" / "summary-status.json").exists()

    # every night kept; the client page: each person's runs, and final totals that are
    # the server's
    assert len(list((work / "history").glob("*-run.json"))) == 2
    report = (work / "report.html").read_text()
    assert report.count("<h3>Every run</h3>") == 3
    moved = sum(expected_messages(sources[name]) for name in names)
    assert re.search(r"Moved<b>(\d+)</b>", report).group(1) == str(moved)
    assert re.search(r"Missing on the server<b>(\d+)</b>", report).group(1) == "0"

    # the pages a client reads: each names the person, none overflows at 1280 px
    pages = [work / "report.html", work / "summary-run.html"]
    for name in names:
        pages += [work / name / "plan" / "plan.html", work / name / "state.run.html",
                  work / name / "state.client.html", work / name / "verify" / "verify.html"]
    for page in pages:
        html = page.read_text()
        assert all(n in html for n in names) if page.parent == work else \
            page.relative_to(work).parts[0] in html, page
        if "reasons below" in html:  # nothing says "below" unless something is below
            assert "What will not move, and why" in html, page
        width, inner, broken = layout(page, tmp_path)
        assert width <= inner == 1280 and not broken, (page, width, broken)
    report = (work / "report.html").read_text()
    for name in names:  # links to each job's detailed pages
        assert f'href="{name}/plan/plan.html"' in report and \
            f'href="{name}/verify/verify.html"' in report
