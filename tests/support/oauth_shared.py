"""What the tests of test_oauth share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import pytest

from tests.support.dovecot import ExpiringTokens
from tests.support.oauth_authority import Authority

CLIENT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def oauth(dovecot_servers):
    """(authority, account) on the oauth2 Dovecot: the account signs in there."""
    server = dovecot_servers("oauth2")
    assert isinstance(server.tokens, ExpiringTokens)
    authority = Authority(server.tokens, server.cert, server.key)
    account = server.add_user()
    authority.approve_as[CLIENT] = account.user
    yield authority, account
    authority.stop()


def env_for(tmp_path) -> dict:
    return {"PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.FileKeyring",
            "MM_TEST_KEYRING_FILE": str(tmp_path / "keyring.json")}


def oauth_args(authority, account) -> list:
    return ["--host", account.host, "--port", account.server.imaps_port, "--user",
            account.user, "--ca-file", account.server.ca_file, "--oauth2-client-id", CLIENT,
            "--oauth2-authority", authority.url]


def browser_sign_in(args: list, ca_file, env: dict) -> tuple[int, str, str]:
    """``credentials login --browser`` with this test as the technician's browser: it
    opens the address the command prints; the authority redirects to the command."""
    import os
    import ssl
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import ROOT
    proc = subprocess.Popen([sys.executable, "-m", "migrate", "credentials", "login", "--browser",
                             "--no-open", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **env),
                            cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:
            if line.strip().startswith("https://"):
                url = line.strip()
                break
        assert url and "code_challenge_method=S256" in url and "code_challenge=" in url
        context = ssl.create_default_context(cafile=str(ca_file))
        with urllib.request.urlopen(url, context=context, timeout=30) as page:  # redirected
            assert b"Signed in" in page.read()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, out, err
