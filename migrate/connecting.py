"""Logging in while the sources are read: the round trips of TCP, TLS and LOGIN
overlap local work instead of coming before it (``plan``, ``run``, ``verify``)."""

from __future__ import annotations

import logging
import threading
import time

from migrate.target.imap import IMAPTarget, TargetConfig

log = logging.getLogger("migrate")


def connector(config: TargetConfig):
    """A function that returns a new logged-in target (used for reconnects)."""
    return lambda: IMAPTarget(config).connect()


class Connecting:
    """A login made in a thread while the sources are read: the round trips of TCP,
    TLS and LOGIN overlap local work instead of coming before it (``run``)."""

    def __init__(self, connect):
        self._target = self._error = None
        self._abandoned = False
        self._lock = threading.Lock()
        self.at = 0.0  # time.monotonic() when logged in: the connection is idle since
        self._thread = threading.Thread(target=self._connect, args=(connect,),
                                        name="login", daemon=True)
        self._thread.start()

    def _connect(self, connect) -> None:
        try:
            target = connect()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self._error = e
            return
        with self._lock:
            self._target, self.at = target, time.monotonic()
            if self._abandoned:
                self._close()

    def check(self) -> None:
        """Raise the login's error as soon as it is known (the reading stops early)."""
        if self._error is not None:
            raise self._error

    def wait(self):
        """The logged-in target, once the login is done (or its error)."""
        self._thread.join()
        self.check()
        return self._target

    def take(self):
        """(target, logged in at): the caller closes it from now on."""
        target = self.wait()
        self._target = None
        return target, self.at

    def close(self) -> None:
        """Log out if nobody took the connection; a login still under way is
        abandoned (closed by its thread when it ends), not waited for."""
        with self._lock:
            self._abandoned = True
            self._close()

    def _close(self) -> None:
        if self._target is not None:
            target, self._target = self._target, None
            try:
                target.close()
            except Exception as e:  # noqa: BLE001 - logging out of an unused connection
                log.debug("closing the unused connection: %s", e)
