"""A target folder that already holds many messages not ours: memory and time.

    python bench/held_mail.py [--held 100000,1000000] [--ours 1000] [--before REV]
                              [--dir /var/tmp]

A person's server INBOX or archive often holds years of mail before the
migration adds the desktop's. For each count, a private Dovecot (mbox driver,
2 GB vsz_limit) gets a folder "Archive" of that many small messages, none of
them ours; a source mbox "Archive" of ``--ours`` messages goes into it. Then,
by the code of *before* (a temporary worktree; default: the commit before
the server copies moved to SQLite) and by the working tree, each command in a
fresh process, for a new user each:

* ``plan SRC TARGET``: looks for the source's messages among the server's
  (fetches the fingerprints of every server message not ours);
* ``run SRC TARGET``: plan, backup, upload, and the final check (which fetches
  the fingerprints of the messages it cannot claim by UID);
* ``verify SRC TARGET``: the full check (every server message's fingerprint).

Prints wall time and peak RSS (the child's own, from ``wait4``; Linux carries a
parent's peak into a child it spawns, so this script never holds a file's
bytes: the first version of it read the held folder into memory and made
every child's peak at least 200 MB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from plan_versions import checkout  # noqa: E402
from scale import generate  # noqa: E402

BEFORE = "02330ae"  # the last commit with the server's copies as Python objects


def held(path: Path, n: int) -> None:
    """An mbox of *n* small messages as another mail client left them."""
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(n):
            f.write(b"From a@example.net Mon Jan  1 00:00:00 2001\nFrom: <a%d@example.net>\n"
                    b"Subject: held %d\nMessage-ID: <%d.held@example.net>\n"
                    b"Date: Mon, 01 Jan 2001 00:00:00 +0000\n\nkept on the server\n\n"
                    % (i % 997, i, i))


def measure(tree: Path, cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of ``python -m migrate *cmd*`` by *tree*."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "migrate", *cmd], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{cmd[0]} by {tree} failed ({code}): "
                         f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, code


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--held", default="100000,1000000")
    ap.add_argument("--ours", type=int, default=1000)
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    from tests.support.dovecot import Dovecot
    work = Path(tempfile.mkdtemp(prefix="mm-held-", dir=args.dir))
    trees = {"before": checkout(args.before, work / "before")} if args.before else {}
    trees["after"] = ROOT  # --before "": the working tree alone
    server = Dovecot("mbox", vsz_limit="2G")
    rows = []
    try:
        source = work / "src" / "Archive"
        source.parent.mkdir()
        generate(source, args.ours, 10)
        for n in (int(c) for c in args.held.split(",")):
            box = work / "held.mbox"
            held(box, n)
            for version, tree in trees.items():
                account = server.add_user()
                account.place_mbox("Archive", box)
                env = dict(os.environ, MM_TEST_PASSWORD=account.password)
                target = account.cli_args()
                row = {"held": n, "version": version}
                for name, cmd in (
                        ("plan", ["plan", str(source), *target]),
                        ("run", ["run", str(source), *target, "--backup-dir",
                                 str(work / f"bk-{n}-{version}"), "--state",
                                 str(work / f"state-{n}-{version}.sqlite"), "--yes"]),
                        ("verify", ["verify", str(source), *target])):
                    seconds, rss, code = measure(tree, cmd, env)
                    row[f"{name} s"], row[f"{name} RSS MB"] = seconds, rss
                    if name == "verify" and code != 0:
                        raise SystemExit(f"verify by {version} found something missing")
                rows.append(row)
                print("  " + ", ".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}"
                                       for k, v in row.items()), flush=True)
                shutil.rmtree(work / f"bk-{n}-{version}", ignore_errors=True)
            box.unlink()
    finally:
        server.stop()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                        str(work / "before")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    keys = list(rows[0]) if rows else []
    print("\n| " + " | ".join(keys) + " |\n|" + " --- |" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{r[k]:,.1f}" if isinstance(r[k], float) else f"{r[k]:,}"
                                if isinstance(r[k], int) else str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
