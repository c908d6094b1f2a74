"""Make the sample plan shown in docs/plan-report.md (terminal text and HTML screenshot).

Starts a throwaway Dovecot from the test harness (needs Dovecot installed, as
for the tests), puts a few messages on it, and plans the bundled sample store
against it through a 40 ms latency proxy, like a small office line.

    python scripts/sample_plan.py        # writes docs/sample-plan.txt, docs/images/plan.png
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

from tests.support.builders import crlf  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402
from tests.support.faults import FaultProxy  # noqa: E402


def main() -> None:
    server = Dovecot("default")
    work = Path(tempfile.mkdtemp(prefix="mm-sample-"))
    try:
        account = server.add_user(quota_kb=51200)
        sample = ROOT / "samples" / "thunderbird-local-folders"
        first = (sample / "Inbox").read_bytes().split(b"\nFrom ")[0].split(b"\n", 1)[1]
        account.append("INBOX", crlf(first))  # one message is already on the server
        proxy = FaultProxy(server.imaps_port).start()
        proxy.delay = 0.02
        args = [a if a != str(server.imaps_port) else str(proxy.port)
                for a in account.cli_args()]
        env = dict(os.environ, MM_TEST_PASSWORD=account.password, XDG_DATA_HOME=str(work))
        out = subprocess.run([sys.executable, "-m", "migrate", "plan", str(sample), *args,
                              "--report", str(work / "report")], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        text = "\n".join(line for line in out.splitlines() if not line.startswith("wrote "))
        (ROOT / "docs" / "sample-plan.txt").write_text(
            "$ mailmigrate plan samples/thunderbird-local-folders --host mail.example.net "
            "--user ann ... --report report/\n" + text.replace(str(ROOT) + "/", "") + "\n")
        shot = ROOT / "docs" / "images" / "plan.png"
        subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                        f"--user-data-dir={work / 'chromium'}", "--window-size=1280,1750",
                        f"--screenshot={shot}", (work / "report" / "plan.html").as_uri()],
                       capture_output=True, check=True)
        print(text)
        print(f"wrote docs/sample-plan.txt and {shot.relative_to(ROOT)}")
        proxy.stop()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
