"""Every folder and every message arrives, or is explained once and correctly: the unit
tests (tests/server/test_every_folder.py has the rest, and says what they prove)."""

from __future__ import annotations


def test_folder_of_mbox_files_reads_as_its_files(corpus):
    from migrate.sources import open_store
    folder = corpus / "mbox" / "mimekit"
    one_by_one = sum(len(list(f.messages())) for path in sorted(folder.iterdir())
                     for f in open_store(path).folders())
    store = open_store(folder)
    assert store.kind == "mbox-tree"
    together = {f.name: list(f.messages()) for f in store.folders()}
    assert sum(map(len, together.values())) == one_by_one == 38
    unmunged = together[("unmunged",)]
    assert len(unmunged) == 2 and not any(m.data.startswith(b"\xef\xbb\xbf") for m in unmunged)


