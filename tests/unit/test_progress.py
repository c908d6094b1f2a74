"""Progress that follows the upload (issue 39, item 2): moving with the bytes the server
confirms inside one large mailbox, counting this run's work only, with the time so far
and a rate-based estimate in the --progress-file an RMM or the jobs runner reads."""

from __future__ import annotations

import json


def test_a_mailbox_looked_at_again_keeps_what_this_run_sent_there(tmp_path):
    """After a reconnect (or the copy round) the upload looks at a mailbox again: the
    messages this run already sent there stay in the total, beside what is left."""
    import collections
    import io
    from types import SimpleNamespace

    from migrate.plan import UPLOAD
    from migrate.progress import Progress
    folder = SimpleNamespace(target="INBOX", counts=lambda: collections.Counter({UPLOAD: 10}),
                             bytes_for=lambda action=None: 1000)
    plan = SimpleNamespace(folders=[folder], totals=lambda: collections.Counter({UPLOAD: 10}))
    progress = Progress(plan, stream=io.StringIO(), progress_file=tmp_path / "p.json")
    progress.settle("INBOX", 8, 800)  # two were on the server already
    assert (progress.total_msgs, progress.total_bytes) == (8, 800)
    for _ in range(3):
        progress.message_done(SimpleNamespace(size=100), "INBOX")
    progress.settle("INBOX", 5, 500)  # looked at again: 5 still to send
    assert (progress.total_msgs, progress.total_bytes) == (8, 800)
    assert json.loads((tmp_path / "p.json").read_text())["of_messages"] == 8
