"""One set-up for the commands that touch a state database (like borg's with_repository).

``session(...)`` owns what a command opens besides the target: the run lock,
the per-run log file, the stop request with its signal handlers and
deadline, and the state database (bound to its account). Whatever happens
inside, everything it opened is closed again, in reverse order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path

from migrate import logs
from migrate.errors import UsageError
from migrate.lock import RunLock, account_lock
from migrate.state import State, default_state_path
from migrate.stopping import StopRequest, arm_deadline, install_signal_handlers

log = logging.getLogger("migrate")


@dataclasses.dataclass
class Session:
    state_path: Path
    state: State | None = None  # None: read-only and no state exists yet
    stop: StopRequest | None = None


@contextlib.contextmanager
def session(args, host: str | None, user: str | None, *, write: bool = False,
            must_exist: bool = False):
    """The state of the account (``--state`` or the default path) and, with *write*
    (``run``), the lock, the run's log file and the stop request."""
    path = Path(args.state or default_state_path(host, user))
    with contextlib.ExitStack() as stack:
        s = Session(path)
        if write:
            if host and user:  # the account first: the same lock order in every run
                stack.enter_context(account_lock(host, user))
            stack.enter_context(RunLock(Path(str(path) + ".lock")))
            if not args.log_file:  # one log file per run beside the state, with every detail
                log.debug("log file %s", logs.add_file(logs.run_log_path(path)))
            s.stop = StopRequest()
            install_signal_handlers(s.stop)
            arm_deadline(s.stop, args.stop_at, args.max_duration)
            s.state = stack.enter_context(contextlib.closing(State(path)))
        elif path.exists():
            s.state = stack.enter_context(contextlib.closing(State(path, readonly=True)))
        elif must_exist:
            raise UsageError(f"no state database at {path}: nothing has been run for this "
                             "account")
        if s.state is not None and host and user:
            s.state.bind(host, user)
        yield s
