"""TLS and identity refusals, inbound and outbound.

Inbound: a raw client connects to B with a certificate from another CA,
an expired certificate, a certificate naming an authority absent from the
directory, certificates with no/two/malformed URI SANs, no certificate,
TLS 1.2 only, a wrong ALPN and no ALPN.  Each must be refused (the
handshake fails or B closes before any frame of its own is readable) with
a "refused:" log line naming the client's address and the reason.  A
well-formed client gets B's Hello (the control).  B then still takes a
request from the real A.

Outbound: A's directory entry for B is pointed at a fake TLS server that
presents C's valid certificate, then at one speaking only TLS 1.2 with
B's certificate, then at one selecting no ALPN.  A must refuse each, send
no frame, keep the request queued, and deliver it once the directory
points at the real B again.
"""

import os
import ssl

from harness import check, mkpki, run, wait_until, log
import peer

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"
URI = "urn:comity:authority:"


def refused_line(d, addr, timeout=10):
    """The "refused:" log line of D about the connection from ADDR."""
    return wait_until(lambda: peer.log_lines_for(d, addr, ": refused: "),
                      timeout, "%s to log a refusal of %s" % (d.id, addr))[0]


def test(net):
    net.start(A, B)
    a, b = net[A], net[B]
    pki, ca = net.pki, os.path.join(net.pki, "ca.pem")

    def pem(name):
        return os.path.join(pki, name + ".pem"), os.path.join(pki,
                                                              name + ".key")

    # The hostile certificates, all but the first from the network CA.
    other = os.path.join(net.root, "other-ca")
    mkpki(other, [A])
    mkpki(pki, [A], "--expired", "--name", "a-expired")
    mkpki(pki, ["ZZ-ABSENT"])
    mkpki(pki, [A], "--no-san", "--name", "a-nosan")
    mkpki(pki, [A], "--no-san", "--dns", "aa-one.example", "--name",
          "a-dnsonly")
    mkpki(pki, [A], "--san", URI + A, "--san", URI + C, "--name", "a-twouri")
    mkpki(pki, [A], "--san", URI + A.lower(), "--name", "a-lower")
    mkpki(pki, [A], "--san", URI + A + "/x", "--name", "a-suffix")
    mkpki(pki, [A], "--san", "urn:other:authority:" + A, "--name",
          "a-prefix")

    def ctx(name, **kw):
        cert, key = pem(name)
        return peer.client_context(ca, cert, key, **kw)

    # Control: a well-formed client is answered with B's Hello.
    c = peer.Conn(b.port).tls(ctx(A))
    h = c.read_hello()
    check(h["authority_id"] == B, "B's Hello names %r" % h["authority_id"])
    c.close()

    tls12 = ssl.TLSVersion.TLSv1_2
    cases = [
        # (what, client context, [substrings of B's log for this attempt])
        ("certificate from another CA",
         peer.client_context(ca, os.path.join(other, A + ".pem"),
                             os.path.join(other, A + ".key")),
         ["refused: TLS handshake failed", "certificate verify failed",
          "unable to get local issuer certificate"]),
        ("expired certificate from the network CA", ctx("a-expired"),
         ["refused: TLS handshake failed", "certificate has expired"]),
        ("authority absent from the directory", ctx("ZZ-ABSENT"),
         ["refused: unknown authority ZZ-ABSENT"]),
        ("no subjectAltName", ctx("a-nosan"),
         ["refused: peer identity: certificate has no subjectAltName"]),
        ("DNS SAN only", ctx("a-dnsonly"),
         ["refused: peer identity: certificate subjectAltName has no URI"]),
        ("two URI SANs", ctx("a-twouri"),
         ["refused: peer identity: certificate subjectAltName has 2 URIs"]),
        ("lower-case id in the URI SAN", ctx("a-lower"),
         ["refused: peer identity:", "invalid authority id"]),
        ("URI SAN with a suffix", ctx("a-suffix"),
         ["refused: peer identity:", "invalid authority id"]),
        ("URI SAN with another prefix", ctx("a-prefix"),
         ["refused: peer identity:", "does not start with"]),
        ("no client certificate", peer.client_context(ca),
         ["refused: TLS handshake failed",
          "peer did not return a certificate"]),
        ("TLS 1.2 only, valid certificate", ctx(A, version=tls12),
         ["refused: TLS handshake failed", "unsupported protocol"]),
        ("ALPN http/1.1", ctx(A, alpn=("http/1.1",)),
         ["refused: TLS handshake failed", "no application protocol"]),
        ("ALPN comity/2 and h2", ctx(A, alpn=("comity/2", "h2")),
         ["refused: TLS handshake failed", "no application protocol"]),
        ("no ALPN", ctx(A, alpn=None),
         ["refused: ALPN is not comity/1"]),
    ]
    for what, cctx, expect in cases:
        mark = len(b.log_text().splitlines())
        try:
            lport, how = peer.attempt_refused(b.port, cctx, timeout=5)
        except AssertionError as e:
            check(False, "%s: %s" % (what, e))
        addr = "127.0.0.1:%d" % lport
        line = refused_line(b, addr)
        new = "\n".join(b.log_text().splitlines()[mark:])
        for s in expect:
            check(s in line or s in new,
                  "%s: B's log lacks %r; refusal line: %s"
                  % (what, s, line))
        check(b.running(), "B died after: %s" % what)
        log("refused (%s): client saw %s; B: %s"
            % (what, how, line.split(": refused: ", 1)[1]))

    # Revocation: C is accepted until B is given a CRL revoking it.
    c = peer.Conn(b.port).tls(ctx(C))
    check(c.read_hello()["authority_id"] == B, "no Hello for C")
    c.close()
    mkpki(pki, [], "--revoke", C)
    b.stop()
    b.write_conf({"authority": {"crl": os.path.join(pki, "crl.pem")}})
    peer.restart_wait(b)
    mark = len(b.log_text().splitlines())
    try:
        lport, how = peer.attempt_refused(b.port, ctx(C), timeout=5)
    except AssertionError as e:
        check(False, "revoked certificate: %s" % e)
    line = refused_line(b, "127.0.0.1:%d" % lport)
    new = "\n".join(b.log_text().splitlines()[mark:])
    check("TLS handshake failed" in line and "certificate revoked" in new,
          "revoked certificate: B logged %s" % line)
    log("refused (revoked certificate, CRL configured): client saw %s"
        % how)

    # B still works for the real A.
    doc = net.file("after-refusals.txt", "request after the refusals\n")
    first = a.submit(B, doc)
    a.wait_state(first, "DELIVERED")
    check([r["id"] for r in b.inbox()] == [first], "B inbox after refusals")

    # Outbound: A dials "B" and finds a server it must refuse.
    a.stop()
    cert_c, key_c = pem(C)
    cert_b, key_b = pem(B)
    fakes = [
        ("C's valid certificate at B's endpoint",
         peer.server_context(ca, cert_c, key_c),
         "refused: certificate names %s, dialled %s" % (C, B), True),
        ("TLS 1.2-only server with B's certificate",
         peer.server_context(ca, cert_b, key_b, version=tls12),
         "refused: TLS handshake failed", False),
        ("server selecting no ALPN, B's certificate",
         peer.server_context(ca, cert_b, key_b, alpn=None),
         "refused: ALPN is not comity/1", True),
    ]
    queued = []
    for what, sctx, expect, handshakes in fakes:
        fake = peer.FakeServer(sctx, read_timeout=3)
        try:
            net.write_directory({B: {"endpoint": "127.0.0.1:%d"
                                     % fake.port}})
            peer.restart_wait(a)
            doc = net.file("outbound-%d.txt" % len(queued), what + "\n")
            ident = a.submit(B, doc)
            queued.append(ident)
            # Several attempts (the retry back-off is short here).
            wait_until(lambda: len(fake.snapshot()) >= 3
                               and fake.snapshot(), 30,
                               "3 dials of the fake server (%s)" % what)
            addr = "127.0.0.1:%d" % fake.port
            line = wait_until(lambda: peer.log_lines_for(a, addr, expect),
                              10, "A to log %r" % expect)[0]
            st = a.status(ident)["state"]
            check(st == "QUEUED", "%s: request is %s, not QUEUED"
                  % (what, st))
            a.stop()
            fake.stop()
            for cn in fake.snapshot():
                check(cn["handshake"] == handshakes,
                      "%s: fake server handshake %s (%s)"
                      % (what, cn["handshake"], cn["error"]))
                if handshakes:
                    check(cn["sans"] == [URI + A],
                          "%s: A presented %r" % (what, cn["sans"]))
                check(cn["data"] == b"",
                      "%s: A sent %d bytes (a Hello?) to a server it must "
                      "refuse" % (what, len(cn["data"])))
        finally:
            fake.stop()
        log("A refused (%s): %s" % (what, line.split(": refused: ", 1)[1]))
    check(len(b.inbox()) == 1, "B got a request while A dialled fakes")

    # The real B again: everything queued is delivered, once.
    net.write_directory({})
    peer.restart_wait(a)
    for i in queued:
        a.wait_state(i, "DELIVERED")
    ids = sorted(r["id"] for r in b.inbox())
    check(ids == sorted([first] + queued),
          "B inbox after the fakes: %s, expected %s"
          % (ids, sorted([first] + queued)))

run(test, ids=(A, B, C))
