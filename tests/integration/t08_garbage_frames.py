"""Garbage, protocol violations, slow and flooding peers.

B runs with [limits] handshake_timeout = 1s and idle_timeout = 2s.  A raw
client holding A's valid certificate sends, before its Hello or on an up
link: random bytes, garbage protobuf, wrong wire types, a truncated
sub-message, an Envelope before Hello, an unknown-field frame, a second
Hello, a Hello naming another authority, a Hello with a 10 KB or
NUL-embedded id, a Hello followed by garbage, a partial frame then
silence, a partial frame then EOF, nothing at all.  Plain-TCP clients
send HTTP or nothing.  Each must end with B closing the connection
within a bound and a log line about that very connection (matched by
the client's port), and B must survive.  Hellos with absurd clocks
(INT64_MIN, INT64_MAX, 0) must not crash B nor wrap the recorded skew.
300 connections are opened and closed at once (a third with RST, a third
after the TLS handshake): each is logged, B's descriptors return to
their count and it still accepts.  Then B is restarted with [limits]
max_connections = 8: of 13 idle TLS connections the 5 extra are refused,
the 8 stay open, and once they close B accepts again.  The real A
delivers a request to B after each phase.
"""

import os
import random
import struct
import time

from harness import check, log, run, wait_until
import peer

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"
HANDSHAKE_S, IDLE_S = 1.0, 2.0
FLOOD = 300
MAX_CONN, EXTRA = 8, 5


def test(net):
    b = net[B]
    b.write_conf({"limits": {"handshake_timeout": "1s",
                             "idle_timeout": "2s"}})
    net.start(A, B)
    a = net[A]
    ca = os.path.join(net.pki, "ca.pem")
    ctx = peer.client_context(ca, net.cert(A), net.key(A))
    seed = int(os.environ.get("COMITY_SEED", random.randrange(1 << 30)))
    log("seed %d" % seed)
    rnd = random.Random(seed)
    fds0 = peer.fd_count(b.pid())

    def connect(say_hello):
        try:
            c = peer.Conn(b.port, timeout=5).tls(ctx)
            h = c.read_hello()
        except (OSError, EOFError) as e:
            check(False, "B refused a valid connection: %s" % e)
        check(h["authority_id"] == B, "B's Hello names %r" % h)
        if say_hello:
            c.send(peer.hello(A))
            wait_until(lambda: peer.log_lines_for(b, c.addr, ": up ("), 10,
                       "B to bring the link from %s up" % c.addr)
        return c

    def logged(addr, want, what):
        """B's log line about ADDR holding WANT (or one of a tuple)."""
        wants = want if isinstance(want, tuple) else (want,)
        return wait_until(lambda: [ln for w in wants
                                   for ln in peer.log_lines_for(b, addr, w)],
                          10, "B to log %r for %s (%s)"
                          % (want, addr, what))[0]

    def violation(what, data, want, say_hello, within=2.0):
        """Send DATA; B must close within WITHIN seconds and log WANT."""
        c = connect(say_hello)
        try:
            t0 = time.monotonic()
            if data:
                c.send(data)
            state, how, got = c.outcome(within + 3)
            took = time.monotonic() - t0
        finally:
            c.close()
        check(state == "closed" and took <= within,
              "%s: connection %s after %.2fs" % (what, state, took))
        check(got == b"", "%s: B answered %d bytes" % (what, len(got)))
        line = logged(c.addr, want, what)
        check(b.running(), "B died after: %s" % what)
        log("%-44s closed in %.2fs: %s"
            % (what, took, line.split("peer=", 1)[1]))
        return took

    env = peer.envelope(os.urandom(16), A, B)
    junk = bytes(rnd.randrange(256) for _ in range(256))
    garbage = b"\xff" * 100                     # a varint that never ends
    wrong_type = b"\x08\x01"                    # Frame.hello as a varint
    truncated = b"\x0a\x10\x0a\x02AA"           # Hello longer than the frame
    unknown = b"\x78\x01"                       # only field 15
    before = [
        ("random bytes before Hello", junk, "protocol error: "),
        ("garbage protobuf before Hello", peer.frame(garbage),
         "protocol error: undecodable frame"),
        ("wrong wire type before Hello", peer.frame(wrong_type),
         "protocol error: undecodable frame"),
        ("truncated sub-message before Hello", peer.frame(truncated),
         "protocol error: undecodable frame"),
        ("Envelope before Hello", env, "protocol error: frame before Hello"),
        ("unknown-field frame before Hello", peer.frame(unknown),
         "protocol error: frame before Hello"),
        ("Hello naming another authority", peer.hello(C),
         "refused: Hello names another authority"),
        ("Hello naming the receiver", peer.hello(B),
         "refused: Hello names another authority"),
        ("Hello with a 10 KB authority id", peer.hello("A" * 10240),
         "refused: Hello names another authority"),
        # the decoder's length check, or the comparison, refuses it
        ("Hello with a NUL-embedded id", peer.hello(A + "\0X"),
         ("refused: Hello names another authority",
          "protocol error: undecodable frame")),
        ("Hello then trailing garbage", peer.hello(A) + junk,
         "protocol error: "),
    ]
    for what, data, want in before:
        violation(what, data, want, say_hello=False)

    after = [
        ("second Hello", peer.hello(A), "protocol error: second Hello"),
        ("random bytes on an up link", junk, "protocol error: "),
        ("garbage protobuf on an up link", peer.frame(garbage),
         "protocol error: undecodable frame"),
        ("wrong wire type on an up link", peer.frame(wrong_type),
         "protocol error: undecodable frame"),
        ("unknown-field frame on an up link", peer.frame(unknown),
         "protocol error: empty frame"),
    ]
    for what, data, want in after:
        violation(what, data, want, say_hello=True)

    # Absurd clocks: the link may come up, but the skew it records must
    # keep its sign (no wrap-around) and B must survive.
    for now_ns, sign in ((-(1 << 63), -1), ((1 << 63) - 1, 1), (0, -1)):
        c = peer.Conn(b.port, timeout=5).tls(ctx)
        try:
            c.read_hello()
            c.send(peer.hello(A, now_ns=now_ns))
            line = logged(c.addr, (": up (", "refused: ", "protocol error: "),
                          "Hello with now_ns %d" % now_ns)
        finally:
            c.close()
        check(b.running(), "B died after a Hello with now_ns %d" % now_ns)
        if ": up (" in line:
            skew = float(line.split(" skew=", 1)[1].rstrip("s"))
            check(skew * sign > 0, "Hello with now_ns %d: skew %s has the "
                  "wrong sign" % (now_ns, skew))
        log("%-44s %s" % ("Hello with now_ns %d" % now_ns,
                          line.split("peer=", 1)[1]))

    # Silence: the handshake deadline before Hello, the idle timeout after.
    for what, data, say_hello, want, lo, hi in (
            ("TLS up, then nothing", b"", False, "refused: no Hello in time",
             HANDSHAKE_S, HANDSHAKE_S + 2),
            ("half a length prefix, then nothing", b"\x00\x00", False,
             "refused: no Hello in time", HANDSHAKE_S, HANDSHAKE_S + 2),
            ("partial frame on an up link, then nothing",
             struct.pack(">I", 100) + b"\x12" * 10, True,
             "down: idle timeout", IDLE_S, IDLE_S + 2)):
        took = violation(what, data, want, say_hello, within=hi)
        # measured from our last byte; B's clock started a little earlier
        check(took >= lo - 0.5, "%s: closed after only %.2fs" % (what, took))

    # Partial frame, then EOF: B logs it and lives.
    for say_hello in (False, True):
        c = connect(say_hello)
        c.send(struct.pack(">I", 50) + b"\x0a")
        c.close()
        logged(c.addr, "", "partial frame then EOF")
        wait_until(lambda: [ln for ln in peer.log_lines_for(b, c.addr)
                            if ": refused: " in ln or ": closed: " in ln
                            or ": down: " in ln], 10,
                   "B to log the end of %s" % c.addr)

    # Plain TCP: a TLS server must not take HTTP, nor wait for ever.
    for what, data, want in (
            ("plain-text HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
             "refused: TLS handshake failed"),
            ("plain TCP, nothing sent", b"", "refused: handshake timeout")):
        c = peer.Conn(b.port, timeout=5)
        try:
            t0 = time.monotonic()
            if data:
                c.send(data)
            state, how, got = c.outcome(HANDSHAKE_S + 4)
            took = time.monotonic() - t0
        finally:
            c.close()
        check(state == "closed", "%s: still open after %.1fs"
              % (what, took))
        check(not got.startswith(b"HTTP"), "%s: B answered HTTP" % what)
        line = logged(c.addr, want, what)
        log("%-44s closed in %.2fs: %s"
            % (what, took, line.split(": refused: ", 1)[1]))

    # Slowloris in the handshake: a TLS record trickled a byte at a time
    # does not stretch the deadline.
    c = peer.Conn(b.port, timeout=5)
    try:
        t0 = time.monotonic()
        state = "open"
        for byte in b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 2:
            try:
                c.send(bytes([byte]))
            except OSError:
                state = "closed"
                break
            state, how, _ = c.outcome(0.25)
            if state == "closed" or time.monotonic() - t0 > HANDSHAKE_S + 3:
                break
        took = time.monotonic() - t0
    finally:
        c.close()
    check(state == "closed" and took <= HANDSHAKE_S + 1.5,
          "a trickled handshake was %s after %.2fs" % (state, took))
    line = logged(c.addr, "refused: handshake timeout", "trickled handshake")
    log("%-44s closed in %.2fs: %s" % ("TLS record trickled byte by byte",
                                       took, line.split(": refused: ")[1]))

    # Connect-and-close flood: a third close at once, a third with RST, a
    # third after the TLS handshake (before any Hello).  None may leave a
    # count of open connections behind.
    ports = []
    t0 = time.monotonic()
    for i in range(FLOOD):
        c = peer.Conn(b.port, timeout=5)
        ports.append(c.lport)
        if i % 3 == 2:
            try:
                c.tls(ctx)
            except OSError as e:
                check(False, "flood connection %d: B refused a valid TLS "
                      "handshake: %s" % (i + 1, e))
        c.close(rst=i % 3 == 1)
    check(b.running(), "B died in the connect-and-close flood")

    def all_logged():
        text = b.log_text()
        return all(("link 127.0.0.1:%d " % p) in text or
                   ("link 127.0.0.1:%d:" % p) in text for p in ports)
    wait_until(all_logged, 30, "a log line for each of %d flood "
               "connections" % FLOOD)
    log("%d connect-and-close in %.1fs, each logged"
        % (FLOOD, time.monotonic() - t0))
    wait_until(lambda: peer.fd_count(b.pid()) <= fds0, 10,
               "B's descriptors back to %d (now %d)"
               % (fds0, peer.fd_count(b.pid())))

    c = connect(False)
    c.close()
    doc = net.file("mid.txt", "request after the garbage\n")
    first = a.submit(B, doc)
    a.wait_state(first, "DELIVERED")

    # [limits] max_connections: the extra connections are refused.
    a.stop()
    b.stop()
    b.write_conf({"limits": {"max_connections": str(MAX_CONN),
                             "handshake_timeout": "20s"}})
    peer.restart_wait(b)
    fds0 = peer.fd_count(b.pid())
    held = [connect(False) for _ in range(MAX_CONN)]
    try:
        for i in range(EXTRA):
            c = peer.Conn(b.port, timeout=5)
            try:
                try:
                    c.tls(ctx)
                    state, how, got = c.outcome(5)
                except (OSError, EOFError) as e:
                    state, how, got = "closed", "handshake: %s" % e, b""
            finally:
                c.close()
            check(state == "closed" and got == b"",
                  "connection %d over max_connections: %s, %d bytes"
                  % (MAX_CONN + i + 1, how, len(got)))
            logged(c.addr, "refused: too many connections",
                   "over max_connections")
        for c in held:
            state, how, _ = c.outcome(0.2)
            check(state == "open", "a held connection was closed: %s" % how)
    finally:
        for c in held:
            c.close()
    for c in held:
        logged(c.addr, "refused: before Hello", "held connection closed")
    c = connect(False)
    c.close()
    log("max_connections %d: %d extra refused, accepted again after"
        % (MAX_CONN, EXTRA))
    wait_until(lambda: peer.fd_count(b.pid()) <= fds0, 10,
               "B's descriptors back to %d (now %d)"
               % (fds0, peer.fd_count(b.pid())))

    peer.restart_wait(a)
    doc = net.file("after.txt", "request after max_connections\n")
    second = a.submit(B, doc)
    a.wait_state(second, "DELIVERED")
    ids = sorted(r["id"] for r in b.inbox())
    check(ids == sorted([first, second]), "B inbox %s" % ids)


run(test, ids=(A, B, C))
