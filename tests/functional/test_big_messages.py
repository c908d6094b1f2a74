"""Issue 34.10: hostile and huge sources. A tree nested deeper than Python's: the
functional tests (tests/unit/test_big_messages.py has the rest, and says what they
prove)."""

from __future__ import annotations

import json
import os

from tests.support.builders import message


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


from tests.support.big_messages_shared import _remove_chain  # noqa: E402


# -- a big message goes from its file to the socket (sources/stream.py) ------------------


