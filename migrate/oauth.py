"""Sign in with OAuth 2 once per person; access tokens for every connection after.

``credentials login`` runs the device-code flow (RFC 8628: a short code typed at
the provider's page on any device, so it works over SSH and on a server with no
browser) and keeps the **refresh token** in the OS keyring (service
``mailmigrate-oauth2``, user ``USER@HOST``), never in a file, log, argv, report or
state. A long command then asks ``AccessTokens`` for a token at every login: it
refreshes one that expires within a minute, and again when the server refuses
one (``invalidate``); a refresh token the provider rotates is stored back.

Requests and responses are built and checked by oauthlib (the optional extra
``mailmigrate[oauth]``: docs/dependencies.md says why); the HTTP is the standard
library's, TLS verified (``--ca-file`` for a private CA).
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from migrate.errors import AuthFailed, ConnectionFailed, UsageError
from migrate.secret import Secret

KEYRING_SERVICE = "mailmigrate-oauth2"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EARLY = 60  # seconds before expiry a token is refreshed
PROVIDERS: dict[str, dict[str, Any]] = {
    # endpoints as the provider documents them; the tenant (Microsoft) goes in {tenant}
    "office365": {"authority": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0",
                  "device": "/devicecode", "token": "/token", "authorize": "/authorize",
                  "scopes": ("https://outlook.office.com/IMAP.AccessAsUser.All",
                             "offline_access"), "tenant": "organizations"},
    "gmail": {"authority": "https://oauth2.googleapis.com", "device": "/device/code",
              "token": "/token", "scopes": ("https://mail.google.com/",), "tenant": "",
              "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
              "extra": {"access_type": "offline", "prompt": "consent"}},
}
GENERIC: dict[str, Any] = {"device": "/devicecode", "token": "/token", "authorize": "/authorize",
           "scopes": ("imap", "offline_access")}


def _oauthlib():
    try:
        import oauthlib.oauth2 as oauth2
    except ImportError:
        raise UsageError("signing in with OAuth 2 needs the optional extra: pip install "
                         "'mailmigrate[oauth]' (the oauthlib package), then run the same "
                         "command again") from None
    return oauth2


@dataclasses.dataclass(frozen=True)
class App:
    """Whose app and where it signs in: the MSP's own app registration."""

    client_id: str
    device_url: str
    token_url: str
    scopes: tuple[str, ...]
    provider: str = "custom"
    ca_file: str | None = None
    client_secret_env: str | None = None  # Google "desktop" clients have one (not secret)
    authorize_url: str = ""
    extra: tuple = ()  # more parameters of the authorisation request (Google: offline)

    def secret(self) -> str | None:
        import os
        if not self.client_secret_env:
            return None
        value = os.environ.get(self.client_secret_env)
        if not value:
            raise UsageError(f"the environment variable {self.client_secret_env} (the OAuth "
                             "client secret) is not set or empty")
        return value

    def to_json(self) -> dict:
        return {"client_id": self.client_id, "device_url": self.device_url,
                "token_url": self.token_url, "scopes": list(self.scopes),
                "provider": self.provider, "client_secret_env": self.client_secret_env}


def app_for(provider: str | None, client_id: str | None, tenant: str | None = None,
            authority: str | None = None, ca_file: str | None = None,
            client_secret_env: str | None = None) -> App:
    """The app and endpoints for *provider* (office365, gmail) or a custom *authority*."""
    if not client_id:
        raise UsageError("--oauth2-client-id is required: the application (client) ID of "
                         "your app registration (docs/providers.md shows how to make one)")
    if authority:
        base, known = authority.rstrip("/"), dict(GENERIC)
        if provider in PROVIDERS:
            known.update({k: PROVIDERS[provider][k] for k in ("device", "token", "scopes")})
    elif provider in PROVIDERS:
        known = PROVIDERS[provider]
        base = known["authority"].format(tenant=tenant or known["tenant"])
    else:
        raise UsageError("--provider office365 or gmail, or --oauth2-authority URL, says "
                         "where to sign in")
    if not base.startswith("https://"):
        raise UsageError(f"the OAuth authority {base} is not https: tokens never cross the "
                         "network unencrypted")
    authorize = known.get("authorize_url") or base + known.get("authorize", "/authorize")
    if authority:
        authorize = base + GENERIC["authorize"]
    return App(client_id, base + known["device"], base + known["token"], tuple(known["scopes"]),
               provider or "custom", ca_file, client_secret_env, authorize,
               tuple(sorted(known.get("extra", {}).items())))


class OAuthError(Exception):
    """What the authority answered with ``error`` (RFC 6749 5.2, RFC 8628 3.5)."""

    def __init__(self, code: str, description: str = ""):
        super().__init__(code)
        self.code, self.description = code, description


def _post(app: App, url: str, fields: dict) -> dict:
    """POST a form to the authority; its JSON answer, or OAuthError with its error."""
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    context = ssl.create_default_context(cafile=app.ca_file)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            data = json.loads(e.read() or b"{}")
        except ValueError:
            data = {}
        raise OAuthError(str(data.get("error") or f"http_{e.code}"),
                         str(data.get("error_description") or "")) from None
    except ssl.SSLCertVerificationError as e:
        raise ConnectionFailed(f"the certificate of the sign-in service {_host(url)} is not "
                               f"trusted ({e.verify_message}); with a private CA pass "
                               "--ca-file") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ConnectionFailed(f"cannot reach the sign-in service {_host(url)} "
                               f"({type(e).__name__}); check the network, then run again") \
            from None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def advice(e: OAuthError, app: App, user: str) -> Exception:
    """The authority's error as what a technician can do about it (exit code by class)."""
    text = f"{e.code}: {e.description}".lower()
    login = (f"mailmigrate credentials login --provider {app.provider} --user {user} "
             f"--oauth2-client-id {app.client_id}")
    if e.code == "invalid_grant" or "aadsts700082" in text or "aadsts50173" in text:
        return AuthFailed(f"the sign-in of {user} has expired or was revoked ({e.code}); "
                          f"sign in again: {login}")
    if e.code in ("consent_required", "interaction_required") or "aadsts65001" in text:
        return AuthFailed(f"the app has not been granted access to {user}'s mail ({e.code}); "
                          "an administrator must consent to it (docs/providers.md), then "
                          f"sign in again: {login}")
    if "aadsts90002" in text or "tenant" in text and "not found" in text:
        return UsageError(f"the tenant is not known to the sign-in service ({e.code}); check "
                          "--oauth2-tenant (the directory ID or the domain)")
    if e.code in ("unauthorized_client", "invalid_client") or "aadsts7000218" in text:
        return UsageError(f"the app registration {app.client_id} may not sign in this way "
                          f"({e.code}); allow public client flows (device code) in it "
                          "(docs/providers.md) or check --oauth2-client-id")
    if e.code == "access_denied":
        return AuthFailed(f"the sign-in for {user} was declined at the provider's page; run "
                          f"it again: {login}")
    if e.code == "expired_token":
        return AuthFailed("the code was not entered in time; run the sign-in again: "
                          f"{login}")
    return AuthFailed(f"the sign-in service refused ({e.code}); sign in again: {login}")


def device_login(app: App, user: str, say, sleep=time.sleep, clock=time.monotonic) -> dict:
    """Run the device-code flow; the token response (with its refresh token)."""
    oauth2 = _oauthlib()
    client = oauth2.DeviceClient(app.client_id)
    fields = {"client_id": app.client_id, "scope": " ".join(app.scopes)}
    try:
        start = _post(app, app.device_url, fields)
    except OAuthError as e:
        raise advice(e, app, user) from None
    if not start.get("device_code") or not start.get("user_code"):
        raise ConnectionFailed("the sign-in service gave no device code; is "
                               f"{app.device_url} a device authorization endpoint?")
    page = start.get("verification_uri_complete") or start.get("verification_uri") or \
        start.get("verification_url")
    say(f"To sign in {user}: open {page} on any device and enter the code "
        f"{start['user_code']} (valid {int(start.get('expires_in', 900)) // 60} minutes).")
    interval = max(1, int(start.get("interval", 5)))
    deadline = clock() + int(start.get("expires_in", 900))
    body = dict(urllib.parse.parse_qsl(client.prepare_request_body(
        start["device_code"], include_client_id=True)))
    body.setdefault("grant_type", DEVICE_GRANT)
    if app.secret():
        body["client_secret"] = app.secret()
    while clock() < deadline:
        sleep(interval)
        try:
            answer = _post(app, app.token_url, body)
        except OAuthError as e:
            if e.code == "authorization_pending":
                continue
            if e.code == "slow_down":
                interval += 5
                continue
            raise advice(e, app, user) from None
        return _checked(client, answer)
    raise advice(OAuthError("expired_token"), app, user)


def browser_login(app: App, user: str, say, open_browser: bool = True,
                  timeout: float = 300) -> dict:
    """The authorisation-code flow with PKCE on a loopback redirect (RFC 8252, RFC 7636):
    the provider's page opens in a browser (or its address is printed to open anywhere
    on this machine); the answer comes back to 127.0.0.1. The token response."""
    import base64
    import http.server
    import os
    import threading
    oauth2 = _oauthlib()
    client = oauth2.WebApplicationClient(app.client_id)
    verifier = client.create_code_verifier(64)
    challenge = client.create_code_challenge(verifier, "S256")
    state = base64.urlsafe_b64encode(os.urandom(18)).decode().rstrip("=")
    got: dict = {}
    done = threading.Event()

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if query.get("state") == state and ("code" in query or "error" in query):
                got.update(query)
                done.set()
                text = b"Signed in: you can close this page and go back to mailmigrate."
            else:
                text = b"This is not the answer mailmigrate waits for."
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    redirect = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        url = client.prepare_request_uri(app.authorize_url, redirect_uri=redirect,
                                         scope=list(app.scopes), state=state,
                                         code_challenge=challenge,
                                         code_challenge_method="S256", **dict(app.extra))
        say(f"To sign in {user}: open this page in a browser on this machine:\n  {url}")
        if open_browser:
            import webbrowser
            try:
                webbrowser.open(url)
            except Exception:  # noqa: BLE001 - no browser here: the address was printed
                pass
        if not done.wait(timeout):
            raise advice(OAuthError("expired_token"), app, user)
    finally:
        server.shutdown()
        server.server_close()
    if "error" in got:
        raise advice(OAuthError(got["error"], got.get("error_description", "")), app, user)
    body = dict(urllib.parse.parse_qsl(client.prepare_request_body(
        code=got["code"], redirect_uri=redirect, code_verifier=verifier,
        include_client_id=True)))
    if app.secret():
        body["client_secret"] = app.secret()
    try:
        answer = _post(app, app.token_url, body)
    except OAuthError as e:
        raise advice(e, app, user) from None
    return _checked(client, answer)


def _checked(client, answer: dict) -> dict:
    """The token response, checked by oauthlib (token type, access token present)."""
    try:
        client.parse_request_body_response(json.dumps(answer))
    except Exception as e:  # noqa: BLE001 - oauthlib's errors: a malformed answer
        raise ConnectionFailed(f"the sign-in service answered with an unusable token "
                               f"({type(e).__name__}); ask its administrator") from None
    return answer


class AccessTokens:
    """Access tokens for one account, refreshed from the stored refresh token."""

    def __init__(self, app: App, user: str, host: str, store=None, clock=time.time):
        self.app, self.user, self.host = app, user, host
        self.store = store or KeyringTokens()
        self.clock = clock
        self._token: Secret | None = None
        self._expires = 0.0

    def __call__(self) -> Secret:
        if self._token is None or self.clock() > self._expires - EARLY:
            self._refresh()
        if self._token is None:
            raise RuntimeError("no token after a refresh (a bug)")
        return self._token

    def invalidate(self) -> None:
        """The server refused the token: the next login takes a fresh one."""
        self._token = None

    def _refresh(self) -> None:
        oauth2 = _oauthlib()
        saved = self.store.get(self.host, self.user)
        if saved is None:
            raise AuthFailed(f"{self.user} has not signed in on this machine; run: mailmigrate "
                             f"credentials login --provider {self.app.provider} --user "
                             f"{self.user} --host {self.host} --oauth2-client-id "
                             f"{self.app.client_id}")
        client = oauth2.WebApplicationClient(self.app.client_id)
        body = dict(urllib.parse.parse_qsl(client.prepare_refresh_body(
            refresh_token=saved.reveal(), scope=" ".join(self.app.scopes))))
        body["client_id"] = self.app.client_id
        if self.app.secret():
            body["client_secret"] = self.app.secret()
        try:
            answer = _post(self.app, self.app.token_url, body)
        except OAuthError as e:
            raise advice(e, self.app, self.user) from None
        _checked(client, answer)
        if answer.get("refresh_token") and answer["refresh_token"] != saved.reveal():
            self.store.put(self.host, self.user, Secret(answer["refresh_token"]))  # rotated
        self._token = Secret(answer["access_token"])
        self._expires = self.clock() + float(answer.get("expires_in") or 3600)


class KeyringTokens:
    """Refresh tokens in the OS keyring, one per account."""

    def get(self, host: str, user: str) -> Secret | None:
        from migrate.credentials import keyring_module
        value = keyring_module().get_password(KEYRING_SERVICE, f"{user}@{host}")
        return Secret(value) if value else None

    def put(self, host: str, user: str, token: Secret) -> None:
        from migrate.credentials import keyring_module
        keyring_module().set_password(KEYRING_SERVICE, f"{user}@{host}", token.reveal())

    def forget(self, host: str, user: str) -> None:
        from migrate.credentials import keyring_module
        keyring = keyring_module()
        try:
            keyring.delete_password(KEYRING_SERVICE, f"{user}@{host}")
        except Exception:  # noqa: BLE001 - nothing stored: nothing to remove
            pass
