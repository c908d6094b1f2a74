"""Issue 34.10: hostile and huge sources. A tree nested deeper than Python's
recursion limit, a header of one line of many megabytes, and a big message: each
is read, backed up and uploaded with a message held about twice in memory at
most (it was 4x for a big body and 8.5x for a long header line), and never a
traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


def test_a_tree_nested_deeper_than_the_recursion_limit_is_read_and_backed_up(tmp_path, mm):
    root = tmp_path / "deep"
    here = root
    here.mkdir()
    (here / "top.eml").write_bytes(message("top"))
    depth = 1_100  # past CPython's default recursion limit (1,000) of the mm process; not
    # this process's limit, which another test may have changed
    cwd = os.getcwd()
    os.chdir(root)
    try:  # relative steps: the whole path is longer than one system call takes
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        with open("1.eml", "wb") as f:
            f.write(message("deep"))
    finally:
        os.chdir(cwd)
    try:
        plan = mm("plan", root, "--report", tmp_path / "rep")
        assert plan.code == 0, plan.err[-2000:]
        counts = json.loads((tmp_path / "rep" / "plan.json").read_text())["summary"]["counts"]
        assert counts["upload"] == 2
        backup = mm("backup", root, "--backup-dir", tmp_path / "bk")
        assert backup.code == 0, backup.err[-2000:]
    finally:  # shutil.rmtree (pytest's clean-up) recurses: it could not remove this tree
        _remove_chain(root, depth)


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


from hypothesis import strategies as st  # noqa: E402

LINES = st.lists(st.sampled_from([b"From: a", b"Subject: x", b" cont", b"\tcont2", b"X y: z",
                                  b":bad", b"", b"Date:  Mon ", b"a:b:c", b"NoColon", b" ",
                                  b"\r", b"Message-ID: <a>", b"\x0b:", b"x-long: " + b"y" * 90]),
                 max_size=14)


# -- a big message goes from its file to the socket (sources/stream.py) ------------------

PIECES = st.lists(st.sampled_from([b"From a", b">From b", b">>From c", b"text", b"", b"x" * 40,
                                   b"\r", b"\r\n", b"\n", b">"]), max_size=40)


