"""Evidence an auditor can check with stock OpenSSL, and no plaintext at rest.

A sends B a request whose document, subject and file name carry unique
markers; B fetches and acknowledges it (RETRIEVED at A).  Then:

1. no marker appears in any file under either daemon's directory (LMDB
   data.mdb and lock.mdb, logs at debug level, everything);
2. A's DELIVERED and RETRIEVED receipts, exported with `comity receipt`,
   pass the README's `openssl cms -verify ... -CAfile ca.pem -signer`
   commands; the signer's URI SAN is B; the ReceiptContent names the
   request, A, B and the SHA-256 of the sealed body;
3. B's `comity export` opens with the README's `openssl cms -decrypt |
   openssl cms -verify` pipeline, holds the marked document, and its
   SHA-256 equals the receipts' envelope_body_sha256;
4. A cannot fetch its own outbox item (exit 77, EX_NOPERM, one clear
   line), but exports it, byte for byte equal to B's export.
"""

import hashlib
import os
import subprocess

from harness import EX_NOPERM, check, log, run
import peer

A, B = "AA-ONE", "BB-TWO"
URI = "urn:comity:authority:"


def sh(cmd, cwd):
    """Run shell command CMD in CWD: (rc, stdout bytes, stderr str)."""
    p = subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def files_under(top):
    for d, _, names in os.walk(top):
        for n in names:
            path = os.path.join(d, n)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def test(net):
    net.start()
    a, b = net[A], net[B]
    tag = os.urandom(12).hex()
    markers = {
        "document": ("MARKER-DOC-%s" % tag).encode(),
        "subject": ("MARKER-SUBJ-%s" % tag).encode(),
        "file name": ("marker-name-%s" % tag).encode(),
    }
    content = (b"Request for mutual legal assistance.\n"
               + markers["document"] + b"\n" + os.urandom(3000))
    name = markers["file name"].decode() + ".bin"
    doc = net.file(name, content)
    ident = a.submit(B, doc, extra=["--subject",
                                    markers["subject"].decode(),
                                    "--case", "AA/2026/14"])
    a.wait_state(ident, "DELIVERED")
    out = os.path.join(net.root, "fetched")
    b.ok("fetch", ident, "--out", out, json_out=False)
    with open(os.path.join(out, name), "rb") as f:
        check(f.read() == content, "fetched document differs")
    b.ok("ack", ident, json_out=False)
    a.wait_state(ident, "RETRIEVED")

    # Exports, while the daemons run.
    work = os.path.join(net.root, "audit")
    os.mkdir(work)
    for kind in ("delivered", "retrieved"):
        a.ok("receipt", ident, "--kind", kind, "--out",
             os.path.join(work, kind + ".p7s"), json_out=False)
    b.ok("export", ident, "--out", os.path.join(work, "request.p7m"),
         json_out=False)
    a.ok("export", ident, "--out", os.path.join(work, "a-request.p7m"),
         json_out=False)

    # (4) A keeps no readable copy of what it sent.
    rc, so, err = a.cli("fetch", ident, "--out",
                        os.path.join(net.root, "a-fetch"), json_out=False)
    check(rc == EX_NOPERM, "A's fetch of its own outbox item exited %d, "
          "not %d (EX_NOPERM): %s" % (rc, EX_NOPERM, err.strip()))
    check(len(err.strip().splitlines()) == 1 and err.strip() and not so,
          "A's fetch of its own item: stderr %r, stdout %r" % (err, so))
    check(not os.path.exists(os.path.join(net.root, "a-fetch", name)),
          "A's refused fetch wrote the document")
    log("A's fetch of its own item: exit %d: %s" % (rc, err.strip()))

    # (1) no marker at rest, anywhere under either daemon's directory,
    # with both daemons stopped (everything flushed).
    a.stop()
    b.stop()
    scanned = 0
    for d in (a, b):
        paths = list(files_under(d.dir))
        names = {os.path.basename(p) for p in paths}
        check({"data.mdb", "lock.mdb"} <= names and "comityd.log" in names,
              "%s: expected data.mdb, lock.mdb and the log, found %s"
              % (d.id, sorted(names)))
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            scanned += len(data)
            for what, m in markers.items():
                check(m not in data, "the %s marker is in %s (%d bytes)"
                      % (what, path, len(data)))
        check(os.path.getsize(d.logfile) > 0, "%s logged nothing" % d.id)
    log("no marker in %d bytes of store, lock and log files" % scanned)

    # (2) the receipts, checked as the README shows.
    with open(os.path.join(work, "request.p7m"), "rb") as f:
        sealed = f.read()
    sealed_sha = hashlib.sha256(sealed).digest()
    ca = os.path.join(net.pki, "ca.pem")
    for kind, want in (("delivered", peer.RECEIPT_DELIVERED),
                       ("retrieved", peer.RECEIPT_RETRIEVED)):
        rc, _, err = sh("openssl cms -verify -inform DER -in %s.p7s -binary "
                        "-CAfile %s -signer signer.pem -out content.bin"
                        % (kind, ca), work)
        check(rc == 0 and "Verification successful" in err,
              "openssl cms -verify of the %s receipt: exit %d: %s"
              % (kind, rc, err.strip()))
        rc, so, err = sh("openssl x509 -in signer.pem -noout -ext "
                         "subjectAltName", work)
        check(rc == 0 and ("URI:" + URI + B).encode() in so,
              "%s receipt signer's subjectAltName: %r" % (kind, so))
        check(peer.cert_uri_sans(os.path.join(work, "signer.pem"))
              == [URI + B], "%s receipt signer has other URI SANs" % kind)
        rc, so, _ = sh("openssl cms -cmsout -print -inform DER -in %s.p7s "
                       "| grep -A2 signingTime" % kind, work)
        check(rc == 0 and b"signingTime" in so,
              "%s receipt has no signingTime" % kind)
        with open(os.path.join(work, "content.bin"), "rb") as f:
            rcpt = peer.parse_receipt_content(f.read())
        check(rcpt["kind"] == want, "%s receipt kind %d" % (kind,
                                                            rcpt["kind"]))
        check(rcpt["envelope_id"].hex() == ident and rcpt["from"] == A
              and rcpt["to"] == B, "%s receipt names %s %r -> %r"
              % (kind, rcpt["envelope_id"].hex(), rcpt["from"],
                 rcpt["to"]))
        # (3) the receipt is bound to the exported sealed request.
        check(rcpt["envelope_body_sha256"] == sealed_sha,
              "%s receipt's envelope_body_sha256 %s != sha256(request.p7m) "
              "%s" % (kind, rcpt["envelope_body_sha256"].hex(),
                      sealed_sha.hex()))
        log("%s receipt: verified by openssl, signed by %s, bound to the "
            "export" % (kind, B))

    # (3) the export opens with B's key, as the README shows.
    rc, _, err = sh("openssl cms -decrypt -inform DER -in request.p7m "
                    "-binary -recip %s -inkey %s | openssl cms -verify "
                    "-inform DER -binary -CAfile %s -out request.bin"
                    % (net.cert(B), net.key(B), ca), work)
    check(rc == 0 and "Verification successful" in err,
          "opening B's export: exit %d: %s" % (rc, err.strip()))
    with open(os.path.join(work, "request.bin"), "rb") as f:
        req = peer.parse_request(f.read())
    check(req["id"].hex() == ident and req["from"] == A and req["to"] == B,
          "exported request header: %s" % {k: req[k] for k in
                                            ("id", "from", "to")})
    check(req["subject"].encode() == markers["subject"],
          "exported request subject %r" % req["subject"])
    check([(d["name"], d["content"]) for d in req["documents"]]
          == [(name, content)], "exported request documents differ")
    check(markers["document"] in req["documents"][0]["content"],
          "the marker is not in the exported request")

    # (4) A's export of what it sent is the same sealed body.
    with open(os.path.join(work, "a-request.p7m"), "rb") as f:
        check(f.read() == sealed, "A's export differs from B's")
    log("exports of A and B are identical (%d bytes)" % len(sealed))


run(test)
