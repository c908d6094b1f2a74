"""Provider profiles: one table, recognised by host or capability, chosen with --provider.

What a profile changes (size and line limits, reserved names, connections, the
daily budget in the estimate) reaches plan and run; ``plan`` says which
profile applies. docs/providers.md lists each figure's source.
"""

from __future__ import annotations

import pytest

from migrate import providers
from migrate.errors import UsageError
from migrate.estimate import estimate
from migrate.run import allowed_connections
from migrate.target.imap import IMAPTarget, TargetConfig


@pytest.mark.parametrize("host, caps, name", [
    ("imap.gmail.com", (), "gmail"), ("IMAP.GMAIL.COM.", (), "gmail"),
    ("mail.example.org", ("IMAP4rev1", "X-GM-EXT-1"), "gmail"),  # Workspace behind a CNAME
    ("outlook.office365.com", (), "office365"), ("imap-mail.outlook.com", (), "outlook"),
    ("imap.mail.yahoo.com", (), "yahoo"), ("imap.mail.me.com", (), "icloud"),
    ("imap.fastmail.com", (), "fastmail"), ("imap.gmx.net", (), "gmx"),
    ("imap.example.org", ("IMAP4rev1",), "generic"),
])
def test_profiles_are_recognised_by_host_or_capability(host, caps, name):
    assert providers.detect(host, caps).name == name


def test_the_profile_can_be_chosen_and_unknown_names_are_refused():
    assert providers.detect("imap.gmail.com", override="generic") is providers.GENERIC
    assert providers.detect("imap.example.org", override="office365").max_line == 9_998
    with pytest.raises(UsageError, match="one of generic, gmail"):
        providers.by_name("hotmial")


def test_a_profile_sets_the_limits_the_server_does_not_announce():
    office = IMAPTarget(TargetConfig("outlook.office365.com", "u"))
    assert (office.append_limit, office.line_limit) == (35 * 1024 * 1024, 9_998)
    plain = IMAPTarget(TargetConfig("outlook.office365.com", "u", provider="generic"))
    assert (plain.append_limit, plain.line_limit) == (None, None)
    chosen = IMAPTarget(TargetConfig("imap.example.org", "u", provider="office365"))
    assert chosen.limits.line_limit == 9_998


def test_the_daily_budget_makes_the_estimate_count_days():
    size = 1_500_000_000  # 1.5 GB at 500 MB a day: three days at least
    gmail = estimate(10_000, size, 3, 0.05, 50_000_000, host="imap.gmail.com")
    assert gmail.low_seconds >= 2.9 * 86400
    chosen = estimate(10_000, size, 3, 0.05, 50_000_000, host="imap.example.org",
                      daily_bytes=providers.by_name("gmail").daily_bytes)
    assert chosen.low_seconds >= 2.9 * 86400
    assert estimate(10_000, size, 3, 0.05, 50_000_000, host="imap.example.org").low_seconds \
        < 86400


def test_connections_stay_within_what_the_provider_allows():
    assert allowed_connections(30, providers.by_name("gmail")) == 15
    assert allowed_connections(3, providers.by_name("gmail")) == 3
    assert allowed_connections(40, providers.GENERIC) == 40


