"""The upload engine: put planned messages on the server exactly once.

Per target mailbox: make sure it exists, resolve batches a crash left in flight,
skip what earlier runs uploaded (state) or what the server already holds
(fingerprints), then send the rest in batches, each journaled before APPEND
and committed after (see ``state``). A refused batch is split until the
refused message is isolated; a lost connection is re-opened with backoff and
the in-flight batch resolved against the server before anything is re-sent.

The rooms, top down (an import-linter contract keeps them so):

- ``engine``: ``Uploader``, the run put together (one connection, several, shares);
- ``mailbox``: the mailbox step, the core: open, settle, mark known, send;
- ``parallel``: steps on several connections; ``copy_once`` and ``flag_repair``:
  steps beside the mailbox step; ``batches``: APPENDs with the journal protocol;
- ``inflight``: batches a drop left behind, found on the server;
- ``worker``: one connection's share; ``connection``: connect, retry, reconnect;
- ``context``: what all connections of a run share; ``limits``, ``outcome``,
  ``options``, ``answers``, ``source_bytes``: the parts they are made of.
"""

from migrate.upload.engine import Uploader
from migrate.upload.flag_repair import SYSTEM_FLAGS, filter_flags
from migrate.upload.limits import ConnectionSlots, RateLimiter
from migrate.upload.options import UploadOptions
from migrate.upload.outcome import Named, UploadOutcome
from migrate.upload.source_bytes import planned_bytes

__all__ = ["SYSTEM_FLAGS", "ConnectionSlots", "Named", "RateLimiter", "UploadOptions",
           "UploadOutcome", "Uploader", "filter_flags", "planned_bytes"]
