"""Upload once, copy on the server: a message filed in several folders is sent once: the
server tests (tests/unit/test_copy_once.py has the rest, and says what they prove)."""

from __future__ import annotations

import pytest

from tests.support.copy_once_shared import COPY_POINTS, filed_twice_with_state

# -- on Dovecot: kill -9 at the points of a UID COPY, then the re-run ----------------------


@pytest.mark.parametrize("connections", [1, 3])
@pytest.mark.parametrize("point", COPY_POINTS)
def test_kill_at_a_copy_point_then_rerun(tmp_path, account, point, connections):
    from tests.server.test_kill_points import kill_then_rerun
    from tests.support.faults import KillProxy
    expected = filed_twice_with_state(tmp_path / "store")
    proxy = KillProxy(account.server.imap_port, point, nth=1, command=b"UID COPY").start()
    kill_then_rerun(account, tmp_path, proxy, expected, connections)


