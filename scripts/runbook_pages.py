"""Make the pages docs/msp-runbook.md shows: a small MSP night, photographed.

Starts a throwaway Dovecot from the test harness (needs Dovecot and Chromium, as
for the tests), writes a jobs file for two people (the bundled Thunderbird sample,
and a Maildir into an account whose quota stops it the first night), runs the
night, raises the quota, runs the morning and the check, then photographs the
client report, the morning summary and one printable page with headless Chromium.

    python scripts/runbook_pages.py   # writes docs/images/runbook-*.png and -night.txt
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.builders import message  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402

IMAGES = ROOT / "docs" / "images"


def maildir(root: Path) -> None:
    body = "The figures for the quarter, line by line.\n" * 80
    for folder in ("", ".Projects"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(20):
            (root / folder / "cur" / f"{i}.host:2,S").write_bytes(
                message(f"Quarterly report {folder[1:] or 'Inbox'} {i}", body=body))
    (root / "cur" / "99.host:2,ST").write_bytes(message("Old newsletter"))  # stays behind


def shoot(page: Path, name: str, height: int, work: Path) -> None:
    subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    f"--user-data-dir={work / 'chromium'}", f"--window-size=1280,{height}",
                    f"--screenshot={IMAGES / name}", page.as_uri()],
                   capture_output=True, check=True)


def main() -> None:
    server = Dovecot("default")
    work = Path(tempfile.mkdtemp(prefix="mm-runbook-"))
    try:
        ann, bob = server.add_user(), server.add_user(quota_kb=60)
        shutil.copytree(ROOT / "samples" / "thunderbird-local-folders", work / "ann" / "Mail")
        maildir(work / "bob" / "Maildir")
        jobs = work / "acme.toml"
        jobs.write_text(
            f'[defaults]\nhost = "127.0.0.1"\nport = {server.imaps_port}\n'
            f"ca_file = '{server.ca_file}'\nlanguage = \"de\"\n\n"
            f'[jobs.ann]\nname = "Ann Example"\nsources = ["ann/Mail"]\n'
            f'user = "{ann.user}"\npassword = "env:PW_ANN"\n\n'
            f'[jobs.bob]\nname = "Bob Example"\nsources = ["bob/Maildir"]\n'
            f'user = "{bob.user}"\npassword = "env:PW_BOB"\n')
        env = dict(os.environ, PW_ANN=ann.password, PW_BOB=bob.password,
                   XDG_DATA_HOME=str(work / "xdg"))

        def mm(*args):
            return subprocess.run([sys.executable, "-m", "migrate", *args], env=env,
                                  cwd=ROOT, capture_output=True, text=True)
        mm("jobs", "plan", str(jobs))
        night = mm("jobs", "run", str(jobs))
        bob.set_limits(quota_kb=100_000)
        morning = mm("jobs", "run", str(jobs))
        mm("jobs", "verify", str(jobs))
        text = (night.stdout + "\n" + morning.stdout).replace(str(work) + "/", "")
        (IMAGES / "runbook-night.txt").write_text(text)
        shoot(work / "work" / "report.html", "runbook-report.png", 1700, work)
        shoot(work / "work" / "summary-run.html", "runbook-summary.png", 520, work)
        shoot(work / "work" / "bob" / "state.client.html", "runbook-client.png", 560, work)
        print(text)
        print("wrote docs/images/runbook-report.png, runbook-summary.png, runbook-client.png")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
