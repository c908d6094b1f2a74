"""The upload engine: put planned messages on the server exactly once.

Per target mailbox: make sure it exists, resolve batches a crash left in flight,
skip what earlier runs uploaded (state) or what the server already holds
(fingerprints), then send the rest in batches, each journaled before APPEND
and committed after (see ``state``). A refused batch is split until the
refused message is isolated; a lost connection is re-opened with backoff and
the in-flight batch resolved against the server before anything is re-sent.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import random
import re
import threading
import time
from typing import Callable

from migrate import fingerprint, headers
from migrate.budget import BudgetSpent, CrawlWatch, DailyBudget
from migrate.errors import (
    ConnectionFailed,
    MailboxError,
    QuotaExceeded,
    SourceError,
    Throttled,
    TooManyConnections,
)
from migrate.keywords import imap_keyword
from migrate.plan import (
    DONE,
    EVERY,
    FAILED,
    PRESENT,
    UPLOAD,
    UPLOADED,
    FolderPlan,
    Plan,
    PlannedMessage,
    all_recorded,
    apply_server_view,
    pages,
)
from migrate.reconcile import UidSet, fetch_copies, trusted_records
from migrate.sources.stream import STREAM_BYTES, Streamed
from migrate.state import State
from migrate.stopping import StopRequest
from migrate.target.base import AppendItem, SelectInfo, Target
from migrate.verify import DETAIL_LIMIT

log = logging.getLogger(__name__)

SYSTEM_FLAGS = {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"}


class RateLimiter:
    """Keep average messages/s and bytes/s under caps (Gmail: ~500 MB a day by IMAP).

    Called before each batch is sent: it sleeps just long enough that what has
    been sent since the start stays under both caps.
    """

    def __init__(self, max_messages: float | None, max_bytes: float | None,
                 clock=time.monotonic, sleep=time.sleep):
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.clock, self.sleep = clock, sleep
        self.started = None
        self.messages = self.bytes = 0
        self.lock = threading.Lock()

    def wait(self, messages: int, size: int, meanwhile=None) -> None:
        """Sleep until *messages* (*size* bytes) more may go; *meanwhile* is called
        first when there is a wait (the pipeline takes its answers in that time, so
        progress moves with what the server confirmed, not when the mailbox ends)."""
        if not (self.max_messages or self.max_bytes):
            return
        with self.lock:  # shared by the connections of a parallel run
            now = self.clock()
            if self.started is None:
                self.started = now
            self.messages += messages
            self.bytes += size
            due = max(self.messages / self.max_messages if self.max_messages else 0,
                      self.bytes / self.max_bytes if self.max_bytes else 0)
            ahead = self.started + due - now
        if ahead > 0 and meanwhile is not None:
            meanwhile()
            ahead = self.started + due - self.clock()
        if ahead > 0:
            self.sleep(ahead)


class ConnectionSlots:
    """How many connections the run may have open at once, lowered when the provider
    says "[ALERT] Too many simultaneous connections" (the user's phone holds some).

    A connection is opened only in a free slot; a refused login gives its slot up
    and lowers the limit to what the run has open, so that worker waits for one of
    the run's own connections to close instead of hammering the server.
    """

    def __init__(self, limit: int):
        self.limit, self.open = max(1, limit), 0
        self.changed = threading.Condition()

    def claim(self, stop: StopRequest | None = None) -> None:
        with self.changed:
            while self.open >= self.limit:
                if stop is not None:
                    stop.check()
                self.changed.wait(0.5)
            self.open += 1

    def release(self) -> None:
        with self.changed:
            self.open -= 1
            self.changed.notify()

    def refused(self) -> None:
        """A claimed slot's login was refused: give it up, allow what is open now."""
        with self.changed:
            self.open -= 1
            if max(1, self.open) < self.limit:
                self.limit = max(1, self.open)
                log.warning("the server takes no more connections from this account; going "
                            "on with %d", self.limit)
            self.changed.notify()


BUDGET_RETRY_SECONDS = 3600  # --wait-for-budget after the provider said the budget is spent
# Gmail past ~500 MB a day: "* BYE Session expired, please login again." (imaplib keeps
# the text, not the word BYE)
SPENT_BUDGET = re.compile(r"(?i)\bsession expired\b")


@dataclasses.dataclass
class UploadOptions:
    batch_messages: int = 50
    batch_bytes: int = 8 * 1024 * 1024
    pipeline_depth: int = 8  # APPENDs in flight on one connection (needs LITERAL+)
    max_messages_per_second: float | None = None
    max_bytes_per_second: float | None = None
    connections: int = 1  # mailboxes uploaded at once, one connection each (CLI default: 3)
    max_reconnects: int = 10  # in a row without progress, and ...
    give_up_after: float = 600.0  # ... seconds without progress: an outage may last a while
    max_throttles: int = 200  # in a row without progress; a throttled run slows, not stops
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    stop: StopRequest | None = None  # Ctrl-C, SIGTERM, --stop-at: stop between batches
    settle_seconds: float = 5.0  # after a drop: the mailbox must be still this long (see _settle)
    settle_max: float = 120.0
    max_bytes_per_day: int | None = None  # the account's rolling 24-hour upload budget
    wait_for_budget: bool = False  # wait for it to free up instead of stopping (exit 8)
    crawl_seconds: float = 120.0  # with a daily budget: this long below 1 KB/s = it is spent


FAILED_KEPT = DETAIL_LIMIT  # refused messages named in memory, for run.json


class Named:
    """Rows naming messages (mailbox, location, reason), in the order named: the first
    *kept* in memory (run.json's list), the rest in an unnamed temporary file that
    run.csv reads back. A server that takes every message but none of its keywords
    names each one: a million tuples would have been the run's largest memory.
    Rows the disk has no room for stay in memory, as before: the run goes on."""

    SPILL = 1000  # rows written to the file at a time

    def __init__(self, kept: int | None = None):
        self.kept = FAILED_KEPT if kept is None else kept
        self.rows: list = []
        self.count = 0
        self._file = None  # unbuffered; its first _size bytes are whole rows
        self._size = 0
        self._full = False  # the disk refused a write: no more are tried
        self._held: list = []  # rows not in the file (yet)

    def append(self, row: tuple) -> None:
        self.count += 1
        if len(self.rows) < self.kept:
            self.rows.append(row)
            return
        self._held.append(row)
        if len(self._held) >= self.SPILL and not self._full:
            self._spill()

    def _spill(self) -> None:
        data = "".join(json.dumps(row) + "\n" for row in self._held).encode()
        try:
            if self._file is None:
                import tempfile  # private (0600) and already unlinked: nothing is left behind
                self._file = tempfile.TemporaryFile(buffering=0)
            self._file.seek(self._size)
            with memoryview(data) as view:
                done = 0
                while done < len(data):
                    done += self._file.write(view[done:])
        except OSError:
            self._full = True
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.truncate(self._size)  # no part of a row is read back
            return
        self._size += len(data)
        self._held = []

    def extend(self, rows) -> None:
        for row in rows:
            self.append(row)

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        yield from self.rows
        if self._size:
            with open(os.dup(self._file.fileno()), "rb") as f:
                f.seek(0)
                read = 0
                for line in f:
                    read += len(line)
                    if read > self._size:
                        break  # (what a refused write left past the rows)
                    yield tuple(json.loads(line))
        yield from self._held

    def __getitem__(self, part: slice) -> list:
        return self.rows[part]  # (the first *kept*: what run.json shows)


@dataclasses.dataclass
class UploadOutcome:
    """Counts per target mailbox, filled as the run goes."""

    uploaded: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    uploaded_bytes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failed: list = dataclasses.field(default_factory=list)  # the first FAILED_KEPT refused:
    failed_count: int = 0  # (mailbox, location, reason); all are FAILED in the plan's spool
    failed_folders: list = dataclasses.field(default_factory=list)  # (mailbox, reason)
    flags_dropped: Named = dataclasses.field(default_factory=Named)  # stored without keywords
    bare: dict = dataclasses.field(default_factory=dict)  # mailbox -> refs of those named there
    flags_repaired: int = 0  # messages whose flags the server dropped on APPEND, added back
    copied: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    resolved: int = 0  # in-flight messages found on the server after a drop or crash

    def merge(self, other: "UploadOutcome") -> None:
        self.uploaded.update(other.uploaded)
        self.uploaded_bytes.update(other.uploaded_bytes)
        self.failed.extend(other.failed[:FAILED_KEPT - len(self.failed)])
        self.failed_count += other.failed_count
        self.failed_folders.extend(other.failed_folders)
        self.flags_dropped.extend(other.flags_dropped)
        for mailbox, refs in other.bare.items():
            self.bare.setdefault(mailbox, set()).update(refs)
        self.resolved += other.resolved
        self.flags_repaired += other.flags_repaired
        self.copied.update(other.copied)

    def add_failed(self, mailbox: str, location: str, reason: str) -> None:
        """A message the server refused: counted; named here among the first FAILED_KEPT
        (run.json's list); run.csv names every one from the plan, where it is FAILED."""
        self.failed_count += 1
        if len(self.failed) < FAILED_KEPT:
            self.failed.append((mailbox, location, reason))

    def name_bare(self, mailbox: str, ref: int) -> bool:
        """True the first time the message *ref* of *mailbox* is named as stored without
        its keywords (sent so, or refused them back): it is named once."""
        refs = self.bare.setdefault(mailbox, set())
        if ref in refs:
            return False
        refs.add(ref)
        return True

    def settled(self) -> int:
        """Messages known to be on the server thanks to this run: the retry loop's progress."""
        return sum(list(self.uploaded.values())) + self.resolved  # list(): one atomic copy


def filter_flags(p: PlannedMessage, permanent: frozenset,
                 keywords: bool = True) -> tuple[str, ...]:
    """Flags the server will keep: system flags in PERMANENTFLAGS, keywords if allowed.

    Keywords are spelled as valid IMAP atoms first (``keywords.imap_keyword``).
    """
    if not permanent:
        permanent = frozenset(SYSTEM_FLAGS)
    flags = [f for f in sorted(p.flags) if f in permanent and f != "\\Deleted"]
    if keywords:
        atoms = sorted({a for a in map(imap_keyword, p.keywords) if a})
        flags += [k for k in atoms if "\\*" in permanent or k in permanent]
    return tuple(flags)


class Uploader:
    def __init__(self, connect: Callable[[], Target], state: State, plan: Plan,
                 options: UploadOptions | None = None, progress=None,
                 sleep: Callable[[float], None] = time.sleep, settled=None):
        self.connect = connect
        self.state = state
        self.plan = plan
        self.options = options or UploadOptions()
        self.progress = progress
        self.settled = settled  # (mailbox, messages, bytes still to send): progress's total
        self.stop = self.options.stop
        pace = sleep
        if self.stop is not None and sleep is time.sleep:
            sleep = self.stop.sleep  # backoff and throttling waits end (raise) on a stop
            pace = self.stop.wait  # a rate-cap wait ends early; the next message stops
        self.sleep = sleep
        self.target: Target | None = None
        self._handed_out = 0.0
        self.shards = 1  # connections sharing one mailbox (servers without MULTIAPPEND/LITERAL+)
        self.my_batches: set[int] = set()  # batches this uploader journaled (shard workers)
        self.info: SelectInfo | None = None  # of the mailbox being uploaded
        self.validities: dict[str, int] = {}  # mailbox -> UIDVALIDITY when the run began
        self.sizes: dict[str, int] = {}  # mailbox -> messages there when this run looked
        self.opened: set[str] = set()  # mailboxes this run made sure of, under these names
        self.outcome = UploadOutcome()
        self.progress_of = self.outcome.settled  # with several connections: all of them
        self.started = time.time()  # state rows updated since then are this run's
        self.journaled = {"any": False}  # shared with the workers: has this run sent a batch?
        self.rate = RateLimiter(self.options.max_messages_per_second,
                                self.options.max_bytes_per_second, sleep=pace)
        self.budget = DailyBudget(self.options.max_bytes_per_day, state.uploaded_since,
                                  self.options.wait_for_budget, sleep=sleep) \
            if self.options.max_bytes_per_day else None
        self.slots = ConnectionSlots(self.options.connections)  # shared with the workers
        self.crawl = CrawlWatch(self.options.crawl_seconds) if self.budget else None

    # -- connection handling -----------------------------------------------

    REUSE_SECONDS = 60  # a connection idle longer may have been closed by the server

    def _connected(self) -> Target:
        if self.target is not None and time.monotonic() - self._handed_out > self.REUSE_SECONDS:
            self._drop_connection()
        if self.target is None:
            self.slots.claim(self.stop)
            try:
                self.target = self.connect()
            except TooManyConnections:
                self.slots.refused()
                raise
            except BaseException:
                self.slots.release()
                raise
        self._handed_out = time.monotonic()
        return self.target

    def adopt(self, target: Target, idle_since: float) -> None:
        """Go on with *target* (``run`` planned on it), idle since *idle_since*
        (``time.monotonic``): saves a login, unless it has been idle too long."""
        self._drop_connection()
        self.slots.claim()
        self.target, self._handed_out = target, idle_since

    def _drop_connection(self) -> None:
        if self.target is not None:
            try:
                self.target.close()
            finally:
                self.target = None
                self.slots.release()

    def close(self) -> None:
        self._drop_connection()

    def with_retries(self, step: Callable[[], object]):
        """Run *step*, reconnecting with backoff when the connection is lost.

        Every step is idempotent: it starts by resolving in-flight batches and
        skipping what is done, so running it again after a drop is safe. Gives
        up only after ``max_reconnects`` failures in a row *and*
        ``give_up_after`` seconds without progress of any connection of this
        run (a dropped Wi-Fi for a few minutes is survived; a message that
        kills the connection every time is not retried forever). A throttling
        reply waits as long as the server asks, on its own, larger budget
        (``max_throttles``): a throttled overnight run slows, it does not stop.
        """
        failures = throttles = 0
        last_progress = -1
        progress_at = time.monotonic()
        lost_at: set[str] = set()  # the steps the connection was lost at, since progress
        while True:
            try:
                try:
                    return step()
                except ConnectionFailed as e:
                    # Gmail past its daily upload budget says "Session expired"; so does an
                    # ordinary expiry. The budget only where one applies, with evidence: half
                    # of it gone today, or a session (of any connection) ended before with
                    # nothing settled since
                    if SPENT_BUDGET.search(str(e)) and self.budget is not None and (
                            self.budget.ended_again(self.progress_of())
                            or self.budget.nearly_spent()):
                        raise BudgetSpent(
                            f"the provider ended the session because today's upload budget is "
                            f"spent ({e}); everything sent so far is recorded: run the same "
                            "command again in a few hours", time.time() + 6 * 3600) from None
                    raise
            except BudgetSpent as e:  # the provider said so (BYE, a crawl): when it frees is
                if not self.options.wait_for_budget:  # unknown, so try again in an hour
                    raise
                self._drop_connection()
                log.warning("%s; waiting an hour (--wait-for-budget)", e)
                self.sleep(BUDGET_RETRY_SECONDS)
                if self.crawl is not None:
                    self.crawl = CrawlWatch(self.options.crawl_seconds)
            except ConnectionFailed as e:
                throttled = isinstance(e, Throttled)
                progress = self.progress_of()
                if progress != last_progress:
                    failures = throttles = 0
                    progress_at = time.monotonic()
                    lost_at.clear()
                last_progress = progress
                throttles += throttled
                failures += not throttled
                lost_at.add(str(e).partition(": ")[0])
                self._drop_connection()
                stalled = time.monotonic() - progress_at >= self.options.give_up_after
                if failures > self.options.max_reconnects and stalled:
                    raise ConnectionFailed(f"gave up after {failures - 1} reconnects without "
                                           f"progress; last error: {e}"
                                           f"{_same_step(lost_at)}") from None
                if throttles > self.options.max_throttles:
                    raise ConnectionFailed(
                        f"the server kept throttling without progress: {e}") from None
                tries = throttles if throttled else failures
                delay = min(self.options.backoff_max,
                            self.options.backoff_base * 2 ** min(tries - 1, 30))
                if throttled and e.delay is not None:
                    delay = e.delay  # what the server asked for
                    log.warning("the server asks us to slow down; waiting %.1fs", delay)
                else:
                    delay *= random.uniform(0.5, 1.0)
                    log.warning("connection problem (%s); reconnecting in %.1fs", e, delay)
                self.sleep(delay)

    # -- the run -------------------------------------------------------------

    def run(self) -> UploadOutcome:
        groups = list(self.plan.by_target().items())
        if self.state.holds_records():  # a first run has nothing for it to vouch for
            found = self.with_retries(lambda: self._connected().statuses([m for m, _ in groups]))
            self.validities = {name: validity for name, (validity, _, _) in found.items()}
            self.sizes = {name: messages for name, (_, _, messages) in found.items()}
            groups = [(m, f) for m, f in groups if not self._nothing_to_do(m, f)]
        if len(groups) > 1:  # the new ones at once, not a round trip each
            self.with_retries(lambda: self._connected().create_mailboxes(
                [(m, _special_use(f)) for m, f in groups]))
        if self.options.connections > 1 and self.with_retries(self._one_message_a_round_trip):
            self.shards = self.options.connections  # mailbox after mailbox, each on N
        elif self.options.connections > 1 and len(groups) > 1:
            return self._run_parallel_once(groups)
        for mailbox, fplans in groups:  # the connection stays for the check (see close)
            self.with_retries(lambda m=mailbox, f=fplans: self._upload_mailbox(m, f))
        return self.outcome

    def _one_message_a_round_trip(self) -> bool:
        """No MULTIAPPEND and no LITERAL+ (Courier): one connection moves one message per
        round trip, so several connections share each mailbox instead."""
        target = self._connected()
        return not target.can_pipeline and target.batch_limit(2) == 1

    def _run_parallel_once(self, groups) -> UploadOutcome:
        """Mailboxes at once, each message's bytes sent once: a message also planned
        for an earlier mailbox waits for a second round, where it is copied on the
        server from that upload (``_copy_known``; one connection goes in plan order,
        so there the first mailbox's upload is always there before the others)."""
        spool = self.plan.spool
        held = set()
        if spool is not None and self.with_retries(lambda: self._connected().has("UIDPLUS")):
            held = spool.hold_copies()
        try:
            self._run_parallel(groups)
        finally:
            if held:
                spool.release_copies()
        failed = {mailbox for mailbox, _ in self.outcome.failed_folders}  # named once: done
        second = [(mailbox, fplans) for mailbox, fplans in groups if mailbox not in failed
                  and any(f.messages.folder in held for f in fplans)]
        return self._run_parallel(second) if second else self.outcome

    def _run_parallel(self, groups) -> UploadOutcome:
        """Upload several mailboxes at once, each on its own connection and state handle."""
        return self._in_parallel([lambda w, m=m, f=f: w._upload_mailbox(m, f) for m, f in groups])

    def _in_parallel(self, steps) -> UploadOutcome:
        """Run the steps on up to ``connections`` workers, each with its own connection
        and state handle, kept from one step to the next (a profile of 500 folders
        logged in once per folder: 26 of a no-op re-run's 30 seconds).

        The journal protocol is per batch: workers never share one, and each
        resolves only its own after a drop. Every step runs (or fails) before the
        first error is raised; a worker goes on to the next step on a new connection.
        """
        workers: list[Uploader] = []
        self._drop_connection()  # its slot goes to a worker
        waiting = collections.deque(enumerate(steps))  # taken by the workers (popleft: atomic)
        errors: dict[int, BaseException] = {}

        def settled_by_all() -> int:  # the link works if any connection gets mail through
            with merge_lock:
                return self.outcome.settled() + sum(w.outcome.settled() for w in workers)

        def work():
            worker = Uploader(self.connect, State(self.state.path), self.plan, self.options,
                              self.progress, self.sleep)
            worker.rate, worker.started, worker.journaled = self.rate, self.started, self.journaled
            worker.budget, worker.slots = self.budget, self.slots
            worker.validities, worker.sizes = self.validities, self.sizes  # shared
            worker.opened = self.opened
            worker.progress_of = settled_by_all
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
                        worker.with_retries(lambda step=step: step(worker))
                    except BaseException as e:  # noqa: BLE001 - raised once every step ran
                        errors[number] = e
                        worker._drop_connection()  # the next step starts afresh
            finally:
                worker._drop_connection()
                worker.state.close()
                with merge_lock:
                    self.outcome.merge(worker.outcome)
                    workers.remove(worker)  # its count now lives in self.outcome

        merge_lock = threading.Lock()
        count = min(self.options.connections, len(steps))
        with concurrent.futures.ThreadPoolExecutor(max(count, 1)) as pool:
            futures = [pool.submit(work) for _ in range(count)]
        for future in futures:
            future.result()  # a worker's own failure (its state cannot be opened)
        found = [errors[n] for n in sorted(errors)]
        quota = [e for e in found if isinstance(e, QuotaExceeded)]
        if found:
            raise (quota or found)[0]
        return self.outcome

    def verify(self):
        """The end-of-run check: ``verify``'s, confirming by recorded UIDs where it
        can (``verify_plan(quick=True)``), with the same reconnect policy."""
        from migrate.verify import verify_plan
        sizes = {box: n + self.outcome.uploaded[box] for box, n in self.sizes.items()}
        present = self.opened | set(self.validities)  # seen there by this run: not listed
        try:
            return self.with_retries(lambda: verify_plan(self._connected(), self.plan,
                                                         recorded=self.state.recorded,
                                                         quick=True,
                                                         floor=self.state.upload_floor,
                                                         sizes=sizes, present=present))
        finally:
            self._drop_connection()

    def check_stop(self) -> None:
        if self.stop is not None:
            self.stop.check()

    def _upload_mailbox(self, mailbox: str, fplans: list[FolderPlan]) -> None:
        """One mailbox: created even when it gets no mail (the tree is part of the mail).

        A problem of this mailbox alone (a name the server refuses, a mailbox
        it will not open) skips it with its reason; the run goes on.
        """
        self.check_stop()
        try:
            mailbox = self._open_mailbox(mailbox, fplans)
        except MailboxError as e:
            self._fail_folder(mailbox, fplans, str(e))
            return
        self._copy_known(mailbox, fplans)
        todo = sum(f.counts().get(UPLOAD, 0) for f in fplans)
        if todo and self.shards > 1 and todo >= 2 * self.shards:
            size = -(-todo // self.shards)
            refs = (ref for f in fplans for page in f.messages.light(UPLOAD)
                    for ref, _, _ in page)  # refs alone: no message objects
            starts = [ref for i, ref in enumerate(refs) if i % size == 0]
            parts = list(zip(starts, starts[1:] + [float("inf")]))
            self._in_parallel([lambda w, part=part: w._send_shard(mailbox, fplans, part)
                               for part in parts])
        elif todo:
            self._send(mailbox, fplans, self.info)
        self._repair_flags(mailbox, fplans)

    # -- upload once, copy on the server -------------------------------------

    COPY_CHUNK = 500  # UIDs per UID COPY command

    def _copy_known(self, mailbox: str, fplans: list[FolderPlan]) -> None:
        """Place here by UID COPY what the account already holds elsewhere (our upload
        of the same bytes into another mailbox): not sent again, and on Gmail one
        message with several labels that spends the daily budget once.

        A copy is used only where it carries what an APPEND would: the same size
        and date, no flag or keyword the message should not have (missing system
        flags are added by ``_repair_flags``); the rest are APPENDed as usual.
        Each COPY is journaled like an APPEND and recorded by COPYUID (RFC 4315).
        """
        here = self.info
        if here is None or not self.target.has("UIDPLUS"):
            return
        uidnext, copied = here.uidnext, False
        for page in pages(fplans, UPLOAD):
            elsewhere = self.state.uploaded_elsewhere(mailbox, [p.content_hash for p in page])
            by_source: dict[str, list] = collections.defaultdict(list)
            for p in page:
                if p.content_hash in elsewhere:
                    source, validity, uid = elsewhere[p.content_hash]
                    by_source[source].append((p, validity, uid))
            for source, entries in by_source.items():
                copied = True
                uidnext = self._copy_from(source, mailbox, here, entries, uidnext)
                if uidnext is None:
                    break
            if uidnext is None:
                break
        if copied:
            self.info = self.target.select(mailbox)

    def _copy_from(self, source: str, mailbox: str, here: SelectInfo, entries,
                   uidnext: int | None) -> int | None:
        """COPY *entries* (message, UIDVALIDITY, UID in *source*) into *mailbox*; the next
        UID lower bound for the journal, or None to stop copying into this mailbox."""
        target = self.target
        try:
            there = target.examine(source)
        except MailboxError:
            return uidnext  # gone, or will not open: these are APPENDed instead
        entries = [(p, uid) for p, validity, uid in entries if validity == there.uidvalidity]
        info = target.stored_info([uid for _, uid in entries]) if entries else {}
        usable = [(p, uid) for p, uid in entries
                  if uid in info and _carries_the_same(p, info[uid], here.permanent_flags)]
        for i in range(0, len(usable), self.COPY_CHUNK):
            chunk = usable[i:i + self.COPY_CHUNK]
            self.check_stop()
            batch = self.state.begin_batch(mailbox, here.uidvalidity, uidnext,
                                           [p for p, _ in chunk], copied=True)
            self.my_batches.add(batch)
            self.journaled["any"] = True
            # A lost connection raises out of here with the copies in flight; the
            # retried mailbox step resolves them against the server, like an APPEND.
            result = target.copy([uid for _, uid in chunk], mailbox)
            if not result.ok:
                self.state.abandon_batch(batch)  # COPY is all or nothing (RFC 3501)
                self.my_batches.discard(batch)
                if result.over_quota:
                    raise _account_full(mailbox, result)
                if result.throttled:
                    raise _slow_down(result)
                log.warning("the server refused UID COPY into %s (%s); sending those "
                            "messages instead", mailbox, result.text.strip())
                return None
            if result.sources is None:  # OK without COPYUID: found like a crash's batch
                self.info = target.select(mailbox)
                self._resolve_inflight(mailbox, self.info, only={batch}, counted=False)
                placed = self.state.sent_since(mailbox, [p.content_hash for p, _ in chunk],
                                               self.started)
                self._copied(mailbox, [p for p, _ in chunk if p.content_hash in placed])
                return None
            new = dict(zip(result.sources, result.uids))
            rows = {r.content_hash: r.rowid for r in self.state.batch_rows(batch)}
            done = [(p, new[uid]) for p, uid in chunk if uid in new]
            self.state.resolve_batch(batch, {rows[p.content_hash]: uid for p, uid in done},
                                     result.uidvalidity)
            self.my_batches.discard(batch)
            self._copied(mailbox, [p for p, _ in done])
            if result.uids:
                uidnext = max(result.uids) + 1
        return uidnext

    def _copied(self, mailbox: str, placed: list[PlannedMessage]) -> None:
        for p in placed:
            p.action = UPLOADED
            p.save()
            self.outcome.uploaded[mailbox] += 1
            self.outcome.copied[mailbox] += 1
            if self.progress:
                self.progress(p, mailbox)

    def _repair_flags(self, mailbox: str, fplans: list[FolderPlan]) -> None:
        """Add back the flags a server dropped on APPEND (read, answered, flagged, draft,
        and keywords where the mailbox keeps them).

        For our uploads whose flags were not checked yet (this run's, or an earlier
        run's that stopped before its check), by the UIDs the server gave them:
        one FETCH FLAGS per page, a UID STORE +FLAGS where some are missing (a
        flag is only ever added); then they are marked checked in the state.
        """
        selected = self.target is not None and self.target.selected == mailbox
        if not self.state.flags_unchecked(mailbox, self.info.uidvalidity if selected else None):
            return  # all checked: no connection, no round trip, no pass over the plan
        target = self._connected()
        if target.selected != mailbox:
            self.info = target.select(mailbox)
        permanent = self.info.permanent_flags
        for page in pages(fplans, UPLOADED, DONE):
            ours = self.state.flags_unchecked(mailbox, self.info.uidvalidity,
                                              [p.content_hash for p in page])
            if not ours:
                continue
            mine = {ours[p.content_hash]: p for p in page if p.content_hash in ours}
            want = {uid: set(filter_flags(p, permanent)) for uid, p in mine.items()}
            want = {uid: flags for uid, flags in want.items() if flags}
            have = target.flags_of(sorted(want)) if want else {}
            lost: dict[tuple, list[int]] = collections.defaultdict(list)
            for uid, flags in want.items():
                if uid in have and flags - have[uid]:
                    lost[tuple(sorted(flags - have[uid]))].append(uid)
            for flags, uids in lost.items():
                log.info("%s: the server dropped %s of %d messages on APPEND; adding them back",
                         mailbox, " ".join(flags), len(uids))
                if not target.add_flags(uids, flags):
                    self._keywords_not_kept(mailbox, [mine[uid] for uid in uids], flags)
                    flags = tuple(f for f in flags if f.startswith("\\"))
                    if not flags or not target.add_flags(uids, flags):
                        continue
                self.outcome.flags_repaired += len(uids)
            self.state.mark_flags_checked(mailbox, list(ours))

    def _keywords_not_kept(self, mailbox: str, messages, flags: tuple) -> None:
        """The server refused to add *flags* back: name each message once (one sent
        without its keywords because the APPEND refused them is named already)."""
        keywords = " ".join(f for f in flags if not f.startswith("\\"))
        for p in messages:
            if keywords and self.outcome.name_bare(mailbox, p.ref):
                self.outcome.flags_dropped.append(
                    (mailbox, p.location, f"stored without its keywords {keywords}: the "
                     "server dropped them on APPEND and refused to add them back"))

    def _send(self, mailbox: str, fplans: list[FolderPlan], info: SelectInfo,
              part: tuple = EVERY) -> None:
        """Read the folders once more and send their planned messages (with refs in *part*)."""
        sender = _BatchSender(self, mailbox, info)
        for p, data in planned_bytes(fplans, part):
            sender.add(p, data)
        sender.flush()

    def _send_shard(self, mailbox: str, fplans: list[FolderPlan], part: tuple) -> None:
        """One worker's share of a mailbox (other workers send the rest at the same time).

        After a drop it resolves only its own batches: the others' are still being
        sent, not lost. The mailbox is never still while they send, so the wait for
        the server to finish storing is a fixed ``settle_seconds``.
        """
        target = self._connected()
        if self.my_batches & {b for b, _, _ in self.state.inflight_batches(mailbox)}:
            self.sleep(self.options.settle_seconds)
        self.info = target.select(mailbox)
        self._resolve_inflight(mailbox, self.info, only=self.my_batches)
        for page in pages(fplans, UPLOAD, part=part):
            sent = trusted_records(self.state.recorded(mailbox, [p.content_hash for p in page]),
                                   self.info.uidvalidity)
            for p in page:
                if p.content_hash in sent:
                    p.action = UPLOADED  # this run sent it before the drop
                    p.save()
        self._send(mailbox, fplans, self.info, part)

    def _open_mailbox(self, mailbox: str, fplans: list[FolderPlan]) -> str:
        """Create (if needed) and select *mailbox*; settle what earlier runs left. Its name."""
        target = self._connected()
        used = target.ensure_mailbox(mailbox, _special_use(fplans))
        if used != mailbox:
            log.warning("the server refused the name %r; using %r", mailbox, used)
            for f in fplans:
                f.target, f.mapping_note = used, f"server refused {mailbox!r}"
            mailbox = used
        self.opened.add(mailbox)
        if not any(f.counts().get(UPLOAD) for f in fplans) or self._all_done(mailbox, fplans):
            return mailbox
        self._settle(mailbox)
        self.info = target.select(mailbox)
        self.sizes[mailbox] = self.info.exists
        self._resolve_inflight(mailbox, self.info)
        self._mark_known(mailbox, fplans, self.info)
        return mailbox

    def _nothing_to_do(self, mailbox: str, fplans: list[FolderPlan]) -> bool:
        """A re-run's mailbox that exists (its STATUS answered), all of whose messages
        are ours there (``_all_done``) with their flags checked: no worker, login or
        round trip for it."""
        validity = self.validities.get(mailbox)  # (no I/O: the STATUS was asked already)
        return validity is not None and self._all_done(mailbox, fplans) and \
            not self.state.flags_unchecked(mailbox, validity)

    def _all_done(self, mailbox: str, fplans: list[FolderPlan]) -> bool:
        """Mark every message DONE, without opening the mailbox, when our state records
        each one there under the UIDVALIDITY the server gave as the run began (STATUS,
        asked for every mailbox at once) and no batch is in flight: the same trust as
        ``_mark_known``'s, without a SELECT a mailbox (most of a no-op re-run of many
        folders over a WAN). The check at the end of the run lists them all anyway."""
        validity = self.validities.get(mailbox)
        if validity is None or self.state.inflight_batches(mailbox) or not all_recorded(
                fplans, lambda hashes: self.state.recorded(mailbox, hashes), validity):
            return False
        self._mark_known(mailbox, fplans, SelectInfo(validity, None, 0, frozenset()))
        return True

    def _fail_folder(self, mailbox: str, fplans: list[FolderPlan], reason: str) -> None:
        log.error("folder %s skipped: %s", mailbox, reason)
        self.outcome.failed_folders.append((mailbox, reason))
        # the messages held back for the copy round too ("copy", spool.hold_copies): its
        # folder is not used in that round either, and they were counted missing
        for page in pages(fplans, UPLOAD, "copy"):
            for p in page:
                p.action, p.reason = FAILED, f"its folder could not be used: {reason}"
                p.save()

    def _mark_known(self, mailbox: str, fplans: list[FolderPlan], info: SelectInfo) -> None:
        """Mark DONE / PRESENT / REFUSE from the state and the server (reconcile's rule).

        State records are trusted only under the mailbox's current UIDVALIDITY:
        a mailbox deleted and recreated on the server is checked again.
        """
        if self.state.recorded_count(mailbox, info.uidvalidity) < \
                self.state.recorded_count(mailbox):
            log.warning("%s was recreated on the server (new UIDVALIDITY); checking it again",
                        mailbox)

        def ours_now(page):  # sent by this run before a reconnect: not an earlier run's
            sent = self.state.sent_since(mailbox, [p.content_hash for p in page], self.started)
            for p in page:
                if p.content_hash in sent:
                    p.action = UPLOADED
                    p.save()

        apply_server_view(fplans, self.target if info.exists else None,
                          lambda hashes: self.state.recorded(mailbox, hashes),
                          self.target.limits, info.uidvalidity,
                          on_done=ours_now if self.journaled["any"] else None)
        for page in pages(fplans, PRESENT):
            self.state.mark_present(mailbox, page, info.uidvalidity)
        if self.settled is not None:  # this run's work is now known for the mailbox
            self.settled(mailbox, sum(f.counts().get(UPLOAD, 0) for f in fplans),
                         sum(f.bytes_for(UPLOAD) for f in fplans))

    def _settle(self, mailbox: str) -> None:
        """Before in-flight batches are resolved, let the server finish them.

        A connection that dropped (or a process killed) right after the last
        byte of an APPEND leaves the server still storing that batch for a
        moment; looked at too soon, the batch seems lost and would be sent
        twice. So, when batches are in flight, wait until the mailbox's
        UIDNEXT and message count stay the same for ``settle_seconds``.
        """
        if not self.state.inflight_batches(mailbox):
            return
        deadline = time.monotonic() + self.options.settle_max
        last = None
        while True:
            now = self.target.status(mailbox)
            if now == last or time.monotonic() > deadline:
                return
            if last is not None:
                log.info("the server is still storing mail in %s; waiting", mailbox)
            last = now
            self.sleep(self.options.settle_seconds)

    def _resolve_inflight(self, mailbox: str, info: SelectInfo, only: set | None = None,
                          counted: bool = True) -> None:
        """Settle batches a crash or lost connection left in flight (see ``state``);
        what is found counts as resolved unless the caller counts it (*counted*).

        The server's copies from the journaled UIDNEXT on, less those our state
        already accounts for, are matched to the batch by reconcile's rule.
        """
        for batch, uidvalidity, uidnext in self.state.inflight_batches(mailbox):
            if only is not None and batch not in only:
                continue  # another worker's, still on its way
            rows = self.state.batch_rows(batch)
            start = uidnext if (uidvalidity == info.uidvalidity and uidnext) else 1
            known = UidSet(self.state.recorded_uids(mailbox, info.uidvalidity))
            server = fetch_copies(self.target, (u for u in self.target.uids(start)
                                                if u not in known))
            server.expect(rows)
            matches = server.match(rows)
            found = {r.rowid: matches[id(r)].copy.uid for r in rows if id(r) in matches}
            log.info("resolved in-flight batch %s in %s: %d of %d already on the server",
                     batch, mailbox, len(found), len(rows))
            if counted:
                self.outcome.resolved += len(found)
            self.state.resolve_batch(batch, found, info.uidvalidity)
            self.my_batches.discard(batch)


def _same_step(lost_at: set[str]) -> str:
    """Advice when every reconnect lost the connection at the same step (a server
    process that dies there: Dovecot opening a mailbox too big for its memory limit)."""
    if len(lost_at) != 1 or " lost during " not in next(iter(lost_at)):
        return ""
    return (". The connection was lost at the same step every time: the server may be "
            "failing there (its log says why; a very large mailbox can exceed a server's "
            "memory limit, e.g. Dovecot's vsz_limit). Nothing is lost: run the same "
            "command again once the server is fixed")


def planned_bytes(fplans: list[FolderPlan], part: tuple = EVERY):
    """(planned message, its bytes as sent) of the folders' uploads, in source order.

    Where the folder can read a message by its key (mbox), only the planned
    ones are read; otherwise the folder is walked beside the plan, which lists
    its messages in the order the folder yields them. Bytes that are not what
    the plan hashed are never sent (the source changed since)."""
    for f in fplans:
        wanted = (p for page in pages([f], UPLOAD, part=part) for p in page)
        direct = f.folder.direct_reader()
        if hasattr(direct, "stream"):  # an mbox file: big messages go from it to the socket
            yield from _streaming(direct, wanted)
            continue
        for p, data in f.folder.read_keyed(wanted):
            if data is None:
                raise _moved(p)
            data = _as_planned(p, data)  # the bytes as read are let go: held once
            yield p, data
            del data


def _streaming(direct, wanted):
    """(message, bytes) from an mbox file read by key; a message of STREAM_BYTES or more
    (without NUL bytes) as a ``Streamed``, read only while it is sent, checked there."""
    with direct as read:
        for p in wanted:
            if p.size >= STREAM_BYTES and not p.has_nul:
                data = direct.stream(p.key, p.size, p.content_hash, p.location)
            else:
                data = read(p.key)
                data = None if data is None else _as_planned(p, data)
            if data is None:
                raise _moved(p)
            yield p, data
            del data


def _as_planned(p: PlannedMessage, data: bytes) -> bytes:
    data = headers.to_crlf(data)
    if len(data) != p.size or fingerprint.content_hash(data) != p.content_hash:
        raise SourceError(f"{p.location} changed while it was being migrated; "
                          "run the same command again to re-plan")
    return data


def _moved(p: PlannedMessage) -> SourceError:
    return SourceError(f"{p.location} is no longer where the plan found it (the source "
                       "changed while it was being migrated); run the same command again "
                       "to re-plan (with --full-check if it says so again)")


def _account_full(mailbox: str, result) -> QuotaExceeded:
    """A refused APPEND or COPY that says the account is full: a store-level stop."""
    return QuotaExceeded(
        f"the account is full: the server refused more mail in {mailbox!r} "
        f"({result.text.strip()}); everything uploaded so far is kept. Free space "
        "or raise the quota, then run the same command again")


def _slow_down(result) -> Throttled:
    """A throttling answer: the step is retried after the time the server asks for."""
    return Throttled(f"throttled by the server ({result.text.strip()})", result.suggested_delay)


def _carries_the_same(p: PlannedMessage, stored, permanent: frozenset) -> bool:
    """A copy of *stored* gives what APPENDing *p* would: same size and date, and its
    flags and keywords are *p*'s (system flags it lacks are added back afterwards)."""
    want = set(filter_flags(p, permanent))
    have = set(stored.flags) - {"\\Recent"}
    if stored.size != p.size or not have <= want or not (want - have) <= SYSTEM_FLAGS:
        return False
    if p.internaldate is None:
        return True
    return stored.internaldate is not None and \
        abs(stored.internaldate.timestamp() - p.internaldate.timestamp()) < 1


def _special_use(fplans: list[FolderPlan]) -> str | None:
    """What the mailbox of *fplans* is for (RFC 6154), if one of its folders says."""
    return next((f.special_use for f in fplans if f.special_use), None)


class _BatchSender:
    """Collects messages into batches and sends them with the journal protocol.

    With LITERAL+ the batches are pipelined: up to ``pipeline_depth`` APPENDs
    are in flight on the one connection, each journaled before it is sent, and
    their answers are taken in order. A refused batch drains the pipeline and
    is then split synchronously to isolate the refused message.
    """

    def __init__(self, uploader: Uploader, mailbox: str, info: SelectInfo):
        self.up = uploader
        self.mailbox = mailbox
        self.info = info
        self.uidnext = info.uidnext
        self.items: list[tuple[PlannedMessage, bytes]] = []
        self.size = 0
        target = uploader.target
        self.limit = target.batch_limit(uploader.options.batch_messages)
        self.depth = uploader.options.pipeline_depth if target.can_pipeline else 0
        self.pending: collections.deque = collections.deque()  # (tag, batch, items)

    def _stop_now(self) -> None:
        """On a stop request: let the batches already sent finish and be recorded, send
        nothing more (what was still waiting, for a rate cap too, goes in the next run)."""
        if self.up.stop is not None and self.up.stop.is_set():
            while self.pending:
                self._complete_oldest()
            self.up.check_stop()

    def add(self, p: PlannedMessage, data: bytes) -> None:
        self._stop_now()
        if p.has_nul or isinstance(data, Streamed):  # a BINARY literal, or one written
            # from its file as it is sent: alone and synchronously
            self.flush()
            self._send([(p, data)])
            return
        if self.items and (len(self.items) >= self.limit or
                           self.size + len(data) > self.up.options.batch_bytes):
            self._dispatch()
        self.items.append((p, data))
        self.size += len(data)

    def flush(self) -> None:
        self._dispatch()
        while self.pending:
            self._complete_oldest()

    def _append_items(self, items) -> list[AppendItem]:
        # known by ref: by id(), a later message at a freed one's address lost its keywords
        bare = self.up.outcome.bare.get(self.mailbox, ())
        return [AppendItem(d, filter_flags(p, self.info.permanent_flags,
                                           keywords=p.ref not in bare),
                           p.internaldate)
                for p, d in items]

    def _dispatch(self) -> None:
        items, self.items, self.size = self.items, [], 0
        if not items:
            return
        if not self.depth:
            self._send(items)
            return
        batch = self._journal(items)
        started = time.monotonic()
        tag = self.up.target.append_start(self.mailbox, self._append_items(items))
        self.pending.append((tag, batch, items))
        self._waited(time.monotonic() - started, 0)
        if len(self.pending) >= self.depth:
            self._complete_oldest()

    def _journal(self, items) -> int:
        """Before a batch is sent: honour the rate caps, record it in flight (durably)."""
        up = self.up
        self._stop_now()
        size = sum(len(d) for _, d in items)
        if up.budget is not None:
            try:
                up.budget.spend(size)
            except BudgetSpent:  # what is in flight finishes and is recorded first
                while self.pending:
                    self._complete_oldest()
                raise
        up.rate.wait(len(items), size, meanwhile=self._take_answers)
        self._stop_now()  # a stop during the cap's wait never releases the batch at once
        batch = up.state.begin_batch(self.mailbox, self.info.uidvalidity, self.uidnext,
                                     [p for p, _ in items])
        up.my_batches.add(batch)
        up.journaled["any"] = True
        return batch

    def _take_answers(self) -> None:
        """Record every batch in flight (a rate cap's wait: they are answered by then)."""
        while self.pending:
            self._complete_oldest()

    def _complete_oldest(self) -> None:
        tag, batch, items = self.pending.popleft()
        started = time.monotonic()
        result = self.up.target.append_finish(tag)
        if result.ok:
            self._record_ok(batch, result, items)
            self._waited(time.monotonic() - started, sum(len(d) for _, d in items))
            return
        self.up.state.abandon_batch(batch)
        self.up.my_batches.discard(batch)  # batch ids are reused once a batch is gone
        if result.throttled:  # batches still in flight are resolved when the step is retried
            self._throttled(result)
        while self.pending:  # later batches have their answers too: record them first
            self._complete_oldest()
        if result.over_quota:
            self._quota(result)
        self._send(items)  # split to find the refused message(s)

    def _waited(self, seconds: float, size: int) -> None:
        """Time blocked on the server and the bytes it confirmed: a crawl stops the run."""
        if self.up.crawl is not None:
            self.up.crawl.observe(seconds, size)

    def _throttled(self, result) -> None:
        """Not a refusal: the batch is pending again; the mailbox step is retried later."""
        raise _slow_down(result)

    def _record_ok(self, batch: int, result, items) -> None:
        up = self.up
        up.state.finish_batch(batch, result.uidvalidity or self.info.uidvalidity, result.uids)
        up.my_batches.discard(batch)
        self._advance(result.uids)
        for p, d in items:
            p.action = UPLOADED
            p.save()
            up.outcome.uploaded[self.mailbox] += 1
            up.outcome.uploaded_bytes[self.mailbox] += len(d)
            if up.progress:
                up.progress(p, self.mailbox)

    def _quota(self, result) -> None:
        raise _account_full(self.mailbox, result)

    def _send(self, items: list[tuple[PlannedMessage, bytes]]) -> None:
        """Send synchronously; on refusal split until the refused message is alone."""
        up, mailbox = self.up, self.mailbox
        while items:
            batch = self._journal(items)
            # A lost connection raises out of here with the batch still in flight;
            # the retried mailbox step resolves it against the server first.
            started = time.monotonic()
            result = up.target.append_batch(mailbox, self._append_items(items))
            if result.ok:
                self._record_ok(batch, result, items)
                self._waited(time.monotonic() - started, sum(len(d) for _, d in items))
                return
            up.state.abandon_batch(batch)
            up.my_batches.discard(batch)
            if result.over_quota:
                self._quota(result)
            if result.throttled:
                self._throttled(result)
            if len(items) == 1:
                p = items[0][0]
                if self._keywords_refused(p):
                    up.outcome.flags_dropped.append(
                        (mailbox, p.location, f"sent without its keywords "
                         f"{' '.join(sorted(p.keywords))}: the server refused them "
                         f"({result.text.strip()})"))
                    continue  # the same message again, without keywords
                reason = f"server refused: {result.text.strip()}"
                up.state.record_failed(mailbox, p, reason)
                up.outcome.add_failed(mailbox, p.location, reason)
                p.action, p.reason = FAILED, reason
                p.save()
                return
            half = len(items) // 2
            self._send(items[:half])
            items = items[half:]

    def _keywords_refused(self, p: PlannedMessage) -> bool:
        """True if *p* was sent with keywords: the caller names it and sends it once more
        without (``UploadOutcome.bare`` says so from then on, for every later attempt).

        A message is never lost because of a flag; which flags were dropped is
        reported (UploadOutcome.flags_dropped).
        """
        sent = filter_flags(p, self.info.permanent_flags,
                            keywords=p.ref not in self.up.outcome.bare.get(self.mailbox, ()))
        if not any(not f.startswith("\\") for f in sent):
            return False
        return self.up.outcome.name_bare(self.mailbox, p.ref)

    def _advance(self, uids: list[int] | None) -> None:
        """Tighten the UID lower bound for the next batch's journal entry."""
        if uids:
            self.uidnext = max(uids) + 1
        elif not self.pending and not self.depth:
            highest = self.up.target.max_uid()
            self.uidnext = (highest + 1) if highest else self.uidnext
