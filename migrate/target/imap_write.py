"""Writing, for ``IMAPTarget``: APPEND (MULTIAPPEND, pipelined with LITERAL+, BINARY
literal8, streamed from the file), UID COPY, and flags added (never removed)."""

from __future__ import annotations

import imaplib
import logging
import re
import socket
from typing import cast

import imapclient
from imapclient.exceptions import IMAPClientError

from migrate.errors import SourceError
from migrate.sources.stream import Streamed
from migrate.target.base import AppendItem, AppendResult, uid_set
from migrate.target.connected import Connected
from migrate.target.failures import connection_guard, lost, lost_connection
from migrate.target.responses import parse_append_response, parse_copy_response, server_words

log = logging.getLogger(__name__)


class Writing(Connected):
    """Part of ``IMAPTarget``."""

    @connection_guard
    def add_flags(self, uids: list[int], flags: tuple[str, ...]) -> bool:
        """UID STORE +FLAGS.SILENT: add *flags* to messages we uploaded (never removes).
        False when the server refuses (a keyword it will not keep)."""
        if uids and flags:
            try:
                self.client.add_flags(uids, list(flags), silent=True)
            except IMAPClientError as e:
                if lost_connection(e):
                    raise
                log.info("the server refused to add %s: %s", " ".join(flags), e)
                return False
        return True

    @connection_guard
    def copy(self, uids: list[int], mailbox: str) -> AppendResult:
        """UID COPY *uids* (selected mailbox) into *mailbox*; COPYUID parsed.

        A refusal comes back as a result; a lost connection raises ConnectionFailed
        and leaves the outcome unknown (the caller journaled the copies)."""
        return parse_copy_response(*self.wire.uid_copy(uid_set(uids), mailbox))

    def append_batch(self, mailbox: str, items: list[AppendItem]) -> AppendResult:
        """APPEND *items* (at most ``batch_limit``) to *mailbox* and wait for the answer.

        A refusal comes back as a result (not an exception); connection errors
        raise ConnectionFailed and leave the outcome unknown.
        """
        if len(items) > self.batch_limit(len(items)):
            raise ValueError("more messages than one APPEND may carry here (see batch_limit)")
        try:
            if len(items) == 1 and isinstance(items[0].data, Streamed):
                return self._append_streamed(mailbox, items[0])
            if len(items) == 1 and b"\x00" in items[0].data:
                return self._append_binary(mailbox, items[0])
            if len(items) > 1 and self.has("MULTIAPPEND"):
                msgs = [append_dict(item) for item in items]
                typ, data = self.client.multiappend(mailbox, msgs)
                return parse_append_response(typ, data)
            return self._append_one(mailbox, items[0])
        except (OSError, socket.timeout, IMAPClientError, imaplib.IMAP4.error) as e:
            if not lost_connection(e):
                return AppendResult(ok=False, text=server_words(e).decode("utf-8", "replace"))
            raise lost(f"connection lost during APPEND to {mailbox!r}: "
                       f"{type(e).__name__}: {e}") from None

    def batch_limit(self, wanted: int) -> int:
        """Messages one APPEND may carry: *wanted* with MULTIAPPEND (RFC 3502), else 1."""
        return wanted if self.has("MULTIAPPEND") else 1

    @property
    def can_pipeline(self) -> bool:
        """Several APPENDs may be in flight: LITERAL+ removes the wait for '+'."""
        return self.has("LITERAL+")

    @connection_guard
    def append_start(self, mailbox: str, items: list[AppendItem]) -> bytes:
        """Send one (MULTI)APPEND without waiting for its answer; returns its tag.

        Needs LITERAL+ (``can_pipeline``); several items need MULTIAPPEND.
        Collect the answer with :meth:`append_finish`, in the order sent.
        """
        def writes(head: bytes) -> list[bytes]:
            parts = [head]
            for item in items:
                parts += (append_args(item) + b" {%d+}\r\n" % len(item.data), item.data)
            parts.append(b"\r\n")
            if sum(map(len, parts)) < BIG_MESSAGE:  # small: one write (the join copies once)
                return [b"".join(parts)]
            return coalesced(parts)  # a big message goes as it is: never a second copy

        return self.wire.append_start(mailbox, writes)

    @connection_guard
    def append_finish(self, tag: bytes) -> AppendResult:
        """The server's answer to the APPEND sent with *tag* (BAD counts as a refusal)."""
        return parse_append_response(*self.wire.append_answer(tag))

    def _append_binary(self, mailbox: str, item: AppendItem) -> AppendResult:
        """APPEND with a BINARY literal8 (RFC 3516), for a message containing NUL bytes.

        imapclient has no literal8; the command is written on its connection,
        waiting for the continuation as a synchronising literal requires.
        """
        tag, refused = self.wire.append_literal(mailbox, append_args(item), len(item.data),
                                                b"~")
        if refused is not None:
            return parse_append_response(*refused)
        self.wire.send(item.data + b"\r\n")
        return parse_append_response(*self.wire.answer("APPEND", tag))

    def _append_streamed(self, mailbox: str, item: AppendItem) -> AppendResult:
        """APPEND a big message written from its file as it is read (``Streamed``): a
        synchronising literal (every server), its pieces checked against the plan as
        they go; the command is ended only when all were the plan's bytes. Otherwise
        the connection is dropped mid-literal, so the server stores nothing, and the
        SourceError says the source changed."""
        wire = self.wire
        tag, refused = wire.append_literal(mailbox, append_args(item), len(item.data))
        if refused is not None:
            return parse_append_response(*refused)
        try:
            for piece in cast(Streamed, item.data).checked():
                wire.send(piece)
        except SourceError:
            wire.shutdown()  # the literal is never completed: nothing is stored
            self.client = self.wire = None  # type: ignore[assignment]  # dropped
            raise
        wire.send(b"\r\n")
        return parse_append_response(*wire.answer("APPEND", tag))

    def _append_one(self, mailbox: str, item: AppendItem) -> AppendResult:
        try:
            text = self.client.append(mailbox, item.data, flags=item.flags,
                                      msg_time=item.internaldate)
        except IMAPClientError as e:
            if lost_connection(e):
                raise
            message = server_words(e)
            inner = re.search(rb"\[[A-Z-]+.*", message)
            return parse_append_response("NO", [inner.group(0) if inner else message])
        return parse_append_response("OK", [text])


BIG_MESSAGE = 8 << 20  # an APPEND this big is written in parts, not joined first


def coalesced(parts: list[bytes]) -> list[bytes]:
    """*parts* with the small ones next to each other joined: few writes, and no big
    part copied."""
    out: list[bytes] = []
    small: list[bytes] = []
    for part in parts:
        if len(part) < BIG_MESSAGE:
            small.append(part)
            continue
        if small:
            out.append(b"".join(small))
            small = []
        out.append(part)
    if small:
        out.append(b"".join(small))
    return out


def append_args(item: AppendItem) -> bytes:
    """ the ' (flags) "date"' part of an APPEND, for one message."""
    out = b""
    if item.flags:
        out += b" " + imapclient.imapclient.seq_to_parenstr(item.flags).encode()
    if item.internaldate is not None:
        out += b' "' + imapclient.imapclient.datetime_to_INTERNALDATE(
            item.internaldate).encode() + b'"'
    return out


def append_dict(item: AppendItem) -> dict:
    d: dict[str, object] = {"msg": item.data, "flags": item.flags}
    if item.internaldate is not None:
        d["date"] = item.internaldate
    return d
