"""Progress for people: tqdm bars on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time

from migrate.plan import UPLOAD, Plan

log = logging.getLogger("migrate")
LOG_EVERY = 30.0  # seconds between log lines when not on a TTY


class Progress:
    """Count uploaded messages and bytes against the plan's totals."""

    def __init__(self, plan: Plan, stream=None, progress_file=None):
        self.plan = plan
        self.total_msgs = plan.totals().get(UPLOAD, 0)
        self.total_bytes = sum(f.bytes_for(UPLOAD) for f in plan.folders)
        self.stream = stream or sys.stderr
        self.done_msgs = self.done_bytes = 0
        self.started = time.monotonic()
        self.last_log = self.started
        self.bar = None
        self.per_mailbox: dict[str | None, int] = {f.target: 0 for f in plan.folders}
        self.mailbox_bytes = {f.target: 0 for f in plan.folders}
        for f in plan.folders:
            self.per_mailbox[f.target] += f.counts().get(UPLOAD, 0)
            self.mailbox_bytes[f.target] += f.bytes_for(UPLOAD)
        self.done_in: dict[str | None, tuple[int, int]] = {}  # mailbox -> (messages, bytes)
        self.mailbox: str | None = None
        self.mailbox_done = 0
        self.lock = threading.Lock()
        self.progress_file = progress_file  # the jobs runner reads it for its live lines
        self.last_file = 0.0
        self._write_file()

    def __enter__(self):
        if self.stream.isatty() and self.total_msgs:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total_bytes, unit="B", unit_scale=True,
                            desc="uploading", file=self.stream, smoothing=0.1)
        return self

    def __exit__(self, *exc):
        self._write_file(final=True)
        if self.bar is not None:
            self.bar.close()
        elapsed = time.monotonic() - self.started
        if self.done_msgs:
            log.info("uploaded %d messages, %.1f MB in %.0fs", self.done_msgs,
                     self.done_bytes / 1e6, elapsed)

    def settle(self, mailbox: str, messages: int, size: int) -> None:
        """The upload looked at *mailbox* on the server: *messages* (*size* bytes) are still
        to send there; what the plan counted but earlier runs or the server already hold
        leaves the totals, so they count this run's work only."""
        with self.lock:
            sent, sent_bytes = self.done_in.get(mailbox, (0, 0))
            new, new_bytes = sent + messages, sent_bytes + size
            self.total_msgs += new - self.per_mailbox.get(mailbox, 0)
            self.total_bytes += new_bytes - self.mailbox_bytes.get(mailbox, 0)
            self.per_mailbox[mailbox], self.mailbox_bytes[mailbox] = new, new_bytes
            if self.bar is not None:
                self.bar.total = self.total_bytes
                self.bar.refresh()
            self._write_file(force=True)

    def message_done(self, p, mailbox: str | None = None) -> None:
        with self.lock:  # called from several connections in a parallel run
            self._message_done(p, mailbox)

    def _write_file(self, final: bool = False, force: bool = False) -> None:
        """Numbers for the jobs runner and an RMM, at most once a second (atomic
        replace): this run's messages and bytes confirmed by the server, of this run's
        work, the time so far, the rate and the time left at that rate."""
        if self.progress_file is None:
            return
        now = time.monotonic()
        if not (final or force) and now - self.last_file < 1 and self.done_msgs:
            return
        self.last_file = now
        elapsed = max(now - self.started, 1e-9)
        of = self.total_msgs
        if final:  # what earlier runs did is not this run's work
            of = self.done_msgs + self.plan.totals().get(UPLOAD, 0)
        rate = self.done_bytes / elapsed
        left = max(self.total_bytes - self.done_bytes, 0)
        data = {"messages": self.done_msgs, "of_messages": of,
                "bytes": self.done_bytes, "of_bytes": self.total_bytes,
                "messages_per_second": round(self.done_msgs / elapsed, 2),
                "bytes_per_second": round(rate), "elapsed_seconds": round(elapsed, 1),
                "seconds_left": round(left / rate) if rate and not final else None,
                "finished": final}
        tmp = self.progress_file.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.progress_file)
        except OSError:
            pass  # progress is a convenience; the run goes on

    def _message_done(self, p, mailbox: str | None) -> None:
        self.done_msgs += 1
        self.done_bytes += p.size
        sent, sent_bytes = self.done_in.get(mailbox, (0, 0))
        self.done_in[mailbox] = (sent + 1, sent_bytes + p.size)  # what ``settle`` keeps
        self._write_file()
        if mailbox != self.mailbox:
            self.mailbox, self.mailbox_done = mailbox, 0
            if self.bar is not None:
                self.bar.set_description(f"uploading {mailbox}")
            else:
                log.info("uploading into %s (%d messages)", mailbox,
                         self.per_mailbox.get(mailbox, 0))
        self.mailbox_done += 1
        if self.bar is not None:
            self.bar.update(p.size)
            self.bar.set_postfix_str(
                f"{self.mailbox_done}/{self.per_mailbox.get(mailbox, 0)} here, "
                f"{self.done_msgs}/{self.total_msgs} in all", refresh=False)
            return
        now = time.monotonic()
        if now - self.last_log >= LOG_EVERY:
            self.last_log = now
            rate = self.done_msgs / max(now - self.started, 1e-9)
            left = (self.total_msgs - self.done_msgs) / rate if rate else 0
            log.info("progress: %d/%d messages, %.1f/%.1f MB, %.1f msg/s, about %.0f min left",
                     self.done_msgs, self.total_msgs, self.done_bytes / 1e6,
                     self.total_bytes / 1e6, rate, left / 60)


@contextlib.contextmanager
def byte_bar(total: int, desc: str, stream=None):
    """A bytes progress bar on a terminal (yields its update function), else None."""
    stream = stream or sys.stderr
    if not stream.isatty() or not total:
        yield None
        return
    from tqdm import tqdm
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, file=stream) as bar:
        yield bar.update
