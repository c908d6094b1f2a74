"""Find the target password without it ever touching argv, logs or state.

Order: ``--password-env VAR``, ``--password-file F``, the OS keyring (service
``mailmigrate``, user ``USER@HOST``), then a prompt when on a TTY. ``keyring``
is imported only here.
"""

from __future__ import annotations

import getpass
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from migrate.errors import UsageError
from migrate.secret import Secret

KEYRING_SERVICE = "mailmigrate"


def keyring_name(host: str, user: str) -> str:
    return f"{user}@{host}"


def from_env(var: str) -> Secret:
    value = os.environ.get(var)
    if not value:
        raise UsageError(f"the environment variable {var} (from --password-env) is not set "
                         "or empty")
    return Secret(value)


def from_file(path: str) -> Secret:
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if os.name != "nt" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"{p} can be read by other users; run 'chmod 600 {p}' first")
        value = p.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise UsageError(f"cannot read the password file {p}: {e.strerror}") from None
    if not value:
        raise UsageError(f"the password file {p} is empty")
    return Secret(value)


NO_KEYRING_ADVICE = (
    "no usable OS keyring on this machine (keyring backend: {backend}). Use "
    "--password-env VAR or --password-file FILE (chmod 600) instead, or install a keyring "
    "service (Windows Credential Manager and the macOS Keychain work out of the box; on "
    "Linux: GNOME Keyring / KWallet with a desktop session)")


def keyring_module():
    """The keyring module if a real backend is there, else UsageError with advice."""
    import keyring
    from keyring.backends import chainer, fail
    backend = keyring.get_keyring()
    usable = not isinstance(backend, fail.Keyring) and not (
        isinstance(backend, chainer.ChainerBackend) and not backend.backends)
    if not usable:
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        raise UsageError(NO_KEYRING_ADVICE.format(backend=name))
    return keyring


def check_keyring() -> None:
    """Raise UsageError (with what to use instead) when there is no usable keyring."""
    keyring_module()


def store(host: str, user: str, password: Secret) -> None:
    """Save the password for (host, user) in the OS keyring."""
    from keyring.errors import KeyringError
    try:
        keyring_module().set_password(KEYRING_SERVICE, keyring_name(host, user), password.reveal())
    except KeyringError as e:
        raise UsageError(f"the keyring refused to store the password: {type(e).__name__}; "
                         "use --password-env or --password-file instead") from None


def delete(host: str, user: str) -> bool:
    """Remove the stored password; False if there was none."""
    from keyring.errors import KeyringError, PasswordDeleteError
    try:
        keyring_module().delete_password(KEYRING_SERVICE, keyring_name(host, user))
    except PasswordDeleteError:
        return False
    except KeyringError as e:
        raise UsageError(f"the keyring refused to delete the password: {type(e).__name__}") \
            from None
    return True


def from_keyring(host: str, user: str) -> Secret | None:
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, keyring_name(host, user))
    except (NoKeyringError, KeyringError, RuntimeError):
        return None
    return Secret(value) if value else None


typed: set[tuple[str, str]] = set()  # accounts whose password was typed at the prompt


def origin(host: str, user: str, env: str | None = None, file: str | None = None) -> str:
    """Where ``resolve`` took the password from, in words (a refused login names it)."""
    if (host, user) in typed:
        return "the password typed at the prompt"
    if env:
        return f"the password in ${env} (--password-env)"
    if file:
        return f"the password in {file} (--password-file)"
    return (f"the password stored in the OS keyring for {user} at {host} (replace it with "
            f"'mailmigrate credentials set --host {host} --user {user}')")


def resolve(host: str, user: str, env: str | None = None, file: str | None = None,
            interactive: bool | None = None) -> Secret:
    """The password for *user* at *host*, from the first source that has it."""
    if env:
        return from_env(env)
    if file:
        return from_file(file)
    found = from_keyring(host, user)
    if found:
        return found
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        value = getpass.getpass(f"Password for {user} at {host}: ")
        if value:
            typed.add((host, user))  # a refused login then says it was the one typed
            return Secret(value)
    raise UsageError(f"no password found for {user} at {host}: store it with "
                     f"'mailmigrate credentials set --host {host} --user {user}', or use "
                     "--password-env VAR or --password-file FILE")


def command_words(command: str, windows: bool = os.name == "nt") -> list[str]:
    """A command line as its words, as the system's own shell would split it: POSIX
    quoting; on Windows, double quotes group (``"C:\\Program Files\\x.exe" --a``) and
    are removed, backslashes are kept (they are path separators there)."""
    if not windows:
        return shlex.split(command)
    words: list[str] = []
    word: list[str] = []
    quoted = any_char = False
    for c in command:
        if c == '"':
            quoted, any_char = not quoted, True
        elif c in " \t" and not quoted:
            if word or any_char:
                words.append("".join(word))
            word, any_char = [], False
        else:
            word.append(c)
            any_char = True
    if quoted:
        raise ValueError("a quote is not closed")
    if word or any_char:
        words.append("".join(word))
    return words


def token_from_command(command: str) -> Secret:
    """Run the user's OAuth2 token command (no shell) and return its output as a secret.

    Run again at every connection, so a long run picks up refreshed tokens. Its
    output never reaches logs or errors.
    """
    try:
        argv = command_words(command)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"the --oauth2-token-command could not run: {type(e).__name__}") from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        raise UsageError(f"the --oauth2-token-command exited {done.returncode} without a token; "
                         "run it by hand to see why")
    return Secret(token)


def notify(command: str | None, summary: dict, exit_code: int) -> None:
    """Run the technician's --notify-command (no shell) with *summary* as JSON on its
    stdin; a failure is a warning, never the run's outcome (the summary is written
    beside the state anyway)."""
    if not command:
        return
    import json
    import logging
    log = logging.getLogger("migrate")
    try:
        argv = command_words(command)
        done = subprocess.run(argv, input=json.dumps(summary, default=str), text=True,
                              capture_output=True, timeout=120,
                              env={**os.environ, "MAILMIGRATE_EXIT_CODE": str(int(exit_code))})
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        log.warning("the --notify-command could not run: %s", type(e).__name__)
        return
    if done.returncode != 0:
        log.warning("the --notify-command exited %d (the run's outcome is unchanged)",
                    done.returncode)

