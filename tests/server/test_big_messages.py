"""Issue 34.10: hostile and huge sources. A tree nested deeper than Python's: the server
tests (tests/unit/test_big_messages.py has the rest, and says what they prove)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.support.builders import message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KB: Linux")
def test_a_big_message_and_a_long_header_line_upload_about_twice_their_size(tmp_path,
                                                                           account):
    size = 96 * MB
    for n, long_header in enumerate((False, True)):
        src = big_mbox(tmp_path / f"big{n}.mbox", size, long_header)
        data = src.read_bytes().replace(b"<big@x>", f"<big{n}@x>".encode())
        src.write_bytes(data)
        env = dict(os.environ, MM_TEST_PASSWORD=account.password,
                   XDG_DATA_HOME=str(tmp_path / "xdg"))
        peak = rss_of_run(["run", src, *account.cli_args(), "--backup-dir", tmp_path / f"bk{n}",
                           "--state", tmp_path / f"st{n}.sqlite", "--yes"], env)
        assert peak < 2.4 * size + 80 * MB, f"{peak / size:.2f} x the message"
    got = sorted(m.data for m in account.read_back()["INBOX"])
    from migrate.headers import to_crlf  # streamed (over STREAM_BYTES): the bytes exact
    want = sorted(to_crlf((tmp_path / f"big{n}.mbox").read_bytes().split(b"\n", 1)[1])
                  for n in range(2))
    assert len(got) == 2 and got == want


from tests.support.big_messages_shared import MB, big_mbox, rss_of_run  # noqa: E402

# -- a big message goes from its file to the socket (sources/stream.py) ------------------


def test_a_streamed_message_that_changed_since_the_plan_is_never_stored(tmp_path, account):
    """The file changes under the upload (same length, one byte): the literal is never
    completed, the server stores nothing, and the run is told the source changed."""
    from migrate import fingerprint, headers
    from migrate.errors import SourceError
    from migrate.sources.stream import Streamed
    from migrate.target.base import AppendItem
    from migrate.target.imap import IMAPTarget, Secret, TargetConfig
    raw = message("streamed", body="line\n" * 1000)
    path = tmp_path / "one.mbox"
    path.write_bytes(raw)
    want = headers.to_crlf(raw)
    config = TargetConfig(account.host, account.user, port=account.server.imaps_port,
                          ca_file=str(account.server.ca_file), password=Secret(account.password))
    good = Streamed(path, 0, len(raw), False, len(want), fingerprint.content_hash(want), "x")
    with IMAPTarget(config) as target:
        assert target.append_batch("INBOX", [AppendItem(good, (), None)]).ok
    path.write_bytes(raw.replace(b"line\nline", b"line\nLINE", 1))  # changed since the plan
    with IMAPTarget(config) as target:
        with pytest.raises(SourceError, match="changed while it was being migrated"):
            target.append_batch("INBOX", [AppendItem(good, (), None)])
    assert [m.data for m in account.read_back()["INBOX"]] == [want]
