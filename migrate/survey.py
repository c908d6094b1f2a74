"""Read-only look at the target before a run: what ``plan`` needs to know.

Only LIST, STATUS-like EXAMINE, header FETCH, GETQUOTAROOT, NOOP and a
SEARCH speed probe are sent: no CREATE, APPEND, STORE or SELECT, so no
mailbox, message, flag or ``\\Recent`` state changes on the server.
"""

from __future__ import annotations

import dataclasses
import logging

from migrate import estimate as estimating
from migrate.errors import MailboxError
from migrate.plan import UPLOAD, Plan, all_recorded, apply_server_view
from migrate.target.base import ServerLimits, Target

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ServerSurvey:
    host: str
    user: str
    prefix: str
    delimiter: str
    limits: ServerLimits
    existing: dict[str, str | None]  # planned mailbox -> name found on the server, or None
    quota_used: int | None = None  # bytes
    quota_limit: int | None = None
    estimate: estimating.Estimate | None = None
    provider: object = None  # providers.Provider
    provider_detected: bool = True  # False: chosen with --provider
    copies: tuple[int, int] = (0, 0)  # (messages, bytes) the server copies: not sent again
    unopened: dict[str, str] = dataclasses.field(default_factory=dict)  # mailbox -> why not

    def fits(self, upload_bytes: int) -> bool | None:
        """Whether *upload_bytes* more fit in the quota (None: no quota known)."""
        if self.quota_limit is None:
            return None
        return (self.quota_used or 0) + upload_bytes <= self.quota_limit

    def headroom(self, upload_bytes: int) -> int | None:
        """Quota left after the upload (negative: the shortfall)."""
        if self.quota_limit is None:
            return None
        return self.quota_limit - (self.quota_used or 0) - upload_bytes


def survey(target: Target, plan: Plan, recorded=None, connections: int = 3,
           measure: bool = True, caps: tuple = (None, None)) -> ServerSurvey:
    """Mark what the server already holds or will refuse in *plan*; learn quota and speed.

    *caps* are the run's (messages/s, bytes/s) limits, for the time estimate.
    *recorded(mailbox, hashes)* gives what a state database says was uploaded
    there (content hash -> (UIDVALIDITY, UID)), or None without a state.
    """
    existing: dict[str, str | None] = {}
    unopened: dict[str, str] = {}
    targets = plan.by_target()
    names = target.existing_names(list(targets))
    # with a state, a re-run's plan: a mailbox whose messages our records all vouch for
    # (under the UIDVALIDITY one STATUS of every mailbox gives) is not opened
    statuses = target.statuses(list(dict.fromkeys(filter(None, names.values())))) \
        if recorded else {}
    for mailbox, fplans in targets.items():
        found = names[mailbox]
        existing[mailbox] = found
        ours = (lambda hashes, m=mailbox: recorded(m, hashes)) if recorded else None
        try:
            examined, uidvalidity = None, 0  # no mailbox: no record of ours can be there
            known = statuses.get(found) if found else None
            if known and all_recorded(fplans, ours, known[0]):
                uidvalidity = known[0]
            elif found:
                info = target.examine(found)
                examined, uidvalidity = (target if info.exists else None), info.uidvalidity
            apply_server_view(fplans, examined, ours, target.limits, uidvalidity)
        except MailboxError as e:  # this mailbox alone: the others are looked at
            log.warning("could not look into %s on the server: %s", mailbox, e)
            unopened[mailbox] = str(e)
            apply_server_view(fplans, None, ours, target.limits, None)
    result = ServerSurvey(
        host=target.config.host, user=target.config.user, prefix=target.layout.prefix,
        delimiter=target.layout.delimiter, limits=target.limits, existing=existing,
        provider=target.provider, provider_detected=not target.config.provider,
        unopened=unopened)
    if target.has("UIDPLUS") and plan.spool is not None:
        result.copies = plan.spool.copies()
    quota = target.quota()
    if quota:
        result.quota_used, result.quota_limit = quota
    if measure:
        upload = plan.totals().get(UPLOAD, 0)
        mailboxes = {f.target for f in plan.folders if f.counts().get(UPLOAD)}
        rate = target.probe_send_rate() if upload else None
        result.estimate = estimating.estimate(
            upload, sum(f.bytes_for(UPLOAD) for f in plan.folders) - result.copies[1],
            len(mailboxes),
            target.round_trip(), rate, connections=connections,
            pipelining=target.can_pipeline, multiappend=target.has("MULTIAPPEND"),
            host=target.config.host, source_bytes=sum(f.bytes_for() for f in plan.folders),
            max_messages_per_second=caps[0], max_bytes_per_second=caps[1],
            daily_bytes=target.provider.daily_bytes)
    return result
