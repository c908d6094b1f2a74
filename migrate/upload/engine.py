"""The uploader: the run's rooms put together, and the public face the CLI uses.

``run`` asks the account once what earlier runs left (STATUS), creates the new
mailboxes at once, then takes the mailboxes one after another on one connection,
side by side on several, or each one shared out among several (servers that move
one message per round trip); ``verify`` is the end-of-run check.
"""

from __future__ import annotations

import functools
import time
from typing import Callable

from migrate.plan import Plan
from migrate.state import State
from migrate.target.base import Target
from migrate.upload.context import RunContext
from migrate.upload.mailbox import nothing_to_do, special_use, upload_mailbox
from migrate.upload.options import UploadOptions
from migrate.upload.outcome import UploadOutcome
from migrate.upload.parallel import in_parallel, step
from migrate.upload.worker import Worker


class Uploader:
    def __init__(self, connect: Callable[[], Target], state: State, plan: Plan,
                 options: UploadOptions | None = None, progress=None,
                 sleep: Callable[[float], None] = time.sleep, settled=None):
        self.plan = plan
        self.ctx = RunContext(connect, options or UploadOptions(), state, progress=progress,
                              settled=settled, sleep=sleep)
        self.lead = Worker(self.ctx, state)  # the run's own connection and state handle

    @property
    def options(self) -> UploadOptions:
        return self.ctx.options

    @property
    def state(self) -> State:
        return self.lead.state

    @state.setter
    def state(self, state: State) -> None:  # a check on a handle of its own (tests, bench)
        self.lead.state = state

    @property
    def outcome(self) -> UploadOutcome:
        return self.lead.outcome

    def adopt(self, target: Target, idle_since: float) -> None:
        """Go on with *target* (``run`` planned on it), idle since *idle_since*
        (``time.monotonic``): saves a login, unless it has been idle too long."""
        self.lead.keeper.adopt(target, idle_since)

    def close(self) -> None:
        self.lead.keeper.drop()

    def with_retries(self, step: Callable[[], object]):
        """Run *step* on the run's connection policy (``ConnectionKeeper.with_retries``)."""
        return self.lead.keeper.with_retries(step)

    def run(self) -> UploadOutcome:
        lead, server = self.lead, self.ctx.server
        groups = list(self.plan.by_target().items())
        if self.state.holds_records():  # a first run has nothing for it to vouch for
            found = self.with_retries(lambda: lead.connected().statuses([m for m, _ in groups]))
            server.validities.update({name: v for name, (v, _, _) in found.items()})
            server.sizes.update({name: messages for name, (_, _, messages) in found.items()})
            groups = [(m, f) for m, f in groups if not nothing_to_do(lead, m, f)]
        if len(groups) > 1:  # the new ones at once, not a round trip each
            self.with_retries(lambda: lead.connected().create_mailboxes(
                [(m, special_use(f)) for m, f in groups]))
        if self.options.connections > 1 and self.with_retries(self._one_message_a_round_trip):
            self.ctx.shards = self.options.connections  # mailbox after mailbox, each on N
        elif self.options.connections > 1 and len(groups) > 1:
            return self._run_parallel_once(groups)
        for mailbox, fplans in groups:  # the connection stays for the check (see close)
            self.with_retries(functools.partial(upload_mailbox, lead, mailbox, fplans))
        return self.outcome

    def _one_message_a_round_trip(self) -> bool:
        """No MULTIAPPEND and no LITERAL+ (Courier): one connection moves one message per
        round trip, so several connections share each mailbox instead."""
        target = self.lead.connected()
        return not target.can_pipeline and target.batch_limit(2) == 1

    def _run_parallel_once(self, groups) -> UploadOutcome:
        """Mailboxes at once, each message's bytes sent once: a message also planned
        for an earlier mailbox waits for a second round, where it is copied on the
        server from that upload (``copy_once``; one connection goes in plan order,
        so there the first mailbox's upload is always there before the others)."""
        spool = self.plan.spool
        held = set()
        if spool is not None and self.with_retries(lambda: self.lead.connected().has("UIDPLUS")):
            held = spool.hold_copies()
        try:
            self._run_parallel(groups)
        finally:
            if spool is not None and held:
                spool.release_copies()
        failed = {mailbox for mailbox, _ in self.outcome.failed_folders}  # named once: done
        second = [(mailbox, fplans) for mailbox, fplans in groups if mailbox not in failed
                  and any(f.messages.folder in held for f in fplans)]
        return self._run_parallel(second) if second else self.outcome

    def _run_parallel(self, groups) -> UploadOutcome:
        """Upload several mailboxes at once, each on its own connection and state handle."""
        in_parallel(self.lead, [step(upload_mailbox, m, f) for m, f in groups])
        return self.outcome

    def verify(self):
        """The end-of-run check: ``verify``'s, confirming by recorded UIDs where it
        can (``verify_plan(quick=True)``), with the same reconnect policy."""
        from migrate.verify import verify_plan
        server = self.ctx.server
        sizes = {box: n + self.outcome.uploaded[box] for box, n in server.sizes.items()}
        present = server.opened | set(server.validities)  # seen there by this run: not listed
        try:
            return self.with_retries(lambda: verify_plan(self.lead.connected(), self.plan,
                                                         recorded=self.state.recorded,
                                                         quick=True,
                                                         floor=self.state.upload_floor,
                                                         sizes=sizes, present=present))
        finally:
            self.close()
