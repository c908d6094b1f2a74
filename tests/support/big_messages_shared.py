"""What the tests of test_big_messages share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import strategies as st

from tests.conftest import ROOT

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


LINES = st.lists(st.sampled_from([b"From: a", b"Subject: x", b" cont", b"\tcont2", b"X y: z",
                                  b":bad", b"", b"Date:  Mon ", b"a:b:c", b"NoColon", b" ",
                                  b"\r", b"Message-ID: <a>", b"\x0b:", b"x-long: " + b"y" * 90]),
                 max_size=14)


PIECES = st.lists(st.sampled_from([b"From a", b">From b", b">>From c", b"text", b"", b"x" * 40,
                                   b"\r", b"\r\n", b"\n", b">"]), max_size=40)
