"""Plant data-safety bugs one at a time; the suite must catch every one.

    python scripts/check_mutants.py [--only NAME] [--list]

Each mutant is a small text change to one module (a bug a careless edit could
make) and the tests that must fail because of it. The repository is copied
to a temporary directory per mutant, so the working tree is never touched.
Exit 0 only if every mutant was caught (its tests failed) and the same tests
pass on the unmutated copy. docs/testing.md lists the mutants and how to add
one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # file in the repository
    old: str  # text that must occur exactly once
    new: str
    tests: tuple[str, ...]  # pytest arguments that must fail on the mutant


MUTANTS = [
    Mutant("commit only every other batch in the state", "migrate/state.py",
           '        now = time.time()\n        with self.db:\n            self.db.execute("BEGIN IMMEDIATE")\n            rows = self.db.execute(\n                "SELECT rowid FROM messages WHERE batch=? AND status=? ORDER BY rowid",',
           '        now = time.time()\n        if batch % 2 == 0:\n            return\n        with self.db:\n            self.db.execute("BEGIN IMMEDIATE")\n            rows = self.db.execute(\n                "SELECT rowid FROM messages WHERE batch=? AND status=? ORDER BY rowid",',
           ("tests/server/test_exactly_once.py", "-k", "rerun_after_complete")),
    Mutant("no journal entry before APPEND", "migrate/state.py",
           '                [(mailbox, m.content_hash, m.header_key, m.size, INFLIGHT, batch, m.location, now,\n                  m.message_id, 1 if copied else None) for m in messages])',
           '                [])',
           ("tests/server/test_kill_points.py", "-k", "pipelined and last-byte")),
    Mutant("backup marked verified without re-reading it", "migrate/backup_archive.py",
           '            manifest = read_manifest(tar, archive)\n            for store in manifest["stores"]:',
           '            manifest = read_manifest(tar, archive)\n            for store in []:',
           ("tests/functional/test_backup.py", "tests/server/test_backup.py", "tests/unit/test_backup.py", "-k", "damage")),
    Mutant("mboxrd unquoting applied to Dovecot/UW mboxcl2 files", "migrate/sources/mbox.py",
           "    return not _MBOXCL2_MARKER.search(headers.header_block(first))\n",
           "    return True\n",
           ("tests/unit/test_mbox_reader.py", "-k", "cl2")),
    Mutant("duplicates by headers alone (no body check)", "migrate/spool.py",
           'DEDUP_BY = ("header_key", "body_hash")',
           'DEDUP_BY = ("header_key",)',
           ("tests/server/test_dedup.py",)),
    Mutant("a full account does not stop the run", "migrate/upload/batches.py",
           "    def _quota(self, result) -> None:\n        raise account_full(",
           "    def _quota(self, result) -> None:\n        return\n        raise account_full(",
           ("tests/server/test_limits.py", "tests/unit/test_limits.py", "-k", "quota")),
    Mutant("upload although no backup could be made", "migrate/run.py",
           "        except BaseException as e:  # noqa: BLE001 - handed to the main thread\n"
           "            self._error = e\n",
           "        except MigrateError:\n"
           "            self.found = backup.BackupResult(Path('none'), {}, '', True, 0)\n",
           ("tests/functional/test_backup.py", "tests/server/test_backup.py", "tests/unit/test_backup.py", "-k", "backup_impossible")),
    Mutant("flags dropped on upload", "migrate/upload/flag_repair.py",
           "        flags += [k for k in atoms if \"\\\\*\" in permanent or k in permanent]\n    return tuple(flags)",
           "        flags += [k for k in atoms if \"\\\\*\" in permanent or k in permanent]\n    return ()",
           ("tests/server/test_exactly_once.py", "-k", "rerun_after_complete")),
    Mutant("INTERNALDATE dropped on upload", "migrate/upload/batches.py",
           "                                           keywords=p.ref not in bare),\n                           p.internaldate)",
           "                                           keywords=p.ref not in bare),\n                           None)",
           ("tests/server/test_exactly_once.py", "-k", "rerun_after_complete")),
    Mutant("a server-side copy used whatever its flags", "migrate/upload/copy_once.py",
           "    if stored.size != p.size or not have <= want or not (want - have) <= SYSTEM_FLAGS:",
           "    if stored.size != p.size:",
           ("tests/server/test_copy_once.py", "tests/unit/test_copy_once.py", "-k", "same_flags")),
    Mutant("copies placed without a journal entry", "migrate/upload/copy_once.py",
           "        batch = w.journal(mailbox, here.uidvalidity, uidnext, [p for p, _ in chunk],\n",
           "        batch = w.journal(mailbox, here.uidvalidity, uidnext, [],\n",
           ("tests/server/test_copy_once.py", "tests/unit/test_copy_once.py", "-k", "kill and after-ok")),
    Mutant("backup files taken as re-read without comparing them", "migrate/backup.py",
           "                if not _same_bytes(again, member.offset_data, source, member.size, cancelled):",
           "                if False:",
           ("tests/server/test_overlap.py", "tests/unit/test_overlap.py", "-k", "written_wrong")),
    Mutant("a message sent without checking it against the plan's hash",
           "migrate/upload/source_bytes.py",
           "    if len(data) != p.size or fingerprint.content_hash(data) != p.content_hash:",
           "    if len(data) != p.size:",
           ("tests/functional/test_engine.py", "tests/unit/test_engine.py", "-k", "changed_after")),
    Mutant("a UID list of over 1 MB read with imaplib's own line limit", "migrate/target/guard.py",
           "LINE_LIMIT = 64 * 1024 * 1024",
           "LINE_LIMIT = 1_000_000",
           ("tests/server/test_limits.py", "tests/unit/test_limits.py", "-k", "over_a_megabyte")),
    Mutant("the mbox quick path blind to Content-Length", "migrate/sources/mbox.py",
           "    if _CONTENT_LENGTH_NAME.search(b, rel, blank[1]):",
           "    if False:",
           ("tests/unit/test_mbox_reader.py", "-k", "quick_split")),
    Mutant("verify's looser pass run again over what the exact pass found", "migrate/verify.py",
           "        left.add(f, (p.ref for p in page if id(p) not in hits))",
           "        left.add(f, (p.ref for p in page))",
           ("tests/functional/test_engine.py", "tests/unit/test_engine.py", "-k", "looser_pass")),
    Mutant("a second FETCH answer for a UID replaces the first (fast parser)",
           "migrate/target/fetch_response.py",
           "                out.setdefault(uid, {}).update(item)",
           "                out[uid] = item",
           ("tests/unit/test_protocol_parsers.py", "-k", "fingerprint_answers or fast_reading")),
    Mutant("a floor for the run check recorded above uploads a state already holds",
           "migrate/state.py",
           '"INSERT OR IGNORE INTO upload_floor SELECT ?, ?, ? WHERE NOT EXISTS ("',
           '"INSERT OR IGNORE INTO upload_floor SELECT ?, ?, ? WHERE 1 OR NOT EXISTS ("',
           ("tests/functional/test_engine.py", "tests/unit/test_engine.py", "-k", "floor or first_upload or not_found_by_uid")),
    Mutant("the first of two twins left without its body hash (only later ones read again)",
           "migrate/spool.py",
           "AND f.id<>m.id)\"\"\")\n            if hash_bodies",
           "AND f.id<m.id)\"\"\")\n            if hash_bodies",
           ("tests/unit/test_body_hash.py",)),
    Mutant("a folder's range of refs taken from its last chunk only (its first messages "
           "never uploaded, counted or checked)", "migrate/spool.py",
           "self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)",
           "self.lo, self.hi = lo, hi",
           ("tests/functional/test_parallel_plan.py", "tests/server/test_parallel_plan.py", "tests/unit/test_parallel_plan.py", "-k", "own_rows")),
    Mutant("a plan worker keeps its copy of the run's lock (an orphan of a kill -9 locks "
           "every re-run out)", "migrate/workers.py",
           "    lock.close_inherited()\n",
           "",
           ("tests/functional/test_parallel_plan.py", "tests/server/test_parallel_plan.py", "tests/unit/test_parallel_plan.py", "-k", "lets_go")),
    Mutant("the run's check fetches an earlier mailbox's copies without selecting it again "
           "(after every mailbox was listed at once)", "migrate/verify.py",
           "        if len(unclaimed) and reopen is not None:\n            reopen()\n",
           "",
           ("tests/functional/test_engine.py", "tests/unit/test_engine.py", "-k", "many_mailboxes_fetches")),
    Mutant("a source written to while the run read it is uploaded (the backup lacks what "
           "the plan read)", "migrate/run.py",
           "    backup.check_unchanged(plan.folders, before)  # and as they both ended\n",
           "",
           ("tests/server/test_overlap.py", "tests/unit/test_overlap.py", "-k", "written_to")),
]


def copy_repo(dest: Path) -> None:
    def ignore(directory, names):
        return {n for n in names if n in (".git", ".venv", "__pycache__", ".pytest_cache",
                                          ".hypothesis")}
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def run_tests(repo: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *tests], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=1200)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return proc.returncode, lines[-1] if lines else proc.stderr.strip()[-200:]


def check(mutant: Mutant, work: Path) -> bool:
    repo = work / "repo"
    copy_repo(repo)
    try:
        target = repo / mutant.path
        text = target.read_text(encoding="utf-8")
        if text.count(mutant.old) != 1:
            print(f"  STALE: {mutant.name}: the text to change is not in {mutant.path} exactly "
                  "once; update scripts/check_mutants.py")
            return False
        code, last = run_tests(repo, mutant.tests)
        if code != 0:
            print(f"  BROKEN: the tests of '{mutant.name}' fail without the mutant: {last}")
            return False
        target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
        started = time.monotonic()
        code, last = run_tests(repo, mutant.tests)
        caught = code not in (0, 5)
        print(f"  {'caught  ' if caught else 'SURVIVED'} {mutant.name} "
              f"({time.monotonic() - started:.0f} s: {last})")
        return caught
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the mutants whose name contains this text")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if not args.only or args.only in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path}; caught by {' '.join(m.tests)}")
        return 0
    print(f"planting {len(chosen)} bugs, one at a time:")
    with tempfile.TemporaryDirectory(prefix="mm-mutants-") as tmp:
        results = [check(m, Path(tmp)) for m in chosen]
    print(f"{sum(results)} of {len(results)} planted bugs caught")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
