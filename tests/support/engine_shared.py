"""What the tests of test_engine share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

from migrate.plan import build_plan
from migrate.sources import open_store
from migrate.state import State
from migrate.stopping import StopRequest
from migrate.upload import Uploader, UploadOptions
from tests.support.builders import message, write_mbox
from tests.support.fake_target import FakeTarget


def store(tmp_path, n=30, name="one.mbox", extra=lambda i: ""):
    msgs = [message(f"m{i}", body=f"body {i}\n", extra=extra(i)) for i in range(n)]
    write_mbox(tmp_path / name, msgs)
    return tmp_path / name, msgs


def upload(tmp_path, server, path, sleeps=None, **options):
    plan = build_plan([open_store(path)], server.layout)
    state = State(tmp_path / "state.sqlite")
    opts = UploadOptions(**{"batch_messages": 10, "settle_seconds": 0, "backoff_base": 0.01,
                            **options})
    uploader = Uploader(lambda: FakeTarget(server), state, plan, opts,
                        sleep=(sleeps.append if sleeps is not None else (lambda s: None)))
    try:
        uploader.run()
        return plan, uploader
    finally:
        state.close()


def stop_after(server, appends: int) -> StopRequest:
    """A stop request (Ctrl-C) made right after the server stored its Nth APPEND."""
    stop = StopRequest()
    real = server.receive

    def receive(mailbox, items):
        result = real(mailbox, items)
        if server.appends == appends:
            stop.request("test stop")
        return result

    server.receive = receive
    return stop


def inbox(server) -> list[bytes]:
    return [m.data for m in server.mailboxes["INBOX"].messages]


class _DiskFillsUp:
    """A temporary file on a disk with *room* bytes left: a write past it is cut short,
    the next one refused (ENOSPC), as a full disk does."""

    def __init__(self, room: int, real):
        self.real, self.room = real, room

    def write(self, data) -> int:
        import errno
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.real.write(bytes(data[:self.room]))
        self.room -= n
        return n

    def __getattr__(self, name):
        return getattr(self.real, name)


def fetched_fingerprints(monkeypatch) -> list:
    """UIDs whose fingerprints any FakeTarget is asked for, from now on."""
    asked: list = []
    real = FakeTarget.fingerprints

    def fingerprints(self, uids):
        uids = list(uids)
        asked.extend(uids)
        return real(self, uids)
    monkeypatch.setattr(FakeTarget, "fingerprints", fingerprints)
    return asked
