"""Issue 34.2, 34.4, 34.5: runs into one account never overlap, and what discover
finds in people's homes is written as data, attributed to the right person.
"""

from __future__ import annotations

import json
import os
import textwrap
import tomllib

from migrate.errors import ExitCode
from tests.builders import crlf, message, write_mbox

HOSTILE = 'x\ntls = "none"\noauth2_token_command = "touch PWNED"\n#.mbox'


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


def test_discover_writes_any_file_name_as_data_and_one_job_per_person(tmp_path, mm):
    homes = tmp_path / "home"
    ann = homes / "ann"
    write_mbox(ann / "mail" / HOSTILE, [message("hostile name")])  # a store of its own
    write_mbox(ann / "old" / "it's \"quoted\" \\ back", [message("quoted")])
    maildir = ann / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1.host:2,S").write_bytes(message("in maildir"))
    write_mbox(homes / "bob" / "mail" / "inbox.mbox", [message("bob's")])
    r = mm("discover", homes, "--write-jobs", tmp_path / "jobs.toml")
    assert r.code == 0, r.err
    assert "\n#.mbox" not in r.out  # the name printed on one line
    text = (tmp_path / "jobs.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert set(data) == {"defaults", "jobs"} and "tls" not in data["defaults"]
    assert all(set(job) == {"sources", "user", "password"} for job in data["jobs"].values())
    by_person = {name: sorted(job["sources"]) for name, job in data["jobs"].items()}
    found = json.loads(mm("discover", homes, "--json").out)
    want = {}
    for f in found:
        want.setdefault(f["owner"], []).append(f["path"])
    assert sorted(map(sorted, by_person.values())) == sorted(map(sorted, want.values()))
    assert len(data["jobs"]) == 2  # ann (three stores) and bob
    assert any(HOSTILE in s for job in data["jobs"].values() for s in job["sources"])
    check = mm("jobs", "check", tmp_path / "jobs.toml")
    assert check.code == 0, check.err
    assert not (tmp_path / "PWNED").exists()


def test_a_profile_outside_the_searched_home_is_named_never_attributed(tmp_path, mm):
    homes = tmp_path / "home"
    victim = homes / "bob" / ".thunderbird" / "bob.default"
    write_mbox(victim / "Mail" / "Local Folders" / "Inbox", [message("bob's secret")])
    (victim / "prefs.js").write_text("// Mozilla User Preferences\n")
    root = homes / "eve" / ".thunderbird"
    root.mkdir(parents=True)
    (root / "profiles.ini").write_text(
        "[Profile0]\nName=x\nIsRelative=1\nPath=../../bob/.thunderbird/bob.default\n")
    r = mm("discover", homes / "eve", "--json")
    assert r.code == 0, r.err
    found = json.loads(r.out)
    assert mm("discover", homes / "eve", "--write-jobs", tmp_path / "jobs.toml").code == 0
    assert [f["kind"] for f in found] == ["elsewhere"] and "points outside" in found[0]["note"]
    data = tomllib.loads((tmp_path / "jobs.toml").read_text(encoding="utf-8"))
    assert "jobs" not in data


def test_a_folder_of_homes_names_each_store_after_its_person(tmp_path, mm):
    """Issue 39.7: under a folder of copied homes not called "home" ("clients"), every
    store was "thunderbird of clients"; each home is its person wherever it lies."""
    homes = tmp_path / "clients"
    for who in ("anna", "ben"):
        profile = homes / who / "AppData" / "Roaming" / "Thunderbird" / "Profiles" / "p.default"
        write_mbox(profile / "Mail" / "Local Folders" / "Inbox", [message(f"{who}'s")])
        (profile / "prefs.js").write_text("// prefs\n")
        (profile.parent.parent / "profiles.ini").write_text(
            "[Profile0]\nName=p\nIsRelative=1\nPath=Profiles/p.default\n")
    found = json.loads(mm("discover", homes, "--json").out)
    assert sorted(f["owner"] for f in found) == ["anna", "ben"], found
    assert mm("discover", homes, "--write-jobs", tmp_path / "jobs.toml").code == 0
    names = sorted(tomllib.loads((tmp_path / "jobs.toml").read_text())["jobs"])
    assert names[0].startswith("anna-") and names[1].startswith("ben-"), names
