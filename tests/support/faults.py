"""A TCP proxy on loopback for fault injection: cut connections, add latency.

    proxy = FaultProxy(upstream_port).start()
    proxy.cut_after = 50_000      # close each new connection after N client->server bytes
    proxy.delay = 0.025           # one-way delay per direction (50 ms round trip)

Bytes are forwarded unchanged (TLS passes through), so the client still checks
the server's certificate.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.cut_after: int | None = None  # per connection, client->server bytes
        self.cut_range: tuple[int, int] | None = None  # or a random offset in this range
        self.delay = 0.0
        self.cuts = 0
        self.connections = 0
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self.rng = random.Random(1234)
        self._states: list[dict] = []

    def freeze(self) -> None:
        """Every open connection goes silent, both ways, without closing: what a client
        sees after a laptop slept and the server forgot it. New connections work."""
        for state in self._states:
            state["frozen"] = True

    def start(self) -> "FaultProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for s in [self.listener] + self._sockets:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
                for s in (client, server):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                client.close()  # one failed set-up must not stop the proxy
                continue
            self._sockets += [client, server]
            self.connections += 1
            limit = self.cut_after
            if self.cut_range:
                limit = self.rng.randint(*self.cut_range)
            state = {"sent": 0, "limit": limit, "closed": False, "frozen": False}
            self._states.append(state)
            threading.Thread(target=self._pipe, args=(client, server, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, state, False),
                             daemon=True).start()

    def _close(self, a, b, state) -> None:
        if not state["closed"]:
            state["closed"] = True
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _chunks(self, src, state):
        """Yield what *src* sends until it closes, the proxy stops, or the pair is cut."""
        while not self._stop.is_set() and not state["closed"]:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            yield data

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        if self.delay:
            return self._delayed_pipe(src, dst, state)
        for data in self._chunks(src, state):
            if state["frozen"]:
                continue  # swallowed: the peer never hears of it
            if upstream and state["limit"] is not None:
                room = state["limit"] - state["sent"]
                if room <= len(data):
                    if room > 0:
                        try:
                            dst.sendall(data[:room])
                        except OSError:
                            pass
                    self.cuts += 1
                    break
                state["sent"] += len(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst, state)

    def _delayed_pipe(self, src, dst, state) -> None:
        """Deliver each chunk *delay* seconds after it arrived: latency without a bandwidth cap."""
        q: queue.Queue = queue.Queue()

        def sender():
            while True:
                item = q.get()
                if item is None:
                    break
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    dst.sendall(data)
                except OSError:
                    break
            self._close(src, dst, state)

        threading.Thread(target=sender, daemon=True).start()
        for data in self._chunks(src, state):
            q.put((time.monotonic() + self.delay, data))
        q.put(None)


def main() -> None:
    """Run a latency proxy in its own process: python -m tests.support.faults UPSTREAM_PORT DELAY.

    Prints the listening port, then serves until killed. A separate process keeps
    the proxy's threads from competing for the GIL with the client it measures.
    """
    import sys
    proxy = FaultProxy(int(sys.argv[1]))
    proxy.delay = float(sys.argv[2])
    proxy.start()
    print(proxy.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()


class Answer(tuple):
    """What a CommandProxy says instead of the server: *reply* (after *delay* seconds),
    then the connection is closed when *close*."""

    def __new__(cls, reply: bytes, close: bool = False, delay: float = 0.0):
        return super().__new__(cls, (reply, close, delay))


class CommandProxy(FaultProxy):
    """Plaintext IMAP proxy that sees each client command whole, literals included, and
    may answer it itself instead of the server (the command never reaches it): the
    base of the provider emulations. Subclasses decide in ``answer``, count in
    ``passed`` (a command forwarded, with its literal bytes) and ``ended`` (a
    connection closed). Server -> client bytes go through ``from_server``."""

    def answer(self, state: dict, tag: bytes, verb: bytes, line: bytes,
               literals: list[bytes]) -> Answer | None:
        return None

    def passed(self, state: dict, verb: bytes, literal_bytes: int) -> None:
        pass

    def forward(self, state: dict, verb: bytes, line: bytes) -> bytes:
        """The first line of a command that goes to the server, as it goes."""
        return line

    def ended(self, state: dict) -> None:
        pass

    def from_server(self, data: bytes) -> bytes:
        return data

    def _close(self, a, b, state) -> None:
        first = not state["closed"]
        super()._close(a, b, state)
        if first:
            self.ended(state)

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        if not upstream:
            for data in self._chunks(src, state):
                try:
                    dst.sendall(self.from_server(data))
                except OSError:
                    break
            return self._close(src, dst, state)
        buf = bytearray()
        chunks = self._chunks(src, state)
        state["client"] = src  # a subclass may answer at length itself (HostileProxy)

        def need(n: int) -> bool:
            while len(buf) < n:
                data = next(chunks, None)
                if data is None:
                    return False
                buf.extend(data)
            return True

        def line() -> bytes | None:
            while b"\r\n" not in buf:
                data = next(chunks, None)
                if data is None:
                    return None
                buf.extend(data)
            end = buf.index(b"\r\n") + 2
            out = bytes(buf[:end])
            del buf[:end]
            return out

        while True:
            first = line()
            if first is None:
                break
            words = first.split(b" ", 2)
            verb = words[1].rstrip(b"\r\n").upper() if len(words) > 1 else b""
            parts, literals, current = [first], [], first
            while True:  # the whole command: its literals and continuation lines
                m = re.search(rb"\{(\d+)(\+?)\}\r\n$", current)
                if not m:
                    break
                size = int(m.group(1))
                if not m.group(2):  # synchronising: the proxy says go ahead, the server
                    src.sendall(b"+ go ahead\r\n")  # gets it as LITERAL+ (Dovecot has it)
                    parts[-1] = current[:m.start()] + b"{%d+}\r\n" % size
                if not need(size):
                    return self._close(src, dst, state)
                literals.append(bytes(buf[:size]))
                del buf[:size]
                current = line()
                if current is None:
                    return self._close(src, dst, state)
                parts += [literals[-1], current]
            verdict = self.answer(state, words[0], verb, first, literals)
            if verdict is None:
                parts[0] = self.forward(state, verb, parts[0])
                try:
                    dst.sendall(b"".join(parts))
                except OSError:
                    return self._close(src, dst, state)
                self.passed(state, verb, sum(map(len, literals)))
                continue
            reply, close, delay = verdict
            time.sleep(delay)
            try:
                src.sendall(reply)
            except OSError:
                pass
            if close:
                time.sleep(0.05)
                return self._close(src, dst, state)
        self._close(src, dst, state)


class ThrottleProxy(CommandProxy):
    """Plaintext IMAP proxy that answers chosen APPENDs as Office 365 does when throttling.

    The Nth APPEND commands (counted over all connections, ``throttle_at``) are
    swallowed, never reaching the server: the client gets
    ``TAG NO ... Request is throttled. Suggested Backoff Time: N milliseconds``
    and then the connection is dropped.
    """

    def __init__(self, upstream_port: int, throttle_at: set[int], backoff_ms: int = 300):
        super().__init__(upstream_port)
        self.throttle_at = set(throttle_at)
        self.backoff_ms = backoff_ms
        self.appends = 0
        self.throttled = 0
        self._count_lock = threading.Lock()

    def answer(self, state, tag, verb, line, literals):
        if verb != b"APPEND":
            return None
        with self._count_lock:
            self.appends += 1
            if self.appends not in self.throttle_at:
                return None
            self.throttled += 1
        # the pause lets the server's answers to earlier commands reach the client first
        return Answer(tag + b" NO Request is throttled. Suggested Backoff Time: "
                      + str(self.backoff_ms).encode() + b" milliseconds\r\n", close=True,
                      delay=0.3)


class Office365Proxy(ThrottleProxy):
    """Exchange Online's IMAP behaviour over a real Dovecot (plaintext).

    * no MULTIAPPEND (Exchange has none): one message per APPEND;
    * ``throttle_at``: the Nth APPENDs (over all connections) get "Request is
      throttled. Suggested Backoff Time: N milliseconds" and the connection
      closes, as ThrottleProxy;
    * APPENDed mail is stored without ``\\Seen`` (flags dropped on APPEND);
    * ``refuse_sizes``: an APPEND of a message of one of these sizes gets
      "NO Command Argument Error. 11";
    * a message with a line over ``max_line`` characters gets
      "BAD Command Argument Error. 12";
    * after ``max_errors`` refusals on one connection it says BYE and closes.
    """

    def __init__(self, upstream_port: int, throttle_at=(), backoff_ms: int = 300,
                 refuse_sizes=(), max_errors: int = 10, max_line: int = 9_998,
                 oauth_only: bool = False):
        super().__init__(upstream_port, throttle_at, backoff_ms)
        self.oauth_only = oauth_only  # basic authentication off, as Exchange Online has it
        self.max_line = max_line
        self.refuse_sizes, self.max_errors = set(refuse_sizes), max_errors
        self.refused = self.byes = 0
        self.lock = threading.Lock()

    def from_server(self, data: bytes) -> bytes:
        return data.replace(b" MULTIAPPEND", b"")

    def forward(self, state, verb, line):
        if verb != b"APPEND":
            return line
        return re.sub(rb"\(([^)]*)\)", lambda m: b"(" + b" ".join(
            f for f in m.group(1).split() if f.upper() != b"\\SEEN") + b")", line, count=1)

    def answer(self, state, tag, verb, line, literals):
        if self.oauth_only and (verb == b"LOGIN" or (verb == b"AUTHENTICATE" and
                                                     b"XOAUTH2" not in line.upper())):
            return Answer(tag + b" NO LOGIN failed.\r\n")
        throttled = super().answer(state, tag, verb, line, literals)
        if throttled is not None or verb != b"APPEND":
            return throttled
        with self.lock:
            message = literals[0] if literals else b""
            if len(message) in self.refuse_sizes:
                reply = tag + b" NO Command Argument Error. 11\r\n"
            elif max(map(len, message.split(b"\r\n"))) > self.max_line:
                reply = tag + b" BAD Command Argument Error. 12\r\n"
            else:
                return None
            self.refused += 1
            state["errors"] = state.get("errors", 0) + 1
            if state["errors"] < self.max_errors:
                return Answer(reply)
            self.byes += 1
        return Answer(reply + b"* BYE Connection is closed. 14\r\n", close=True)


class GmailProxy(CommandProxy):
    """Gmail's limits over a Dovecot of Gmail's shape (the ``gmail`` variant: X-GM-EXT-1,
    APPENDLIMIT, the [Gmail] folders with their special uses).

    * ``max_logins``: logins at once per account; one more gets
      ``NO [ALERT] Too many simultaneous connections. (Failure)``; ``others``
      are held by the user's other devices.
    * ``budget``: bytes of APPEND literals a "day" takes; past it the next
      APPEND gets ``* BYE Session expired, please login again.`` and the
      connection closes. ``new_day()`` starts the next window.
    * ``appended``: every APPEND literal byte that reached the server.
    """

    def __init__(self, upstream_port: int, max_logins: int = 15, budget: int | None = None,
                 oauth_only: bool = False):
        super().__init__(upstream_port)
        self.max_logins, self.budget = max_logins, budget
        self.oauth_only = oauth_only  # a Workspace that allows OAuth 2 only
        self.others = 0
        self.logged_in = self.most_at_once = 0
        self.appended = self.today = 0
        self.refused_logins = self.byes = 0
        self.lock = threading.Lock()

    def new_day(self) -> None:
        with self.lock:
            self.today = 0

    def answer(self, state, tag, verb, line, literals):
        if self.oauth_only and (verb == b"LOGIN" or (verb == b"AUTHENTICATE" and
                                                     b"XOAUTH2" not in line.upper())):
            return Answer(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials "
                                b"(Failure)\r\n")
        with self.lock:
            if verb in (b"LOGIN", b"AUTHENTICATE"):
                if self.logged_in + self.others >= self.max_logins:
                    self.refused_logins += 1
                    return Answer(tag + b" NO [ALERT] Too many simultaneous connections. "
                                  b"(Failure)\r\n")
                self.logged_in += 1
                state["counted"] = True
                self.most_at_once = max(self.most_at_once, self.logged_in)
            if verb == b"APPEND" and self.budget is not None and self.today >= self.budget:
                self.byes += 1
                return Answer(b"* BYE Session expired, please login again.\r\n", close=True)
        return None

    def passed(self, state, verb, literal_bytes):
        if verb == b"APPEND":
            with self.lock:
                self.appended += literal_bytes
                self.today += literal_bytes

    def ended(self, state):
        if state.pop("counted", False):
            with self.lock:
                self.logged_in -= 1


class SpecialUseShim(FaultProxy):
    """Make a real Dovecot 2.3 look like it offers CREATE-SPECIAL-USE (RFC 6154).

    Server -> client: ``CREATE-SPECIAL-USE`` is added to every capability list.
    Client -> server: ``CREATE name (USE (\\Flag))`` is recorded in ``created``
    and forwarded as a plain ``CREATE name``. Plaintext connections only.
    """

    _CREATE = re.compile(rb'(CREATE (?:"[^"]*"|\S+)) \(USE \((\\\w+)\)\)')

    def __init__(self, upstream_port: int):
        super().__init__(upstream_port)
        self.created: list[tuple[bytes, bytes]] = []

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        for data in self._chunks(src, state):
            if upstream:
                for m in self._CREATE.finditer(data):
                    self.created.append((m.group(1)[7:], m.group(2)))
                data = self._CREATE.sub(rb"\1", data)
            else:
                data = data.replace(b"IMAP4rev1 ", b"IMAP4rev1 CREATE-SPECIAL-USE ")
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst, state)


class RewriteProxy(FaultProxy):
    """A server that changes mail on arrival, as Cyrus does by default.

    Client -> server: every occurrence of each ``old`` in ``rewrites`` is
    replaced by ``new`` of the same length (literal sizes stay right), e.g.
    8-bit header bytes by ``X``. Plaintext connections only. A pattern split
    across two reads is not rewritten: keep test messages small.
    """

    def __init__(self, upstream_port: int, rewrites: dict[bytes, bytes]):
        super().__init__(upstream_port)
        assert all(len(old) == len(new) for old, new in rewrites.items())
        self.rewrites = rewrites
        self.rewritten = 0

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        for data in self._chunks(src, state):
            if upstream:
                for old, new in self.rewrites.items():
                    self.rewritten += data.count(old)
                    data = data.replace(old, new)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst, state)


KILL_POINTS = ("command", "literal", "last-byte", "ok-held", "after-ok")


class CapabilityProxy(FaultProxy):
    """Server -> client: each CAPABILITY list also announces *extra* (e.g. X-GM-EXT-1,
    what a Google Workspace account behind a customer's own host name shows).
    Plaintext connections only; capability lines are short, never split."""

    def __init__(self, upstream_port: int, extra: bytes):
        super().__init__(upstream_port)
        self.extra = extra

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        for data in self._chunks(src, state):
            if not upstream:
                data = re.sub(rb"(CAPABILITY IMAP4rev1)", rb"\1 " + self.extra, data)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst, state)


class KillProxy(FaultProxy):
    """SIGKILL the client at an exact point of the Nth APPEND (plaintext IMAP only).

    Points: ``command`` (the APPEND line is at the server, no literal byte
    yet), ``literal`` (half of the first literal forwarded), ``last-byte``
    (the whole command forwarded, no answer yet), ``ok-held`` (the server's
    tagged answer arrived and is never forwarded), ``after-ok`` (the answer
    was forwarded). APPENDs are counted over all connections. With
    ``literal_plus=False`` LITERAL+ is removed from the server's capabilities,
    so the client cannot pipeline and waits for each continuation.

    ``landed`` names the point where the kill happened (None: never), so a
    test can assert that it hit what it meant to. ``command=b"UID COPY"``
    watches the Nth UID COPY instead (no literal: ``last-byte``, ``ok-held``,
    ``after-ok``).
    """

    _LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r\n$")

    def __init__(self, upstream_port: int, point: str, nth: int, literal_plus: bool = True,
                 command: bytes = b"APPEND"):
        super().__init__(upstream_port)
        assert point in KILL_POINTS
        self.needle = b" " + command.upper() + b" "
        self.point, self.nth, self.literal_plus = point, nth, literal_plus
        self.victim: int | None = None  # pid to kill
        self.appends = 0
        self.landed: str | None = None
        self.lock = threading.Lock()
        self.watched_tag: bytes | None = None

    def _kill(self) -> None:
        if self.landed is None and self.victim is not None:
            self.landed = self.point
            os.kill(self.victim, signal.SIGKILL)

    def _pipe(self, src, dst, state, upstream: bool) -> None:
        if upstream:
            self._client_to_server(src, dst, state)
        else:
            self._server_to_client(src, dst, state)
        self._close(src, dst, state)

    def _send(self, dst, data: bytes) -> bool:
        try:
            dst.sendall(data)
            return True
        except OSError:
            return False

    def _client_to_server(self, src, dst, state) -> None:
        line = b""
        literal = 0  # bytes of literal still to come
        mine = False  # this command is the watched APPEND
        half = None
        for data in self._chunks(src, state):
            out = bytearray()
            i = 0
            while i < len(data):
                if self.landed:
                    return  # nothing more reaches the server from a killed client
                if literal:
                    take = min(literal, len(data) - i)
                    if mine and self.point == "literal" and half is not None:
                        take = min(take, half)
                    out += data[i:i + take]
                    i += take
                    literal -= take
                    if mine and half is not None:
                        half -= take
                        if half == 0 and self.point == "literal":
                            self._send(dst, bytes(out))
                            self._kill()
                            return
                    continue
                j = data.find(b"\n", i)
                if j == -1:
                    line += data[i:]
                    out += data[i:]
                    break
                line += data[i:j + 1]
                out += data[i:j + 1]
                i = j + 1
                first = not mine and self.needle in line.upper()[:200]
                if first:
                    with self.lock:
                        self.appends += 1
                        mine = self.appends == self.nth
                    if mine:
                        self.watched_tag = line.split(b" ", 1)[0]
                m = self._LITERAL.search(line)
                if m:
                    literal = int(m.group(1))
                    if mine and self.point == "command" and half is None:
                        self._send(dst, bytes(out))
                        self._kill()
                        return
                    if mine and half is None:
                        half = max(1, literal // 2)
                elif mine:  # the command's last line: all of it is on its way
                    if self.point == "last-byte":
                        self._send(dst, bytes(out))
                        self._kill()
                        return
                    mine = False
                line = b""
            if out and not self._send(dst, bytes(out)):
                return

    def _server_to_client(self, src, dst, state) -> None:
        pending = b""
        for data in self._chunks(src, state):
            if not self.literal_plus:
                data = data.replace(b" LITERAL+", b"").replace(b" LITERAL-", b"")
            pending += data
            lines = pending.split(b"\r\n")
            pending = lines.pop()
            out = bytearray()
            for line in lines:
                tag = self.watched_tag
                if tag and line.startswith(tag + b" ") and self.point in ("ok-held", "after-ok"):
                    if self.point == "ok-held":
                        self._send(dst, bytes(out))
                        self._kill()
                        return
                    out += line + b"\r\n"
                    self._send(dst, bytes(out))
                    self._kill()
                    return
                out += line + b"\r\n"
            if out and not self._send(dst, bytes(out)):
                return


class HostileProxy(CommandProxy):
    """A server whose answers break IMAP's rules (plaintext only): Dovecot behind it,
    each server -> client chunk passed through ``rewrites`` (regex -> replacement;
    answers are short, never split), and LIST answered by ``list_answer``: bytes
    sent as they are, or with ``trickle`` one line every *trickle* seconds, without
    end (for at most ``trickle_for`` seconds)."""

    def __init__(self, upstream_port: int, rewrites: dict[bytes, bytes] | None = None,
                 list_answer: bytes | None = None, trickle: float | None = None,
                 trickle_for: float = 60.0):
        super().__init__(upstream_port)
        self.rewrites = rewrites or {}
        self.list_answer, self.trickle, self.trickle_for = list_answer, trickle, trickle_for
        self.trickled = 0

    def from_server(self, data: bytes) -> bytes:
        for pattern, replacement in self.rewrites.items():
            data = re.sub(pattern, replacement, data)
        return data

    def answer(self, state, tag, verb, line, literals):
        if verb != b"LIST" or (self.list_answer is None and self.trickle is None):
            return None
        if self.list_answer is not None:
            return Answer(self.list_answer + tag + b" OK List completed.\r\n", False, 0.0)
        end = time.monotonic() + self.trickle_for
        client = state["client"]
        while time.monotonic() < end and not state["closed"]:
            try:
                client.sendall(b'* LIST () "/" slow%d\r\n' % self.trickled)
            except OSError:
                break
            self.trickled += 1
            time.sleep(self.trickle)
        return Answer(tag + b" OK List completed.\r\n", True, 0.0)
