"""The upload engine on an in-memory target (tests/support/fake_target.py): seconds, not minutes.

Splitting a refused batch, pipelining, one message per APPEND without
MULTIAPPEND, a dropped connection before and after the server stored a
batch, a crash that left a batch in flight, throttling, a stop request, a
full account, keywords refused, folders the server will not create, and a
read-only target that refuses every write.
"""

from __future__ import annotations

import collections
import time

import pytest

from migrate import verify
from migrate.errors import ConnectionFailed, QuotaExceeded
from migrate.plan import FAILED, UPLOADED, build_plan
from migrate.sources import open_store
from migrate.state import State
from migrate.stopping import Stopped
from migrate.target.base import AppendItem, ReadOnlyTarget, ReadOnlyViolation, Target
from migrate.upload import Uploader, UploadOptions
from migrate.upload import mailbox as mailbox_step
from migrate.verify import verify_plan
from tests.support.builders import crlf, message, write_mbox
from tests.support.engine_shared import (
    _DiskFillsUp,
    fetched_fingerprints,
    inbox,
    stop_after,
    store,
    upload,
)
from tests.support.fake_target import FakeServer, FakeTarget, Stored


def test_fake_target_keeps_the_contract():
    assert isinstance(FakeTarget(FakeServer()), Target)


@pytest.mark.parametrize("caps", [("MULTIAPPEND", "LITERAL+"), ("MULTIAPPEND",), ("LITERAL+",), ()],
                         ids=["pipelined-multi", "multi", "pipelined-single", "plain"])
def test_every_transport_uploads_exactly_once(tmp_path, caps):
    server = FakeServer(capabilities=caps)
    path, msgs = store(tmp_path)
    upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs]
    per_append = {n for _, n in server.log}
    assert per_append == ({10} if "MULTIAPPEND" in caps else {1})


@pytest.mark.parametrize("connections", [1, 3])
def test_messages_refused_one_by_one_are_counted_and_the_first_named(tmp_path, monkeypatch,
                                                                      connections):
    """A server refusing most of a mailbox one by one: the run names the first
    FAILED_KEPT in memory (run.json's list) and counts all; every one is FAILED in the
    plan, where run.csv reads them (a million refusals were a million tuples)."""
    from migrate.upload import outcome
    monkeypatch.setattr(outcome, "FAILED_KEPT", 4)
    server = FakeServer()
    server.refuse = lambda item: "[CANNOT] no (fake)" if b"refuse me" in item.data else None
    for name in ("A", "B"):
        store(tmp_path / "src", n=12, name=name,
              extra=lambda i: "X-Note: refuse me" if i % 2 else "")
    plan, uploader = upload(tmp_path, server, tmp_path / "src", connections=connections)
    assert uploader.outcome.failed_count == 12 and len(uploader.outcome.failed) == 4
    actions = collections.Counter(p.action for f in plan.folders for p in f.messages)
    assert actions == {UPLOADED: 12, FAILED: 12}


def test_a_refused_message_is_isolated_and_the_rest_arrive_once(tmp_path):
    server = FakeServer()
    server.refuse = lambda item: "[CANNOT] poisoned (fake)" if b"m13" in item.data else None
    path, msgs = store(tmp_path)
    plan, uploader = upload(tmp_path, server, path)
    # pipelined batches sent before the refusal was known arrive before the split one
    assert sorted(inbox(server)) == sorted(crlf(m) for i, m in enumerate(msgs) if i != 13)
    assert [(loc.split(" at byte ")[0], why) for _, loc, why in uploader.outcome.failed] == [
        (str(path), "server refused: [CANNOT] poisoned (fake)")]
    actions = collections.Counter(p.action for f in plan.folders for p in f.messages)
    assert actions == {UPLOADED: 29, FAILED: 1}
    assert max(n for _, n in server.log) == 10 and min(n for _, n in server.log) < 10  # split


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("caps", [("MULTIAPPEND", "LITERAL+"), ("MULTIAPPEND",)],
                         ids=["pipelined", "synchronous"])
def test_dropped_connection_then_resolution_never_doubles(tmp_path, when, caps):
    server = FakeServer(capabilities=caps)
    server.drop_on = {2: when, 3: when}
    path, msgs = store(tmp_path)
    upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs] or \
        sorted(inbox(server)) == sorted(crlf(m) for m in msgs)  # re-sent batches may reorder
    assert len(inbox(server)) == len(msgs)
    assert server.connections >= 2


def test_a_crash_with_a_batch_in_flight_is_resolved_by_the_next_run(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path)
    plan = build_plan([open_store(path)], server.layout)
    state = State(tmp_path / "state.sqlite")
    planned = list(plan.folders[0].messages)
    state.begin_batch("INBOX", 1, 1, planned[:10])  # journaled, then the process died ...
    target = FakeTarget(server)
    from migrate.target.base import AppendItem
    target.append_batch("INBOX", [AppendItem(crlf(m), (), None) for m in msgs[:6]])  # ... 6 in
    state.close()
    upload(tmp_path, server, path)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in msgs)
    assert len(inbox(server)) == 30


def test_throttling_waits_as_asked_and_completes(tmp_path):
    server = FakeServer()
    server.throttle_on = {2, 7}  # batch 2, then batch 2 again when it is re-sent
    path, msgs = store(tmp_path, n=60)
    sleeps: list[float] = []
    upload(tmp_path, server, path, sleeps=sleeps)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in msgs) and len(inbox(server)) == 60
    # each throttled answer waits the server's "Suggested Backoff Time: 20 milliseconds"
    assert sleeps.count(0.02) == 2


def test_a_stop_request_finishes_in_flight_batches_and_the_rerun_completes(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path, n=60)
    stop = stop_after(server, 2)
    with pytest.raises(Stopped):
        upload(tmp_path, server, path, stop=stop)
    first = len(inbox(server))
    assert 20 <= first < 60 and inbox(server) == [crlf(m) for m in msgs[:first]]
    upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs]


def test_a_full_account_stops_the_run_and_keeps_what_is_stored(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path)
    server.quota_bytes = sum(len(crlf(m)) for m in msgs[:15])
    with pytest.raises(QuotaExceeded, match="full"):
        upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs[:len(inbox(server))]]
    server.quota_bytes = None
    upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs]


def test_refused_keywords_cost_the_keywords_not_the_message(tmp_path):
    server = FakeServer()
    server.refuse = lambda item: ("[CANNOT] Invalid characters in keyword"
                                  if any(not f.startswith("\\") for f in item.flags) else None)
    path, msgs = store(tmp_path, n=3, extra=lambda i: "X-Keywords: work" if i == 1 else "")
    _, uploader = upload(tmp_path, server, path)
    assert inbox(server) == [crlf(m) for m in msgs]
    assert len(uploader.outcome.flags_dropped) == 1


def test_a_message_sent_without_keywords_leaves_every_other_message_its_own(tmp_path):
    """The messages sent again without their keywords were known by their objects' id():
    once a page of them was freed, a later message could take the same address and be
    sent without its keywords too (or, refused, not be tried without them): unnamed."""
    server = FakeServer()
    server.refuse = lambda item: "[CANNOT] Invalid keyword" if "bad" in item.flags else None
    path, msgs = store(tmp_path, n=5000,
                       extra=lambda i: "X-Keywords: bad" if i == 0 else "X-Keywords: work")
    bare, receive = [], server.receive
    server.receive = lambda box, items: (
        bare.extend(i.data for i in items if not {"bad", "work"} & set(i.flags)),
        receive(box, items))[1]
    _, uploader = upload(tmp_path, server, path, batch_messages=50)
    assert bare == [crlf(msgs[0])]  # no other message was ever sent without its keywords
    flags = {m.data: m.flags for m in server.mailboxes["INBOX"].messages}
    assert sorted(flags) == sorted(crlf(m) for m in msgs)  # each once (a refused batch is
    assert [i for i, m in enumerate(msgs) if "work" not in flags[crlf(m)]] == [0]  # sent late)
    assert [loc for _, loc, _ in uploader.outcome.flags_dropped] == [f"{path} at byte 0"]


def test_empty_folders_are_created_and_a_refused_one_is_skipped(tmp_path):
    root = tmp_path / "Local Folders"
    (root / "Projekte.sbd").mkdir(parents=True)
    write_mbox(root / "Inbox", [message("in")])
    (root / "Projekte.sbd" / "Leer").write_bytes(b"")
    (root / "Leer.msf").write_bytes(b"")
    write_mbox(root / "Bad", [message("bad")])
    (root / "Projekte").write_bytes(b"")
    (root / "Projekte.msf").write_bytes(b"")
    (root / "Projekte.sbd" / "Leer.msf").write_bytes(b"")
    server = FakeServer()
    server.refuse_create = {"Bad"}
    _, uploader = upload(tmp_path, server, root)
    assert server.mailboxes["Projekte/Leer"].messages == []
    assert server.mailboxes["Projekte"].messages == []
    assert "Bad" not in server.mailboxes
    assert [m for m, _ in uploader.outcome.failed_folders] == ["Bad"]
    assert inbox(server) == [crlf(message("in"))]


def test_read_only_target_refuses_every_write_and_still_verifies(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path, n=5)
    plan, _ = upload(tmp_path, server, path)
    ro = ReadOnlyTarget(FakeTarget(server))
    for write in (lambda: ro.ensure_mailbox("New"), lambda: ro.select("INBOX"),
                  lambda: ro.append_batch("INBOX", []), lambda: ro.append_start("INBOX", [])):
        with pytest.raises(ReadOnlyViolation):
            write()
    checks = verify_plan(ro, build_plan([open_store(path)], server.layout))
    assert [(c.mailbox, c.expected, len(c.missing), c.duplicated) for c in checks] == [
        ("INBOX", 5, 0, 0)]
    assert "New" not in server.mailboxes


def test_a_stop_during_a_rate_cap_wait_sends_nothing_more(tmp_path):
    """Ctrl-C must not release the batches that were waiting for the provider's cap."""
    server = FakeServer()
    path, msgs = store(tmp_path, n=100)
    stop = stop_after(server, 3)
    plan = build_plan([open_store(path)], server.layout)
    state = State(tmp_path / "state.sqlite")
    opts = UploadOptions(batch_messages=5, settle_seconds=0, max_messages_per_second=50,
                         stop=stop)
    uploader = Uploader(lambda: FakeTarget(server), state, plan, opts)
    with pytest.raises(Stopped):
        uploader.run()
    state.close()
    assert server.appends == 3 and len(inbox(server)) == 15


@pytest.mark.parametrize("drops", [{}, {5: "after", 9: "before", 14: "after"}],
                         ids=["clean", "drops"])
def test_one_message_a_round_trip_servers_share_a_mailbox_over_connections(tmp_path, drops):
    """Courier: no MULTIAPPEND, no LITERAL+. Three connections send one mailbox's shares."""
    server = FakeServer(capabilities=("UIDPLUS",))
    server.drop_on = dict(drops)
    path, msgs = store(tmp_path, n=60)
    _, uploader = upload(tmp_path, server, path, connections=3)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in msgs) and len(inbox(server)) == 60
    assert {n for _, n in server.log} == {1}
    assert server.connections >= 4  # the mailbox step, then three senders
    assert uploader.outcome.uploaded["INBOX"] == 60 - uploader.outcome.resolved
    state = State(tmp_path / "state.sqlite")
    assert state.inflight_batches("INBOX") == []
    assert len(state.recorded("INBOX")) == 60
    state.close()


def test_a_crash_while_shares_were_in_flight_is_resolved_by_the_next_run(tmp_path):
    server = FakeServer(capabilities=("UIDPLUS",))
    path, msgs = store(tmp_path, n=60)
    server.drop_on = {7: "after", 8: "after", 9: "after"}  # three workers lose their links
    plan = build_plan([open_store(path)], server.layout)
    state = State(tmp_path / "state.sqlite")
    opts = UploadOptions(batch_messages=10, settle_seconds=0, connections=3, max_reconnects=0,
                         give_up_after=0)
    with pytest.raises(ConnectionFailed, match="gave up"):
        Uploader(lambda: FakeTarget(server), state, plan, opts,
                 sleep=lambda s: time.sleep(0.005)).run()  # a back-off, not a busy loop
    left = len(state.db.execute("SELECT 1 FROM batches").fetchall())
    state.close()
    assert left >= 1  # batches stored by the server, their answers lost
    server.drop_on = {}
    _, again = upload(tmp_path, server, path, connections=3)
    assert again.outcome.resolved >= 1
    assert sorted(inbox(server)) == sorted(crlf(m) for m in msgs) and len(inbox(server)) == 60


def test_a_recreated_mailbox_shared_over_connections_gets_everything_again(tmp_path):
    """Records of the old mailbox (another UIDVALIDITY) must not count as sent."""
    server = FakeServer(capabilities=("UIDPLUS",))
    path, msgs = store(tmp_path, n=30)
    upload(tmp_path, server, path, connections=3)
    server.recreate("INBOX")
    upload(tmp_path, server, path, connections=3)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in msgs) and len(inbox(server)) == 30


def test_the_end_of_run_check_fetches_only_what_the_records_cannot_vouch_for(tmp_path):
    """run's check: recorded UIDs the server lists are taken as there; the other
    server messages are fingerprinted, so a deleted copy is missing and a copy
    nobody recorded is a duplicate."""
    server = FakeServer()
    path, msgs = store(tmp_path, n=12)
    plan, uploader = upload(tmp_path, server, path)
    box = server.mailboxes["INBOX"]
    gone = box.messages.pop(3)  # another client deleted one
    box.messages.append(Stored(box.uidnext, box.messages[0].data, (), None))  # and copied one
    box.uidnext += 1
    fetched = []
    real = FakeTarget.fingerprints

    def counting(self, uids):
        fetched.append(uids)
        return real(self, uids)

    state = State(tmp_path / "state.sqlite")
    try:
        FakeTarget.fingerprints = counting
        target = ReadOnlyTarget(FakeTarget(server))
        [check] = verify_plan(target, plan, recorded=state.recorded, quick=True)
    finally:
        FakeTarget.fingerprints = real
        state.close()
    assert fetched == [[box.uidnext - 1]]
    assert [p.key for p in check.missing] == [list(plan.folders[0].messages)[3].key]
    assert gone.data == crlf(msgs[3])
    assert check.duplicated_uids == [box.uidnext - 1] and check.matched_by == {"uid": 11}


def test_the_end_of_run_check_of_many_mailboxes_fetches_from_the_right_one(tmp_path):
    """The check lists every mailbox at once (``look_into``: the last one is left
    selected); a fetch for an earlier mailbox must first select that one again, else
    its copies are looked for in another mailbox."""
    server = FakeServer()
    for name in ("A", "B"):
        store(tmp_path / "src", n=5, name=name)
    plan, _ = upload(tmp_path, server, tmp_path / "src")
    box = server.mailboxes["A"]
    box.messages.pop(1)  # another client deleted one and copied one
    box.messages.append(Stored(box.uidnext, box.messages[0].data, (), None))
    box.uidnext += 1
    state = State(tmp_path / "state.sqlite")
    try:
        checks = verify_plan(ReadOnlyTarget(FakeTarget(server)), plan, recorded=state.recorded,
                             quick=True)
    finally:
        state.close()
    a, b = sorted(checks, key=lambda c: c.mailbox)
    assert (len(a.missing), a.duplicated_uids, len(b.missing)) == (1, [box.uidnext - 1], 0)


@pytest.mark.parametrize("connections", [1, 3])
def test_a_run_asks_for_its_new_mailboxes_at_once(tmp_path, connections):
    """The mailboxes a run needs are created in one pipelined request (a round trip each
    was a third of a first run of many folders over a WAN); one refused is still tried
    and named by ensure_mailbox, and every other message arrives once."""
    server = FakeServer()
    for name in ("A", "B", "C:D"):
        store(tmp_path / "src", n=4, name=name)
    server.refuse_create = {"C:D"}
    plan, uploader = upload(tmp_path, server, tmp_path / "src", connections=connections)
    assert [sorted(names) for names in server.created_at_once] == [["A", "B", "C:D"]]
    assert sorted(server.mailboxes) == ["A", "B", "INBOX"]
    assert all(len(server.mailboxes[m].messages) == 4 for m in ("A", "B"))
    assert [m for m, _ in uploader.outcome.failed_folders] == ["C:D"]


@pytest.mark.parametrize("gone", [False, True])
def test_the_end_of_run_check_lists_no_mailbox_the_run_made_sure_of(tmp_path, monkeypatch, gone):
    """The run created or selected each mailbox under its name: its check asks no LIST
    (a round trip) for them. One another client deleted meanwhile does not open, and
    its messages are counted missing."""
    server = FakeServer()
    for name in ("A", "B"):
        store(tmp_path / "src", n=5, name=name)
    plan, uploader = upload(tmp_path, server, tmp_path / "src")
    listed = []
    real = FakeTarget.existing_names
    monkeypatch.setattr(FakeTarget, "existing_names",
                        lambda self, names: listed.append(names) or real(self, names))
    if gone:
        del server.mailboxes["B"]
    uploader.state = State(tmp_path / "state.sqlite")
    try:
        checks = {c.mailbox: c for c in uploader.verify()}
    finally:
        uploader.state.close()
    assert listed == [] and sorted(checks) == ["A", "B"]
    assert (checks["A"].ok, len(checks["A"].missing)) == (True, 0)
    assert (checks["B"].ok, len(checks["B"].missing)) == (not gone, 5 if gone else 0)


@pytest.mark.parametrize("connections", [1, 3])
def test_a_rerun_opens_no_mailbox_whose_messages_are_all_recorded(tmp_path, connections):
    """A no-op re-run of many folders: UIDVALIDITY from one STATUS of every mailbox
    vouches for the records, no SELECT each; a mailbox recreated meanwhile (a new
    UIDVALIDITY) or holding one unrecorded message is opened and gets what it lacks."""
    server = FakeServer()
    for name in ("A", "B", "C"):
        store(tmp_path / "src", n=4, name=name)
    upload(tmp_path, server, tmp_path / "src", connections=connections)
    state = State(tmp_path / "state.sqlite")
    try:
        a = state.db.execute("SELECT content_hash FROM messages WHERE mailbox='A'").fetchone()
        state.db.execute("DELETE FROM messages WHERE mailbox='A' AND content_hash=?", a)
        state.db.commit()
    finally:
        state.close()
    server.mailboxes["B"].uidvalidity += 1  # recreated: its messages are gone too
    server.mailboxes["B"].messages.clear()
    selected = []
    real = FakeTarget.select
    FakeTarget.select = lambda self, name, readonly=False: (
        selected.append(name) if not readonly else None) or real(self, name, readonly)
    try:
        plan, uploader = upload(tmp_path, server, tmp_path / "src", connections=connections)
    finally:
        FakeTarget.select = real
    assert sorted(set(selected)) == ["A", "B"]
    assert uploader.outcome.uploaded == {"B": 4}  # again; A's unrecorded one was there
    for name in ("A", "B", "C"):
        assert len(server.mailboxes[name].messages) == 4, name
    assert {p.action for f in plan.folders for p in f.messages} == {"done", "uploaded",
                                                                    "present"}
    logins = []
    real_init = FakeTarget.__init__
    FakeTarget.__init__ = lambda self, *a, **k: logins.append(1) or real_init(self, *a, **k)
    try:  # nothing left anywhere: one login, no worker
        plan, uploader = upload(tmp_path, server, tmp_path / "src", connections=connections)
    finally:
        FakeTarget.__init__ = real_init
    assert len(logins) == 1 and not uploader.outcome.uploaded
    assert {p.action for f in plan.folders for p in f.messages} == {"done"}


def test_a_replan_opens_only_mailboxes_its_records_do_not_vouch_for(tmp_path):
    """``plan`` with a state after a run (the report before cutover, again): one STATUS
    of every mailbox, no EXAMINE each where every message is recorded there."""
    from migrate.plan import DONE, PRESENT
    from migrate.survey import survey
    server = FakeServer()
    for name in ("A", "B", "C"):
        store(tmp_path / "src", n=4, name=name)
    upload(tmp_path, server, tmp_path / "src")
    state = State(tmp_path / "state.sqlite")
    try:
        a = state.db.execute("SELECT content_hash FROM messages WHERE mailbox='A'").fetchone()
        state.db.execute("DELETE FROM messages WHERE mailbox='A' AND content_hash=?", a)
        state.db.commit()
        plan = build_plan([open_store(tmp_path / "src")], server.layout)
        examined = []
        target = ReadOnlyTarget(FakeTarget(server))
        real = FakeTarget.select
        FakeTarget.select = lambda self, name, readonly=False: examined.append(name) or real(
            self, name, readonly)
        try:
            survey(target, plan, state.recorded, measure=False)
        finally:
            FakeTarget.select = real
    finally:
        state.close()
    assert examined == ["A"]
    assert {f.target: f.messages.counts() for f in plan.folders} == {
        "A": {DONE: 3, PRESENT: 1}, "B": {DONE: 4}, "C": {DONE: 4}}


def test_flags_a_server_drops_on_append_are_added_back(tmp_path):
    """Some providers store APPENDed mail without its flags: they are checked and restored."""
    server = FakeServer()
    server.drop_flags = True
    path, msgs = store(tmp_path, n=12, extra=lambda i: "Status: RO" if i % 3 == 0 else
                       ("X-Status: F" if i % 3 == 1 else ""))
    plan, uploader = upload(tmp_path, server, path)
    flags = [set(m.flags) for m in server.mailboxes["INBOX"].messages]
    assert flags == [{"\\Seen"} if i % 3 == 0 else {"\\Flagged"} if i % 3 == 1 else set()
                     for i in range(12)]
    assert uploader.outcome.flags_repaired == 8
    assert all(set(f) <= {"\\Seen", "\\Flagged"} for _, _, f in server.stores)  # only added


def test_nothing_is_stored_when_the_server_kept_the_flags(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path, n=6, extra=lambda i: "Status: RO")
    _, uploader = upload(tmp_path, server, path)
    assert server.stores == [] and uploader.outcome.flags_repaired == 0


def test_more_connections_than_the_account_allows_go_on_with_fewer(tmp_path):
    """Gmail answers a 16th login with "[ALERT] Too many simultaneous connections": the run
    waits for one of its own to close instead of failing, and every message arrives once."""
    server = FakeServer()
    server.max_connections = 2
    for name in ("Archive", "Sent", "Work", "Old"):
        server.create(name)
    root = tmp_path / "tree"
    root.mkdir()
    made = {}
    for name in ("Archive", "Sent", "Work", "Old"):
        made[name] = [message(f"{name} {i}") for i in range(6)]
        write_mbox(root / name, made[name])
    plan = build_plan([open_store(root)], server.layout)
    state = State(tmp_path / "state.sqlite")
    opts = UploadOptions(batch_messages=4, settle_seconds=0, backoff_base=0.01, connections=4)
    try:
        Uploader(lambda: FakeTarget(server), state, plan, opts,
                 sleep=lambda s: time.sleep(0.005)).run()  # a back-off, not a busy loop
    finally:
        state.close()
    assert server.most_open <= 2
    for name, msgs in made.items():
        assert [m.data for m in server.mailboxes[name].messages] == [crlf(m) for m in msgs]


def test_the_full_check_names_messages_stored_without_their_flags(tmp_path):
    server = FakeServer()
    path, msgs = store(tmp_path, n=4, extra=lambda i: "Status: RO")
    upload(tmp_path, server, path)
    server.mailboxes["INBOX"].messages[2].flags = ()  # someone marked it unread since
    state = State(tmp_path / "state.sqlite")
    try:
        [check] = verify_plan(ReadOnlyTarget(FakeTarget(server)),
                              build_plan([open_store(path)], server.layout),
                              recorded=state.recorded)
    finally:
        state.close()
    assert [(p.key, verify.lacking(mark)) for _, marked in check.flags_missing.folders()
            for p, mark in marked] == [
        (list(build_plan([open_store(path)]).folders[0].messages)[2].key, ("\\Seen",))]
    assert check.ok  # flags are reported, not counted as missing mail


def test_flags_unchecked_when_a_run_stopped_are_repaired_by_the_next(tmp_path, monkeypatch):
    """A run killed after its upload but before its flag check: the next run checks the
    flags of those earlier uploads too; once checked, later runs do not ask again."""
    server = FakeServer()
    server.drop_flags = True
    path, msgs = store(tmp_path, n=6, extra=lambda i: "Status: RO")

    class Killed(Exception):
        pass

    def killed(worker, mailbox, fplans):
        raise Killed()

    with monkeypatch.context() as m:
        m.setattr(mailbox_step, "repair_flags", killed)
        with pytest.raises(Killed):
            upload(tmp_path, server, path)
    assert all(not m.flags for m in server.mailboxes["INBOX"].messages)
    _, uploader = upload(tmp_path, server, path)  # nothing to send; the check is still due
    assert uploader.outcome.flags_repaired == 6
    assert all(set(m.flags) == {"\\Seen"} for m in server.mailboxes["INBOX"].messages)
    stores = len(server.stores)
    upload(tmp_path, server, path)
    assert len(server.stores) == stores  # checked once


@pytest.mark.parametrize("refusal", [
    "[TOOBIG] Message too large. https://support.google.com/mail/answer/6584",  # Gmail
    "Maximum size of appendable message has been exceeded.",  # Exchange Online
    "Command Argument Error. 11",  # Exchange Online
])
def test_provider_refusals_are_per_message_with_the_servers_words(tmp_path, refusal):
    server = FakeServer()
    server.refuse = lambda item: refusal if b"m7" in item.data or b"m21" in item.data else None
    path, msgs = store(tmp_path)
    plan, uploader = upload(tmp_path, server, path)
    assert sorted(inbox(server)) == sorted(crlf(m) for i, m in enumerate(msgs)
                                           if i not in (7, 21))
    assert sorted(why for _, _, why in uploader.outcome.failed) == \
        [f"server refused: {refusal}"] * 2


def test_keywords_a_server_drops_on_append_are_added_back(tmp_path):
    server = FakeServer()
    server.drop_flags = True
    path, msgs = store(tmp_path, n=4, extra=lambda i: "Status: RO\nX-Keywords: work" if i < 2
                       else "")
    _, uploader = upload(tmp_path, server, path)
    assert [set(m.flags) for m in server.mailboxes["INBOX"].messages] == \
        [{"\\Seen", "work"}, {"\\Seen", "work"}, set(), set()]
    assert uploader.outcome.flags_repaired == 2 and not uploader.outcome.flags_dropped


def test_keywords_the_server_will_not_add_back_are_named_and_flags_restored(tmp_path):
    server = FakeServer()
    server.drop_flags = server.refuse_keyword_store = True
    path, msgs = store(tmp_path, n=3, extra=lambda i: "Status: RO\nX-Keywords: work" if i == 0
                       else "")
    _, uploader = upload(tmp_path, server, path)
    assert set(server.mailboxes["INBOX"].messages[0].flags) == {"\\Seen"}
    assert uploader.outcome.flags_repaired == 1
    assert [why for _, _, why in uploader.outcome.flags_dropped] == [
        "stored without its keywords work: the server dropped them on APPEND and refused to "
        "add them back"]


@pytest.mark.parametrize("connections", [1, 3])
def test_messages_stored_without_keywords_are_each_named_once_and_few_kept(
        tmp_path, monkeypatch, connections):
    """A server that keeps no keyword of any message names every one (a list in memory
    of a million before): the first few are kept for run.json, run.csv reads all back,
    each once, in order, odd bytes in a name included."""
    import csv

    from migrate import run_document, run_report
    from migrate.upload import outcome
    monkeypatch.setattr(outcome, "FAILED_KEPT", 3)
    server = FakeServer()
    server.drop_flags = server.refuse_keyword_store = True
    for name in ("A", "B\udcff"):  # an undecodable byte in a file name
        store(tmp_path / "src", n=10, name=name, extra=lambda i: "X-Keywords: work")
    plan, uploader = upload(tmp_path, server, tmp_path / "src", connections=connections)
    dropped = uploader.outcome.flags_dropped
    assert len(dropped) == 20 and len(dropped[:verify.DETAIL_LIMIT]) == 3
    named = [loc for _, loc, _ in dropped]
    assert sorted(named) == sorted(p.location for f in plan.folders for p in f.messages)
    assert run_document.counts_of(plan, uploader.outcome, [])["flags_dropped_count"] == 20
    run_report.write_run_csv(tmp_path / "run.csv", plan, [], dropped)
    with open(tmp_path / "run.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["what"] == "stored without its keywords"]
    assert len(rows) == 20 and len({r["source"] for r in rows}) == 20


@pytest.mark.parametrize("room", [None, 0, 250, 10 ** 6])
def test_names_beyond_those_kept_are_read_back_once_in_order(monkeypatch, room):
    """upload.Named: the first few in memory, the rest through a temporary file; a disk
    with no room (the file cannot be made, or fills up inside a row) keeps the rest in
    memory instead, and each row still comes back once, in order."""
    import tempfile

    from migrate.upload import Named
    if room is None:
        monkeypatch.setattr(tempfile, "TemporaryFile",
                            lambda **_: (_ for _ in ()).throw(PermissionError(13, "denied")))
    else:
        real = tempfile.TemporaryFile
        monkeypatch.setattr(tempfile, "TemporaryFile",
                            lambda **kw: _DiskFillsUp(room, real(**kw)))
    monkeypatch.setattr(Named, "SPILL", 2)
    rows = [("INBOX", f"caf\u00e9 \udcff {i}.mbox at byte {i}", "stored without its keywords x")
            for i in range(11)]
    named = Named(kept=3)
    named.extend(rows)
    assert len(named) == 11 and named[:1000] == rows[:3]
    assert list(named) == rows and list(named) == rows  # read back twice: the same


@pytest.mark.parametrize("change", ["same size", "shorter", "longer"])
def test_a_source_changed_after_the_plan_is_never_sent(tmp_path, change):
    """The upload reads an mbox message where the plan found it and sends only the
    bytes the plan hashed: a file rewritten in between stops the folder."""
    from migrate.errors import SourceError
    path, msgs = store(tmp_path, n=12)
    server = FakeServer()
    plan = build_plan([open_store(path)], server.layout)
    data = path.read_bytes()
    at = data.index(b"body 7")
    path.write_bytes({"same size": data[:at] + b"BODY 7" + data[at + 6:],
                      "shorter": data[:at] + data[at + 6:],
                      "longer": data[:at] + b"more " + data[at:]}[change])
    state = State(tmp_path / "state.sqlite")
    uploader = Uploader(lambda: FakeTarget(server), state, plan,
                        UploadOptions(batch_messages=5, settle_seconds=0, backoff_base=0.01))
    try:
        with pytest.raises(SourceError, match="changed while|no longer where"):
            uploader.run()
    finally:
        state.close()
    assert inbox(server) == [crlf(m) for m in msgs[:5]]  # batches before it; nothing changed


def test_a_resumed_upload_reads_only_what_is_left(tmp_path, monkeypatch):
    """Messages an earlier run sent are not read again (mbox: read where they are)."""
    from migrate.sources import mbox
    path, msgs = store(tmp_path, n=30)
    server = FakeServer()
    state = State(tmp_path / "state.sqlite")
    plan = build_plan([open_store(path)], server.layout)
    opts = UploadOptions(batch_messages=10, settle_seconds=0, backoff_base=0.01,
                         stop=stop_after(server, 2))
    with pytest.raises(Stopped):
        Uploader(lambda: FakeTarget(server), state, plan, opts).run()
    assert len(inbox(server)) == 20
    plan = build_plan([open_store(path)], server.layout)
    read = []
    real = mbox.MboxAt.read
    monkeypatch.setattr(mbox.MboxAt, "read", lambda self, key: read.append(key) or
                        real(self, key))
    monkeypatch.setattr(mbox.MboxFolder, "messages", lambda self: pytest.fail("walked"))
    Uploader(lambda: FakeTarget(server), state, plan, UploadOptions(settle_seconds=0)).run()
    state.close()
    assert inbox(server) == [crlf(m) for m in msgs]
    assert len(read) == 10


def test_a_server_dying_at_the_same_step_is_named_with_advice(tmp_path, monkeypatch):
    """Dovecot's imap process dies when it opens a mailbox too big for its memory limit:
    every reconnect is lost at the same SELECT. The run stops, saying so."""
    from tests.support import fake_target
    path, _ = store(tmp_path, n=3)
    server = FakeServer()

    def dies(self, name, readonly=False):
        raise ConnectionFailed("connection to 127.0.0.1:143 lost during select: abort: "
                               "command: SELECT => socket error: EOF")
    monkeypatch.setattr(fake_target.FakeTarget, "select", dies)
    with pytest.raises(ConnectionFailed, match="same step every time.*vsz_limit"):
        upload(tmp_path, server, path, max_reconnects=2, give_up_after=0)


@pytest.mark.parametrize("searches", [True, False], ids=["server-searches", "will-not-search"])
def test_the_report_reaches_the_inbox_once_whether_or_not_the_server_searches(searches):
    """report_mail asks the server for the report's Message-ID (an INBOX of a million
    messages is not fetched); a server that will not search is read a page at a time."""
    from migrate import report_mail
    server = FakeServer()
    for i in range(3):
        server.receive("INBOX", [AppendItem(crlf(message(f"m{i}")), (), None)])
    target = FakeTarget(server)
    if not searches:
        target.search_header = lambda field, value: None

    class Meta(dict):
        meta, set_meta = dict.get, dict.__setitem__
    meta = Meta()
    summary = {"totals": {"uploaded": 3}, "folders": []}
    said = [report_mail.deliver(target, meta, summary, "pat@example.org", "imap.example.org")
            for _ in range(2)]
    assert said == ["delivered to INBOX", "already in INBOX"]
    assert len(inbox(server)) == 4


def test_the_report_groups_what_stayed_behind_and_names_each_message():
    """Issue 39.9: "Inbox: deleted" eight times, and no word of which messages. Now one
    line per folder and reason with the count, then each message by subject, date and
    sender (NAMED_PER_REASON of them), in the client's language."""
    from migrate import report_mail
    left = [{"folder": "Inbox", "reason": "deleted", "action": "skip", "source": f"b{i}",
             "subject": f"Rechnung {i}", "date": "Tue, 3 Mar 2015 10:04:05 +0100",
             "from": "Anna <a@example.org>"} for i in range(25)]
    summary = {"totals": {"uploaded": 3, "skip": 25}, "folders": [], "not_uploaded": left,
               "not_uploaded_count": 30}
    text = report_mail.build(summary, "pat@example.org", "imap.example.org",
                             language="de").decode()
    assert text.count("Inbox: 25 x im alten Programm gelöscht") == 1
    assert "- \u201cRechnung 0\u201d, 2015-03-03 10:04, von Anna <a@example.org>" in text
    assert "Rechnung 19" in text and "Rechnung 20" not in text
    assert "... und 10 weitere" in text and "b0" not in text
    english = report_mail.build(summary, "pat@example.org", "imap.example.org").decode()
    assert "Inbox: 25 x deleted in the mail client but not yet compacted" in english


def test_verify_json_names_the_first_unexpected_with_headers_and_the_rest_as_a_uid_set(
        tmp_path, monkeypatch):
    """A folder that held a million messages before the migration: verify.json made a
    row for each (300 MB of dicts); the first DETAIL_LIMIT are described, the others
    named by an IMAP UID set a technician can fetch."""
    path, msgs = store(tmp_path, 3)
    server = FakeServer()
    server.receive("INBOX", [AppendItem(crlf(message(f"theirs {i}")), (), None)
                             for i in range(5)])
    server.receive("INBOX", [AppendItem(crlf(m), (), None) for m in msgs])
    plan = build_plan([open_store(path)], server.layout)
    monkeypatch.setattr(verify, "DETAIL_LIMIT", 2)
    checks = verify_plan(FakeTarget(server), plan, describe_server=True)
    [box] = verify.check_report(checks)["mailboxes"]
    assert box["unexpected_count"] == 5 and [r["uid"] for r in box["unexpected"]] == [1, 2]
    assert box["unexpected_more"] == "3:5" and box["missing"] == []


def test_verify_runs_the_looser_pass_only_over_what_the_exact_pass_left(tmp_path, monkeypatch):
    """Pages of 2 messages: a message the exact pass found on an earlier page must not
    take a second copy in the looser pass (it would hide a duplicate as found)."""
    from migrate import spool
    monkeypatch.setattr(spool, "PAGE", 2)
    path, msgs = store(tmp_path, 5)
    server = FakeServer()
    server.receive("INBOX", [AppendItem(crlf(m), (), None) for m in msgs])
    server.receive("INBOX", [AppendItem(crlf(msgs[1]) + b"\r\nadded by the server\r\n", (),
                                        None)])  # a second copy, longer: the looser pass's
    plan = build_plan([open_store(path)], server.layout)
    [check] = verify_plan(FakeTarget(server), plan)
    assert check.matched_by == {"headers": 5} and list(check.altered) == []
    assert check.duplicated_uids == [6] and not check.missing


def test_named_messages_come_back_in_source_order_with_their_marks(tmp_path):
    """The full check names a message changed on arrival in two passes (by UID, then by
    the looser rule): the report lists them in the source's order all the same."""
    path, _ = store(tmp_path, 6)
    plan = build_plan([open_store(path)])
    [f] = plan.folders
    ps = list(f.messages)
    named = verify.Named()
    for i, mark in ((4, 1), (1, 0), (5, 6), (0, 8)):
        named.add(f, ps[i], mark)
    assert len(named) == 4 and named and not verify.Named()
    [(folder, marked)] = list(named.folders())
    assert folder is f
    assert [(p.key, verify.lacking(m)) for p, m in marked] == [
        (ps[0].key, ("\\Draft",)), (ps[1].key, ()), (ps[4].key, ("\\Seen",)),
        (ps[5].key, ("\\Answered", "\\Flagged"))]


def test_verify_report_caps_what_it_shows_and_says_where_every_one_is(tmp_path, monkeypatch):
    """The terminal and verify.json name the first DETAIL_LIMIT of each kind, then say how
    many more there are and where each is named (advice that can be followed)."""
    from migrate.cli import verify_cmd
    path, msgs = store(tmp_path, 7)
    server = FakeServer()
    server.receive("INBOX", [AppendItem(crlf(m), (), None) for m in msgs[:2]] * 2)
    plan = build_plan([open_store(path)], server.layout)
    monkeypatch.setattr(verify, "DETAIL_LIMIT", 3)
    checks = verify_plan(FakeTarget(server), plan, describe_server=True)
    result = verify.check_report(checks)
    result["conclusion"] = verify_cmd.conclusion(result)
    [box] = result["mailboxes"]
    assert (box["missing_count"], len(box["missing"]), box["duplicated_count"]) == (5, 3, 2)
    assert result["schema"] == "mailmigrate-verify/3"
    text = verify_cmd.render(result, with_state=False)
    assert "5 missing" in text and text.count("  missing: ") == 3
    assert "... and 2 more messages like those above: run the same command with --report " \
           "DIR: DIR/verify.csv names every one" in text
    text = verify_cmd.render(result, with_state=False, report_dir=tmp_path / "rep")
    assert f"{tmp_path / 'rep' / 'verify.csv'} names every one" in text


def test_the_run_report_names_the_first_of_each_list_and_its_csv_every_one(tmp_path,
                                                                            monkeypatch):
    """A Thunderbird folder never compacted holds its deleted messages (a million of
    them is no stretch): run.json listed each (a dict apiece); it now names the first
    DETAIL_LIMIT with the count, and run.csv every one, written from the plan's spool."""
    import csv

    from migrate import run_document, run_report
    server = FakeServer()
    path, _ = store(tmp_path, 9, extra=lambda i: "X-Mozilla-Status: 0008" if i % 3 else "")
    plan, uploader = upload(tmp_path, server, path)
    monkeypatch.setattr(run_document, "DETAIL_LIMIT", 2)
    summary = run_document.counts_of(plan, uploader.outcome, [])
    assert summary["not_uploaded_count"] == 6 and len(summary["not_uploaded"]) == 2
    run_report.write_run_csv(tmp_path / "run.csv", plan, [])
    with open(tmp_path / "run.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["source"] for r in rows] == [p.location for p in plan.folders[0].messages
                                           if p.action == "skip"]
    assert {r["what"] for r in rows} == {"skipped"}
    # each named as its owner knows it: subject, date and sender, read from the source
    assert all(r["subject"] and r["date"] and r["from"] for r in rows), rows
    first = summary["not_uploaded"][0]
    from migrate.report_html import message_words
    assert first["subject"] in message_words(first) and first["source"] not in \
        message_words(first)
    run_report.write_run_csv(tmp_path / "run.csv", plan, [], [("INBOX", "one.mbox#3", "why")])
    with open(tmp_path / "run.csv", newline="", encoding="utf-8") as fh:
        last = list(csv.DictReader(fh))[-1]
    assert (last["source"], last["what"], last["why"]) == (
        "one.mbox#3", "stored without its keywords", "why")
    summary.update(altered_count=25, altered=[{"mailbox": "INBOX", "source": "x"}] * 2,
                   run_csv="/s/state.run.csv", verification=[], missing=0)
    text = run_report.render_summary(summary)
    assert "25 changed by the server" in text and text.count("changed by the server on") == 2
    assert "... and 23 more changed on arrival (/s/state.run.csv names every one)" in text


def test_the_run_check_reads_no_message_older_than_the_first_upload(tmp_path, monkeypatch):
    """An INBOX that held mail before the migration: the check at the end of each run
    fetched every one of its fingerprints again (a million: a minute). UIDs only grow,
    so none below the UIDNEXT before our first upload can be a copy of ours; only the
    newer ones are read, and a copy sent twice is still counted."""
    server = FakeServer()
    theirs = [AppendItem(crlf(message(f"theirs {i}")), (), None) for i in range(40)]
    server.receive("INBOX", theirs)
    path, msgs = store(tmp_path, 12)
    plan, uploader = upload(tmp_path, server, path)
    state = State(tmp_path / "state.sqlite")
    try:
        assert state.upload_floor("INBOX", server.mailboxes["INBOX"].uidvalidity) == 41
        asked = fetched_fingerprints(monkeypatch)
        uploader.state = state
        [check] = uploader.verify()
        assert asked == [] and not check.missing and check.unexpected == 40
        assert check.matched_by == {"uid": 12} and check.duplicated == 0
        server.receive("INBOX", [AppendItem(crlf(msgs[3]), (), None)])  # sent twice
        server.receive("INBOX", theirs[:1])  # and new mail arrives meanwhile
        [check] = uploader.verify()
        assert asked == [53, 54] and check.duplicated_uids == [53]
        assert list(check.unexpected_uids) == list(range(1, 41)) + [54]
    finally:
        state.close()


def test_the_run_check_reads_everything_when_a_message_is_not_found_by_uid(tmp_path,
                                                                          monkeypatch):
    """A message the server gave no UID for (no UIDPLUS), or whose copy was removed, is
    looked for among all the server's messages, as before."""
    server = FakeServer()
    server.receive("INBOX", [AppendItem(crlf(message(f"theirs {i}")), (), None)
                             for i in range(5)])
    path, msgs = store(tmp_path, 4)
    plan, uploader = upload(tmp_path, server, path)
    state = State(tmp_path / "state.sqlite")
    try:
        uploader.state = state
        box = server.mailboxes["INBOX"]
        box.messages = [m for m in box.messages if m.uid != 7]  # another client deleted one
        asked = fetched_fingerprints(monkeypatch)
        [check] = uploader.verify()
        assert sorted(asked) == [1, 2, 3, 4, 5] and len(check.missing) == 1  # all not ours
    finally:
        state.close()


def test_no_floor_is_recorded_where_an_earlier_upload_of_ours_is(tmp_path):
    """A state written before the floor was recorded holds uploads below any floor a
    later batch could give: none is recorded, and the check reads everything."""
    path, msgs = store(tmp_path, 3)
    plan = build_plan([open_store(path)])
    p0, p1 = list(plan.folders[0].messages)[:2]
    state = State(tmp_path / "state.sqlite")
    try:
        batch = state.begin_batch("INBOX", 7, 20, [p0])
        state.finish_batch(batch, 7, [20])
        state.db.execute("DELETE FROM upload_floor")  # as a state from before version 6
        state.finish_batch(state.begin_batch("INBOX", 7, 21, [p1]), 7, [21])
        assert state.upload_floor("INBOX", 7) is None
        state.finish_batch(state.begin_batch("Sent", 7, 5, [p1]), 7, [5])
        assert state.upload_floor("Sent", 7) == 5 and state.upload_floor("Sent", 8) is None
        state.finish_batch(state.begin_batch("Sent", 7, 9, [p0]), 7, [9])
        assert state.upload_floor("Sent", 7) == 5  # the first batch's, kept
    finally:
        state.close()


def test_refused_and_keywordless_messages_are_shown_twenty_then_counted(tmp_path):
    """A server that refuses many messages one by one flooded the terminal with a line
    each; it shows 20 of each list and says where every one is named."""
    from migrate import run_report
    failed = [{"mailbox": "INBOX", "source": f"m{i}", "reason": "server refused: virus"}
              for i in range(25)]
    summary = {"totals": {}, "not_moving": [], "failed": failed, "failed_count": 3000,
               "flags_dropped": failed[:2], "flags_dropped_count": 2, "verification": [],
               "missing": 0, "run_csv": "/s/state.run.csv"}
    text = run_report.render_summary(summary)
    assert text.count("    failed: m") == 20 and "failed: m20:" not in text
    assert "... and 2980 more refused by the server (/s/state.run.csv names every one)" in text
    assert text.count("stored without keywords: m") == 2 and "more stored without" not in text


def test_messages_are_named_even_when_their_source_is_gone(tmp_path):
    """verify re-reads the sources to describe what it names; a source removed since
    the plan read it leaves every message named, described by nothing."""
    path, _ = store(tmp_path, 3)
    plan = build_plan([open_store(path)])
    [f] = plan.folders
    ps = list(f.messages)
    assert [found["subject"] for _, found in verify.described(f, iter(ps))] == ["m0", "m1", "m2"]
    path.unlink()
    assert [(p.key, found) for p, found in verify.described(f, iter(ps))] == [
        (p.key, {}) for p in ps]
