"""``mailmigrate credentials set|delete|test|login``: passwords and sign-ins in the keyring.

``login`` signs a person in with OAuth 2 (device code) and keeps the refresh token
in the OS keyring (``migrate.oauth``); ``test`` then logs in with it.

A password is never a command-line argument: ``set`` asks for it on the
terminal (twice), or reads one line from stdin when stdin is not a terminal
(``pass show x | mailmigrate credentials set ...``).
"""

from __future__ import annotations

import getpass
import sys

from migrate import credentials
from migrate.cli import common
from migrate.errors import ExitCode, UsageError
from migrate.secret import Secret


def add_parser(sub):
    p = sub.add_parser("credentials", help="store, remove or test a password in the OS keyring")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("set", "store the password for an account (asked, or read from stdin)"),
                       ("delete", "remove the stored password (and OAuth 2 sign-in)"),
                       ("test", "log in to the server with the stored password or sign-in"),
                       ("login", "sign a person in with OAuth 2 (Microsoft 365, Google): a "
                                 "code to enter at the provider's page on any device")):
        a = actions.add_parser(name, help=text)
        if name in ("test", "login"):
            common.add_command_args(a, "credentials")
        else:
            a.add_argument("--host", required=True, help="IMAP (or POP) server name")
            a.add_argument("--user", required=True, help="account user name")
        if name == "login":
            a.add_argument("--browser", action="store_true",
                           help="sign in in a browser on this machine (authorisation code "
                                "with PKCE); the default for Gmail, which refuses the "
                                "device code for mail")
            a.add_argument("--no-open", action="store_true",
                           help="with --browser: print the page's address, open nothing")
    return p


def read_new_password(host: str, user: str) -> Secret:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {user} at {host}: ")
        if first != getpass.getpass("Again, to be sure: "):
            raise UsageError("the two passwords differ; nothing was stored")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if not first:
        raise UsageError("empty password; nothing was stored")
    return Secret(first)


def login(args) -> int:
    from migrate import oauth
    app = common.oauth_app(args)  # says so when --oauth2-client-id is missing
    credentials.check_keyring()
    say = lambda text: print(text, flush=True)  # noqa: E731
    if args.browser or app.provider == "gmail":
        answer = oauth.browser_login(app, args.user, say, open_browser=not args.no_open)
    else:
        answer = oauth.device_login(app, args.user, say)
    if not answer.get("refresh_token"):
        raise UsageError("the sign-in service gave no refresh token: the app must ask for "
                         "offline access (the offline_access scope); nothing was stored")
    oauth.KeyringTokens().put(args.host, args.user, Secret(answer["refresh_token"]))
    print(f"signed in {args.user} for {args.host}; the sign-in is kept in the OS keyring "
          "(runs refresh it themselves)")
    return int(ExitCode.SUCCESS)


def run(args) -> int:
    if args.action == "login":
        return login(args)
    if args.action in ("set", "delete"):
        credentials.check_keyring()
    if args.action == "set":
        credentials.store(args.host, args.user, read_new_password(args.host, args.user))
        print(f"stored the password for {args.user} at {args.host} in the OS keyring")
        return int(ExitCode.SUCCESS)
    if args.action == "delete":
        from migrate.oauth import KeyringTokens
        KeyringTokens().forget(args.host, args.user)
        if credentials.delete(args.host, args.user):
            print(f"removed the stored password for {args.user} at {args.host}")
        else:
            print(f"no password was stored for {args.user} at {args.host}")
        return int(ExitCode.SUCCESS)
    config = common.target_config(args)  # keyring unless --password-env/-file are given
    with common.IMAPTarget(config) as target:
        caps = " ".join(sorted(target.capabilities))[:200]
    print(f"login to {config.address} as {config.user}: OK (server offers: {caps})")
    return int(ExitCode.SUCCESS)
