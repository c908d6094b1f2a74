"""An exclusive lock so that two runs never upload for the same state file at once.

The lock file sits beside the state database (never beside a source). POSIX
uses ``fcntl.flock``; Windows uses ``msvcrt.locking``. The OS drops the lock
when the process dies, so a kill -9 never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from migrate.errors import UsageError

HELD: set[int] = set()  # descriptors of the locks this process holds


def close_inherited() -> None:
    """In a forked worker: let go of the parent's locks (the parent still holds them).

    A flock belongs to the open file, which a fork shares: a worker outliving its parent
    (a kill -9) would otherwise keep the run locked for every re-run."""
    for fd in list(HELD):
        os.close(fd)
    HELD.clear()


class RunLock:
    def __init__(self, path: Path, busy: str | None = None):
        """*busy*: what to say when another process holds it."""
        self.path = Path(path)
        self.fd: int | None = None
        self.busy = busy or (f"another mailmigrate run is using {self.path.with_suffix('')}; "
                             "wait for it to finish (or stop it) and run again")

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError(self.busy) from None
        self.fd = fd
        HELD.add(fd)
        return self

    def release(self) -> None:
        if self.fd is not None:
            HELD.discard(self.fd)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def account_lock(host: str, user: str) -> RunLock:
    """The lock of one account (user at host, whatever state file a run uses): two
    runs into one account, each planning before the other uploads, would both send
    everything (issue 34). It lives in the per-user data directory, beside the
    default states, so every run of this user on this machine meets it."""
    from migrate.state import default_state_path
    path = default_state_path(host.strip().lower(), user.strip().lower())
    return RunLock(path.with_name(path.name + ".account.lock"),
                   busy=f"another mailmigrate run is uploading into {user} at {host} (from "
                        "this machine); two at once would send the same mail twice: wait "
                        "for it to finish, then run this command again")
