"""``mailmigrate credentials set|delete|test``: passwords in the OS keyring.

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
                       ("delete", "remove the stored password"),
                       ("test", "log in to the server with the stored password")):
        a = actions.add_parser(name, help=text)
        if name == "test":
            common.add_command_args(a, "credentials")
        else:
            a.add_argument("--host", required=True, help="IMAP (or POP) server name")
            a.add_argument("--user", required=True, help="account user name")
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


def run(args) -> int:
    if args.action in ("set", "delete"):
        credentials.check_keyring()
    if args.action == "set":
        credentials.store(args.host, args.user, read_new_password(args.host, args.user))
        print(f"stored the password for {args.user} at {args.host} in the OS keyring")
        return int(ExitCode.SUCCESS)
    if args.action == "delete":
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
