"""The sender checks every receipt before any state change.

Daemon A dials a fake B: a test-driven TLS server holding B's real
certificate and key (so A accepts the link), which sends a valid Hello,
reads A's Hello and Envelope, opens the sealed body with B's key and stock
openssl, and answers with receipts it builds itself (ReceiptContent
encoded by hand, signed with `openssl cms -sign`):

  a receipt with one byte of its signed content flipped; a valid receipt
  signed by C; a receipt signed by B for an id A never sent; one for an
  id A sent to C, not B; one issued in C's name; one with a wrong
  envelope_body_sha256.

A must refuse each (a "receipt refused" log line with the precise reason)
and leave the request SENT.  Then the correct receipt: A goes DELIVERED
and `comity receipt` exports exactly the bytes the fake sent, which stock
`openssl cms -verify` accepts.  Finally a correct REJECTED receipt for a
second request makes it REJECTED with the fake's reason.
"""

import hashlib
import os
import time

from harness import check, log, run, wait_until
import peer

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"


def test(net):
    a = net[A]
    ca = os.path.join(net.pki, "ca.pem")
    cert, key = net.cert, net.key
    fake = peer.Listener()
    try:
        net.write_directory({B: {"endpoint": "127.0.0.1:%d" % fake.port}})
        net.start(A)
        run_fake(net, a, fake, ca, cert, key)
    finally:
        fake.close()


def run_fake(net, a, fake, ca, cert, key):
    # A request A sends to C: it stays queued (C is not running).
    to_c = a.submit(C, net.file("to-c.txt", "for C\n"))

    doc = b"Request for the records of account 7.\n"
    ident = a.submit(B, net.file("request.txt", doc))
    conn = fake.accept(peer.server_context(ca, cert(B), key(B)))
    h = conn.read_hello(timeout=10)
    check(h["authority_id"] == A, "A's Hello names %r" % h["authority_id"])
    conn.send(peer.hello(B))

    def read_envelope():
        field, msg = conn.read_frame(timeout=15)
        check(field == peer.F_ENVELOPE, "A sent frame field %d, not an "
              "Envelope" % field)
        return peer.parse_envelope(msg)

    env = read_envelope()
    check(env["id"].hex() == ident and env["from"] == A and env["to"] == B,
          "A's envelope: id %s from %r to %r" % (env["id"].hex(),
                                                  env["from"], env["to"]))
    # The body opens with B's key and stock openssl, signed by A.
    ok, plain, err = peer.cms_verify(peer.cms_decrypt(env["body"], cert(B),
                                                      key(B)), ca)
    check(ok, "A's sealed body does not verify: %s" % err.strip())
    req = peer.parse_request(plain)
    check(req["id"] == env["id"] and req["from"] == A and req["to"] == B
          and [d["content"] for d in req["documents"]] == [doc],
          "A's sealed request: %s" % req)
    sha = hashlib.sha256(env["body"]).digest()
    check(a.status(ident)["state"] == "SENT", "request not SENT")

    def content(**kw):
        rc = {"kind": peer.RECEIPT_DELIVERED, "envelope_id": env["id"],
              "from": A, "to": B, "envelope_body_sha256": sha,
              "at_ns": time.time_ns(), "issuer_audit_head": os.urandom(32),
              "issuer_audit_seq": 7}
        rc.update(kw)
        return peer.receipt_content_msg(rc)

    def signed(msg, signer=B):
        return peer.cms_sign(msg, cert(signer), key(signer))

    def refused(rcpt, what, expect, item=ident, state="SENT"):
        """Send RCPT; A must log "receipt refused" with EXPECT and leave
        ITEM in STATE."""
        mark = len(a.log_text())
        conn.send(peer.receipt_frame(rcpt))
        line = wait_until(
            lambda: [ln for ln in a.log_text()[mark:].splitlines()
                     if "receipt refused" in ln and expect in ln],
            10, "A to log a refused receipt (%s): %r" % (what, expect))[0]
        check(a.running(), "A died after: %s" % what)
        st = a.status(item)["state"]
        check(st == state, "%s: the request is %s, not %s"
              % (what, st, state))
        log("refused (%s): %s" % (what, line.split(": ", 1)[-1]))
        return line

    # (1) one byte of the signed content flipped (in the audit head, which
    # only the signature protects).
    head = os.urandom(32)
    msg = content(issuer_audit_head=head)
    rcpt = bytearray(signed(msg))
    pos = bytes(rcpt).find(msg)
    check(pos > 0, "the content is not in the SignedData")
    rcpt[pos + msg.find(head) + 5] ^= 0x40
    refused(bytes(rcpt), "tampered receipt",
            "receipt not signed by %s: signature check failed" % B)

    # (2) a valid receipt, but signed by C.
    refused(signed(content(), signer=C), "signed by C",
            "receipt not signed by %s: signature check failed" % B)

    # (3) signed by B, for an envelope A never sent.
    stray = os.urandom(16)
    line = refused(signed(content(envelope_id=stray)), "stray id",
                   "no such envelope sent")
    check(stray.hex() in line, "the stray id is not in A's log line: %s"
          % line)

    # (3b) signed by B, for the envelope A sent to C.
    line = refused(signed(content(envelope_id=bytes.fromhex(to_c))),
                   "envelope sent to C", "envelope was not sent to the issuer",
                   item=to_c, state="QUEUED")
    check(to_c in line, "the id is not in A's log line: %s" % line)

    # (3c) signed by B, but issued in C's name.
    refused(signed(content(to=C)), "issued for C",
            "receipt issued for %s, not by the peer" % C)

    # (4) signed by B, with the SHA-256 of another body.
    refused(signed(content(envelope_body_sha256=hashlib.sha256(
        env["body"] + b"x").digest())), "wrong body hash",
        "body hash does not match")

    # (5) the correct receipt.
    good = signed(content())
    conn.send(peer.receipt_frame(good))
    st = a.wait_state(ident, "DELIVERED", timeout=15)
    check(st["delivered_at"], "no delivered_at: %s" % st)
    path = os.path.join(net.root, "delivered.p7s")
    a.ok("receipt", ident, "--out", path, json_out=False)
    with open(path, "rb") as f:
        exported = f.read()
    check(exported == good, "A exported %d bytes, not the %d-byte receipt "
          "the fake sent" % (len(exported), len(good)))
    ok, out, err = peer.cms_verify(exported, ca)
    check(ok, "openssl cms -verify refused the exported receipt: %s"
          % err.strip())
    check(peer.parse_receipt_content(out)["envelope_id"] == env["id"],
          "exported receipt names another envelope")
    check(a.status(to_c)["state"] == "QUEUED", "the request to C moved")
    log("correct receipt: DELIVERED, exported byte for byte")

    # (6) a second request, answered with a correct REJECTED receipt.
    second = a.submit(B, net.file("second.txt", "second request\n"))
    env = read_envelope()
    check(env["id"].hex() == second, "A sent %s, not %s"
          % (env["id"].hex(), second))
    sha = hashlib.sha256(env["body"]).digest()
    conn.send(peer.receipt_frame(signed(content(
        kind=peer.RECEIPT_REJECTED, reason="unknown request type"))))
    st = a.wait_state(second, "REJECTED", timeout=15)
    check("unknown request type" in (st.get("reason") or ""),
          "REJECTED without the issuer's reason: %s" % st)
    check(a.status(ident)["state"] == "DELIVERED", "the first request "
          "changed state")
    conn.close()


run(test, ids=(A, B, C))
