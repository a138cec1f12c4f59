"""Clock skew and the audit heads held each way, in `comity peers`.

1. A -> B exchange (submit, deliver, fetch, ack): `comity --json peers`
   on A shows a small skew for B without a warning; the heads held each
   way agree with each side's audit export (the head B's newest receipt
   carried is B's record at that seq; the head A's newest receipt to B
   carried is A's record at that seq), and B shows the same two heads
   mirrored.  The PEER_UP records carry skew_ms.  The heads survive a
   restart of A.
2. A raw peer presenting A's certificate says Hello to B with its clock
   10 s ahead: B logs the skew warning, audits a WARNING record naming
   it, records skew_ms in PEER_UP, and `peers` on B shows the skew for A,
   marked (JSON skew_warning, text "!").
"""

import json
import os
import time

import peer
from harness import check, log, run, wait_until

A, B = "AA-ONE", "BB-TWO"


def exports(d):
    return {r["seq"]: r for r in d.jsonl("audit", "export")}


def heads(net, ident):
    a, b = net[A], net[B]
    pa, pb = a.peer(B), b.peer(A)
    log("A's view of B: skew %s ms warning %s, ours held %s, theirs %s"
        % (pa["clock_skew_ms"], pa["skew_warning"],
           pa["our_head_seq_held"], pa["their_head_seq"]))
    check(abs(pa["clock_skew_ms"]) < 1000 and pa["skew_warning"] is False,
          "A's skew for B: %s" % pa)
    check(pa["their_head_seq"] and pa["their_head_hash"] and
          pa["their_head_at"], "A holds no head of B: %s" % pa)
    check(pb["our_head_seq_held"] and pb["our_head_hash_held"],
          "B gave A no head: %s" % pb)
    ea, eb = exports(a), exports(b)
    # what A holds of B is B's record at that seq
    r = eb[pa["their_head_seq"]]
    check(r["hash"] == pa["their_head_hash"],
          "B's record %d hash %s, A holds %s" % (r["seq"], r["hash"],
                                                 pa["their_head_hash"]))
    # B's newest receipt to A is the RETRIEVED one: its head is B's
    # RETRIEVED record for the request
    check(r["event"] == "RETRIEVED" and r["message_id"] == ident,
          "the head A holds is B's %s" % r)
    # both sides agree on it
    check(pb["our_head_seq_held"] == pa["their_head_seq"] and
          pb["our_head_hash_held"] == pa["their_head_hash"],
          "B's given head %s/%s != A's held %s/%s"
          % (pb["our_head_seq_held"], pb["our_head_hash_held"],
             pa["their_head_seq"], pa["their_head_hash"]))
    # A issues no receipts to B in an A -> B exchange
    check(pa["our_head_seq_held"] is None and pb["their_head_seq"] is None,
          "heads the other way without receipts: %s %s" % (pa, pb))
    for d, e in ((a, ea), (b, eb)):
        ups = [x for x in e.values() if x["event"] == "PEER_UP"]
        check(ups and all(" skew_ms=" in x["detail"] for x in ups),
              "%s PEER_UP details: %s" % (d.id, [x["detail"] for x in ups]))
    text = a.ok("peers", json_out=False)
    check("HEADS US/THEM" in text and
          (" -/%d " % pa["their_head_seq"]) in text,
          "A's peers text:\n%s" % text)
    log("A's peers:\n%s" % text.rstrip())
    return pa


def reverse(net):
    """B -> A too: A now issues receipts, and holds B's as well."""
    a, b = net[A], net[B]
    ident = b.submit(A, net.file("back.txt", "back\n"))
    b.wait_state(ident, "DELIVERED")
    pa, pb = a.peer(B), b.peer(A)
    check(pa["our_head_seq_held"] is not None and
          pb["their_head_seq"] == pa["our_head_seq_held"] and
          pb["their_head_hash"] == pa["our_head_hash_held"],
          "A's DELIVERED receipt head: A gave %s/%s, B holds %s/%s"
          % (pa["our_head_seq_held"], pa["our_head_hash_held"],
             pb["their_head_seq"], pb["their_head_hash"]))
    r = exports(a)[pa["our_head_seq_held"]]
    check(r["hash"] == pa["our_head_hash_held"],
          "A's record %d is not the head it gave" % r["seq"])
    log("B -> A: A gave head seq %d, B holds it" % pa["our_head_seq_held"])
    return pa


def skewed_hello(net):
    a, b = net[A], net[B]
    a.stop()    # the raw peer below is A to B: the only link
    b.stop()
    b.write_conf({"limits": {"skew_warning": "2s"}})
    b.start()
    ca = os.path.join(net.pki, "ca.pem")
    ctx = peer.client_context(ca, net.cert(A), net.key(A))
    c = peer.Conn(b.port, timeout=5).tls(ctx)
    try:
        h = c.read_hello()
        check(h["authority_id"] == B, "B's Hello names %r" % h)
        c.send(peer.hello(A, now_ns=time.time_ns() + 10 * 10**9))
        wait_until(lambda: "exceeds 2000 ms" in b.run_log_text(), 10,
                   "B to warn about the skew")
        row = {}

        def skewed():
            row.update(b.peer(A))
            return row["clock_skew_ms"] > 9000

        wait_until(skewed, 10, "B's peers to show A's skew")
    finally:
        c.close()
    check(9000 < row["clock_skew_ms"] < 11000 and
          row["skew_warning"] is True, "B's row for A: %s" % row)
    recs = b.jsonl("audit", "export")
    warn = [r for r in recs if r["event"] == "WARNING" and
            "clock skew" in r["detail"]]
    check(len(warn) == 1 and warn[0]["peer"] == A and
          "exceeds 2000 ms" in warn[0]["detail"] and
          ("with %s" % A) in warn[0]["detail"],
          "B's skew WARNING records: %s" % warn)
    up = [r for r in recs if r["event"] == "PEER_UP"][-1]
    skew_ms = int(up["detail"].split("skew_ms=")[1].split()[0])
    check(9000 < skew_ms < 11000, "B's last PEER_UP: %s" % up["detail"])
    log("B: %s; PEER_UP %s" % (warn[0]["detail"], up["detail"]))
    # the skew stays shown (marked) after the link goes down, until the
    # next handshake
    text = b.ok("peers", json_out=False)
    line = [ln for ln in text.splitlines() if ln.startswith(A)]
    check(line and "!" in line[0], "B's peers text:\n%s" % text)
    log("B's peers:\n%s" % text.rstrip())


def test(net):
    net.start()
    a, b = net[A], net[B]
    ident = a.submit(B, net.file("request.txt", "what time is it\n"))
    a.wait_state(ident, "DELIVERED")
    b.ok("fetch", ident, "--out", os.path.join(net.root, "fetched"),
         json_out=False)
    b.ok("ack", ident, json_out=False)
    a.wait_state(ident, "RETRIEVED")
    before = heads(net, ident)
    given = reverse(net)
    # kept in the store: the same after a restart, before any new link
    check(a.stop() == 0, "A did not stop cleanly")
    a.start()
    after = a.peer(B)
    for k in ("their_head_seq", "their_head_hash", "their_head_at",
              "our_head_seq_held", "our_head_hash_held", "our_head_at"):
        check(after[k] == given[k], "after a restart %s: %r, was %r"
              % (k, after[k], given[k]))
    check(after["their_head_seq"] >= before["their_head_seq"],
          "the head held went back")
    log("heads survive a restart: %s" % json.dumps(
        {k: after[k] for k in ("their_head_seq", "our_head_seq_held")}))
    skewed_hello(net)


run(test)
