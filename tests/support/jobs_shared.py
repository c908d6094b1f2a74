"""What the tests of test_jobs share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.builders import message, write_mbox

KEYRING_ENV = {"PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.FileKeyring"}


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


def thunderbird_profile(profile: Path) -> None:
    local = profile / "Mail" / "Local Folders"
    write_mbox(local / "Inbox", [message(f"tb {i}") for i in range(3)])
    write_mbox(local / "Sent", [message("tb sent")])
    (profile / "prefs.js").write_text("// Mozilla User Preferences\n")


def local_jobs(tmp_path, *names):
    """A jobs file of *names*, each into its own account, loaded (no server is asked)."""
    from migrate import jobs as jobs_mod
    (tmp_path / "src").mkdir()
    text = '[defaults]\nhost = "127.0.0.1"\npassword = "env:HOME"\n' + "".join(
        f'[jobs.{name}]\nsources = ["src"]\nuser = "{name}@x"\n' for name in names)
    (tmp_path / "jobs.toml").write_text(text)
    return jobs_mod.load(tmp_path / "jobs.toml")
