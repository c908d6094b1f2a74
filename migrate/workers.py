"""The plan's worker processes: one way to start and stop them on every system.

Start method, chosen explicitly: ``forkserver`` where the system has it (Linux,
macOS), ``spawn`` on Windows. Never ``fork``: a run forks while its backup and
login threads hold locks (a child can inherit one held, and Python 3.12 warns
of exactly that), and Python 3.14 stopped making it the default. The fork
server is started from a clean process with the plan's module preloaded, so a
worker costs a fork, not an import (bench/plan_versions.py measures it).

A worker ends when the process that started it ends, however it ends (kill -9
included) and on every system: a watchdog thread waits on the parent's
sentinel (``multiprocessing.parent_process()``: a pipe on POSIX, a process
handle on Windows), not a Linux-only parent-death signal, and not
``os.getppid()``, which names the fork server, not the run, under forkserver.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading

from migrate import lock
from migrate.errors import Interrupted


def cores() -> int:
    return min(os.cpu_count() or 1, 8)


def start_method() -> str:
    """forkserver where the system has it, else spawn (see the module's docstring);
    $MAILMIGRATE_START_METHOD chooses another (the tests run each one)."""
    methods = multiprocessing.get_all_start_methods()
    chosen = os.environ.get("MAILMIGRATE_START_METHOD", "")
    if chosen in methods:
        return chosen
    return "forkserver" if "forkserver" in methods else "spawn"


_CONTEXT = None


def context():
    """The multiprocessing context the workers start in (made once per process)."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context(start_method())
        if _CONTEXT.get_start_method() == "forkserver":
            _CONTEXT.set_forkserver_preload(["migrate.plan"])
    return _CONTEXT


class WorkerLost(Interrupted):
    """A worker process reading *path* for the plan ended without answering."""

    def __init__(self, path: str):
        super().__init__(
            f"a process reading {path} for the plan was stopped from outside (killed, or "
            "ended by the system for lack of memory); nothing was uploaded by this plan: run "
            "the same command again (if it happens again, free memory or close other programs)")


_HELD = {signal.SIGINT}


def _block_ctrl_c():
    """Hold Ctrl-C while the workers start, where the system can (POSIX): the fork
    server inherits the mask, and each worker lets a pending Ctrl-C go only once it
    ignores it. SIGTERM is never held: the pool ends a worker with it, and one that
    held it while starting would never end (a broken pool then hung). The old mask,
    or None."""
    if hasattr(signal, "pthread_sigmask"):
        return signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    return None


def _restore_signals(held) -> None:
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class Workers:
    """The worker processes a plan reads with, started when first needed (a plan of a
    few small folders starts none) and stopped when the plan has read everything.

    Ctrl-C reaches the whole process group (a console on Windows): the workers ignore
    it, so that only this process stops (between folders, with one message). A worker
    killed from outside (the system out of memory, a signal) is :class:`WorkerLost`, a
    sentence instead of a traceback; the plan has written nothing a re-run trips on.
    """

    def __init__(self):
        self.pool = None
        self.waiting: dict = {}  # future -> the path it reads, until its answer is taken

    def submit(self, *call):
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        started = self.pool is None
        held = None
        if started:
            held = _block_ctrl_c()  # until the workers ignore Ctrl-C themselves
            self.pool = ProcessPoolExecutor(cores(), mp_context=context(),
                                            initializer=worker_started)
        try:
            future = self.pool.submit(*call)
        except (BrokenProcessPool, OSError):  # OSError: the fork server itself was killed
            # the pool broke on an earlier folder: name the oldest one still unanswered
            raise WorkerLost(next(iter(self.waiting.values()), call[1])) from None
        finally:
            if started:
                _restore_signals(held)
        self.waiting[future] = call[1]
        return future

    def result(self, future, path: str):
        """The worker's answer for *path*; its SourceError is raised here as it was."""
        from concurrent.futures.process import BrokenProcessPool
        self.waiting.pop(future, None)
        try:
            return future.result()
        except BrokenProcessPool:
            raise WorkerLost(path) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is None:
            return
        if getattr(self.pool, "_broken", False):
            # a broken pool may have started one more process while it was ending the
            # others (CPython's executor, 3.11 to 3.14): it would never end, and the
            # shutdown would wait for it for ever. Every process of ours is ended here.
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    process.kill()
        self.pool.shutdown(cancel_futures=True)


def worker_started() -> None:
    """A worker's set-up: it ends with the process that started it, holds none of its
    locks, and leaves Ctrl-C (and Ctrl-Break) to it."""
    watch_parent()
    lock.close_inherited()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process stops the plan
    if hasattr(signal, "SIGBREAK"):  # Windows: Ctrl-Break reaches the console's group
        signal.signal(signal.SIGBREAK, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the run's handler: just end
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD | {signal.SIGTERM})


def watch_parent() -> None:
    """End this process as soon as the one that started it ends (a daemon thread waits
    on its sentinel): a kill -9 of a run leaves no worker reading its mbox."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch():
        from multiprocessing.connection import wait
        wait([sentinel])
        os._exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    if not parent.is_alive():  # it ended before the watch began
        os._exit(1)


def is_alive(pid: int) -> bool:
    """Whether a process *pid* of this user is still running, on every system (on
    Windows ``os.kill(pid, 0)`` would send Ctrl-C to a whole console)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes
        kernel = ctypes.windll.kernel32
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            return bool(kernel.GetExitCodeProcess(handle, ctypes.byref(code))) and \
                code.value == 259  # STILL_ACTIVE
        finally:
            kernel.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True
