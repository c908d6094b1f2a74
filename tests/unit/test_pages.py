"""The engine and the quick check again, with the plan read three messages a page.

Real plans are read from the spool 2,000 messages a page; the other tests
rarely cross a page. Here every one of them does, many times: changes saved
between pages, in-flight resolution, shares over connections, the end-of-run
check and facts from the state must give the same results.
"""

from __future__ import annotations

import pytest

from migrate import spool
from tests.unit.test_engine import (  # collected here again, with small pages
    test_a_crash_while_shares_were_in_flight_is_resolved_by_the_next_run,
    test_a_crash_with_a_batch_in_flight_is_resolved_by_the_next_run,
    test_a_recreated_mailbox_shared_over_connections_gets_everything_again,
    test_a_refused_message_is_isolated_and_the_rest_arrive_once,
    test_a_stop_request_finishes_in_flight_batches_and_the_rerun_completes,
    test_dropped_connection_then_resolution_never_doubles,
    test_empty_folders_are_created_and_a_refused_one_is_skipped,
    test_every_transport_uploads_exactly_once,
    test_flags_a_server_drops_on_append_are_added_back,
    test_more_connections_than_the_account_allows_go_on_with_fewer,
    test_one_message_a_round_trip_servers_share_a_mailbox_over_connections,
    test_the_end_of_run_check_fetches_only_what_the_records_cannot_vouch_for,
)
from tests.unit.test_quick_check import (
    test_a_changed_mbox_is_read_again,
    test_unchanged_folders_are_taken_from_the_state_exactly_as_read,
)

__all__ = [
    "test_a_crash_while_shares_were_in_flight_is_resolved_by_the_next_run",
    "test_a_crash_with_a_batch_in_flight_is_resolved_by_the_next_run",
    "test_a_recreated_mailbox_shared_over_connections_gets_everything_again",
    "test_a_refused_message_is_isolated_and_the_rest_arrive_once",
    "test_a_stop_request_finishes_in_flight_batches_and_the_rerun_completes",
    "test_dropped_connection_then_resolution_never_doubles",
    "test_empty_folders_are_created_and_a_refused_one_is_skipped",
    "test_every_transport_uploads_exactly_once",
    "test_flags_a_server_drops_on_append_are_added_back",
    "test_more_connections_than_the_account_allows_go_on_with_fewer",
    "test_one_message_a_round_trip_servers_share_a_mailbox_over_connections",
    "test_the_end_of_run_check_fetches_only_what_the_records_cannot_vouch_for",
    "test_a_changed_mbox_is_read_again",
    "test_unchanged_folders_are_taken_from_the_state_exactly_as_read",
]


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(spool, "PAGE", 3)
