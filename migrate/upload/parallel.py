"""Steps run on several connections at once: mailboxes side by side, or one mailbox's
messages in shares (servers that take one message per round trip)."""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from typing import Callable

from migrate.errors import QuotaExceeded
from migrate.state import State
from migrate.upload.worker import Worker

Step = Callable[[Worker], object]


def step(function: Callable[..., object], *args: object) -> Step:
    """The step ``function(worker, *args)``, on whichever worker takes it."""
    return lambda worker: function(worker, *args)


def in_parallel(lead: Worker, steps: list[Step]) -> None:
    """Run the steps on up to ``connections`` workers, each with its own connection
    and state handle, kept from one step to the next (a profile of 500 folders
    logged in once per folder: 26 of a no-op re-run's 30 seconds). What they count
    ends in *lead*'s outcome.

    The journal protocol is per batch: workers never share one, and each
    resolves only its own after a drop. Every step runs (or fails) before the
    first error is raised; a worker goes on to the next step on a new connection.
    """
    workers: list[Worker] = []
    lead.keeper.drop()  # its slot goes to a worker
    waiting = collections.deque(enumerate(steps))  # taken by the workers (popleft: atomic)
    errors: dict[int, BaseException] = {}
    merge_lock = threading.Lock()

    def settled_by_all() -> int:  # the link works if any connection gets mail through
        with merge_lock:
            return lead.outcome.settled() + sum(w.outcome.settled() for w in workers)

    def work():
        worker = Worker(lead.ctx, State(lead.state.path), progress_of=settled_by_all)
        with merge_lock:
            workers.append(worker)
        try:
            while waiting:
                try:
                    number, step = waiting.popleft()
                except IndexError:  # another worker took the last one
                    return
                worker.my_batches = set()  # each step resolves only its own batches
                try:
                    worker.keeper.with_retries(lambda step=step: step(worker))
                except BaseException as e:  # noqa: BLE001 - raised once every step ran
                    errors[number] = e
                    worker.keeper.drop()  # the next step starts afresh
        finally:
            worker.keeper.drop()
            worker.state.close()
            with merge_lock:
                lead.outcome.merge(worker.outcome)
                workers.remove(worker)  # its count now lives in lead's outcome

    count = min(lead.ctx.options.connections, len(steps))
    with concurrent.futures.ThreadPoolExecutor(max(count, 1)) as pool:
        futures = [pool.submit(work) for _ in range(count)]
    for future in futures:
        future.result()  # a worker's own failure (its state cannot be opened)
    found = [errors[n] for n in sorted(errors)]
    quota = [e for e in found if isinstance(e, QuotaExceeded)]
    if found:
        raise (quota or found)[0]
