"""Frame length limits on an authenticated link.

B runs with [limits] max_frame = 64K.  A raw client holding A's valid
certificate sends, before its Hello and again after it, a length prefix
of 0xFFFFFFFF, 0x7FFFFFFF, 16M+1, max_frame+1 and 0: B must close the
connection at once (within 2 s) with a "frame length N outside 1..65536"
log line.  A prefix of exactly max_frame is not an error: B waits for the
body.  Then 200 more oversize prefixes: B's RSS must not grow by more
than 4 MiB and its descriptors return to their count.  Finally B still
takes a request from the real A.
"""

import os
import random
import struct
import time

from harness import COMITYD, check, log, run, wait_until
import peer

A, B = "AA-ONE", "BB-TWO"
MAX_FRAME = 64 << 10
PROMPT = 2.0            # seconds within which a bad prefix must close
RSS_SLACK_KIB = 4096
ATTEMPTS = 200


def test(net):
    if peer.asan_build(COMITYD):
        # ASan's quarantine keeps freed memory resident: without it RSS
        # measures the daemon, not the sanitizer.
        os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                      ":quarantine_size_mb=0"
                                      ":thread_local_quarantine_size_kb=0"
                                      ).lstrip(":")
        log("ASan build: quarantine off for the RSS bound")
    net["BB-TWO"].write_conf({"limits": {"max_frame": "64K"}})
    net.start()
    a, b = net[A], net[B]
    ca = os.path.join(net.pki, "ca.pem")
    ctx = peer.client_context(ca, net.cert(A), net.key(A))
    seed = int(os.environ.get("COMITY_SEED", random.randrange(1 << 30)))
    log("seed %d" % seed)
    rnd = random.Random(seed)

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

    def oversize(length, say_hello, check_log=True):
        c = connect(say_hello)
        try:
            t0 = time.monotonic()
            c.send(struct.pack(">I", length))
            state, how, data = c.outcome(PROMPT + 3)
            took = time.monotonic() - t0
        finally:
            c.close()
        check(state == "closed" and took <= PROMPT,
              "length %#x (%s Hello): connection %s after %.2fs"
              % (length, "after" if say_hello else "before", state, took))
        check(data == b"", "B sent %d bytes after a bad length" % len(data))
        if check_log:
            want = "protocol error: frame length %d outside 1..%d" % (
                length, MAX_FRAME)
            wait_until(lambda: peer.log_lines_for(b, c.addr, want), 10,
                       "B to log %r for %s" % (want, c.addr))
        return took

    for say_hello in (False, True):
        for length in (0xFFFFFFFF, 0x7FFFFFFF, (16 << 20) + 1,
                       MAX_FRAME + 1, 0):
            took = oversize(length, say_hello)
            log("length %#x %s Hello: closed in %.3fs"
                % (length, "after" if say_hello else "before", took))

    # The boundary: a prefix of exactly max_frame makes B wait for the body.
    for say_hello in (False, True):
        c = connect(say_hello)
        try:
            c.send(struct.pack(">I", MAX_FRAME))
            state, how, _ = c.outcome(1.5)
            check(state == "open", "a prefix of exactly max_frame (%s "
                  "Hello) closed the connection: %s"
                  % ("after" if say_hello else "before", how))
            # The body, garbage: now it is a decoding error, not a length.
            c.send(b"\xff" * MAX_FRAME)
            state, how, _ = c.outcome(5)
            check(state == "closed", "garbage max_frame body left it open")
            wait_until(lambda: peer.log_lines_for(
                b, c.addr, "protocol error: undecodable frame"), 10,
                "B to log an undecodable frame for %s" % c.addr)
        finally:
            c.close()

    # Many attempts: nothing is allocated for the claimed length.
    for i in range(20):
        oversize(0xFFFFFFFF, i % 2 == 1, check_log=False)
    time.sleep(0.5)
    rss0, fds0 = b.rss_kib(), peer.fd_count(b.pid())
    hwm0 = peer.proc_status_kib(b.pid(), "VmHWM")
    lengths = (0xFFFFFFFF, 0x7FFFFFFF, MAX_FRAME + 1, 0x01000001)
    t0 = time.monotonic()
    for i in range(ATTEMPTS):
        oversize(rnd.choice(lengths), rnd.random() < 0.5, check_log=False)
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    rss1, fds1 = b.rss_kib(), peer.fd_count(b.pid())
    hwm1 = peer.proc_status_kib(b.pid(), "VmHWM")
    log("%d attempts in %.1fs; B RSS %d -> %d KiB (peak %d -> %d), "
        "fds %d -> %d" % (ATTEMPTS, elapsed, rss0, rss1, hwm0, hwm1, fds0,
                          fds1))
    check(rss1 - rss0 <= RSS_SLACK_KIB,
          "B's RSS grew by %d KiB over %d oversize frames"
          % (rss1 - rss0, ATTEMPTS))
    check(hwm1 - hwm0 <= RSS_SLACK_KIB,
          "B's peak RSS grew by %d KiB over %d oversize frames"
          % (hwm1 - hwm0, ATTEMPTS))
    wait_until(lambda: peer.fd_count(b.pid()) <= fds0, 10,
               "B's descriptors back to %d (now %d)"
               % (fds0, peer.fd_count(b.pid())))
    n = len([ln for ln in b.log_text().splitlines()
             if "protocol error: frame length" in ln])
    check(n >= 10 + 20 + ATTEMPTS, "only %d frame-length log lines" % n)
    check(b.running(), "B is not running")

    doc = net.file("after.txt", "request after the oversize frames\n")
    ident = a.submit(B, doc)
    a.wait_state(ident, "DELIVERED")
    check([r["id"] for r in b.inbox()] == [ident], "B inbox %s" % b.inbox())


run(test, ids=(A, B))
