"""The account's mailbox tree, for ``IMAPTarget``: the layout read at login (NAMESPACE
and LIST in one round trip), mailboxes made sure of (CREATE and SUBSCRIBE pipelined,
a refused name's fallback), and which exist."""

from __future__ import annotations

from imapclient.exceptions import IMAPClientError
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response
from imapclient.util import to_unicode

from migrate.errors import MailboxError
from migrate.target.base import ServerLayout, fallback_name
from migrate.target.connected import Connected
from migrate.target.failures import connection_guard, lost_connection
from migrate.target.list_response import ListParseError, parse_list
from migrate.target.responses import SPECIAL_USE, decode_atom, holds_mail, mailbox_name, said


class MailboxTree(Connected):
    """Part of ``IMAPTarget``."""

    def _namespace_and_list(self) -> tuple[tuple | None, list]:
        """NAMESPACE (where the server has it) and LIST "" "*" in one round trip: the
        personal namespace's (prefix, delimiter) or None, and imapclient's folder list.
        Refused, each is asked again alone (its error raised as imapclient raises it)."""
        commands = ([b"NAMESPACE"] if self.has("NAMESPACE") else []) + [b'LIST "" "*"']
        [(ok, answers)] = self.wire.pipelined([("", commands)])
        if ok:
            try:
                return self._personal(answers[0]) if len(commands) == 2 else None, \
                    self._folders(answers[-1].get("LIST", []))
            except (IMAPClientError, ValueError, TypeError, IndexError):
                pass  # a shape not expected: asked alone, imapclient says what it is
        personal = self.client.namespace().personal if self.has("NAMESPACE") else None
        return (personal[0] if personal else None), self._list("*")

    def _folders(self, data: list) -> list[tuple[tuple, bytes | None, str]]:
        """imapclient's (flags, delimiter, name) of LIST answers, read by
        ``list_response`` (any name a server sends; imapclient's parser refused some)."""
        out = []
        for flags, delimiter, raw in parse_list(data):
            name = mailbox_name(raw) if self.client.folder_encode else \
                raw.decode("utf-8", "surrogateescape")  # (never: folder_encode is on)
            out.append((flags, delimiter, name))
        return out

    def _list(self, pattern: str) -> list[tuple[tuple, bytes | None, str]]:
        """LIST "" *pattern*, read by ``list_response``."""
        data = self.wire.list_mailboxes(pattern)
        try:
            return self._folders(data)
        except ListParseError as e:
            raise MailboxError(f"{self.config.address} sent a list of mailboxes this tool "
                               f"cannot read ({said(e)}); report it with the server's "
                               "name and version") from None

    def _personal(self, answer: dict) -> tuple | None:
        """The personal namespace's (prefix, delimiter) in a NAMESPACE answer (personal,
        other users', shared), read as imapclient.namespace() reads it."""
        found = parse_response([line for line in answer.get("NAMESPACE", []) if line is not None])
        if not (found and found[0]):
            return None
        prefix, separator = found[0][0]
        return (decode_utf7(prefix) if self.client.folder_encode else prefix,
                to_unicode(separator))

    def _read_layout(self) -> ServerLayout:
        prefix, delimiter = "", "/"
        personal, folders = self._namespace_and_list()
        if personal:
            prefix, delimiter = personal[0] or "", personal[1] or "/"
        if folders and not self.has("NAMESPACE"):
            delimiter = decode_atom(folders[0][1]) or "/"
        self.listed = {name for flags, _, name in folders if holds_mail(flags)}
        special = {}
        for flags, _, name in folders:
            for flag in flags:
                use = decode_atom(flag)
                if use in SPECIAL_USE and use not in special:
                    special[use] = name
        return ServerLayout(prefix=prefix, delimiter=delimiter, special_use=special,
                            existing=frozenset(name for _, _, name in folders),
                            reserved=self.provider.reserved,
                            refused_first=self.provider.refused_first)

    @connection_guard
    def create_mailboxes(self, wanted: list[tuple[str, str | None]]) -> None:
        """CREATE and SUBSCRIBE, pipelined (RFC 3501 5.5; LOOK_WINDOW mailboxes a write),
        of those of *wanted* the LIST made at login did not show: each one created is
        then taken as there by ``ensure_mailbox``. The others (refused, a name that
        cannot be sent) are left to it, as before: it creates, falls back or names."""
        todo = []
        for name, use in wanted:
            if name.upper() == "INBOX" or name in self.listed:
                continue
            try:
                self.wire.quote(name)
            except (UnicodeError, ValueError):
                continue
            create = b"CREATE %s"
            if use and self.has("CREATE-SPECIAL-USE"):
                create += b" (USE (%s))" % use.encode()
            todo.append((name, [create, b"SUBSCRIBE %s"]))
        for start in range(0, len(todo), self.LOOK_WINDOW):
            window = todo[start:start + self.LOOK_WINDOW]
            for (name, _), (ok, _) in zip(window, self.wire.pipelined(window)):
                if ok:
                    self.listed.add(name)

    @connection_guard
    def ensure_mailbox(self, name: str, special_use: str | None = None) -> str:
        """Create *name* (and subscribe it) unless it exists; return the name used.

        With *special_use* and CREATE-SPECIAL-USE (RFC 6154) the server is told
        what the folder is for. If the server refuses the name, its
        ``fallback_name`` is used instead.
        """
        try:
            self.wire.quote(name)
        except (UnicodeError, ValueError) as e:
            raise MailboxError(f"the name {name!r} cannot be sent to the server ({e}); map "
                               "the folder to another name with --map") from None
        if name.upper() == "INBOX" or name in self.listed:
            return name  # listed at login: no LIST each (a round trip a mailbox of a run)
        try:  # not listed then: one made since (by another connection) refuses the CREATE
            if special_use and self.has("CREATE-SPECIAL-USE"):
                typ, data = self.wire.simple(
                    "CREATE", self.wire.quote(name), f"(USE ({special_use}))")
                if typ != "OK":
                    raise IMAPClientError(f"create failed: {data}")
            else:
                self.client.create_folder(name)
        except IMAPClientError as e:
            if self._selectable(name):  # another connection created it meanwhile
                return name
            if lost_connection(e):
                raise
            other = fallback_name(name, self.layout.delimiter)
            if other == name:
                raise MailboxError(f"the server refused to create mailbox {name!r} ({e}); "
                                   "map the folder to another name with --map") from None
            return self.ensure_mailbox(other)
        self.wire.unanswered(b"SUBSCRIBE", name)  # a convenience: its answer is not waited for
        return name

    def _selectable(self, name: str) -> bool:
        """True if *name* exists and can hold mail.

        A parent that only exists because a child was created (Dovecot lists it
        \\NonExistent or \\Noselect) does not count: it must still be CREATEd.
        """
        for flags, _, found in self._list(name):
            if found == name:
                return holds_mail(flags)
        return False

    @connection_guard
    def existing_name(self, name: str) -> str | None:
        """*name*, or its fallback spelling, if either exists on the server and holds mail."""
        for candidate in (name, fallback_name(name, self.layout.delimiter)):
            if candidate.upper() == "INBOX" or self._selectable(candidate):
                return candidate
        return None

    @connection_guard
    def existing_names(self, names: list[str]) -> dict[str, str | None]:
        """``existing_name`` of each of *names*, from one LIST of every mailbox (the same
        rule: a \\Noselect or \\NonExistent parent does not count)."""
        selectable = {found for flags, _, found in self._list("*")
                      if holds_mail(flags)}
        return {name: next((c for c in (name, fallback_name(name, self.layout.delimiter))
                            if c.upper() == "INBOX" or c in selectable), None)
                for name in names}
