"""Regenerate samples/thunderbird-local-folders: a small, made-up Thunderbird store.

Run from the repository root: python samples/make_samples.py
Everything in it is invented by this script (names, addresses, text).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "thunderbird-local-folders"
PEOPLE = ["Ada Byron <ada@example.org>", "Alan Turing <alan@example.net>",
          "Grace Hopper <grace@example.com>", "Edsger Dijkstra <edsger@example.org>"]
ME = "Pat Sample <pat@example.org>"
rng = random.Random(20261125)


def msg(i: int, folder: str, when: dt.datetime, sender: str, to: str, status: int,
        extra: str = "") -> bytes:
    subject = f"{folder} message {i}: " + rng.choice(
        ["project notes", "lunch on Friday?", "invoice 2019-%02d" % (i % 12 + 1),
         "Re: the plan", "photos from the trip", "From the archive"])
    body = "\n".join(rng.choice([
        "Hello,", "Thanks for the update.", "From now on we meet on Tuesdays.",
        "See you soon.", "Best regards,", "> quoted text from before", "Cheers"])
        for _ in range(rng.randint(3, 12)))
    head = (f"From - {when.strftime('%a %b %d %H:%M:%S %Y')}\n"
            f"X-Mozilla-Status: {status:04x}\nX-Mozilla-Status2: 00000000\n"
            f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <sample-{folder.lower()}-{i}@example.org>\n{extra}"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n")
    body = "\n".join(">" + line if line.startswith("From ") else line for line in body.split("\n"))
    return (head + body + "\n\n").encode()


def folder(path: Path, name: str, count: int, start: dt.datetime, sent: bool = False,
           statuses=(0x1, 0x0, 0x3, 0x5, 0x1001)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = b""
    for i in range(count):
        when = start + dt.timedelta(days=i * 9, hours=i)
        other = PEOPLE[i % len(PEOPLE)]
        sender, to = (ME, other) if sent else (other, ME)
        status = 0x1 if sent else statuses[i % len(statuses)]
        out += msg(i, name, when, sender, to, status)
    path.write_bytes(out)
    (path.parent / (path.name + ".msf")).write_text("// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")


def main() -> None:
    folder(ROOT / "Inbox", "Inbox", 20, dt.datetime(2021, 1, 4, 9))
    folder(ROOT / "Sent", "Sent", 8, dt.datetime(2021, 2, 1, 14), sent=True)
    folder(ROOT / "Drafts", "Drafts", 2, dt.datetime(2022, 5, 2, 8), sent=True)
    folder(ROOT / "Trash", "Trash", 3, dt.datetime(2022, 6, 1, 8), statuses=(0x1, 0x9))
    folder(ROOT / "Archive.sbd" / "2019", "2019", 6, dt.datetime(2019, 3, 1, 10))
    folder(ROOT / "Archive.sbd" / "2020", "2020", 4, dt.datetime(2020, 3, 1, 10))
    folder(ROOT / "Archive", "Archive", 0, dt.datetime(2019, 1, 1))


if __name__ == "__main__":
    main()
