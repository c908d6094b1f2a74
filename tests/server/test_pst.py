"""Outlook .pst files read directly (libpff-python), checked on the real corpus and
Dovecot: the server tests (tests/functional/test_pst.py has the rest, and says what they
prove)."""

from __future__ import annotations

import collections
import email
import email.policy
import email.utils
from pathlib import Path

import pytest

from tests.support.builders import snapshot
from tests.support.pst_shared import (
    MAIL_PSTS,
    attachment_hashes,
    independent_items,
    need_the_pst_extra,
    parts_of,
)

need_the_pst_extra()


@pytest.mark.parametrize("name", MAIL_PSTS)
def test_every_mail_item_lands_once_with_its_attachments(corpus, account, mm, tmp_path, name):
    source = tmp_path / "in" / Path(name).name
    source.parent.mkdir()
    source.write_bytes((corpus / "pst" / name).read_bytes())
    before = snapshot(source.parent)
    mail, _ = independent_items(source)
    args = ["run", source, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
            tmp_path / "state.sqlite", "--yes"]
    r = mm(*args, account=account)
    assert r.code == 0, r.out + r.err
    server = [m for box in account.read_back().values() for m in box]
    assert len(server) == len(mail)
    by_hashes = collections.Counter(tuple(parts_of(m.data)[1]) for m in server)
    assert by_hashes == collections.Counter(tuple(attachment_hashes(i)) for i in mail)
    for item, message in zip(sorted(mail, key=lambda i: i.subject or ""),
                             sorted(server, key=lambda m: parts_of(m.data)[0]["subject"] or "")):
        parsed, _, embedded = parts_of(message.data)
        assert (parsed["subject"] or "") == (item.subject or "")
        n_embedded = sum(1 for i in range(item.number_of_attachments)
                         if item.get_attachment(i).read_buffer(4)[2:4] == b"\xec\xbc")
        assert len(embedded) == n_embedded
        for part in embedded:
            inner = part.get_content()
            assert inner["subject"] and inner["message-id"] and inner["date"]
        for line in message.data.split(b"\r\n"):
            assert len(line) <= 998
    again = mm(*args, account=account)
    assert again.code == 0 and "moved now:              0" in again.out, again.out
    assert len([m for box in account.read_back().values() for m in box]) == len(mail)
    assert snapshot(source.parent) == before  # the .pst is only read
    import tarfile
    archive = next((tmp_path / "bk").glob("mailmigrate-backup-*.tar"))
    with tarfile.open(archive) as tar:
        assert any(n.endswith(source.name) for n in tar.getnames())


def test_mapi_details_on_the_server(corpus, account, mm, tmp_path):
    """Flags from MAPI, 200 recipients folded, French root folder, Japanese folders."""
    for name in ("ruby-msg/200 recipients.pst", "pstsdk/sample1.pst", "aleph/testPST.pst"):
        r = mm("run", corpus / "pst" / name, *account.cli_args(), "--backup-dir",
               tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
               account=account)
        assert r.code == 0, r.err
    boxes = account.read_back()
    inbox = boxes["INBOX"]  # messages at the data file's top go to INBOX
    draft = next(m for m in inbox if b"Subject: 200 recipients" in m.data)
    parsed = email.message_from_bytes(draft.data, policy=email.policy.default)
    assert len(parsed["to"].addresses) == 200
    assert "\\Draft" in draft.keyflags  # an unsent item
    sample = next(m for box in boxes.values() for m in box if b"Here is a sample" in m.data)
    assert "\\Seen" in sample.keyflags
    assert "Sample1" in boxes
    assert len(inbox) == 1 + 6
    french = [m for m in inbox if b"Received:" in m.data.split(b"\r\n\r\n")[0]]
    assert len(french) == 6  # the French file's messages, with their transport headers
    # the empty French "Éléments supprimés" is the special folder \Trash: no look-alike is made
    assert "Éléments supprimés" not in boxes and boxes["Trash"] == []


