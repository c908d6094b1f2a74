"""The dry-run plan and its reports, and verify: what people read before and after cutover:
the functional tests (tests/server/test_plan_report.py has the rest, and says what they
prove)."""

from __future__ import annotations

import pytest

from tests.support.builders import snapshot
from tests.support.plan_report_shared import KINDS, make_store, read_report, validate


@pytest.mark.parametrize("kind", KINDS)
def test_plan_without_target_describes_every_store_kind(tmp_path, mm, kind):
    src, count = make_store(tmp_path / "src", kind)
    before = snapshot(tmp_path / "src")
    r = mm("plan", src, "--report", tmp_path / "report")
    assert r.code == 0, r.err
    document, rows, html = read_report(tmp_path / "report")
    validate(document)
    s = document["summary"]
    assert s["messages"] == s["upload_messages"] == count
    assert document["target"] is None and s["fits"] is None and s["estimate"] is None
    assert document["per_year"] == {"2019": 2, "2020": 2, "2021": 2}
    folders = [f for f in document["folders"] if f["messages"]]
    assert {f["store_type"] for f in folders} == {kind}
    assert min(f["oldest"] for f in folders).startswith("2019-")
    assert max(f["newest"] for f in folders).startswith("2021-")
    # one CSV row per folder, same numbers as the JSON
    assert [(r["folder"], int(r["messages"]), int(r["bytes"])) for r in rows] == \
        [(f["folder"], f["messages"], f["bytes"]) for f in document["folders"]]
    assert "type" in r.out and "oldest" in r.out and "2019-" in r.out
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<svg" in html and f"{count} of {count} messages" in html
    assert snapshot(tmp_path / "src") == before


