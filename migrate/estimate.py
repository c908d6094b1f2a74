"""How long an upload will take: an honest range from two measurements.

``plan`` measures the round trip (NOOP) and how fast the server reads what we
send (``IMAPTarget.probe_send_rate``: data the server reads and discards).
The model follows the upload engine (docs/plan-report.md, "Time"):

* transfer: bytes to upload / measured send rate;
* round trips: one per batch of 50 messages or 8 MB, divided by the 8
  batches in flight when the server has LITERAL+ (else one per message and
  two per message without MULTIAPPEND), plus ~6 per mailbox (LIST, CREATE,
  SELECT, SEARCH, FETCH);
* the server's own work: 1 ms a message at best (Dovecot on this project's
  machines stores ~1,000 a second) to 5 ms at worst (busy hosted servers).

The low end assumes mailboxes spread over the connections; the high end
assumes no gain from them and the slow server. A provider's daily upload
cap (Gmail: about 500 MB a day) overrides both when it is the real limit.
"""

from __future__ import annotations

import dataclasses
import math

BATCH_MESSAGES = 50
BATCH_BYTES = 8 * 1024 * 1024
PIPELINE_DEPTH = 8
ROUND_TRIPS_PER_MAILBOX = 6
SERVER_SECONDS_PER_MESSAGE = (0.001, 0.005)
ASSUMED_SEND_RATE = 1_000_000  # bytes/s when the probe cannot run (no LITERAL+)
DAILY_CAPS = {"imap.gmail.com": 500 * 1000 * 1000}


@dataclasses.dataclass
class Estimate:
    low_seconds: float
    high_seconds: float
    round_trip: float
    send_rate: float | None  # measured bytes/s, None if not measurable
    assumptions: list[str]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def estimate(messages: int, size: int, mailboxes: int, round_trip: float,
             send_rate: float | None, connections: int = 3, pipelining: bool = True,
             multiappend: bool = True, host: str = "") -> Estimate:
    """Seconds to upload *messages* (*size* bytes) into *mailboxes*, as (low, high)."""
    assumptions = []
    rate = send_rate
    if not rate:
        rate = ASSUMED_SEND_RATE
        assumptions.append("the server could not be probed for speed (no LITERAL+): "
                           "assumed 1 MB/s upstream")
    if messages == 0:
        return Estimate(0.0, 0.0, round_trip, send_rate, ["nothing to upload"])
    batches = max(math.ceil(messages / BATCH_MESSAGES), math.ceil(size / BATCH_BYTES))
    if pipelining:
        trips = batches / PIPELINE_DEPTH
    elif multiappend:
        trips = batches + messages  # a '+' continuation per message
    else:
        trips = 2 * messages
        assumptions.append("the server has neither MULTIAPPEND nor LITERAL+: two round "
                           "trips per message")
    trips += ROUND_TRIPS_PER_MAILBOX * mailboxes
    transfer = size / rate
    fast, slow = SERVER_SECONDS_PER_MESSAGE
    parallel = max(1, min(connections, mailboxes))
    low = transfer + (trips * round_trip + messages * fast) / parallel
    high = 1.5 * transfer + trips * round_trip + messages * slow
    assumptions.append(f"measured: round trip {round_trip * 1000:.0f} ms"
                       + (f", the server reads {rate / 1e6:.1f} MB/s from this machine"
                          if send_rate else ""))
    assumptions.append("low end: mailboxes spread over connections and a quick server "
                       "(1 ms a message); high end: one connection's worth and a busy "
                       "server (5 ms a message), transfer 1.5 times slower")
    cap = DAILY_CAPS.get(host.lower().rstrip("."))
    if cap and size > cap:
        days = size / cap * 86400
        low, high = max(low, days), max(high, days)
        assumptions.append(f"the provider takes about {cap / 1e6:.0f} MB a day by IMAP")
    return Estimate(low, high, round_trip, send_rate, assumptions)


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def human_range(e: Estimate) -> str:
    low, high = human_duration(e.low_seconds), human_duration(e.high_seconds)
    return low if low == high else f"{low} to {high}"
