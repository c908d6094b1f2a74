"""A small OAuth 2 authority on loopback, over TLS with the test CA (no internet).

Device code (RFC 8628) and token endpoints with refresh, access tokens that live
seconds, refresh tokens that can be revoked or rotated, and each error a technician
meets (consent, wrong tenant, device code not allowed, slow_down). The access tokens
it issues are the ones the Dovecot ``oauth2`` variant's introspection endpoint
accepts (``tokens``: token -> user, expiring), so the server checks them, not a mock.
"""

from __future__ import annotations

import http.server
import os
import ssl
import threading
import time
import urllib.parse
from pathlib import Path

from tests.support.dovecot import ExpiringTokens, send_json

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Authority:
    """``https://127.0.0.1:PORT/<tenant>`` with ``/devicecode`` and ``/token``."""

    def __init__(self, tokens: ExpiringTokens, cert: Path, key: Path, lifetime: float = 3600):
        self.tokens = tokens
        self.lifetime = lifetime
        self.approve_as: dict[str, str] = {}  # client_id -> the user who approves its codes
        self.approvers: list[str] = []  # or: the next device code is approved by the first
        self.devices: dict[str, dict] = {}  # device_code -> {user, client, polls}
        self.codes: dict[str, dict] = {}  # authorisation code -> {user, challenge, redirect}
        self.refresh: dict[str, str] = {}  # refresh token -> user
        self.rotate = False
        self.fail_next: str | None = None  # an error code for the next request
        self.issued: list[str] = []  # every access token, in order
        self.requests: list[tuple[str, dict]] = []
        self.tenant = "tenant-1"
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/{self.tenant}"

    def stop(self) -> None:
        self.server.shutdown()

    def revoke(self, user: str) -> None:
        """One person's sign-in revoked."""
        for token, who in list(self.refresh.items()):
            if who == user:
                del self.refresh[token]

    def revoke_all(self) -> None:
        """The person's sign-in revoked (a password change, an admin's action)."""
        self.refresh.clear()
        for token in list(self.tokens):
            self.tokens.expires[token] = 0

    def _issue(self, user: str, old_refresh: str | None = None) -> dict:
        access = f"at-{os.urandom(8).hex()}"
        self.tokens[access] = user
        self.tokens.expires[access] = time.time() + self.lifetime
        self.issued.append(access)
        refresh = old_refresh
        if refresh is None or self.rotate:
            if refresh:
                self.refresh.pop(refresh, None)
            refresh = f"rt-{os.urandom(12).hex()}"
            self.refresh[refresh] = user
        return {"token_type": "Bearer", "access_token": access, "refresh_token": refresh,
                "expires_in": self.lifetime, "scope": "imap offline_access"}

    def _answer(self, path: str, form: dict) -> tuple[int, dict]:
        self.requests.append((path, form))
        if not path.startswith(f"/{self.tenant}/"):
            return 400, {"error": "invalid_request",
                         "error_description": "AADSTS90002: Tenant not found."}
        if self.fail_next:
            code, self.fail_next = self.fail_next, None
            return 400, {"error": code, "error_description": f"told to fail with {code}"}
        if path.endswith("/devicecode"):
            client = form.get("client_id", "")
            device = f"dc-{os.urandom(8).hex()}"
            user = self.approvers.pop(0) if self.approvers else self.approve_as.get(client)
            self.devices[device] = {"user": user, "client": client, "polls": 0}
            return 200, {"device_code": device, "user_code": "ABCD-EFGH",
                         "verification_uri": "https://microsoft.example/devicelogin",
                         "expires_in": 60, "interval": 1}
        if path.endswith("/token"):
            grant = form.get("grant_type")
            if grant == DEVICE_GRANT:
                found = self.devices.get(form.get("device_code", ""))
                if found is None:
                    return 400, {"error": "expired_token"}
                found["polls"] += 1
                if found["polls"] < 2:  # the person has not typed the code yet
                    return 400, {"error": "authorization_pending"}
                if found["user"] is None:
                    return 400, {"error": "access_denied"}
                del self.devices[form["device_code"]]
                return 200, self._issue(found["user"])
            if grant == "authorization_code":
                found = self.codes.pop(form.get("code", ""), None)
                if found is None or form.get("redirect_uri") != found["redirect"]:
                    return 400, {"error": "invalid_grant"}
                import base64
                import hashlib
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).decode().rstrip("=") != found["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE"}
                return 200, self._issue(found["user"])
            if grant == "refresh_token":
                user = self.refresh.get(form.get("refresh_token", ""))
                if user is None:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "AADSTS700082: The refresh token has "
                                                      "expired due to inactivity."}
                return 200, self._issue(user, form["refresh_token"])
            return 400, {"error": "unsupported_grant_type"}
        return 404, {"error": "not_found"}

    def _authorize(self, query: dict) -> tuple[int, str]:
        """The provider's sign-in page, approved at once by the configured user: a
        redirect to the app's loopback address with a code (or an error)."""
        redirect = query.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:") or \
                query.get("code_challenge_method") != "S256":
            return 400, ""
        user = self.approve_as.get(query.get("client_id", ""))
        if user is None:
            answer = {"error": "access_denied", "state": query.get("state", "")}
        else:
            code = f"ac-{os.urandom(8).hex()}"
            self.codes[code] = {"user": user, "challenge": query.get("code_challenge"),
                                "redirect": redirect}
            answer = {"code": code, "state": query.get("state", "")}
        return 302, redirect + "?" + urllib.parse.urlencode(answer)

    def _handler(self):
        authority = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                authority.requests.append((parts.path, query))
                status, where = authority._authorize(query) if parts.path.endswith(
                    "/authorize") else (404, "")
                self.send_response(status)
                if where:
                    self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                status, answer = authority._answer(urllib.parse.urlsplit(self.path).path, form)
                send_json(self, status, answer)

            def log_message(self, *args):
                pass

        return Handler
