"""Reading back, for ``IMAPTarget``: UIDs, fingerprints and flags of what the account
holds, many mailboxes at once where the server allows (read-only: EXAMINE, PEEK)."""

from __future__ import annotations

import logging
from array import array

from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response

from migrate import fingerprint, headers
from migrate.errors import MailboxError
from migrate.target import search_response
from migrate.target.base import MAX_UID, UID_TYPE, SelectInfo, ServerCopy, StoredInfo, uid_set
from migrate.target.connected import Connected
from migrate.target.failures import connection_guard, lost_connection
from migrate.target.fetch_response import fingerprint_items
from migrate.target.responses import copy_of, decode_atom, header_item, said

log = logging.getLogger(__name__)


class ReadBack(Connected):
    """Part of ``IMAPTarget``."""

    @connection_guard
    def look_into(self, names: list[str], sizes: dict[str, int] | None = None
                  ) -> dict[str, tuple[SelectInfo, array]]:
        """``examine`` and ``uids`` of each of *names*, for many mailboxes at once.

        One by one that is two round trips a mailbox (a profile of 500 folders over a
        50 ms link: 50 s at the end of every run). The commands are pipelined
        (RFC 3501 5.5), LOOK_WINDOW mailboxes a write: STATUS for the size of each,
        then EXAMINE and UID SEARCH UID 1:* of those up to SEARCH_PAGE messages (a
        bigger one is read in pages, as ``uids`` does). A mailbox missing from the
        answer (too big, refused, an answer of a shape ``search_response`` does not
        read) is for the caller to look into the ordinary way. *sizes*: how many
        messages some of them hold, as the caller saw them (no STATUS for those).
        Read-only.
        """
        sizes = sizes or {}
        found: dict[str, tuple[SelectInfo, array]] = {}
        for start in range(0, len(names), self.LOOK_WINDOW):
            window = names[start:start + self.LOOK_WINDOW]
            counts = {name: sizes[name] for name in window if name in sizes}
            unknown = [name for name in window if name not in counts]
            counts.update((name, n) for name, (_, _, n) in self._statuses(unknown).items())
            small = [name for name in window if counts.get(name, 1 << 62) <= self.SEARCH_PAGE]
            looked = self.wire.pipelined([(name, [b"EXAMINE %s", b"UID SEARCH UID 1:*"])
                                          for name in small])
            for name, (ok, (opened, searched)) in zip(small, looked):
                seen = search_response.examined(opened)
                uids = search_response.search_uids(searched.get("SEARCH", []), UID_TYPE,
                                                   MAX_UID)
                if ok and seen is not None and uids is not None:
                    validity, uidnext, exists = seen
                    found[name] = (SelectInfo(validity, uidnext, exists, frozenset()), uids)
            self._after_pipelined(small, looked)
        return found

    @connection_guard
    def statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:
        """``status`` of each of *names* the server answered for, asked at once
        (pipelined, LOOK_WINDOW a write); a mailbox that does not exist is left out."""
        found = {}
        for start in range(0, len(names), self.LOOK_WINDOW):
            found.update(self._statuses(names[start:start + self.LOOK_WINDOW]))
        return found

    def _statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:
        found = {}
        asked = self.wire.pipelined([(name, [b"STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)"])
                                     for name in names])
        for name, (ok, [answer]) in zip(names, asked):
            items = search_response.status_items(answer.get("STATUS", [])) if ok else None
            if items and {b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"} <= items.keys():
                found[name] = (items[b"UIDVALIDITY"], items[b"UIDNEXT"], items[b"MESSAGES"])
        return found

    @connection_guard
    def max_uid(self) -> int | None:
        """Highest UID in the selected mailbox, or None if empty."""
        uids = self.client.search(["UID", "*"])
        return max(uids) if uids else None

    SEARCH_PAGE = 20_000  # messages per UID SEARCH answer (see ``uids``)

    @connection_guard
    def uids(self, uid_from: int = 1) -> array:
        """Every UID >= *uid_from* in the selected mailbox, ascending, in an array (4
        bytes a UID). From 1, read in pages (imapclient's parse of one answer of a
        million UIDs peaked at 240 MB). The pages are UID ranges, cut at the UIDs of
        every SEARCH_PAGE-th message: UIDs never move, so a message expunged or added
        by another client meanwhile cannot make one missed (message numbers shift; an
        EXPUNGE may come with any UID command). From later on (the messages above a
        batch's UIDNEXT after a reconnect: a few), one answer."""
        if uid_from > 1:
            return self._uids_from(uid_from)
        if not self.exists:
            return self._uid_array(self.client.search(["ALL"]))
        marks = ",".join(str(n) for n in range(self.SEARCH_PAGE, self.exists + 1,
                                               self.SEARCH_PAGE))
        found = array(UID_TYPE)
        try:
            low = 1
            for high in sorted(self.client.search([marks])) if marks else []:
                found += self._uid_array(self.client.search(["UID", f"{low}:{high}"]))
                low = high + 1
            found += self._uids_from(low)
        except IMAPClientError as e:
            if lost_connection(e):
                raise
            return self._uid_array(self.client.search(["ALL"]))  # fewer than at the SELECT
        return found

    def _uids_from(self, low: int) -> array:
        """UID SEARCH low:*, less the last message it names when that is below *low*
        (n:* always names the last message, RFC 3501)."""
        return self._uid_array(u for u in self.client.search(["UID", f"{low}:*"]) if u >= low)

    def _uid_array(self, uids) -> array:
        """*uids* sorted in an array; a number no IMAP UID can be is a broken mailbox."""
        try:
            return array(UID_TYPE, sorted(uids))
        except OverflowError:
            raise MailboxError(
                f"{self.config.address} listed a UID outside 1..{MAX_UID} in {self.selected!r}, "
                "which IMAP does not allow: the server's index of that folder is damaged; "
                "its administrator can rebuild it (Dovecot: doveadm force-resync)") from None

    @connection_guard
    def search_header(self, field: str, value: str) -> list[int] | None:
        """UIDs of the selected mailbox whose *field* contains *value* (UID SEARCH
        HEADER: the server looks, nothing is fetched); None when it will not search."""
        try:
            return sorted(self.client.search(["HEADER", field, value]))
        except IMAPClientError as e:
            if lost_connection(e):
                raise
            log.info("the server would not search %s headers: %s", field, e)
            return None

    @connection_guard
    def fingerprints(self, uids: list[int], chunk: int = 2000) -> list[ServerCopy]:
        """What matching needs of the messages *uids* (selected mailbox)."""
        return list(self._fingerprints(uids, chunk))

    @connection_guard
    def contents(self, uids: list[int]) -> dict[int, tuple[str, str]]:
        """(content hash, body hash) of *uids* in the selected mailbox, one message
        read at a time (BODY.PEEK[]: read-only): where headers cannot say which
        message a copy is (``reconcile``), its bytes do. A message the server will
        not give is left out."""
        out = {}
        for uid in uids:
            try:
                resp = self.client.fetch([uid], ["BODY.PEEK[]"])
            except IMAPClientError as e:
                if lost_connection(e):
                    raise
                log.info("the server would not give message %d: %s", uid, said(e))
                continue
            item = resp.get(uid) or {}
            data = item.get(b"BODY[]")
            if isinstance(data, bytes):
                out[uid] = fingerprint.hashes_of(data)
        return out

    def _fingerprints(self, uids: list[int], chunk: int):
        for i in range(0, len(uids), chunk):
            part = uids[i:i + chunk]
            resp = self._fetch_fingerprint_items(part)
            for uid in part:
                item = resp.get(uid)
                if item:
                    yield copy_of(uid, item)

    COPIES_AT_ONCE = 20_000  # fingerprints of a window of mailboxes read at once (copies_in)

    SMALL_MAILBOX = 2_000  # a mailbox up to this size is read whole in such a window

    @connection_guard
    def copies_in(self, names: list[str]) -> dict[str, tuple[SelectInfo, list[ServerCopy]]]:
        """``examine`` and the fingerprints of every message of each of *names* that
        holds up to SMALL_MAILBOX messages, many mailboxes at once: EXAMINE and UID
        FETCH 1:* pipelined (``verify`` of a profile of 200 folders over a 50 ms link
        spent 35 s on three round trips a folder). STATUS first, for the sizes; a
        window holds up to COPIES_AT_ONCE messages. A mailbox left out (bigger,
        refused, an answer of another shape) is for the caller to read one by one.
        Read-only (BODY.PEEK); leaves any one of them selected."""
        sizes = {name: n for name, (_, _, n) in self.statuses(names).items()
                 if n <= self.SMALL_MAILBOX}
        found: dict[str, tuple[SelectInfo, list[ServerCopy]]] = {}
        windows: list[list[str]] = []
        held = 0  # messages in the last window
        for name in (n for n in names if n in sizes):
            if not windows or len(windows[-1]) == self.LOOK_WINDOW or \
                    held + sizes[name] > self.COPIES_AT_ONCE:
                windows.append([])
                held = 0
            windows[-1].append(name)
            held += sizes[name]
        fetch = b"UID FETCH 1:* " + self.FINGERPRINT_ITEMS.encode()
        for window in windows:
            answers = self.wire.pipelined([(w, [b"EXAMINE %s", fetch]) for w in window])
            for w, (ok, (opened, fetched)) in zip(window, answers):
                seen = search_response.examined(opened)
                items = self._fingerprint_answer(fetched.get("FETCH", [])) if ok else {}
                if ok and seen is not None and all(b"RFC822.SIZE" in i for i in items.values()):
                    validity, uidnext, exists = seen  # (a flag change alone: one by one)
                    found[w] = (SelectInfo(validity, uidnext, exists, frozenset()),
                                [copy_of(uid, items[uid]) for uid in sorted(items)])
            self._after_pipelined(window, answers)
        return found

    def _after_pipelined(self, names: list[str], answers) -> None:
        """imaplib's view of the connection after pipelined EXAMINEs of *names*."""
        if names:
            ok = answers[-1][0]  # a refused EXAMINE leaves none selected
            self.wire.examined(ok)
            self.selected = names[-1] if ok else None
            seen = search_response.examined(answers[-1][1][0])
            self.exists = seen[2] if seen else 0

    FINGERPRINT_ITEMS = f"({fingerprint.IMAP_HEADER_FIELDS} RFC822.SIZE FLAGS)"

    def _fetch_fingerprint_items(self, uids: list[int]) -> dict:
        """``client.fetch(uids, fingerprint items)``, the same commands and the same
        answer, read by ``fetch_response`` where it knows the shape (imapclient's
        general parser was most of the client's time: docs/performance.md), else by
        imapclient."""
        return self._fingerprint_answer(self.wire.fetch(uid_set(uids), self.FINGERPRINT_ITEMS))

    def _fingerprint_answer(self, data: list) -> dict:
        resp = fingerprint_items(data)
        if resp is None:
            self.fetches_parsed_slowly += 1
            resp = parse_fetch_response(data, self.client.normalise_times, True)
        return resp

    @connection_guard
    def flags_of(self, uids: list[int]) -> dict[int, frozenset[str]]:
        """The flags of *uids* in the selected mailbox (one UID FETCH FLAGS)."""
        if not uids:
            return {}
        return {uid: frozenset(decode_atom(f) for f in flags)
                for uid, flags in self.client.get_flags(uids).items()}

    @connection_guard
    def stored_info(self, uids: list[int], chunk: int = 2000) -> dict[int, StoredInfo]:
        """FLAGS, RFC822.SIZE and INTERNALDATE of *uids* in the selected mailbox."""
        out = {}
        for i in range(0, len(uids), chunk):
            resp = self.client.fetch(uids[i:i + chunk], ["FLAGS", "RFC822.SIZE", "INTERNALDATE"])
            for uid, item in resp.items():
                out[uid] = StoredInfo(frozenset(decode_atom(f) for f in item.get(b"FLAGS", ())),
                                      int(item.get(b"RFC822.SIZE", -1)),
                                      item.get(b"INTERNALDATE"))
        return out

    @connection_guard
    def header_fields(self, uids: list[int], chunk: int = 500) -> dict[int, dict[str, str]]:
        """Message-ID, Date, From, Subject of *uids* in the selected mailbox, for people."""
        out = {}
        for i in range(0, len(uids), chunk):
            resp = self.client.fetch(uids[i:i + chunk], [fingerprint.IMAP_HEADER_FIELDS])
            for uid, item in resp.items():
                found = headers.get_headers(header_item(item),
                                            {"message-id", "date", "from", "subject"})
                out[uid] = {name: headers.decode_words(values[0])
                            for name, values in found.items()}
        return out
