"""What the plan decides for one message: the actions and ``PlannedMessage``.

The model only: no I/O and no imports from the rest of the package, so the spool
(which stores these), reconcile and the plan can all use it without a cycle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

UPLOAD = "upload"
UPLOADED = "uploaded"  # sent by this run and confirmed by the server
SKIP = "skip"  # the source says not to migrate it (reason in SKIP_REASONS)
DUPLICATE = "duplicate"  # the same message is already planned for the same target
PRESENT = "present"  # already on the server
REFUSE = "refuse"  # the server would refuse it (too large, ...)
DONE = "done"  # uploaded by an earlier run (state database)
FAILED = "failed"  # the server refused it during the run (reason from the server)
LATER = "later"  # a filter of this pass leaves it for a later one (--before, --folder, ...)


@dataclasses.dataclass(slots=True)
class PlannedMessage:
    key: str
    location: str
    size: int  # bytes as sent (CRLF)
    content_hash: str
    header_key: str
    body_hash: str
    message_id: str  # normalised; "" when the message has none
    internaldate: dt.datetime | None
    flags: frozenset
    keywords: frozenset
    action: str = UPLOAD
    reason: str | None = None
    notes: tuple = ()
    has_nul: bool = False  # needs a BINARY literal (RFC 3516)
    longest_line: int = 0  # characters without CRLF; 0 when all are short (see longest_line)
    server_uid: int | None = None  # the server copy found for it (PRESENT), when known
    ref: int = 0  # unique within the plan: the same message however often it is read
    home: Any = None  # the spool.Messages it was read from

    @property
    def has_message_id(self) -> bool:
        return bool(self.message_id)

    def save(self) -> None:
        """Keep a change of action, reason or server_uid (objects are read afresh)."""
        if self.home is not None:
            self.home.save(self)
