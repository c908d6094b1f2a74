"""What the parts of ``IMAPTarget`` share: the connection and what login learned of the
server. ``imap.py`` fills it in at ``connect``; the parts (``imap_mailboxes``,
``imap_read``, ``imap_write``) read it and call each other through it."""

from __future__ import annotations

import imapclient

from migrate import providers
from migrate.target.base import SelectInfo, ServerLayout
from migrate.target.config import TargetConfig
from migrate.target.wire import Wire


class Connected:
    config: TargetConfig
    client: imapclient.IMAPClient  # from connect() on: every command needs it
    wire: Wire
    capabilities: frozenset[str]
    layout: ServerLayout
    selected: str | None
    exists: int  # messages in the selected mailbox when it was selected
    listed: set[str]  # mailboxes holding mail at login (LIST "" "*")
    fetches_parsed_slowly: int  # fingerprint answers fetch_response left to imapclient
    provider: providers.Provider  # the profile, resolved once: at login (see imap.connect)

    LOOK_WINDOW = 50  # mailboxes whose commands go in one write

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    # -- each part's, for the others (defined in the part named) ------------------

    def select(self, name: str, readonly: bool = False) -> SelectInfo:  # imap
        raise NotImplementedError

    def examine(self, name: str) -> SelectInfo:  # imap
        raise NotImplementedError

    def statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:  # imap_read
        raise NotImplementedError

    def batch_limit(self, wanted: int) -> int:  # imap_write
        raise NotImplementedError
