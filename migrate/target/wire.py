"""imaplib's and imapclient's internals, for one connection: the only module that uses
them (with ``guard``, which wraps imaplib's reading).

imapclient waits for each command's answer before the next; a migration over a
WAN cannot (a round trip a mailbox, a message, a SUBSCRIBE). What is pipelined
(RFC 3501 5.5: STATUS, EXAMINE and UID SEARCH of many mailboxes in one write,
APPENDs in flight with LITERAL+, a literal8 for BINARY, a message written from its
file as it is sent, a probe of the send rate) is written here on imaplib's
connection, with imaplib's own tags, so its bookkeeping stays right for
imapclient's next command. Names say what each does for the target, not how
imaplib calls it.
"""

from __future__ import annotations

import contextlib
import imaplib

import imapclient
from imapclient.exceptions import LoginError

from migrate.target.failures import lost_connection
from migrate.target.responses import server_words


class Wire:
    def __init__(self, client: imapclient.IMAPClient):
        self.client = client
        self.imap = client._imap
        self.unawaited: list[bytes] = []  # tags of commands sent by ``unanswered``

    # -- the pieces --------------------------------------------------------

    def quiet(self) -> None:
        """No protocol trace: imaplib formats each line for a log that drops it."""
        self.imap.debug = 0

    def quote(self, name: str) -> bytes:
        """A mailbox name as the connection sends it (modified UTF-7, quoted)."""
        return self.client._normalise_folder(name)

    def send(self, data: bytes) -> None:
        self.imap.send(data)

    def new_tag(self) -> bytes:
        return self.imap._new_tag()

    def answer(self, name: str, tag: bytes):
        """(typ, data) of the command sent with *tag* (imaplib raises on BAD)."""
        return self.imap._command_complete(name, tag)

    def simple(self, *args):
        """Send a command and wait for its (typ, data)."""
        return self.imap._simple_command(*args)

    def shutdown(self) -> None:
        """Drop the connection mid-command: a literal never completed stores nothing."""
        with contextlib.suppress(OSError):
            self.imap.shutdown()

    # -- commands imapclient does not send as needed ---------------------------

    def quota_answers(self) -> tuple[str, list]:
        """GETQUOTAROOT INBOX: (typ, the QUOTA answers); imapclient's parser fails on
        a root with no limits."""
        typ, _ = self.simple("GETQUOTAROOT", "INBOX")
        self.imap.untagged_responses.pop("QUOTAROOT", None)
        return typ, self.imap.untagged_responses.pop("QUOTA", [])

    def probes(self, lines: list[bytes]) -> bool:
        """Send *lines* (whole commands without their tags) in one go, then take their
        answers: True if every one was OK."""
        tags = []
        for line in lines:
            tag = self.new_tag()
            tags.append(tag)
            self.send(tag + b" " + line)
        ok = True
        for tag in tags:
            typ, _ = self.answer("SEARCH", tag)
            ok = ok and typ == "OK"
        self.imap.untagged_responses.pop("SEARCH", None)
        return ok

    def list_mailboxes(self, pattern: str) -> list:
        """LIST "" *pattern*: the raw answers (``list_response`` reads any name)."""
        typ, data = self.simple("LIST", b'""', self.quote(pattern))
        self.client._checkok("list", typ, data)
        _, data = self.imap._untagged_response(typ, data, "LIST")
        return data

    def fetch(self, uids: bytes, items: str) -> list:
        """UID FETCH: the raw answers (read by ``fetch_response``)."""
        tag = self.imap._command("UID", "FETCH", uids, items)
        typ, data = self.answer("FETCH", tag)
        self.client._checkok("fetch", typ, data)
        _, data = self.imap._untagged_response(typ, data, "FETCH")
        return data

    def uid_copy(self, uids: bytes, mailbox: str):
        """UID COPY: (typ, data) with the tagged text (imapclient's copy() drops
        COPYUID); a BAD is a refusal, its words kept."""
        try:
            return self.simple("UID", "COPY", uids, self.quote(mailbox))
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:  # BAD
            return "BAD", [server_words(e)]

    def login_literal(self, user: bytes, password: bytes) -> None:
        """LOGIN with the password as a literal: UTF-8 bytes imaplib would not send."""
        self.imap.literal = password
        try:
            typ, data = self.simple("LOGIN", user)
        except imaplib.IMAP4.error as e:
            raise LoginError(str(e)) from None
        if typ != "OK":
            raise LoginError(str(data))
        self.imap.state = "AUTH"

    def logout_quietly(self) -> None:
        """LOGOUT; when every command was answered, without waiting for the server's BYE
        (a round trip at the end of every command): nothing of ours is left to answer."""
        imap, client = self.imap, self.client
        if not imap.tagged_commands:
            try:
                imap.send(imap._new_tag() + b" LOGOUT\r\n")
            except Exception:  # noqa: BLE001 - the connection is going away either way
                pass
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection is going away either way
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass

    # -- not waiting for an answer -------------------------------------------

    def unanswered(self, command: bytes, name: str) -> None:
        """Send *command* for mailbox *name* without waiting for its answer (a round
        trip a new mailbox): imaplib files it on the way to the next command's answer
        and ``forget_answered`` drops it. For commands whose refusal changes nothing."""
        tag = self.new_tag()
        self.send(tag + b" " + command + b" " + self.quote(name) + b"\r\n")
        self.unawaited.append(tag)

    def forget_answered(self) -> None:
        tagged = self.imap.tagged_commands
        for tag in self.unawaited:
            if tagged.get(tag) is not None:
                del tagged[tag]
        self.unawaited = [tag for tag in self.unawaited if tag in tagged]

    def pipelined(self, commands: list[tuple[str, list[bytes]]]) -> list[tuple[bool, list]]:
        """Send each mailbox's commands (``%s``: its name), all in one write; for each
        mailbox (every command answered OK, the untagged data of each command)."""
        imap = self.imap
        sent, lines = [], []
        for name, templates in commands:
            quoted = self.quote(name)
            tags = [self.new_tag() for _ in templates]
            lines += [tag + b" " + (t % quoted if b"%s" in t else t) + b"\r\n"
                      for tag, t in zip(tags, templates)]
            sent.append(tags)
        if not sent:
            return []
        imap.untagged_responses = {}  # what came before is no answer of ours
        imap.send(b"".join(lines))
        out = []
        for tags in sent:
            ok, answers = True, []
            for tag in tags:
                try:
                    typ, _ = self.answer("LOOK", tag)
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as e:  # BAD: this command only
                    if lost_connection(e):
                        raise
                    typ = "BAD"
                ok = ok and typ == "OK"
                answers.append(imap.untagged_responses)
                imap.untagged_responses = {}
            out.append((ok, answers))
        return out

    def examined(self, ok: bool) -> None:
        """imaplib's view of the connection after pipelined EXAMINEs: the last one
        selected read-only, or (refused) none selected."""
        self.imap.state = "SELECTED" if ok else "AUTH"
        self.imap.is_readonly = True

    # -- APPEND without imapclient ---------------------------------------------

    def append_start(self, mailbox: str, writes) -> bytes:
        """Start an APPEND to *mailbox* without waiting for its answer; its tag.
        *writes(head)* gives what to write, the command's head (tag, APPEND, name)
        first: the caller decides how the message's bytes are joined or not."""
        tag = self.new_tag()
        for chunk in writes(tag + b" APPEND " + self.quote(mailbox)):
            self.send(chunk)
        return tag

    def append_answer(self, tag: bytes):
        """(typ, data) of the APPEND sent with *tag*; a BAD is a refusal, its words kept."""
        try:
            return self.answer("APPEND", tag)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            return "BAD", [server_words(e)]

    def append_literal(self, mailbox: str, args: bytes, size: int, binary: bytes = b""):
        """Send an APPEND's line up to its synchronising literal (*binary* b"~": a
        literal8) and wait for the server's "go ahead": (tag, None), or (tag, its
        (typ, data)) when it refused before the literal."""
        imap = self.imap
        tag = self.new_tag()
        self.send(tag + b" APPEND " + self.quote(mailbox) + args + b" " + binary +
                  b"{%d}\r\n" % size)
        while imap._get_response():  # wait for "+", or the tagged refusal
            if imap.tagged_commands.get(tag):
                return tag, imap.tagged_commands.pop(tag)
        return tag, None
