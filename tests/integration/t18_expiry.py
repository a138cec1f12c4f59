"""Expiry: `submit --expires D`.

(1) Receiver down: a request with --expires 2s goes EXPIRED at the sender
    about 2 s after submit (expired_at, reason, an EXPIRED audit record, a
    log line, out of the send queue), while one without expiry and one
    expiring in an hour stay QUEUED; one whose expiry passes while the
    sender is stopped is EXPIRED as it starts.  When the receiver comes up
    the other two are delivered and the expired ones are never sent: the
    receiver's inbox lacks them and the sender's audit has no SENT record
    for them.
(2) In flight at expiry (A talking to a fake C, a test-driven server with
    C's certificate and key): the receiver decides by its own clock, so A
    leaves an envelope in flight past its expiry SENT, and C's DELIVERED
    receipt makes it DELIVERED, never EXPIRED.
(3) Sent, then the link drops with no receipt: EXPIRED once its expiry
    passes; a new link from C gets nothing sent; a DELIVERED receipt C
    sends late is the truth: DELIVERED, with expired_at kept.
(4) At the receiver: an envelope arriving after its expires_at (a raw
    peer holding A's certificate, the body sealed with stock openssl) is
    answered with a signed REJECTED receipt, reason "expired", and
    nothing is stored.
"""

import datetime
import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from harness import check, log, run, wait_until
import peer

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"
AUDIT_SENT, AUDIT_EXPIRED, AUDIT_DELIVERED = 2, 8, 3


def audit_records(d):
    """D's audit records as dicts of field -> value (D stopped)."""
    out = subprocess.run(["mdb_dump", "-s", "audit", d.store],
                         capture_output=True, check=True).stdout.decode()
    lines = out.splitlines()
    i = lines.index("HEADER=END") + 1
    recs = []
    while lines[i] != "DATA=END":
        recs.append(dict(peer.pb_fields(bytes.fromhex(lines[i + 1].strip()))))
        i += 2
    return recs


def iso_time(text):
    """Seconds since the epoch of an RFC 3339 UTC time as comity prints
    it."""
    return datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp()


def events_for(recs, ident):
    mid = bytes.fromhex(ident)
    return [r.get(3) for r in recs if r.get(4) == mid]


def test(net):
    a, b = net[A], net[B]
    ca = os.path.join(net.pki, "ca.pem")
    fake = peer.Listener()
    try:
        net.write_directory({C: {"endpoint": "127.0.0.1:%d" % fake.port}})
        net.start(A)
        doc = net.file("request.txt", "Please freeze account 9.\n")
        expired = receiver_down(net, a, b, doc)
        in_flight(net, a, fake, ca, doc)
        receiver_side(net, b, ca)
    finally:
        fake.close()
    for d in (a, b):
        d.stop()
    recs = audit_records(a)
    for ident in expired:
        ev = events_for(recs, ident)
        check(ev.count(AUDIT_EXPIRED) == 1, "EXPIRED audit records for "
              "%s: %s" % (ident, ev))
        check(AUDIT_SENT not in ev, "the expired request has a SENT audit "
              "record: %s" % ev)
        rec = [r for r in recs if r.get(4) == bytes.fromhex(ident)
               and r.get(3) == AUDIT_EXPIRED][0]
        check(rec.get(5) == B.encode() and b"not delivered by its expiry "
              b"time: was QUEUED" in rec.get(7, b""),
              "EXPIRED audit record: %s" % rec)
    log("audit: EXPIRED recorded once, never SENT")


def receiver_down(net, a, b, doc):
    t0 = time.time()
    soon = a.submit(B, doc, extra=["--expires", "2s", "--case", "soon"])
    later = a.submit(B, doc, extra=["--expires", "1h", "--case", "later"])
    never = a.submit(B, doc, extra=["--case", "never"])
    st = a.status(soon)
    check(st["state"] == "QUEUED" and st["expires_at"],
          "fresh request: %s" % st)

    st = a.wait_state(soon, "EXPIRED", timeout=15)
    elapsed = time.time() - t0
    check(1.5 <= elapsed <= 8, "EXPIRED %.1fs after submit, want ~2s"
          % elapsed)
    check(st["expired_at"] and st["expired_at"] >= st["expires_at"],
          "expired_at %r, expires_at %r" % (st["expired_at"],
                                             st["expires_at"]))
    check(st["sent_at"] is None and st["delivered_at"] is None,
          "expired request has sent/delivered times: %s" % st)
    check("expiry" in (st.get("reason") or ""), "no reason: %s" % st)
    check(any(soon in ln and " expired peer=%s" % B in ln
              for ln in a.log_text().splitlines()),
          "no \"expired\" log line for %s" % soon)
    for i in (later, never):
        check(a.status(i)["state"] == "QUEUED", "%s is %s"
              % (i, a.status(i)["state"]))
    rows = a.outbox("--state", "expired")
    check([r["id"] for r in rows] == [soon], "outbox --state expired: %s"
          % rows)
    p = a.peer(B)
    check(p["queued"] == 2, "peers counts %d queued for %s, want 2"
          % (p["queued"], B))
    log("expired %.1fs after submit with the receiver down" % elapsed)

    rc, _, err = a.cli("cancel", soon)
    check(rc != 0, "cancel of an EXPIRED request succeeded")

    # expiring while the sender is stopped, more than one commit's worth
    # (EXPIRY_BATCH is 256): all EXPIRED as it starts again
    with ThreadPoolExecutor(8) as pool:
        many = list(pool.map(lambda i: a.submit(
            B, doc, extra=["--expires", "20s", "--case", "many/%d" % i]),
            range(300)))
    last = max(iso_time(r["expires_at"]) for r in a.outbox()
               if r["id"] in set(many))
    a.stop()
    wait_until(lambda: time.time() > last + 0.5, 30, "the expiries to pass")
    a.start()
    t1 = time.time()
    wait_until(lambda: len(a.outbox("--state", "expired")) == 301, 15,
               "300 more requests EXPIRED after the restart", interval=0.2)
    log("300 requests expired %.1fs after a restart" % (time.time() - t1))
    across = many[-1]
    st = a.status(across)
    check(st["expired_at"] >= st["expires_at"], "expired early: %s" % st)
    check(a.peer(B)["queued"] == 2, "expired requests still counted as "
          "queued: %s" % a.peer(B))

    b.start()
    for i in (later, never):
        a.wait_state(i, "DELIVERED", timeout=30)
    time.sleep(1.0)
    inbox = {r["id"] for r in b.inbox()}
    check(inbox == {later, never}, "receiver inbox %s, want only %s"
          % (sorted(inbox), sorted([later, never])))
    for i in (soon, across):
        check(a.status(i)["state"] == "EXPIRED", "expired request changed "
              "state after the receiver came up")
        check(not [ln for ln in b.log_text().splitlines() if i in ln],
              "the receiver logged the expired request")
    log("receiver up: the others delivered, the expired ones never sent")
    return soon, across


def in_flight(net, a, fake, ca, doc):
    ctx = peer.server_context(ca, net.cert(C), net.key(C))

    def read_envelope(conn):
        field, msg = conn.read_frame(timeout=15)
        check(field == peer.F_ENVELOPE, "A sent frame field %d, not an "
              "Envelope" % field)
        return peer.parse_envelope(msg)

    def receipt(env, kind=peer.RECEIPT_DELIVERED):
        rc = peer.receipt_content_msg({
            "kind": kind, "envelope_id": env["id"], "from": A, "to": C,
            "envelope_body_sha256": hashlib.sha256(env["body"]).digest(),
            "at_ns": time.time_ns(), "issuer_audit_head": os.urandom(32),
            "issuer_audit_seq": 1})
        return peer.receipt_frame(peer.cms_sign(rc, net.cert(C),
                                                net.key(C)))

    def accept():
        conn = fake.accept(ctx)
        h = conn.read_hello(timeout=10)
        check(h["authority_id"] == A, "Hello from %r" % h["authority_id"])
        conn.send(peer.hello(C))
        return conn

    # (2) held in flight past its expiry, then a DELIVERED receipt
    x = a.submit(C, doc, extra=["--expires", "3s"])
    conn = accept()
    env = read_envelope(conn)
    check(env["id"].hex() == x, "A sent %s, not %s" % (env["id"].hex(), x))
    check(env["expires_at_ns"] > 0, "no expiry in the clear header")
    wait_until(lambda: time.time_ns() > env["expires_at_ns"] + 2 * 10**9,
               10, "2s past the expiry")
    st = a.status(x)
    check(st["state"] == "SENT", "in flight past its expiry, A says %s"
          % st["state"])
    conn.send(receipt(env))
    st = a.wait_state(x, "DELIVERED", timeout=15)
    check(st["expired_at"] is None, "delivered in flight, yet expired_at "
          "%r" % st["expired_at"])
    log("in flight at expiry: the receipt decided (DELIVERED)")

    # (3) the link drops with the envelope unanswered
    y = a.submit(C, doc, extra=["--expires", "3s"])
    env = read_envelope(conn)
    check(env["id"].hex() == y, "A sent %s, not %s" % (env["id"].hex(), y))
    conn.close()
    st = a.wait_state(y, "EXPIRED", timeout=15)
    check(st["sent_at"] and st["expired_at"], "expired after sending: %s"
          % st)
    late = time.time_ns() - env["expires_at_ns"]
    check(late < 4 * 10**9, "EXPIRED %.1fs after its expiry" % (late / 1e9))

    # C links up again (A's redial, waiting in the listener's backlog, or
    # a new one): A has nothing to send it.
    conn = accept()
    try:
        field, _ = conn.read_frame(timeout=2)
        check(False, "A sent frame field %d to C with nothing queued"
              % field)
    except OSError:
        pass            # socket.timeout: nothing came
    conn.send(receipt(env))
    st = a.wait_state(y, "DELIVERED", timeout=15)
    check(st["expired_at"] and st["delivered_at"] >= st["expired_at"],
          "late receipt: delivered_at %r, expired_at %r"
          % (st["delivered_at"], st["expired_at"]))
    check(st["delivered_receipt"] is True, "no receipt held: %s" % st)
    check("receipt came after" in (st.get("reason") or ""),
          "late receipt without its story: %s" % st)
    conn.close()
    log("link lost: EXPIRED, never resent; a late receipt made it "
        "DELIVERED with expired_at kept")


def receiver_side(net, b, ca):
    conn = peer.Conn(b.port, timeout=10)
    conn.tls(peer.client_context(ca, net.cert(A), net.key(A)))
    conn.read_hello()
    conn.send(peer.hello(A))
    now = time.time_ns()
    req = peer.new_request(A, B, created_at_ns=now - 10 * 10**9,
                           expires_at_ns=now - 10**9, case_ref="late")
    body = peer.seal(peer.request_msg(req), net.cert(A), net.key(A),
                     net.cert(B))
    env = peer.envelope_for(req, body)
    conn.send(peer.envelope_frame(env))
    field, msg = conn.read_frame(timeout=15)
    check(field == peer.F_RECEIPT, "B answered with frame field %d" % field)
    ok, content, err = peer.cms_verify(peer.parse_receipt(msg), ca)
    check(ok, "B's receipt does not verify: %s" % err.strip())
    rc = peer.parse_receipt_content(content)
    check(rc["kind"] == peer.RECEIPT_REJECTED and rc["reason"] == "expired",
          "late envelope answered %s" % rc)
    check(rc["envelope_id"] == req["id"], "receipt for another envelope")
    conn.close()
    check(req["id"].hex() not in {r["id"] for r in b.inbox()},
          "the late envelope is in B's inbox")
    check(any(req["id"].hex() in ln and "expired" in ln
              for ln in b.log_text().splitlines()),
          "B did not log the late envelope")
    log("arriving after its expiry: REJECTED (expired), nothing stored")


run(test, ids=(A, B, C))
