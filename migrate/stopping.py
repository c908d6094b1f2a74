"""Stopping a run cleanly: Ctrl-C, SIGTERM, ``--stop-at`` and ``--max-duration``.

A :class:`StopRequest` is set by a signal handler or a timer; the upload
engine looks at it between batches, lets the batches in flight finish, and
raises :class:`Stopped`. Everything settled is already in the state
database, so the same command continues later. A second Ctrl-C/SIGTERM ends
the process at once: safe too, because every batch is journaled before it is
sent (exactly what the kill -9 tests exercise).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import sys
import threading

from migrate.errors import ExitCode, Interrupted, UsageError

log = logging.getLogger("migrate")


class Stopped(Interrupted):
    """The run stopped early on request; the rest is left for the next run."""

    def __init__(self, message: str, code: ExitCode):
        super().__init__(message)
        self.exit_code = code


class StopRequest:
    def __init__(self):
        self._event = threading.Event()
        self.reason = ""
        self.code = ExitCode.INTERRUPTED
        self.signals = 0

    def request(self, reason: str, code: ExitCode = ExitCode.INTERRUPTED) -> None:
        if not self._event.is_set():
            self.reason, self.code = reason, code
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop was asked for."""
        if self._event.is_set():
            raise Stopped(self.reason, self.code)

    def wait(self, seconds: float) -> None:
        """Wait *seconds*, or less if a stop is asked for meanwhile."""
        self._event.wait(seconds)

    def sleep(self, seconds: float) -> None:
        """Wait *seconds*, or less if a stop is asked for meanwhile (then raise)."""
        self._event.wait(seconds)
        self.check()


def install_signal_handlers(stop: StopRequest) -> None:
    """First Ctrl-C/SIGTERM: stop after the current batch. Second: exit now."""
    def handler(signum, frame):
        stop.signals += 1
        name = signal.Signals(signum).name
        if stop.signals == 1:
            print(f"\nmailmigrate: {name}: finishing the batches in flight, then saving and "
                  "summarising; press Ctrl-C again to stop at once (also safe)",
                  file=sys.stderr, flush=True)
            stop.request(f"stopped by {name}; run the same command again to continue")
            return
        print(f"\nmailmigrate: {name} again: stopping now; the state is safe, run the same "
              "command again to continue", file=sys.stderr, flush=True)
        os._exit(int(ExitCode.INTERRUPTED))

    on_stop_signals(handler)


def on_stop_signals(handler) -> None:
    """Call *handler(signum, frame)* on Ctrl-C, SIGTERM and (Windows) Ctrl-Break."""
    if threading.current_thread() is not threading.main_thread():
        return  # Python takes signal handlers in the main thread only
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$", re.I)


def parse_duration(text: str) -> float:
    """'90m', '6h', '1h30m', '45s' or plain seconds -> seconds."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    found = _DURATION.match(text)
    if not found or not any(found.groups()):
        raise UsageError(f"--max-duration {text!r}: use e.g. 90m, 6h, 1h30m or seconds")
    h, m, s = (int(g or 0) for g in found.groups())
    return float(h * 3600 + m * 60 + s)


def seconds_until(clock: str, now: dt.datetime | None = None) -> float:
    """Seconds from *now* (local time) to the next HH:MM."""
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", clock.strip())
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise UsageError(f"--stop-at {clock!r}: use the local time as HH:MM, e.g. 06:30")
    now = now or dt.datetime.now()
    at = now.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=0,
                     microsecond=0)
    if at <= now:
        at += dt.timedelta(days=1)
    return (at - now).total_seconds()


def arm_deadline(stop: StopRequest, stop_at: str | None, max_duration: str | None) -> float | None:
    """Start a timer that stops the run at the earlier of the two limits; returns seconds."""
    limits = []
    if stop_at:
        limits.append((seconds_until(stop_at), f"--stop-at {stop_at} reached"))
    if max_duration:
        limits.append((parse_duration(max_duration), f"--max-duration {max_duration} reached"))
    if not limits:
        return None
    seconds, why = min(limits)
    timer = threading.Timer(seconds, stop.request,
                            (f"{why}; the rest is left for the next run (same command)",
                             ExitCode.STOPPED))
    timer.daemon = True
    timer.start()
    log.info("this run stops by itself in %.0f s (%s)", seconds, why.split(" reached")[0])
    return seconds
