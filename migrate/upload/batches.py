"""Batches: messages collected into APPENDs and sent with the journal protocol (each
journaled before it is sent, recorded when the server answers), pipelined where the
server takes LITERAL+, split where it refuses one."""

from __future__ import annotations

import collections
import time

from migrate.budget import BudgetSpent
from migrate.plan import FAILED, PlannedMessage
from migrate.sources.stream import Streamed
from migrate.target.base import AppendItem, SelectInfo
from migrate.upload.answers import account_full, slow_down
from migrate.upload.flag_repair import filter_flags
from migrate.upload.worker import Worker


class BatchSender:
    """Collects messages into batches and sends them with the journal protocol.

    With LITERAL+ the batches are pipelined: up to ``pipeline_depth`` APPENDs
    are in flight on the one connection, each journaled before it is sent, and
    their answers are taken in order. A refused batch drains the pipeline and
    is then split synchronously to isolate the refused message.
    """

    def __init__(self, w: Worker, mailbox: str, info: SelectInfo):
        self.w = w
        self.mailbox = mailbox
        self.info = info
        self.uidnext = info.uidnext
        self.items: list[tuple[PlannedMessage, bytes]] = []
        self.size = 0
        target, options = w.target, w.ctx.options
        self.limit = target.batch_limit(options.batch_messages)
        self.depth = options.pipeline_depth if target.can_pipeline else 0
        self.pending: collections.deque = collections.deque()  # (tag, batch, items)

    def _stop_now(self) -> None:
        """On a stop request: let the batches already sent finish and be recorded, send
        nothing more (what was still waiting, for a rate cap too, goes in the next run)."""
        stop = self.w.ctx.stop
        if stop is not None and stop.is_set():
            while self.pending:
                self._complete_oldest()
            self.w.check_stop()

    def add(self, p: PlannedMessage, data: bytes) -> None:
        self._stop_now()
        if p.has_nul or isinstance(data, Streamed):  # a BINARY literal, or one written
            # from its file as it is sent: alone and synchronously
            self.flush()
            self._send([(p, data)])
            return
        if self.items and (len(self.items) >= self.limit or
                           self.size + len(data) > self.w.ctx.options.batch_bytes):
            self._dispatch()
        self.items.append((p, data))
        self.size += len(data)

    def flush(self) -> None:
        self._dispatch()
        while self.pending:
            self._complete_oldest()

    def _append_items(self, items) -> list[AppendItem]:
        # known by ref: by id(), a later message at a freed one's address lost its keywords
        bare = self.w.outcome.bare.get(self.mailbox, ())
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
        tag = self.w.target.append_start(self.mailbox, self._append_items(items))
        self.pending.append((tag, batch, items))
        self._waited(time.monotonic() - started, 0)
        if len(self.pending) >= self.depth:
            self._complete_oldest()

    def _journal(self, items) -> int:
        """Before a batch is sent: honour the rate caps, record it in flight (durably)."""
        w = self.w
        self._stop_now()
        size = sum(len(d) for _, d in items)
        if w.ctx.budget is not None:
            try:
                w.ctx.budget.spend(size)
            except BudgetSpent:  # what is in flight finishes and is recorded first
                while self.pending:
                    self._complete_oldest()
                raise
        w.ctx.rate.wait(len(items), size, meanwhile=self._take_answers)
        self._stop_now()  # a stop during the cap's wait never releases the batch at once
        return w.journal(self.mailbox, self.info.uidvalidity, self.uidnext,
                         [p for p, _ in items])

    def _take_answers(self) -> None:
        """Record every batch in flight (a rate cap's wait: they are answered by then)."""
        while self.pending:
            self._complete_oldest()

    def _complete_oldest(self) -> None:
        tag, batch, items = self.pending.popleft()
        started = time.monotonic()
        result = self.w.target.append_finish(tag)
        if result.ok:
            self._record_ok(batch, result, items)
            self._waited(time.monotonic() - started, sum(len(d) for _, d in items))
            return
        self.w.abandon(batch)
        if result.throttled:  # batches still in flight are resolved when the step is retried
            self._throttled(result)
        while self.pending:  # later batches have their answers too: record them first
            self._complete_oldest()
        if result.over_quota:
            self._quota(result)
        self._send(items)  # split to find the refused message(s)

    def _waited(self, seconds: float, size: int) -> None:
        """Time blocked on the server and the bytes it confirmed: a crawl stops the run."""
        crawl = self.w.keeper.crawl
        if crawl is not None:
            crawl.observe(seconds, size)

    def _throttled(self, result) -> None:
        """Not a refusal: the batch is pending again; the mailbox step is retried later."""
        raise slow_down(result)

    def _record_ok(self, batch: int, result, items) -> None:
        w = self.w
        w.state.finish_batch(batch, result.uidvalidity or self.info.uidvalidity, result.uids)
        w.my_batches.discard(batch)
        self._advance(result.uids)
        for p, d in items:
            w.placed(self.mailbox, p, len(d))

    def _quota(self, result) -> None:
        raise account_full(self.mailbox, result)

    def _send(self, items: list[tuple[PlannedMessage, bytes]]) -> None:
        """Send synchronously; on refusal split until the refused message is alone."""
        w, mailbox = self.w, self.mailbox
        while items:
            batch = self._journal(items)
            # A lost connection raises out of here with the batch still in flight;
            # the retried mailbox step resolves it against the server first.
            started = time.monotonic()
            result = w.target.append_batch(mailbox, self._append_items(items))
            if result.ok:
                self._record_ok(batch, result, items)
                self._waited(time.monotonic() - started, sum(len(d) for _, d in items))
                return
            w.abandon(batch)
            if result.over_quota:
                self._quota(result)
            if result.throttled:
                self._throttled(result)
            if len(items) == 1:
                p = items[0][0]
                if self._keywords_refused(p):
                    w.outcome.flags_dropped.append(
                        (mailbox, p.location, f"sent without its keywords "
                         f"{' '.join(sorted(p.keywords))}: the server refused them "
                         f"({result.text.strip()})"))
                    continue  # the same message again, without keywords
                reason = f"server refused: {result.text.strip()}"
                w.state.record_failed(mailbox, p, reason)
                w.outcome.add_failed(mailbox, p.location, reason)
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
                            keywords=p.ref not in self.w.outcome.bare.get(self.mailbox, ()))
        if not any(not f.startswith("\\") for f in sent):
            return False
        return self.w.outcome.name_bare(self.mailbox, p.ref)

    def _advance(self, uids: list[int] | None) -> None:
        """Tighten the UID lower bound for the next batch's journal entry."""
        if uids:
            self.uidnext = max(uids) + 1
        elif not self.pending and not self.depth:
            highest = self.w.target.max_uid()
            self.uidnext = (highest + 1) if highest else self.uidnext
