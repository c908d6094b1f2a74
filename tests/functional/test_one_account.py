"""Issue 34.2, 34.4, 34.5: runs into one account never overlap, and what discover
finds in people's homes is written as data, attributed to the right person.
"""

from __future__ import annotations

import json
import tomllib

from tests.support.builders import message, write_mbox
from tests.support.one_account_shared import HOSTILE


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
