"""The bytes sent for each planned message: read from the source again, and never sent
unless they are what the plan hashed (the source may have changed since)."""

from __future__ import annotations

from migrate import fingerprint, headers
from migrate.errors import SourceError
from migrate.plan import EVERY, UPLOAD, FolderPlan, PlannedMessage, pages
from migrate.sources.stream import STREAM_BYTES


def planned_bytes(fplans: list[FolderPlan], part: tuple = EVERY):
    """(planned message, its bytes as sent) of the folders' uploads, in source order.

    Where the folder can read a message by its key (mbox), only the planned
    ones are read; otherwise the folder is walked beside the plan, which lists
    its messages in the order the folder yields them. Bytes that are not what
    the plan hashed are never sent (the source changed since)."""
    for f in fplans:
        wanted = (p for page in pages([f], UPLOAD, part=part) for p in page)
        direct = f.folder.direct_reader()
        if hasattr(direct, "stream"):  # an mbox file: big messages go from it to the socket
            yield from streaming(direct, wanted)
            continue
        for p, data in f.folder.read_keyed(wanted):
            if data is None:
                raise moved_away(p)
            data = as_planned(p, data)  # the bytes as read are let go: held once
            yield p, data
            del data


def streaming(direct, wanted):
    """(message, bytes) from an mbox file read by key; a message of STREAM_BYTES or more
    (without NUL bytes) as a ``Streamed``, read only while it is sent, checked there."""
    with direct as read:
        for p in wanted:
            if p.size >= STREAM_BYTES and not p.has_nul:
                data = direct.stream(p.key, p.size, p.content_hash, p.location)
            else:
                data = read(p.key)
                data = None if data is None else as_planned(p, data)
            if data is None:
                raise moved_away(p)
            yield p, data
            del data


def as_planned(p: PlannedMessage, data: bytes) -> bytes:
    data = headers.to_crlf(data)
    if len(data) != p.size or fingerprint.content_hash(data) != p.content_hash:
        raise SourceError(f"{p.location} changed while it was being migrated; "
                          "run the same command again to re-plan")
    return data


def moved_away(p: PlannedMessage) -> SourceError:
    return SourceError(f"{p.location} is no longer where the plan found it (the source "
                       "changed while it was being migrated); run the same command again "
                       "to re-plan (with --full-check if it says so again)")
