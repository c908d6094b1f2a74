"""OAuth 2 sign-in (issue 37): a local authority, Dovecot checking the tokens it issues:
the functional tests (tests/server/test_oauth.py has the rest, and says what they
prove)."""

from __future__ import annotations

import pytest

from tests.support.oauth_shared import CLIENT, env_for

pytest.importorskip("oauthlib")


def test_without_oauthlib_the_message_says_what_to_do(tmp_path, mm):
    blocker = tmp_path / "blocker"
    (blocker / "oauthlib").mkdir(parents=True)
    (blocker / "oauthlib" / "__init__.py").write_text(
        "raise ImportError('pretend it is not installed')\n")
    r = mm("credentials", "login", "--host", "outlook.office365.com", "--user", "pat@x.example",
           "--oauth2-client-id", CLIENT, env={**env_for(tmp_path), "PYTHONPATH": str(blocker)})
    assert r.code == 2 and "pip install 'mailmigrate[oauth]'" in r.err, r.err
    assert "Traceback" not in r.err


