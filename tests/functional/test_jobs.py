"""MSP fleets: jobs files, keyring credentials, discovery, POP leftovers: the functional
tests (tests/unit/test_jobs.py has the rest, and says what they prove)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migrate.errors import ExitCode
from tests.support.jobs_shared import thunderbird_profile


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


