"""How long a run will take: an honest range from two measurements.

``plan`` measures the round trip (NOOP) and how fast the server reads what we
send (``IMAPTarget.probe_send_rate``: data the server reads and discards).
The model follows what ``run`` does, start to end (docs/plan-report.md, "Time"):

* local work: the sources are read twice (plan, upload) and backed up once
  (measured here: ~200 MB/s reading, ~250 MB/s backup; 3 times slower at worst);
* connections: ~6 round trips each (TCP, TLS, login, capabilities, namespace,
  list) for the first check, the upload connections and the verification;
* per mailbox: ~6 round trips to prepare the upload (LIST, CREATE, SELECT,
  fingerprints) and ~4 to verify it afterwards (on one connection);
* the upload: bytes / measured send rate, plus one round trip per batch (50
  messages or 8 MB) divided by the 8 batches in flight with LITERAL+ (one per
  message with MULTIAPPEND alone, two without either);
* the server's own work: 1 ms a message at best (Dovecot on this project's
  machines stores ~1,000 a second) to 5 ms at worst (busy hosted servers).

The low end spreads mailboxes over the connections with the quick server; the
high end gets no help from extra connections, the slow server, slow disks and
a transfer 1.5 times slower than measured. A provider's daily upload cap
(Gmail: about 500 MB a day) overrides both when it is the real limit.
"""

from __future__ import annotations

import dataclasses
import math

from migrate import providers

BATCH_MESSAGES = 50
BATCH_BYTES = 8 * 1024 * 1024
PIPELINE_DEPTH = 8
ROUND_TRIPS_PER_MAILBOX = 6
ROUND_TRIPS_PER_CONNECTION = 6
ROUND_TRIPS_VERIFY_MAILBOX = 4
LOCAL_SECONDS_PER_BYTE = 2 / 200e6 + 1 / 250e6  # read twice, back up once
SERVER_SECONDS_PER_MESSAGE = (0.001, 0.005)
ASSUMED_SEND_RATE = 1_000_000  # bytes/s when the probe cannot run (no LITERAL+)


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
             multiappend: bool = True, host: str = "", source_bytes: int | None = None,
             max_messages_per_second: float | None = None,
             max_bytes_per_second: float | None = None,
             daily_bytes: int | None = None) -> Estimate:
    """Seconds for a whole ``run`` uploading *messages* (*size* bytes) into *mailboxes*.

    *daily_bytes* is the provider's daily upload budget (default: the profile
    of *host*, ``providers``)."""
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
    parallel = max(1, min(connections, mailboxes))
    prepare = ROUND_TRIPS_PER_MAILBOX * mailboxes
    fixed = 3 * ROUND_TRIPS_PER_CONNECTION + ROUND_TRIPS_VERIFY_MAILBOX * mailboxes
    transfer = size / rate
    local = (source_bytes if source_bytes is not None else size) * LOCAL_SECONDS_PER_BYTE
    fast, slow = SERVER_SECONDS_PER_MESSAGE
    low = local + transfer + round_trip * (fixed + (prepare + trips) / parallel) + \
        messages * fast / parallel
    high = 3 * local + 1.5 * transfer + round_trip * (fixed + prepare + trips) + \
        messages * slow
    assumptions.append(f"measured: round trip {round_trip * 1000:.0f} ms"
                       + (f", the server reads {rate / 1e6:.1f} MB/s from this machine"
                          if send_rate else ""))
    assumptions.append("for the whole run (backup, upload, check); low end: mailboxes "
                       "spread over connections and a quick server (1 ms a message); high "
                       "end: one connection's worth, a busy server (5 ms a message), slow "
                       "disks and a transfer 1.5 times slower")
    capped = max(messages / max_messages_per_second if max_messages_per_second else 0,
                 size / max_bytes_per_second if max_bytes_per_second else 0)
    if capped:  # the run never sends faster than its caps (--max-*-per-second)
        low, high = max(low, capped), max(high, capped + (high - low))
        assumptions.append("the rate caps given: "
                           + ", ".join(t for t in (
                               f"{max_messages_per_second:g} messages a second"
                               if max_messages_per_second else "",
                               f"{round(max_bytes_per_second / 1e6, 2):g} MB a second"
                               if max_bytes_per_second else "") if t))
    cap = daily_bytes if daily_bytes is not None else providers.detect(host).daily_bytes
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
