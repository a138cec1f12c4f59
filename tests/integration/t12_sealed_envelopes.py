"""Sealed envelopes made without comity code, as a counterpart would.

A raw peer holding A's real certificate and key connects to daemon B and
sends envelopes whose bodies it sealed with stock `openssl cms` (SignedData
by A, then AuthEnvelopedData to B).  B must accept a valid one (a
DELIVERED receipt signed by B that stock `openssl cms -verify` accepts,
whose ReceiptContent names the envelope and the SHA-256 of its body; the
request in B's inbox; `comity fetch` gives the exact documents), answer a
replay with the byte-identical receipt, and answer each bad envelope with
a REJECTED receipt signed by B naming the precise reason, storing nothing
and logging a line:

  same id, another body -> conflict; a flipped ciphertext byte; a sealed
  `to` differing from the clear one; signed by C; sealed to C; a body that
  is not CMS; a clear `from` that is not the TLS peer; a clear `to` that
  is not B.
"""

import hashlib
import json
import os

from harness import EX_NOINPUT, check, log, run, wait_until
import peer

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"
URI = "urn:comity:authority:"


def test(net):
    net.start(B)
    b = net[B]
    ca = os.path.join(net.pki, "ca.pem")
    cert, key = net.cert, net.key

    conn = peer.Conn(b.port, timeout=10)
    conn.tls(peer.client_context(ca, cert(A), key(A)))
    h = conn.read_hello()
    check(h["authority_id"] == B, "B's Hello names %r" % h["authority_id"])
    conn.send(peer.hello(A))

    def exchange(env):
        """Send envelope dict ENV; return the signed receipt bytes B
        answers with (the next frame must be that Receipt)."""
        conn.send(peer.envelope_frame(env))
        field, msg = conn.read_frame(timeout=15)
        check(field == peer.F_RECEIPT,
              "B answered envelope %s with frame field %d, not a Receipt"
              % (env["id"].hex(), field))
        return peer.parse_receipt(msg)

    def open_receipt(rcpt, env, kind, what):
        """Check RCPT (DER) with stock openssl against the CA, signed by
        B; return its decoded ReceiptContent after checking it answers
        ENV with KIND."""
        signer = os.path.join(net.root, "signer.pem")
        ok, content, err = peer.cms_verify(rcpt, ca, signer_out=signer)
        check(ok, "%s: openssl cms -verify refused B's receipt: %s"
              % (what, err.strip()))
        sans = peer.cert_uri_sans(signer)
        check(sans == [URI + B], "%s: receipt signer's URI SANs %r"
              % (what, sans))
        rc = peer.parse_receipt_content(content)
        check(rc["kind"] == kind, "%s: receipt kind %d, expected %d (%s)"
              % (what, rc["kind"], kind, rc))
        check(rc["envelope_id"] == env["id"], "%s: receipt for id %s, not %s"
              % (what, rc["envelope_id"].hex(), env["id"].hex()))
        check(rc["from"] == env["from"] and rc["to"] == B,
              "%s: receipt from=%r to=%r" % (what, rc["from"], rc["to"]))
        check(rc["envelope_body_sha256"]
              == hashlib.sha256(env["body"]).digest(),
              "%s: receipt's envelope_body_sha256 is not sha256(body)"
              % what)
        check(rc["at_ns"] > 0, "%s: receipt has no time" % what)
        check(len(rc["issuer_audit_head"]) == 32 and rc["issuer_audit_seq"],
              "%s: receipt lacks the issuer's audit head (%r, seq %d)"
              % (what, rc["issuer_audit_head"], rc["issuer_audit_seq"]))
        return rc

    # (1) a valid request, sealed with stock openssl.
    doc_bin = os.urandom(5000)
    doc_txt = b"Request for the bank records of account 42.\n"
    req = peer.new_request(A, B, case_ref="AA/2026/12",
                           subject="Bank records", legal_basis="UNTOC 18",
                           language="en",
                           documents=[{"name": "evidence.bin",
                                       "media_type":
                                       "application/octet-stream",
                                       "content": doc_bin},
                                      {"name": "request.txt",
                                       "media_type": "text/plain",
                                       "content": doc_txt}])
    body = peer.seal(peer.request_msg(req), cert(A), key(A), cert(B))
    env = peer.envelope_for(req, body)
    ident = req["id"].hex()
    first = exchange(env)
    rc = open_receipt(first, env, peer.RECEIPT_DELIVERED, "valid request")
    check(rc["reason"] == "", "DELIVERED receipt with reason %r"
          % rc["reason"])
    inbox = b.inbox()
    check([r["id"] for r in inbox] == [ident], "B's inbox: %s" % inbox)
    check(inbox[0]["state"] == "RECEIVED" and inbox[0]["from"] == A
          and inbox[0]["case"] == "AA/2026/12", "inbox row %s" % inbox[0])
    out = os.path.join(net.root, "fetched-1")
    b.ok("fetch", ident, "--out", out, json_out=False)
    for name, data in (("evidence.bin", doc_bin), ("request.txt", doc_txt)):
        with open(os.path.join(out, name), "rb") as f:
            check(f.read() == data, "fetched %s differs from what was "
                  "sealed" % name)
    with open(os.path.join(out, "request.json")) as f:
        meta = json.load(f)
    check(meta.get("subject") == "Bank records"
          and meta.get("from") == A,
          "request.json: %s" % meta)
    log("valid request delivered; receipt verified by openssl")

    # (2) the same envelope again: the byte-identical receipt, one item.
    again = exchange(env)
    check(again == first, "replay: B answered another receipt (%d bytes, "
          "the original has %d)" % (len(again), len(first)))
    check([r["id"] for r in b.inbox()] == [ident],
          "replay changed B's inbox: %s" % b.inbox())
    wait_until(lambda: [ln for ln in b.log_text().splitlines()
                        if ident in ln and "duplicate" in ln],
               10, "B to log the duplicate")

    def rejected(env, what, expect):
        """ENV must be answered with a REJECTED receipt signed by B whose
        reason starts with EXPECT; nothing stored; a log line."""
        rows_before = b.inbox()
        rcpt = exchange(env)
        rc = open_receipt(rcpt, env, peer.RECEIPT_REJECTED, what)
        check(rc["reason"].startswith(expect),
              "%s: REJECTED with reason %r, expected %r..."
              % (what, rc["reason"], expect))
        check(b.inbox() == rows_before, "%s: B's inbox changed: %s"
              % (what, b.inbox()))
        hexid = env["id"].hex()
        if hexid != ident:
            rcode, _, _ = b.cli("status", hexid)
            check(rcode == EX_NOINPUT, "%s: status of the rejected id on "
                  "B exited %d, not %d (not found)" % (what, rcode,
                                                       EX_NOINPUT))
        line = wait_until(
            lambda: [ln for ln in b.log_text().splitlines()
                     if hexid in ln and " rejected from=%s: " % A in ln
                     and rc["reason"] in ln],
            10, "B to log the rejection (%s)" % what)[-1]
        log("rejected (%s): %s" % (what, rc["reason"]))
        check(b.running(), "B died after: %s" % what)
        return line

    # (3) the same id with another body: a conflict.
    req3 = dict(req, documents=[{"name": "request.txt",
                                 "media_type": "text/plain",
                                 "content": b"another text\n"}])
    body3 = peer.seal(peer.request_msg(req3), cert(A), key(A), cert(B))
    rejected(peer.envelope_for(req3, body3), "same id, another body",
             "conflict:")
    out = os.path.join(net.root, "fetched-3")
    b.ok("fetch", ident, "--out", out, json_out=False)
    with open(os.path.join(out, "request.txt"), "rb") as f:
        check(f.read() == doc_txt, "after the conflict, B's item changed")

    # (4) one flipped byte in the AES-GCM ciphertext.
    req4 = peer.new_request(A, B)
    body4 = bytearray(peer.seal(peer.request_msg(req4), cert(A), key(A),
                                cert(B)))
    off, n = peer.aed_encrypted_content(bytes(body4))
    body4[off + n // 2] ^= 0x01
    rejected(peer.envelope_for(req4, bytes(body4)), "tampered ciphertext",
             "seal: cannot decrypt (altered")

    # (5) sealed `to` is C, clear `to` is B.
    req5 = peer.new_request(A, C)
    body5 = peer.seal(peer.request_msg(req5), cert(A), key(A), cert(B))
    rejected(peer.envelope_for(req5, body5, to=B), "sealed to != clear to",
             "header mismatch: the sealed header differs from the clear "
             "one")

    # (6) signed by C (a valid certificate of the network), sent by A.
    req6 = peer.new_request(A, B)
    body6 = peer.seal(peer.request_msg(req6), cert(C), key(C), cert(B))
    rejected(peer.envelope_for(req6, body6), "signed by C",
             "seal: signature check failed")

    # (7) sealed to C: B cannot decrypt it.
    req7 = peer.new_request(A, B)
    body7 = peer.seal(peer.request_msg(req7), cert(A), key(A), cert(C))
    rejected(peer.envelope_for(req7, body7), "sealed to C",
             "seal: not sealed to us")

    # (8) a body that is not CMS at all.
    req8 = peer.new_request(A, B)
    rejected(peer.envelope_for(req8, peer.request_msg(req8)),
             "body is not CMS", "seal: body:")

    # (9) the clear `from` is not the TLS-authenticated peer (the envelope
    # is otherwise C's own, consistently sealed).
    req9 = peer.new_request(C, B)
    body9 = peer.seal(peer.request_msg(req9), cert(C), key(C), cert(B))
    rejected(peer.envelope_for(req9, body9), "clear from is C",
             "header mismatch: from is not the authenticated peer")

    # (10) the clear `to` is not B.
    req10 = peer.new_request(A, C)
    body10 = peer.seal(peer.request_msg(req10), cert(A), key(A), cert(B))
    rejected(peer.envelope_for(req10, body10), "clear to is C",
             "header mismatch: not addressed to this authority")

    # The link is still up and B still takes a valid request.
    req11 = peer.new_request(A, B)
    body11 = peer.seal(peer.request_msg(req11), cert(A), key(A), cert(B))
    env11 = peer.envelope_for(req11, body11)
    open_receipt(exchange(env11), env11, peer.RECEIPT_DELIVERED,
                 "valid request after the rejections")
    ids = sorted(r["id"] for r in b.inbox())
    check(ids == sorted([ident, req11["id"].hex()]),
          "B's inbox at the end: %s" % ids)
    conn.close()


run(test, ids=(A, B, C))
