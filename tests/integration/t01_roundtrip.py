"""submit -> DELIVERED -> fetch (byte-exact) -> ack -> RETRIEVED, plus the
idempotency key, JSON fields and the receipts held by the sender."""

import os

from harness import check, run


def test(net):
    net.start()
    a, b = net["AA-ONE"], net["BB-TWO"]
    doc1 = os.urandom(70000)
    doc2 = b"Request for mutual legal assistance, case AA/2026/7.\n"
    f1 = net.file("evidence.bin", doc1)
    f2 = net.file("request.txt", doc2)

    ident = a.submit("BB-TWO", f1, f2, type="mla", key="case-7-first",
                     extra=["--case", "AA/2026/7", "--subject", "Bank records"])
    again = a.submit("BB-TWO", f1, f2, type="mla", key="case-7-first",
                     extra=["--case", "AA/2026/7", "--subject", "Bank records"])
    check(again == ident, "same idempotency key gave %s then %s"
          % (ident, again))
    check(len(a.outbox()) == 1, "idempotent resubmit queued a second item")

    st = a.wait_state(ident, "DELIVERED")
    for field in ("id", "state", "from", "to", "priority", "type", "case",
                  "submitted_at", "sent_at", "delivered_at", "received_at",
                  "retrieved_at"):
        check(field in st, "status lacks %s: %s" % (field, st))
    check(st["from"] == "AA-ONE" and st["to"] == "BB-TWO", "from/to %s" % st)
    check(st["priority"] == "normal" and st["type"] == "mla", "prio/type")
    check(st["case"] == "AA/2026/7", "case %r" % st["case"])
    for t in ("submitted_at", "sent_at", "delivered_at"):
        check(st[t] and st[t].endswith("Z") and "T" in st[t],
              "%s not RFC 3339 UTC: %r" % (t, st[t]))
    check(st["submitted_at"] <= st["sent_at"] <= st["delivered_at"],
          "times out of order: %s" % st)
    check(st["retrieved_at"] is None, "retrieved before fetch")

    inbox = b.inbox()
    check(len(inbox) == 1 and inbox[0]["id"] == ident,
          "receiver inbox: %s" % inbox)
    check(inbox[0]["state"] == "RECEIVED" and inbox[0]["from"] == "AA-ONE",
          "inbox row %s" % inbox[0])
    check(inbox[0]["received_at"], "no received_at on the receiver")

    out = os.path.join(net.root, "fetched")
    b.ok("fetch", ident, "--out", out, json_out=False)
    with open(os.path.join(out, "evidence.bin"), "rb") as f:
        check(f.read() == doc1, "evidence.bin differs after fetch")
    with open(os.path.join(out, "request.txt"), "rb") as f:
        check(f.read() == doc2, "request.txt differs after fetch")

    b.ok("ack", ident, json_out=False)
    st = a.wait_state(ident, "RETRIEVED")
    check(st["retrieved_at"] and st["retrieved_at"] >= st["delivered_at"],
          "retrieved_at %r" % st["retrieved_at"])
    check(b.status(ident)["state"] == "RETRIEVED", "receiver not RETRIEVED")

    for kind in ("delivered", "retrieved"):
        path = os.path.join(net.root, kind + ".p7s")
        a.ok("receipt", ident, "--kind", kind, "--out", path, json_out=False)
        check(os.path.getsize(path) > 0, "empty %s receipt" % kind)

    # A different key gives a new request; an unknown peer is refused.
    other = a.submit("BB-TWO", f2, key="case-7-second")
    check(other != ident, "a new key reused an id")
    rc, _, err = a.cli("submit", "--to", "ZZ-NOBODY", "--type", "mla", f2)
    check(rc != 0 and err.strip(), "submit to unknown authority: rc %d" % rc)
    a.wait_state(other, "DELIVERED")


run(test)
