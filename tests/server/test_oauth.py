"""OAuth 2 sign-in (issue 37): a local authority, Dovecot checking the tokens it issues.

The authority (tests/support/oauth_authority.py) runs on loopback over TLS with the test CA;
the Dovecot ``oauth2`` variant introspects every XOAUTH2 token against the tokens
the authority issued, so an expired or revoked token is refused by the server.
"""

from __future__ import annotations

import json

import pytest

from tests.support.builders import message, write_jobs, write_mbox
from tests.support.oauth_authority import Authority
from tests.support.oauth_shared import (
    CLIENT,
    browser_sign_in,
    env_for,
    oauth,  # noqa: F401 - a fixture
    oauth_args,
)

pytest.importorskip("oauthlib")


def test_sign_in_once_then_runs_refresh_their_own_tokens(oauth, mm, tmp_path):
    authority, account = oauth
    env = env_for(tmp_path)
    r = mm("credentials", "login", *oauth_args(authority, account), env=env)
    assert r.code == 0, r.out + r.err
    assert "enter the code ABCD-EFGH" in r.out and "signed in" in r.out
    stored = json.loads((tmp_path / "keyring.json").read_text())
    (refresh,) = [v for k, v in stored.items() if k.startswith("mailmigrate-oauth2")]
    assert refresh.startswith("rt-")
    write_mbox(tmp_path / "in.mbox", [message(f"o{i}") for i in range(30)])
    r = mm("run", tmp_path / "in.mbox", *oauth_args(authority, account), "--state",
           tmp_path / "s.sqlite", "--backup-dir", tmp_path / "bk", "--yes", env=env)
    assert r.code == 0, r.out + r.err
    assert sum(len(m) for m in account.read_back().values()) == 30
    # the refresh token never left the keyring: argv, logs, reports, state
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "keyring.json":
            assert refresh.encode() not in path.read_bytes(), path
    assert refresh not in r.out + r.err


def test_tokens_expire_every_few_seconds_and_the_run_goes_on(oauth, mm, tmp_path):
    """Short-lived tokens across reconnects (a proxy cuts the connection often): each
    login takes a fresh token; every message arrives exactly once."""
    from tests.support.faults import FaultProxy
    authority, account = oauth
    authority.lifetime = 2
    authority.rotate = True  # and the refresh token changes at every refresh
    env = env_for(tmp_path)
    assert mm("credentials", "login", *oauth_args(authority, account), env=env).code == 0
    write_mbox(tmp_path / "in.mbox", [message(f"x{i}", body="y" * 3000) for i in range(300)])
    proxy = FaultProxy(account.server.imaps_port).start()
    proxy.cut_after = 200_000  # each connection dies after ~60 messages: a new login
    try:
        args = oauth_args(authority, account)
        args[args.index(account.server.imaps_port)] = proxy.port
        r = mm("run", tmp_path / "in.mbox", *args, "--state", tmp_path / "s.sqlite",
               "--backup-dir", tmp_path / "bk", "--yes", "--batch-size", "20",
               "--connections", "1", env=env, timeout=600)
    finally:
        proxy.stop()
    assert r.code == 0, r.out + r.err
    boxes = account.read_back()
    subjects = [m.data.split(b"Subject: ")[1].split(b"\r\n")[0] for box in boxes.values()
                for m in box]
    assert len(subjects) == 300 and len(set(subjects)) == 300
    assert proxy.cuts >= 3 and len(authority.issued) >= 3  # fresh tokens as it went


def test_a_revoked_sign_in_stops_cleanly_and_a_new_login_finishes(oauth, mm, tmp_path):
    authority, account = oauth
    env = env_for(tmp_path)
    assert mm("credentials", "login", *oauth_args(authority, account), env=env).code == 0
    write_mbox(tmp_path / "in.mbox", [message(f"r{i}") for i in range(5)])
    authority.revoke_all()
    run = ("run", tmp_path / "in.mbox", *oauth_args(authority, account), "--state",
           tmp_path / "s.sqlite", "--backup-dir", tmp_path / "bk", "--yes")
    r = mm(*run, env=env)
    assert r.code == 4, r.out + r.err
    assert "sign in again: mailmigrate credentials login" in r.err
    assert "Traceback" not in r.err
    assert mm("credentials", "login", *oauth_args(authority, account), env=env).code == 0
    assert mm(*run, env=env).code == 0
    assert sum(len(m) for m in account.read_back().values()) == 5


def test_a_token_the_server_refuses_is_replaced_once(oauth, mm, tmp_path):
    """The provider revoked the access token early: the login is refused, a fresh one is
    taken from the refresh token, and the command goes on."""
    authority, account = oauth
    env = env_for(tmp_path)
    assert mm("credentials", "login", *oauth_args(authority, account), env=env).code == 0
    for token in authority.issued:  # the access token from the login: dead at the server
        authority.tokens.expires[token] = 0
    r = mm("credentials", "test", *oauth_args(authority, account), env=env)
    assert r.code == 0, r.out + r.err


@pytest.mark.parametrize("error, code, words", [
    ("consent_required", 4, "an administrator must consent"),
    ("unauthorized_client", 2, "allow public client flows"),
    ("access_denied", 4, "declined"),
])
def test_sign_in_errors_say_what_to_do(oauth, mm, tmp_path, error, code, words):
    authority, account = oauth
    authority.fail_next = error
    r = mm("credentials", "login", *oauth_args(authority, account), env=env_for(tmp_path))
    assert r.code == code and words in r.err and "Traceback" not in r.err, r.err


def test_wrong_tenant_and_unreachable_authority(oauth, mm, tmp_path):
    authority, account = oauth
    args = oauth_args(authority, account)
    args[-1] = authority.url.replace("tenant-1", "nobody")
    r = mm("credentials", "login", *args, env=env_for(tmp_path))
    assert r.code == 2 and "--oauth2-tenant" in r.err, r.err
    args[-1] = "https://127.0.0.1:9/tenant-1"
    r = mm("credentials", "login", *args, env=env_for(tmp_path))
    assert r.code == 3 and "cannot reach the sign-in service" in r.err, r.err
    args[-1] = "http://127.0.0.1:9/tenant-1"
    r = mm("credentials", "login", *args, env=env_for(tmp_path))
    assert r.code == 2 and "not https" in r.err, r.err


def test_never_signed_in_is_exit_4_with_the_login_command(oauth, mm, tmp_path):
    authority, account = oauth
    write_mbox(tmp_path / "in.mbox", [message("n")])
    r = mm("plan", tmp_path / "in.mbox", *oauth_args(authority, account),
           env=env_for(tmp_path))
    assert r.code == 4 and "has not signed in on this machine" in r.err, r.err
    assert "credentials login" in r.err


def test_browser_sign_in_with_pkce_on_a_loopback_redirect(oauth, mm, tmp_path):
    authority, account = oauth
    code, out, err = browser_sign_in(oauth_args(authority, account), account.server.ca_file,
                                     env_for(tmp_path))
    assert code == 0, err
    assert "signed in" in out
    assert mm("credentials", "test", *oauth_args(authority, account),
              env=env_for(tmp_path)).code == 0


def test_emulated_gmail_with_oauth_only(dovecot_servers, mm, tmp_path):
    """A Workspace that allows OAuth 2 only, over Gmail's shape and limits: the browser
    sign-in, then a run that puts two labels' copies with one upload each."""
    from tests.support.faults import GmailProxy
    server = dovecot_servers("gmail-oauth2")
    account = server.add_user()
    authority = Authority(server.tokens, server.cert, server.key)
    authority.approve_as[CLIENT] = account.user
    env = env_for(tmp_path)
    proxy = GmailProxy(server.imap_port, oauth_only=True).start()
    try:
        base = ["--host", account.host, "--port", proxy.port, "--tls", "none", "--user",
                account.user, "--provider", "gmail", "--state", tmp_path / "s.sqlite",
                "--backup-dir", tmp_path / "bk", "--yes"]
        write_mbox(tmp_path / "Inbox", [message(f"g{i}") for i in range(6)])
        write_mbox(tmp_path / "Work", [message(f"g{i}") for i in range(3)])
        r = mm("run", tmp_path / "Inbox", *base, "--password-env", "MM_TEST_PASSWORD",
               account=account, env=env)
        assert r.code == 4 and "AUTHENTICATIONFAILED" in r.err, r.err
        code, out, err = browser_sign_in(
            ["--provider", "gmail", "--host", account.host, "--user", account.user,
             "--oauth2-client-id", CLIENT, "--oauth2-authority", authority.url,
             "--ca-file", server.ca_file], server.ca_file, env)
        assert code == 0, err
        (tmp_path / "src").mkdir()
        for name in ("Inbox", "Work"):
            (tmp_path / name).rename(tmp_path / "src" / name)
        r = mm("run", tmp_path / "src", *base, "--oauth2-client-id", CLIENT,
               "--oauth2-authority", authority.url, "--ca-file", server.ca_file, "--json",
               env=env)
    finally:
        proxy.stop()
        authority.stop()
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert summary["copied"] == 3  # Work's three are Inbox's: copied, not sent again
    assert proxy.refused_logins == 0


def test_jobs_sign_in_everyone_then_run_the_night(oauth, mm, tmp_path):
    """One command signs in every person of a jobs file; 'jobs run' then moves them all
    with no token handling; a person whose sign-in was revoked is named by jobs status."""
    authority, ann = oauth
    bob = ann.server.add_user()
    authority.approvers = [ann.user, bob.user]
    for who in ("ann", "bob"):
        write_mbox(tmp_path / f"{who}.mbox", [message(f"{who} {i}") for i in range(4)])
    jobs = write_jobs(tmp_path / "jobs.toml", {
        "host": ann.host, "port": ann.server.imaps_port, "ca_file": ann.server.ca_file,
        "oauth2_client_id": CLIENT, "oauth2_authority": authority.url,
        "work_dir": tmp_path / "work"}, {
        "ann": {"sources": [tmp_path / "ann.mbox"], "user": ann.user},
        "bob": {"sources": [tmp_path / "bob.mbox"], "user": bob.user}})
    env = env_for(tmp_path)
    r = mm("jobs", "login", jobs, env=env)
    assert r.code == 0, r.out + r.err
    assert r.out.count("enter the code") == 2 and "bob: signed in" in r.out
    r = mm("jobs", "run", jobs, env=env)
    assert r.code == 0, r.out + r.err
    assert sum(len(m) for m in ann.read_back().values()) == 4
    assert sum(len(m) for m in bob.read_back().values()) == 4
    authority.revoke(bob.user)
    for token in authority.issued:  # and every access token so far expires
        authority.tokens.expires[token] = 0
    write_mbox(tmp_path / "bob.mbox", [message(f"bob {i}") for i in range(5)])
    r = mm("jobs", "run", jobs, env=env)
    assert r.code == 4, r.out + r.err
    status = mm("jobs", "status", jobs, "--json", env=env)
    bob_status = [j for j in json.loads(status.out)["jobs"] if j["job"] == "bob"][0]
    assert "sign in again" in json.dumps(bob_status) and bob.user in json.dumps(bob_status)


def test_emulated_microsoft_365_takes_oauth_only(oauth, mm, tmp_path):
    """Exchange Online's emulation with basic authentication off: a password is
    refused with what to do; after 'jobs login' the night's 'jobs run' moves
    everything, throttled and one APPEND at a time as Exchange is."""
    from tests.support.faults import Office365Proxy
    authority, account = oauth
    env = env_for(tmp_path)
    write_mbox(tmp_path / "in.mbox", [message(f"m{i}") for i in range(12)])
    office = Office365Proxy(account.server.imap_port, throttle_at={4}, backoff_ms=300,
                            oauth_only=True).start()
    try:
        base = ["--host", account.host, "--port", office.port, "--tls", "none", "--user",
                account.user, "--provider", "office365", "--state", tmp_path / "s.sqlite",
                "--backup-dir", tmp_path / "bk", "--yes"]
        r = mm("run", tmp_path / "in.mbox", *base, "--password-env", "MM_TEST_PASSWORD",
               account=account, env=env)
        assert r.code == 4 and "takes OAuth 2 only" in r.err, r.err
        assert "credentials login --provider office365" in r.err
        jobs = write_jobs(tmp_path / "jobs.toml", {  # the night: sign in, then jobs run
            "host": account.host, "port": office.port, "tls": "none",
            "provider": "office365", "ca_file": account.server.ca_file,
            "oauth2_client_id": CLIENT, "oauth2_authority": authority.url,
            "work_dir": tmp_path / "work"}, {
            "pat": {"sources": [tmp_path / "in.mbox"], "user": account.user}})
        assert mm("jobs", "login", jobs, env=env).code == 0
        r = mm("jobs", "run", jobs, env=env)
    finally:
        office.stop()
    assert r.code == 0, r.out + r.err
    assert office.throttled >= 1
    assert sum(len(m) for m in account.read_back().values()) == 12


def test_a_refused_password_says_where_it_came_from(account, mm, tmp_path):
    """Issue 39 item 9: 'check the stored password' named no place."""
    write_mbox(tmp_path / "in.mbox", [message("w")])
    base = ["plan", tmp_path / "in.mbox", "--host", account.host, "--port",
            account.server.imaps_port, "--ca-file", account.server.ca_file, "--user",
            account.user]
    r = mm(*base, "--password-env", "WRONG_PW", env={"WRONG_PW": "not-it"})
    assert r.code == 4 and "the password in $WRONG_PW (--password-env)" in r.err, r.err
    secret = tmp_path / "pw.txt"
    secret.write_text("not-it\n")
    secret.chmod(0o600)
    r = mm(*base, "--password-file", secret)
    assert r.code == 4 and f"the password in {secret} (--password-file)" in r.err, r.err
    r = mm(*base, env=env_for(tmp_path) | {"MM_TEST_KEYRING_FILE": str(tmp_path / "k.json")})
    assert r.code == 2  # nothing in the keyring: said before any login
    import json as _json
    (tmp_path / "k.json").write_text(_json.dumps(
        {f"mailmigrate\0{account.user}@{account.host}": "not-it"}))
    r = mm(*base, env=env_for(tmp_path) | {"MM_TEST_KEYRING_FILE": str(tmp_path / "k.json")})
    assert r.code == 4 and "stored in the OS keyring" in r.err and "credentials set" in r.err
