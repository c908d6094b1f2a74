"""An exclusive lock so that two runs never upload for the same state file at once.

The lock file sits beside the state database (never beside a source). POSIX
uses ``fcntl.flock``; Windows uses ``msvcrt.locking``. The OS drops the lock
when the process dies, so a kill -9 never leaves a stale lock behind.
"""

from __future__ import annotations

import os
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
    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.name == "nt":
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError(f"another mailmigrate run is using {self.path.with_suffix('')}; "
                             "wait for it to finish (or stop it) and run again") from None
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
