"""The same migrations on every server people move to: Dovecot and Cyrus, in both
namespace shapes ("" with "/", and "INBOX." with "."). Differences between servers
are asserted as such, named per server, never skipped:

* Cyrus replaces 8-bit bytes in headers with "X" on arrival (same length): the
  message is stored, reported as changed by the server, never sent twice;
* with ``reject8bit: yes`` Cyrus refuses it instead: reported with its words,
  exit 1 from run and verify alike;
* Cyrus advertises its ``maxmessagesize`` as APPENDLIMIT: refused in the plan;
* Dovecot's maildir refuses "." inside a name where "/" is the delimiter: the
  folder "v1.2 notes" gets its documented fallback "v1_2 notes"; Cyrus keeps it.
"""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys

import pytest

from migrate.errors import ExitCode
from tests.conftest import ROOT
from tests.support.builders import crlf, message, write_mbox
from tests.support.faults import Answer, CommandProxy, KillProxy

EIGHT_BIT = "Grüße aus Köln"


def tree(root):
    """A Thunderbird Local Folders tree with the hard cases of a real desktop."""
    (root / "Archive.sbd").mkdir(parents=True)
    (root / "Projekte.sbd").mkdir()
    made = {
        "Inbox": [message("in 1", extra="Status: RO"), message("no id", msgid=None),
                  message("tags", extra="X-Keywords: 50% star*"), message(EIGHT_BIT)],
        "Sent": [message("sent 1", extra="Status: RO")],
        "Archive": [message("arch 1")],
        "Archive.sbd/2019": [message("arch 2019", extra="X-Status: F")],
        "v1.2 notes": [message("dotted")],
        "Projekte": [message("projekt")],
    }
    for name, msgs in made.items():
        write_mbox(root / name, msgs)
    (root / "Projekte.sbd" / "Leer").write_bytes(b"")
    (root / "Projekte.sbd" / "Leer.msf").write_bytes(b"")
    return made


def folders(kind: str) -> dict[str, str]:
    """Source folder -> server mailbox, per server and shape."""
    if kind in ("dovecot", "cyrus"):  # "" with "/"; the others are "INBOX." with "."
        dotted = "v1_2 notes" if kind == "dovecot" else "v1.2 notes"
        return {"Inbox": "INBOX", "Sent": "Sent", "Archive": "Archive",
                "Archive.sbd/2019": "Archive/2019", "v1.2 notes": dotted,
                "Projekte": "Projekte", "Leer": "Projekte/Leer"}
    return {"Inbox": "INBOX", "Sent": "INBOX.Sent", "Archive": "INBOX.Archive",
            "Archive.sbd/2019": "INBOX.Archive.2019", "v1.2 notes": "INBOX.v1_2 notes",
            "Projekte": "INBOX.Projekte", "Leer": "INBOX.Projekte.Leer"}


def as_stored(kind: str, data: bytes) -> bytes:
    """What the server keeps of *data*: Cyrus replaces 8-bit header bytes with X."""
    if not kind.startswith("cyrus"):
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    return bytes(b if b < 0x80 else 0x58 for b in head) + sep + body


def run(mm, account, src, tmp_path, *extra):
    return mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / "state.sqlite", "--yes", "--json", *extra, account=account)


def test_the_whole_tree_arrives_on_every_server(tmp_path, any_account, mm):
    account, kind = any_account, any_account.kind
    made = tree(tmp_path / "Local Folders")
    r = run(mm, account, tmp_path / "Local Folders", tmp_path)
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert summary["missing"] == 0 and not summary["folders_missing"]
    assert summary["final_check"]["by_uid"] == sum(c["expected"] for c in summary["verification"])
    server = account.read_back()
    names = folders(kind)
    for source, mailbox in names.items():
        assert mailbox in server, (kind, mailbox, sorted(server))
        want = [as_stored(kind, crlf(m)) for m in made.get(source, [])]
        assert collections.Counter(m.data for m in server[mailbox]) == \
            collections.Counter(want), (kind, mailbox)
    tags = next(m for m in server["INBOX"] if b"Subject: tags" in m.data)
    assert {"50_", "star_"} <= tags.keyflags
    flagged = server[names["Archive.sbd/2019"]][0]
    assert "\\Flagged" in flagged.keyflags
    checked = mm("verify", tmp_path / "Local Folders", *account.cli_args(), "--state",
                 tmp_path / "state.sqlite", account=account)
    assert checked.code == 0, checked.out
    assert ("changed by the server on arrival" in checked.out) == kind.startswith("cyrus")
    fresh = mm("verify", tmp_path / "Local Folders", *account.cli_args(), account=account)
    assert fresh.code == 0, fresh.out  # without the state too (the header rule)
    again = run(mm, account, tmp_path / "Local Folders", tmp_path)
    assert again.code == 0 and json.loads(again.out)["totals"].get("uploaded", 0) == 0
    again_fresh = mm("run", tmp_path / "Local Folders", *account.cli_args(), "--backup-dir",
                     tmp_path / "bk", "--state", tmp_path / "fresh.sqlite", "--yes", "--json",
                     account=account)
    assert json.loads(again_fresh.out)["totals"].get("uploaded", 0) == 0, again_fresh.out
    assert sum(len(box) for box in account.read_back().values()) == \
        sum(len(v) for v in made.values())


def test_a_message_filed_in_two_folders_is_copied_on_every_server(tmp_path, any_account, mm):
    """Sent once, copied by the server (UID COPY, where it has UIDPLUS): the bytes each
    server keeps (Cyrus's X for 8-bit headers included) are in both folders, with the
    flags of each; verify agrees and a re-run sends nothing."""
    import datetime as dt
    account, kind = any_account, any_account.kind
    msgs = [message("filed 1", extra="Status: RO"), message("filed 2"), message(EIGHT_BIT),
            message("filed 3", msgid=None)]
    dates = [dt.datetime(2018, 4, 1, 9, i) for i in range(len(msgs))]
    root = tmp_path / "Local Folders"
    write_mbox(root / "Inbox", msgs, dates)
    write_mbox(root / "Archive", msgs, dates)
    r = run(mm, account, root, tmp_path)
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert summary["copied"] == len(msgs), (kind, summary["copied"])  # all have UIDPLUS
    server = account.read_back()
    for mailbox in ("INBOX", folders(kind)["Archive"]):
        assert collections.Counter(m.data for m in server[mailbox]) == collections.Counter(
            as_stored(kind, crlf(m)) for m in msgs), (kind, mailbox)
        read = [m for m in server[mailbox] if "\\Seen" in m.keyflags]
        assert [m.data for m in read] == [crlf(msgs[0])], (kind, mailbox)
    checked = mm("verify", root, *account.cli_args(), "--state", tmp_path / "state.sqlite",
                 account=account)
    assert checked.code == 0, checked.out
    again = run(mm, account, root, tmp_path)
    assert again.code == 0 and json.loads(again.out)["totals"].get("uploaded", 0) == 0


@pytest.mark.parametrize("point", ["literal", "ok-held"])
@pytest.mark.parametrize("kind", ["dovecot", "cyrus", "courier"])  # the shape does not matter
def test_kill_at_a_protocol_point_on_every_server(tmp_path, dovecot_servers, cyrus_servers,
                                                  courier_server, kind, point):
    from tests.conftest import account_on
    from tests.server.test_exactly_once import assert_exactly_once, env_for, finish, make_store
    account = account_on(kind, dovecot_servers, cyrus_servers, courier_server)
    expected = make_store(tmp_path / "store", sizes=(("Inbox", 40), ("Sent", 40)))
    if kind == "courier":  # "INBOX." with "."
        expected = {k if k == "INBOX" else f"INBOX.{k}": v for k, v in expected.items()}
    env = env_for(account, tmp_path)
    proxy = KillProxy(account.server.imap_port, point, nth=3).start()

    def command(port):
        args = ["run", tmp_path / "store", *account.cli_args(tls="none", port=port),
                "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
                "--settle-seconds", "1", "--batch-size", "10", "--retry-backoff", "0.05"]
        return [sys.executable, "-m", "migrate", *map(str, args)]

    try:
        proc = subprocess.Popen(command(proxy.port), env=env, cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        proxy.victim = proc.pid
        proc.wait(timeout=120)
    finally:
        proxy.stop()
    assert proxy.landed == point and proc.returncode == -signal.SIGKILL
    finish(command(account.server.imap_port), env)
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


def test_cyrus_reject8bit_refuses_and_run_and_verify_agree(tmp_path, cyrus_servers, mm):
    account = cyrus_servers("reject8bit").add_user()
    write_mbox(tmp_path / "one.mbox", [message("plain"), message(EIGHT_BIT)])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == ExitCode.SKIPPED, r.out + r.err
    summary = json.loads(r.out)
    assert summary["missing"] == 0 and summary["refused_on_check"] == 1
    assert "non-ASCII characters in headers" in summary["failed"][0]["reason"]  # its words
    checked = mm("verify", tmp_path / "one.mbox", *account.cli_args(), "--state",
                 tmp_path / "state.sqlite", account=account)
    assert checked.code == ExitCode.SKIPPED and "COMPLETE EXCEPT 1" in checked.out
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("plain"))]


def test_cyrus_maxmessagesize_is_refused_in_the_plan(tmp_path, cyrus_servers, mm):
    from tests.support.cyrus import Cyrus
    account = cyrus_servers("maxsize").add_user()
    big = message("big", body="b" * (Cyrus.MAX_SIZE + 1000) + "\n")
    write_mbox(tmp_path / "one.mbox", [message("small"), big])
    plan = mm("plan", tmp_path / "one.mbox", *account.cli_args(), account=account)
    assert plan.code == 0 and f"larger than the server's limit of {Cyrus.MAX_SIZE}" in plan.out
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == ExitCode.SKIPPED, r.out + r.err
    checked = mm("verify", tmp_path / "one.mbox", *account.cli_args(), "--state",
                 tmp_path / "state.sqlite", account=account)
    assert checked.code == ExitCode.SKIPPED, checked.out
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("small"))]


@pytest.mark.parametrize("kind", ["dovecot", "cyrus", "courier"])
def test_connections_cut_at_random_bytes_on_every_server(tmp_path, dovecot_servers,
                                                          cyrus_servers, courier_server, kind):
    """The link drops again and again mid-APPEND; the run reconnects and ends exactly once."""
    import random

    from tests.conftest import account_on
    from tests.server.test_exactly_once import assert_exactly_once, env_for, finish, make_store
    from tests.support.faults import FaultProxy
    account = account_on(kind, dovecot_servers, cyrus_servers, courier_server)
    expected = make_store(tmp_path / "store", sizes=(("Inbox", 60), ("Sent", 30)))
    if kind == "courier":
        expected = {k if k == "INBOX" else f"INBOX.{k}": v for k, v in expected.items()}
    proxy = FaultProxy(account.server.imap_port)
    proxy.cut_range = (2_000, 30_000)
    proxy.rng = random.Random(11)
    proxy.start()
    try:
        args = ["run", tmp_path / "store", *account.cli_args(tls="none", port=proxy.port),
                "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
                "--settle-seconds", "1", "--batch-size", "10", "--retry-backoff", "0.05",
                "--timeout", "10"]
        done = finish([sys.executable, "-m", "migrate", *map(str, args)],
                      env_for(account, tmp_path))
    finally:
        proxy.stop()
    assert proxy.cuts >= 2, proxy.cuts
    assert "reconnecting" in done.stderr
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


@pytest.mark.parametrize("kind", ["cyrus", "courier"])  # Dovecot: tests/unit/test_copy_once.py
def test_kill_while_a_copy_is_answered_on_every_server(tmp_path, dovecot_servers, cyrus_servers,
                                                       courier_server, kind):
    """kill -9 when the server's answer to the UID COPY is held back: the copies are
    journaled, and the re-run finds them instead of copying again."""
    from tests.conftest import account_on
    from tests.server.test_kill_points import kill_then_rerun
    from tests.support.copy_once_shared import filed_twice_with_state
    account = account_on(kind, dovecot_servers, cyrus_servers, courier_server)
    expected = filed_twice_with_state(tmp_path / "store")
    if kind == "courier":  # "INBOX." with "."
        expected = {k if k == "INBOX" else f"INBOX.{k}": v for k, v in expected.items()}
    proxy = KillProxy(account.server.imap_port, "ok-held", nth=1, command=b"UID COPY").start()
    kill_then_rerun(account, tmp_path, proxy, expected, 1)


def target_config(account):
    """mailmigrate's TargetConfig for *account* (the Courier server here: plaintext)."""
    from migrate.target import imap
    plain = account.kind == "courier"
    return imap.TargetConfig(
        account.host, account.user, tls="none" if plain else "ssl",
        port=account.server.imap_port if plain else account.server.imaps_port,
        ca_file=None if plain else str(account.server.ca_file),
        password=imap.Secret(account.password))


def top_of(account) -> str:
    """Where a new top-level mailbox goes: under "INBOX." in the dotted shapes."""
    return "INBOX." if account.kind in ("courier", "cyrus-dot", "dovecot-courier-shape") else ""


def test_fingerprints_are_read_fast_and_as_imapclient_reads_them_on_every_server(
        any_account, monkeypatch):
    """Each server's own FETCH answers (item order, flags, a message without the
    fields, one whose header has parens, braces and quotes) are read by the fast path
    (none left to imapclient) into the very fingerprints imapclient's parse gives."""
    from migrate.target import imap, imap_read
    account = any_account
    stored = [(crlf(message("plain")), ()),
              (crlf(message("no id", msgid=None)), ("\\Seen",)),
              (crlf(message(EIGHT_BIT)), ("\\Seen", "\\Flagged", "$Label1")),
              (b"X-Only: none of the fields asked for\r\n\r\nbody\r\n", ("\\Answered", "Junk")),
              (crlf(message('(parens) {5} "quoted" )')), ("\\Draft",))]
    for data, flags in stored:
        account.append("INBOX", data, flags=flags)
    config = target_config(account)
    with imap.IMAPTarget(config) as target:
        target.examine("INBOX")
        uids = list(target.uids())
        fast = target.fingerprints(uids, chunk=3)
        assert target.fetches_parsed_slowly == 0 and len(fast) == len(stored)
        monkeypatch.setattr(imap_read, "fingerprint_items", lambda data: None)
        assert target.fingerprints(uids, chunk=3) == fast
        assert target.fetches_parsed_slowly == 2
    assert [c.flags >= {"\\Seen", "\\Flagged", "$Label1"} for c in fast] == [
        False, False, True, False, False]


def test_many_mailboxes_looked_into_at_once_as_one_by_one_on_every_server(
        any_account, monkeypatch):
    """The run's check reads every mailbox's listing with pipelined commands
    (``look_into``): on each server the answers must be exactly what EXAMINE and a
    UID SEARCH one by one give; a mailbox too big for one answer, one that does not
    exist, and one refused are left to the one-by-one look; afterwards the connection
    works on."""
    from migrate.target import imap
    account = any_account
    top = top_of(account)
    names = ["INBOX"] + [top + n for n in ("Leer", "Grüße", 'Quote " and \\ back', "Big",
                                           "Two")]
    config = target_config(account)
    monkeypatch.setattr(imap.IMAPTarget, "SEARCH_PAGE", 4)
    monkeypatch.setattr(imap.IMAPTarget, "LOOK_WINDOW", 2)  # windows end mid-list
    with imap.IMAPTarget(config) as target:
        names[1:] = [target.ensure_mailbox(name) for name in names[1:]]  # Cyrus: no quote
        for n in range(3):
            account.append("INBOX", crlf(message(f"in {n}")))
        for n in range(6):
            account.append(top + "Big", crlf(message(f"big {n}")))
        for n in range(2):
            account.append(top + "Two", crlf(message(f"two {n}")))
        target.select("INBOX")
        target.client.add_flags(1, ["\\Deleted"])  # a gap in INBOX's UIDs
        target.client.expunge()
        asked = names + [top + "Never made"]
        sends = []
        real = target.client._imap.send
        monkeypatch.setattr(target.client._imap, "send", lambda data: sends.append(1) or
                            real(data))
        looked = target.look_into(asked)
        assert len(sends) == 7  # 4 windows of 2: STATUS, then EXAMINE+SEARCH (not for
        # the last one, whose only mailbox does not exist)
        monkeypatch.undo()
        assert set(looked) == set(names) - {top + "Big"}
        for name, (info, uids) in looked.items():
            alone = target.examine(name)
            assert (info.uidvalidity, info.uidnext, info.exists) == (
                alone.uidvalidity, alone.uidnext, alone.exists), name
            assert list(uids) == list(target.uids()), name
        assert [len(looked[n][1]) for n in names if n in looked] == [2, 0, 0, 0, 2]
        assert target.statuses(asked) == {n: target.status(n) for n in names}
        target.look_into([top + "Two", top + "Never made"])  # the last one refused: none
        target.examine(top + "Two")  # selected, the connection is in step
        assert len(target.fingerprints(list(target.uids()))) == 2


def test_many_mailboxes_copies_read_at_once_as_one_by_one_on_every_server(
        any_account, monkeypatch):
    """``verify`` reads small mailboxes' fingerprints with EXAMINE and UID FETCH 1:*
    pipelined (``copies_in``): each server's answers must give exactly the copies that
    one mailbox at a time gives; a mailbox too big, or missing, is left out; the
    windows end where the message count says."""
    from migrate.target import imap
    account = any_account
    top = top_of(account)
    monkeypatch.setattr(imap.IMAPTarget, "SMALL_MAILBOX", 4)
    monkeypatch.setattr(imap.IMAPTarget, "COPIES_AT_ONCE", 5)  # windows of 4+0, 2+2, ...
    with imap.IMAPTarget(target_config(account)) as target:
        names = ["INBOX"] + [target.ensure_mailbox(top + n)
                             for n in ("Leer", "Grüße", "Big", "Two", "Three")]
        for _n, (box, count) in enumerate([("INBOX", 4), (top + "Big", 6), (names[2], 2),
                                          (top + "Two", 2), (top + "Three", 3)]):
            for i in range(count):
                flags = ("\\Seen", "$Label1") if i % 2 else ()
                account.append(box, crlf(message(f"{box} {i}", msgid=None if i == 1 else
                                                 "auto")), flags=flags)
        read = target.copies_in(names + [top + "Never made"])
        assert set(read) == set(names) - {top + "Big"}
        for name, (info, copies) in read.items():
            alone = target.examine(name)
            assert (info.uidvalidity, info.uidnext, info.exists) == (
                alone.uidvalidity, alone.uidnext, alone.exists), name
            assert copies == target.fingerprints(list(target.uids())), name
        assert [len(read[n][1]) for n in names if n in read] == [4, 0, 2, 2, 3]
        assert target.fetches_parsed_slowly == 0


def test_created_mailboxes_are_subscribed_on_every_server(any_account):
    """SUBSCRIBE is sent without waiting for its answer (a round trip a new mailbox):
    every created mailbox must still be subscribed, whatever command comes next."""
    from migrate.target import imap
    account = any_account
    top = top_of(account)
    config = target_config(account)
    with imap.IMAPTarget(config) as target:
        made = [target.ensure_mailbox(top + "Selected next")]
        target.select(made[0])  # the next command: a SELECT
        made.append(target.ensure_mailbox(top + "Looked at next"))
        target.look_into(made)  # pipelined commands of our own
        made.append(target.ensure_mailbox(top + "Last"))  # then only the LOGOUT
    with imap.IMAPTarget(config) as target:
        subscribed = {name for _, _, name in target.client.list_sub_folders()}
        assert set(made) <= subscribed
        assert not target.client._imap.tagged_commands


def test_mailboxes_created_at_once_as_one_by_one_on_every_server(any_account):
    """A run creates its new mailboxes pipelined (``create_mailboxes``), then each is
    taken as there: on every server they are selectable and subscribed as those made
    one by one, children and special use included, and no CREATE is sent again."""
    from migrate.target import imap
    account = any_account
    top = top_of(account)
    config = target_config(account)
    with imap.IMAPTarget(config) as target:
        d = target.layout.delimiter
        wanted = {"at once": [(top + "Filed", None), (top + "Filed" + d + "2019", None),
                              (top + "Sent at once", "\\Sent"), ("INBOX", None)],
                  "one by one": [(top + "Kept", None), (top + "Kept" + d + "2019", None),
                                 (top + "Drafts one by one", "\\Drafts")]}
        target.create_mailboxes(wanted["at once"])
        target.create_mailboxes([(top + "Filed", None)])  # there now: nothing sent
        assert not target.client._imap.tagged_commands

        def refused(*args, **kwargs):
            raise AssertionError("CREATE sent again")
        real = target.client.create_folder
        target.client.create_folder = refused
        for name, use in wanted["at once"]:
            assert target.ensure_mailbox(name, use) == name
        target.client.create_folder = real
        for name, use in wanted["one by one"]:
            assert target.ensure_mailbox(name, use) == name
    with imap.IMAPTarget(config) as target:
        subscribed = {name for _, _, name in target.client.list_sub_folders()}
        for way, names in wanted.items():
            made = [name for name, _ in names if name != "INBOX"]
            assert target.existing_names(made) == {name: name for name in made}, way
            assert set(made) <= subscribed, way


def test_the_layout_read_in_one_round_trip_is_imapclients_on_every_server(any_account):
    """NAMESPACE and LIST are asked together at login: the prefix, delimiter and every
    listed mailbox (non-ASCII names in modified UTF-7, names sent as literals) are what
    imapclient reads asking one after the other."""
    from migrate.target import imap
    account = any_account
    top = top_of(account)
    with imap.IMAPTarget(target_config(account)) as target:
        for name in ("Übersicht", 'Quote " and \\ back', "Ordner/Unterordner", "Plain"):
            target.ensure_mailbox(top + name.replace("/", target.layout.delimiter))
    with imap.IMAPTarget(target_config(account)) as target:
        client = target.client

        def one_by_one(*args):
            raise AssertionError("asked one by one")
        client.namespace = client.list_folders = one_by_one
        personal, folders = target._namespace_and_list()  # in one round trip, or it raises
        del client.namespace, client.list_folders
        alone = client.namespace().personal if target.has("NAMESPACE") else None
        assert personal == (alone[0] if alone else None)
        assert folders == client.list_folders()
        assert {top + "Übersicht", top + "Plain"} <= {name for _, _, name in folders}


class _DropAt(CommandProxy):
    """Close the connection, unanswered, at the Nth command whose line holds *needle*
    (counted over all connections): a link lost inside a pipelined window."""

    def __init__(self, upstream_port: int, needle: bytes, nth: int):
        super().__init__(upstream_port)
        self.needle, self.nth, self.seen = needle, nth, 0

    def answer(self, state, tag, verb, line, literals):
        if self.needle in line:
            self.seen += 1
            if self.seen == self.nth:
                return Answer(b"", close=True)
        return None


@pytest.mark.parametrize("needle, nth, first_run", [
    (b"UID SEARCH UID 1:*", 2, True),  # the run's check, inside its pipelined window
    (b"(UIDVALIDITY UIDNEXT MESSAGES)", 2, False),  # a re-run's STATUS of every mailbox
])
def test_a_link_lost_inside_a_pipelined_window_is_retried_and_nothing_doubles(
        tmp_path, account, mm, needle, nth, first_run):
    """A drop inside the check's or the STATUS's window: the step is run again on a new
    connection (as after any drop), every message once, nothing missing."""
    src = tmp_path / "Local Folders"
    for n in range(3):
        write_mbox(src / f"F{n}", [message(f"f{n} m{i}") for i in range(4)])
    args = ["run", src, *account.cli_args(tls="none", port=None), "--backup-dir",
            tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes", "--json"]
    if not first_run:
        assert mm(*args, account=account).code == 0
        write_mbox(src / "F3", [message("new m0")])  # a re-run with something to do
    proxy = _DropAt(account.server.imap_port, needle, nth).start()
    try:
        port = args.index("--port") + 1
        args[port] = str(proxy.port)
        r = mm(*args, account=account)
    finally:
        proxy.stop()
    assert proxy.seen >= nth, "the link was never cut where meant"
    assert r.code == 0, r.out + r.err
    server = account.read_back()
    for n in range(3):
        assert sorted(m.data for m in server[f"F{n}"]) == sorted(
            crlf(message(f"f{n} m{i}")) for i in range(4))
    if not first_run:
        assert [m.data for m in server["F3"]] == [crlf(message("new m0"))]
    assert json.loads(r.out)["missing"] == 0
