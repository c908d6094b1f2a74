"""Upload once, copy on the server: a message filed in several folders is sent once.

On the in-memory target: the bytes go up once and UID COPY places the other
copies (journaled like an APPEND, recorded by COPYUID), with one connection
and with several; a copy is used only where it carries what an APPEND would
(flags, date); a COPY lost mid-way, refused, or answered without COPYUID
still ends with every message exactly once in every mailbox; copies spend
no daily budget. On Dovecot the same through ``mailmigrate run``.
"""

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


