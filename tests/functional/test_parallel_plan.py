"""A big mbox file planned on every core reads exactly as when read from the start: the
functional tests (tests/unit/test_parallel_plan.py has the rest, and says what they
prove)."""

from __future__ import annotations

import pytest

from tests.support.parallel_plan_shared import _busy_tree, _while_workers_run

# -- a store of many folders: mbox files read ahead by the workers ---------------------


# -- a worker that ends without answering; Ctrl-C with workers running ------------------


@pytest.mark.functional  # real worker processes
def test_a_worker_killed_for_real_stops_the_plan_with_a_sentence(tmp_path):
    import os
    import signal
    root = _busy_tree(tmp_path / "Local Folders")
    code, err = _while_workers_run(["plan", root], tmp_path,
                                   lambda pid, worker: os.kill(worker, signal.SIGKILL))
    assert code == 130, err
    assert "stopped from outside" in err and "Traceback" not in err


