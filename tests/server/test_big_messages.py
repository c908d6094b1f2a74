"""Issue 34.10: hostile and huge sources. A tree nested deeper than Python's
recursion limit, a header of one line of many megabytes, and a big message: each
is read, backed up and uploaded with a message held about twice in memory at
most (it was 4x for a big body and 8.5x for a long header line), and never a
traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.builders import message

MB = 1 << 20


def big_mbox(path, size, long_header=False):
    """One message of about *size* bytes: a body of short lines, or one header line."""
    with open(path, "wb") as f:
        f.write(b"From a@b Mon Jan  1 00:00:00 2020\nFrom: a@b\n")
        if long_header:
            f.write(b"X-Long: ")
            for _ in range(size // MB):
                f.write(b"y" * MB)
            f.write(b"\n")
        f.write(b"Subject: big\nMessage-ID: <big@x>\nDate: Mon, 1 Jan 2020 00:00:00 +0000\n\n")
        if not long_header:
            line = b"x" * 76 + b"\n"
            for _ in range(size // len(line)):
                f.write(line)
        f.write(b"end\n")
    return path


def _remove_chain(root, depth: int) -> None:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for _ in range(depth):
            os.chdir("d")
        for _ in range(depth):
            for name in os.listdir("."):
                os.unlink(name)
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(cwd)


def rss_of_run(args, env) -> float:
    """The largest resident set of the command's processes, in bytes (Linux)."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "migrate",
                          *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    return int(out.stdout.strip().splitlines()[-1]) * 1024


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


from hypothesis import strategies as st  # noqa: E402

LINES = st.lists(st.sampled_from([b"From: a", b"Subject: x", b" cont", b"\tcont2", b"X y: z",
                                  b":bad", b"", b"Date:  Mon ", b"a:b:c", b"NoColon", b" ",
                                  b"\r", b"Message-ID: <a>", b"\x0b:", b"x-long: " + b"y" * 90]),
                 max_size=14)


# -- a big message goes from its file to the socket (sources/stream.py) ------------------

PIECES = st.lists(st.sampled_from([b"From a", b">From b", b">>From c", b"text", b"", b"x" * 40,
                                   b"\r", b"\r\n", b"\n", b">"]), max_size=40)


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
