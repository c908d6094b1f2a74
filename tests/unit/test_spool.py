"""The spool's aggregates: one scan per folder answers every count a report asks, and the
answers follow every change written to the spool (they are kept only until then)."""

from __future__ import annotations

import collections

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate import quickcheck
from migrate.spool import Spool

ACTIONS = ("upload", "skip", "duplicate", "done", "failed")
REASONS = (None, "", "deleted in the mail client", "left for a later pass")
DATES = (None, "2001-01-01T00:00:00+00:00", "2019-05-01T10:00:00+02:00",
         "2019-12-31T23:00:00-05:00")


def facts(i: int, size: int, date: str | None) -> tuple:
    values = {"key": f"@{i}".encode(), "location": f"at {i}", "size": size,
              "content_hash": f"{i:064x}", "header_key": f"{i:064x}", "body_hash": "",
              "message_id": "", "internaldate": date, "flags": "[]", "keywords": "[]",
              "skip_reason": None, "notes": None, "has_nul": 0, "longest_line": 0}
    return tuple(values[c] for c in quickcheck.COLUMNS)


def asked_of_sql(messages) -> tuple:
    """What each aggregate was before the tally: its own SQL question."""
    def ask(sql, args=()):
        return messages._query(sql, args)
    counts = collections.Counter(dict(ask("SELECT action, count(*) FROM m WHERE {mine} "
                                          "GROUP BY action")))
    reasons = collections.Counter(dict(ask(
        "SELECT reason, count(*) FROM m WHERE {mine} AND reason IS NOT NULL AND reason!='' "
        "GROUP BY reason")))
    sizes = {a: ask("SELECT coalesce(sum(size), 0) FROM m WHERE {mine} AND action=?", (a,))[0][0]
             for a in ACTIONS}
    sizes[None] = ask("SELECT coalesce(sum(size), 0) FROM m WHERE {mine}")[0][0]
    by_reason = collections.Counter({(a, r): n for a, r, n in ask(
        "SELECT action, reason, count(*) FROM m WHERE {mine} GROUP BY action, reason")})
    years = collections.Counter(dict(ask(
        "SELECT coalesce(substr(internaldate, 1, 4), 'unknown'), count(*) FROM m "
        "WHERE {mine} GROUP BY 1")))
    return counts, reasons, sizes, by_reason, years


def tallied(messages) -> tuple:
    return (messages.counts(), messages.reasons(),
            {a: messages.bytes_for(a) for a in (*ACTIONS, None)}, messages.by_reason(),
            messages.years())


row = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(REASONS), st.sampled_from(DATES),
                st.integers(0, 10 ** 9))


@settings(max_examples=60, deadline=None)
@given(first=st.lists(row, max_size=12), second=st.lists(row, max_size=12),
       later=st.lists(row, max_size=12),
       changes=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(ACTIONS),
                                  st.sampled_from(REASONS)), max_size=8))
def test_the_tally_answers_as_each_question_asked_of_sql(first, second, later, changes):
    spool = Spool()
    try:
        a, b = spool.folder(), spool.folder()
        n = 0
        for messages, rows in ((a, first), (b, second), (a, later)):  # a's refs interleave b's
            messages.append_rows([(messages.folder, *facts(n + i, size, date), action, reason,
                                   messages.folder, 0)
                                  for i, (action, reason, date, size) in enumerate(rows)])
            n += len(rows)
        for ref, action, reason in [(None, None, None)] + changes:
            if ref is not None:  # a decision written between two reports
                spool.set_action([ref], action, reason)
            for messages in (a, b):
                assert tallied(messages) == asked_of_sql(messages)
                assert tallied(messages) == asked_of_sql(messages)  # asked again: the same
    finally:
        spool.close()


def test_a_report_reads_each_folder_once_until_something_is_written(tmp_path):
    spool = Spool(tmp_path)
    try:
        messages = spool.folder()
        messages.append_rows([(messages.folder, *facts(i, 10, None), "upload", None, 1, 0)
                              for i in range(5)])
        asked = []
        spool.db.set_trace_callback(lambda sql: asked.append(sql) if "GROUP BY 1, 2, 3" in sql
                                    else None)
        assert (messages.counts(), messages.bytes_for("upload"), messages.years()) == \
            ({"upload": 5}, 50, {"unknown": 5})
        assert len(asked) == 1
        spool.set_action([2], "skip", "deleted in the mail client")
        assert (messages.counts(), messages.reasons()) == \
            ({"upload": 4, "skip": 1}, {"deleted in the mail client": 1})
        assert len(asked) == 2
    finally:
        spool.close()
