"""Lost receipts: a proxy sits between A and B and forwards A -> B, but
B's answers (DELIVERED receipts) are lost:

1. "lose": every record B sends after its Hello is swallowed and the
   connection is cut 0.3 s later, so B commits envelopes and sends
   receipts that A never gets; A is killed -9 once in the middle;
2. "flaky": each connection lets 0-2 of B's records through, then is
   cut at the next one (seeded; progress with receipts lost on the way);
3. "pass": everything goes through.

A must re-send, B must deduplicate and answer with its original receipt:
in the end every request is DELIVERED at A and in B's inbox exactly once,
and the receipt A holds is byte for byte the one B issued.

COMITY_SEED=N replays the flaky phase."""

import os
import random
import threading
import time

import faultproxy
from faultproxy import CUT, DROP, PASS, TLS_APPLICATION_DATA, UP
from harness import (check, check_exactly_once, log, run, wait_delivered,
                     wait_until)

REQUESTS = 100
WINDOW = 32             # A's [limits] window
CUT_AFTER = 0.3         # seconds between the first lost record and the cut
FLAKY_FOR = 3.0         # seconds


class ReceiptLoss:
    """The proxy's policy: per connection, the TLS handshake and B's Hello
    pass (the link comes up); what B sends after them is at the mercy of
    the mode."""

    def __init__(self, rng):
        self.rng = rng
        self.mode = "lose"
        self.lost = 0           # records of B swallowed or cut

    def __call__(self, conn, direction, rec):
        if direction == UP:
            # A's encrypted records: its second flight, Hello, envelopes
            if rec[0] == TLS_APPLICATION_DATA:
                conn.state["client_flight"] = True
            return PASS
        if rec[0] != TLS_APPLICATION_DATA or not conn.state.get(
                "client_flight"):
            return PASS         # B's handshake flight
        if not conn.state.get("hello"):
            conn.state["hello"] = True
            return PASS         # B's Hello
        if conn.state.get("dropping") or self.mode == "lose":
            # Once a record is gone nothing after it can pass (TLS).
            self.lost += 1
            if not conn.state.get("dropping"):
                conn.state["dropping"] = True
                t = threading.Timer(CUT_AFTER, self.cut, (conn,))
                t.daemon = True
                t.start()
            return DROP
        if self.mode == "flaky":
            allow = conn.state.setdefault("allow", self.rng.randrange(3))
            passed = conn.state.get("passed", 0)
            if passed >= allow:
                self.lost += 1
                return CUT
            conn.state["passed"] = passed + 1
        return PASS

    def cut(self, conn):
        if not conn.closed:
            conn.proxy.count_cut()
            conn.close()


def test(net):
    seed = int(os.environ.get("COMITY_SEED", random.randrange(1 << 32)))
    log("seed %d" % seed)
    a, b = net["AA-ONE"], net["BB-TWO"]
    policy = ReceiptLoss(random.Random(seed))
    proxy = faultproxy.Proxy(b.port, policy)
    try:
        lost_receipts(net, a, b, policy, proxy)
    finally:
        proxy.close()


def lost_receipts(net, a, b, policy, proxy):
    # A dials B through the proxy; B (which has nothing for A) is direct.
    net.write_directory({"BB-TWO": {"endpoint": proxy.endpoint}})
    a.write_conf({"limits": {"window": WINDOW}})
    net.start()
    f = net.file("request.txt", "Request for assistance.\n" * 40)
    ledger = []

    def held_by_b():
        return {r["id"] for r in b.inbox()} & set(ledger)

    def delivered_at_a():
        return {r["id"] for r in a.outbox()
                if r["state"] in ("DELIVERED", "RETRIEVED")}

    # 1. lose: B commits, A hears nothing; kill -9 of A in the middle.
    half = REQUESTS // 2
    ledger += [a.submit("BB-TWO", f) for _ in range(half)]
    wait_until(lambda: len(held_by_b()) >= 10 and proxy.cuts >= 1, 30,
               "B committing envelopes whose receipts are lost",
               interval=0.1)
    a.kill9()
    a.start()
    ledger += [a.submit("BB-TWO", f) for _ in range(REQUESTS - half)]
    wait_until(lambda: len(held_by_b()) >= WINDOW and proxy.cuts >= 3, 30,
               "B holding a window (%d) of requests" % WINDOW, interval=0.1)
    held = held_by_b()
    check(not delivered_at_a(), "A saw %d receipts that were all lost"
          % len(delivered_at_a()))
    log("lose: %d connections, %d cut, %d records of B lost; B holds %d, "
        "A knows of no delivery" % (proxy.connections, proxy.cuts,
                                    policy.lost, len(held)))

    # 2. flaky: some receipts come through, others are cut.
    policy.mode = "flaky"
    time.sleep(FLAKY_FOR)
    held, delivered = held_by_b(), delivered_at_a()
    check(delivered <= held, "A has DELIVERED requests that B does not "
          "hold: %s" % sorted(delivered - held)[:3])
    log("flaky: %d connections, %d cut, %d records of B lost; B holds %d, "
        "A knows of %d" % (proxy.connections, proxy.cuts, policy.lost,
                           len(held), len(delivered)))

    # 3. pass: A re-sends, B answers each with its original receipt.
    policy.mode = "pass"
    t0 = time.monotonic()
    wait_delivered(a, ledger, timeout=60)
    log("pass: all DELIVERED %.2fs later" % (time.monotonic() - t0))
    check_exactly_once(b, a, ledger)

    dupes = b.log_text().count("original receipt sent again")
    check(dupes >= WINDOW, "B logged only %d re-sent receipts" % dupes)
    differ = []
    for n, ident in enumerate(ledger):
        pa = os.path.join(net.root, "a-%d.p7s" % n)
        pb = os.path.join(net.root, "b-%d.p7s" % n)
        a.ok("receipt", ident, "--kind", "delivered", "--out", pa,
             json_out=False)
        b.ok("receipt", ident, "--kind", "delivered", "--out", pb,
             json_out=False)
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            if fa.read() != fb.read():
                differ.append(ident)
    check(not differ, "%d receipts held by A differ from those B issued, "
          "e.g. %s" % (len(differ), differ[:3]))
    for d in (a, b):
        rc = d.stop()
        check(rc == 0, "%s exited %s on SIGTERM" % (d.id, rc))


run(test)
