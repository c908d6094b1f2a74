"""Server shapes: TLS variants, Courier-like namespace, a server without extensions."""

from __future__ import annotations

import datetime as dt

import pytest

from migrate.errors import ExitCode
from tests.support.builders import crlf, message, write_mbox
from tests.support.dovecot import make_self_signed


def tree(root):
    """A Thunderbird-like tree: Inbox, Sent, Archive with a child, a name with a dot."""
    (root / "Archive.sbd").mkdir(parents=True)
    made = {
        ("Inbox",): [message("in 1"), message("in 2", extra="Status: RO")],
        ("Sent",): [message("sent 1", extra="Status: RO")],
        ("Archive",): [message("arch 1")],
        ("Archive", "2019"): [message("arch 2019", extra="X-Status: F")],
        ("v1.2 notes",): [message("dotted")],
    }
    for name, msgs in made.items():
        path = root.joinpath(*[n + ".sbd" for n in name[:-1]], name[-1])
        write_mbox(path, msgs)
    return made


def run(mm, account, src, tmp_path, *extra):
    return mm("run", src, *account.cli_args(*extra), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / "state.sqlite", "--yes", account=account)


def test_courier_namespace_tree(tmp_path, make_account, mm):
    account = make_account("courier")
    made = tree(tmp_path / "Local Folders")
    r = run(mm, account, tmp_path / "Local Folders", tmp_path)
    assert r.code == 0, r.err
    server = account.read_back()
    expect = {
        "INBOX": made[("Inbox",)],
        "INBOX.Sent": made[("Sent",)],
        "INBOX.Archive": made[("Archive",)],
        "INBOX.Archive.2019": made[("Archive", "2019")],
        "INBOX.v1_2 notes": made[("v1.2 notes",)],
    }
    for mailbox, msgs in expect.items():
        assert [m.data for m in server[mailbox]] == [crlf(m) for m in msgs], mailbox
    assert server["INBOX.Archive.2019"][0].keyflags == {"\\Flagged"}
    assert "v1_2 notes" in mm("plan", tmp_path / "Local Folders", *account.cli_args(),
                              account=account).out


def test_slash_namespace_tree(tmp_path, account, mm):
    made = tree(tmp_path / "Local Folders")
    assert run(mm, account, tmp_path / "Local Folders", tmp_path).code == 0
    server = account.read_back()
    assert [m.data for m in server["Archive/2019"]] == [crlf(m) for m in made[("Archive", "2019")]]
    assert [m.data for m in server["Sent"]] == [crlf(m) for m in made[("Sent",)]]
    assert [m.data for m in server["v1_2 notes"]] == [crlf(m) for m in made[("v1.2 notes",)]]


def test_reduced_capability_server(tmp_path, make_account, mm):
    account = make_account("reduced")
    c = account.client()
    caps = set(c.capabilities())
    c.logout()
    assert not caps & {b"MULTIAPPEND", b"UIDPLUS", b"LITERAL+"}
    msgs = [message(f"plain {i}", extra="Status: RO" if i % 2 else "") for i in range(7)]
    dates = [dt.datetime(2018, 1, i + 1, 8, 0, 0) for i in range(7)]
    write_mbox(tmp_path / "one.mbox", msgs, dates)
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == 0, r.err
    inbox = account.read_back()["INBOX"]
    # three connections share the mailbox on such a server: arrival (UID) order may differ
    # from the store's; every message keeps its date, and clients sort by it
    assert sorted((m.internaldate, m.data) for m in inbox) == \
        [(d.replace(tzinfo=dt.timezone.utc), crlf(m)) for d, m in zip(dates, msgs)]
    assert run(mm, account, tmp_path / "one.mbox", tmp_path).code == 0
    assert len(account.read_back()["INBOX"]) == 7


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_tls_modes_verify_certificate(tls, tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("tls")])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, tls)
    assert r.code == 0, r.err
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("tls"))]


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_untrusted_certificate_is_refused(tls, tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("tls")])
    r = mm("run", tmp_path / "one.mbox", *account.cli_args(tls, ca=False), "--backup-dir",
           tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == ExitCode.CONNECTION
    assert "not trusted" in r.err and "--ca-file" in r.err
    # a CA that did not sign the server's certificate is refused too
    rogue = make_self_signed(tmp_path)
    args = account.cli_args(tls, ca=False) + ["--ca-file", str(rogue)]
    r = mm("plan", tmp_path / "one.mbox", *args, account=account)
    assert r.code == ExitCode.CONNECTION
    assert account.read_back()["INBOX"] == []


def test_plaintext_only_when_asked(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("plain")])
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "none")
    assert r.code == 0, r.err
    assert "unencrypted" in r.err
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("plain"))]
    # without --tls none the same plaintext port is never used for a password
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args("ssl", port=account.server.imap_port),
           account=account)
    assert r.code == ExitCode.CONNECTION


def test_wrong_password_is_an_auth_error(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("x")])
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args(), account=account,
           env={"MM_TEST_PASSWORD": "wrong"})
    assert r.code == ExitCode.AUTH
    assert "refused the login" in r.err and "[AUTHENTICATIONFAILED]" in r.err  # its words


def test_a_login_the_server_could_not_check_is_not_called_a_wrong_password(tmp_path, account,
                                                                           mm):
    """Dovecot answers [UNAVAILABLE] (RFC 5530) when it cannot read its user database:
    a connection error with "run again", and running again works once it can."""
    import os
    write_mbox(tmp_path / "one.mbox", [message("x")])
    passwd = account.server.passwd / account.user
    os.chmod(passwd, 0)  # Dovecot's auth process can no longer read this user's entry
    try:
        args = ("run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir",
                tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes")
        r = mm(*args, account=account)
    finally:
        os.chmod(passwd, 0o644)
    assert r.code == ExitCode.CONNECTION, r.err
    assert "could not check the login" in r.err and "[UNAVAILABLE]" in r.err
    assert "run the same command again" in r.err and "password" not in r.err.split("(")[0]
    assert "Traceback" not in r.err and account.read_back()["INBOX"] == []
    again = mm(*args, account=account)
    assert again.code == 0, again.err
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("x"))]


def test_xoauth2_with_a_token_command(tmp_path, make_account, mm):
    import sys
    account = make_account("oauth2")
    token_file = tmp_path / "token"
    token_file.write_text(account.token + "\n")
    command = f"{sys.executable} -c \"print(open(r'{token_file}').read())\""
    write_mbox(tmp_path / "one.mbox", [message("oauth")])
    base = ["--host", "127.0.0.1", "--port", str(account.server.imaps_port), "--ca-file",
            str(account.server.ca_file), "--user", account.user]
    r = mm("run", tmp_path / "one.mbox", *base, "--oauth2-token-command", command,
           "--backup-dir", tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes")
    assert r.code == 0, r.err
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("oauth"))]
    assert account.token not in r.out + r.err

    token_file.write_text("not-a-valid-token\n")
    r = mm("plan", tmp_path / "one.mbox", *base, "--oauth2-token-command", command)
    assert r.code == ExitCode.AUTH, r.err


@pytest.mark.parametrize("variant,child,parent", [
    ("default", "Archive/2019", "Archive"), ("courier", "INBOX.Archive.2019", "INBOX.Archive")])
def test_parent_created_after_its_child_is_a_real_mailbox(make_account, variant, child, parent):
    """With parallel connections a child may be created first; its parent is then only a
    placeholder (\\NonExistent) that must still be created before mail goes in."""
    from migrate.target.imap import IMAPTarget, Secret, TargetConfig
    account = make_account(variant)
    server = account.server
    config = TargetConfig(host="127.0.0.1", user=account.user, port=server.imaps_port,
                          ca_file=str(server.ca_file), password=Secret(account.password))
    target = IMAPTarget(config).connect()
    try:
        assert target.ensure_mailbox(child) == child
        assert target.existing_name(parent) is None  # a placeholder holds no mail
        names = [child, parent, "INBOX", "inbox", child + "-never-made"]
        asked_at_once = target.existing_names(names)  # one LIST of every mailbox
        assert asked_at_once == {n: target.existing_name(n) for n in names}
        assert asked_at_once[parent] is None and asked_at_once[child] == child
        assert target.ensure_mailbox(parent) == parent
        assert target.existing_names([parent]) == {parent: parent}
        assert target.select(parent).uidvalidity
    finally:
        target.close()
