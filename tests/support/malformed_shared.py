"""What the tests of test_malformed share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

from tests.support.builders import message

MALFORMED = [
    message("nul byte", body="before\x00after\n"),
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary garbage \xff\xfe\n",
    message("absurd date", date="Fri, 31 Dec 9999 23:59:59 +0000"),
    b"Subject: broken headers\nthis line is not a header\nX-Bad: \xff\xfe\n\nbody\n",
    message("truncated", body="the multipart boundary never closes\n",
            extra="Content-Type: multipart/mixed; boundary=zzz"),
    message("fine"),
]
