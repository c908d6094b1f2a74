"""What the tests of test_copy_once share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

from migrate.plan import build_plan
from migrate.sources import open_store
from migrate.state import State
from migrate.upload import Uploader, UploadOptions
from tests.support.builders import crlf, message, write_mbox
from tests.support.fake_target import FakeTarget


def filed_twice(tmp_path, n=20, flags=lambda box, i: ""):
    """A Thunderbird-like store: folders Archive and Inbox hold the same *n* messages;
    Archive is planned (and uploaded) first."""
    root = tmp_path / "store"
    msgs = {}
    for box in ("Archive", "Inbox"):  # planned in this order
        msgs[box] = [message(f"m{i}", body=f"body {i}\n", extra=flags(box, i)) for i in range(n)]
        write_mbox(root / box, msgs[box])
    return root, msgs


def upload(tmp_path, server, root, **options):
    plan = build_plan([open_store(root)], server.layout)
    state = State(tmp_path / "state.sqlite")
    opts = UploadOptions(**{"batch_messages": 10, "settle_seconds": 0, "backoff_base": 0.01,
                            **options})
    uploader = Uploader(lambda: FakeTarget(server), state, plan, opts, sleep=lambda s: None)
    try:
        uploader.run()
        return plan, uploader
    finally:
        state.close()


def appended(server) -> int:
    return sum(n for _, n in server.log)


def contents(server, mailbox) -> list[bytes]:
    return sorted(m.data for m in server.mailboxes[SERVER_NAME.get(mailbox, mailbox)].messages)


SERVER_NAME = {"Inbox": "INBOX"}


def wanted(msgs, box):
    return sorted(crlf(m) for m in msgs[box])


COPY_POINTS = ("last-byte", "ok-held", "after-ok")


def filed_twice_with_state(root, n=30):
    """Archive and Inbox hold the same messages, with flags and dates: what each mailbox
    must end with (``assert_exactly_once``'s shape)."""
    import datetime as dt
    flags_of = ["", "Status: RO", "X-Status: F", "Status: RO\nX-Status: A"]
    sets = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Flagged"}),
            frozenset({"\\Seen", "\\Answered"})]
    msgs = [message(f"filed twice {i}", body=f"line of {i}\n" * (i + 3),
                    extra=flags_of[i % 4]) for i in range(n)]
    dates = [dt.datetime(2016, 3, 1) + dt.timedelta(hours=5 * i) for i in range(n)]
    expected = {}
    for box, mailbox in (("Archive", "Archive"), ("Inbox", "INBOX")):
        write_mbox(root / box, msgs, dates)
        expected[mailbox] = [(crlf(m), d.replace(tzinfo=dt.timezone.utc), sets[i % 4])
                             for i, (m, d) in enumerate(zip(msgs, dates))]
    return expected
