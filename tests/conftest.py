"""Shared fixtures: real Dovecot servers, fresh accounts, a CLI runner, corpus paths."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.dovecot import Account, Dovecot

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"


def skip_or_fail(reason: str):
    """Skip with *reason* on a user's clone; in CI (``CI`` set) fail instead: CI must
    never pass by testing less than it claims."""
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def started_on_first_use(start, unavailable=(), when_unavailable=skip_or_fail):
    """``get(variant)``: each server variant started on its first use; all stopped at the
    end. A server that cannot start here (*unavailable*) goes to *when_unavailable*."""
    servers: dict = {}

    def get(variant: str = "default"):
        if variant not in servers:
            try:
                servers[variant] = start(variant)
            except unavailable as e:
                when_unavailable(str(e))
        return servers[variant]

    try:
        yield get
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def dovecot_servers():
    """Dovecot by variant (tests/support/dovecot.py): needed, so never skipped."""
    with started_on_first_use(Dovecot) as get:
        yield get


@pytest.fixture(scope="session")
def cyrus_servers():
    """Cyrus by shape (tests/support/cyrus.py); needed: in CI it fails rather than skips."""
    from tests.support.cyrus import Cyrus, CyrusUnavailable
    with started_on_first_use(Cyrus, CyrusUnavailable) as get:
        yield lambda shape="slash": get(shape)


@pytest.fixture(scope="session")
def courier_server():
    """One Courier-IMAP (tests/support/courier.py); wanted, not needed: where it cannot start its
    tests skip, saying why (in CI too)."""
    from tests.support.courier import Courier, CourierUnavailable

    def skip(reason: str):
        pytest.skip(f"Courier-IMAP: {reason}")

    with started_on_first_use(lambda _: Courier(), CourierUnavailable, skip) as get:
        yield get


SERVERS = ["dovecot", "dovecot-courier-shape", "cyrus", "cyrus-dot", "courier"]


def account_on(kind: str, dovecot_servers, cyrus_servers, courier_server):
    if kind.startswith("dovecot"):
        return dovecot_servers("courier" if kind.endswith("shape") else "default").add_user()
    if kind == "courier":
        return courier_server().add_user()
    return cyrus_servers("dot" if kind == "cyrus-dot" else "slash").add_user()


@pytest.fixture(params=SERVERS)
def any_account(request, dovecot_servers, cyrus_servers, courier_server):
    """An empty account on each server and namespace shape in turn."""
    kind = request.param
    account = account_on(kind, dovecot_servers, cyrus_servers, courier_server)
    account.kind = kind
    return account


@pytest.fixture
def make_account(dovecot_servers):
    """make_account(variant="default", quota_kb=None, max_mail_size=None) -> Account."""
    def make(variant: str = "default", **kwargs) -> Account:
        return dovecot_servers(variant).add_user(**kwargs)
    return make


@pytest.fixture
def account(make_account) -> Account:
    return make_account()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        skip_or_fail(f"real-world corpus not found at {CORPUS} (it sits beside the repository "
                    "in CI and on the developers' machines)")
    return CORPUS


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def mm(tmp_path):
    """Run the mailmigrate CLI as a real process: mm(*args, account=None) -> Result."""
    def run(*args, account: Account | None = None, env=None, timeout=300) -> Result:
        full_env = dict(os.environ)
        full_env.pop("MM_TEST_PASSWORD", None)
        full_env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
        if account is not None:
            full_env["MM_TEST_PASSWORD"] = account.password
        full_env.update(env or {})
        started = time.time()
        proc = subprocess.run([sys.executable, "-m", "migrate", *map(str, args)],
                              capture_output=True, text=True, env=full_env, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=ROOT)
        if args and args[0] == "run":  # every run's document holds to its schema
            check_run_documents(tmp_path, started)
        return Result(proc.returncode, proc.stdout, proc.stderr)
    return run


@functools.cache
def _run_schema() -> dict:
    from migrate.run_document import SCHEMA_FILE
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def check_run_documents(root: Path, since: float) -> None:
    """Each <state>.run.json under *root* written since *since* is valid against
    migrate/schemas/run-1.json (whatever ended the run: success, error, stop)."""
    import jsonschema
    schema = _run_schema()
    for path in root.rglob("*.run.json"):
        if path.stat().st_mtime >= since - 1:
            jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), schema,
                                format_checker=jsonschema.FormatChecker())


SERVER_FIXTURES = {"dovecot_servers", "cyrus_servers", "courier_server"}


FUNCTIONAL_FIXTURES = {"mm"}  # runs ``python -m migrate`` as its own process
LAYERS = ("unit", "functional", "server")  # tests/<layer>/: each folder holds one layer


def pytest_collection_modifyitems(config, items):
    """Every test is in one layer (pip's split, CONTRIBUTING.md): ``server`` (it starts
    or uses a real IMAP server: its fixtures say so), ``functional`` (no server, but the
    command runs as a process of its own, or the test starts processes: the ``mm``
    fixture, or marked so), else ``unit`` (in this process: ``pytest -m unit``, the fast
    layer, under a minute)."""
    misplaced = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SERVER_FIXTURES & fixtures:
            layer = "server"
        elif FUNCTIONAL_FIXTURES & fixtures or item.get_closest_marker("functional"):
            layer = "functional"
        else:
            layer = "unit"
        item.add_marker(getattr(pytest.mark, layer))
        folder = Path(str(item.fspath)).parent.name
        if folder in LAYERS and folder != layer:
            misplaced.append(f"{item.nodeid} is a {layer} test: move it to tests/{layer}/")
    if misplaced:  # the folders are the layers: tests/unit never waits for a server
        raise pytest.UsageError("\n".join(misplaced))
