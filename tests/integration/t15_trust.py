"""Trust changes on a running network: SPKI pin, certificate rotation with
nothing lost, revocation, and a CRL about to lapse.

B reads a directory file of its own; A the shared one.

1. Pin: B's directory pins a wrong SPKI for A, so B refuses A's links
   ("SPKI pin mismatch") and A's request stays QUEUED; with the right pin
   (computed with openssl as certs/README.md shows) and a SIGHUP of B (no
   restart) the request is delivered.
2. Rotation: B holds requests it has not fetched; B's certificate and key
   are re-issued (mkpki --force), B's config names the old key as
   [authority] retired_key, SIGHUP.  A's directory still lists B's old
   certificate: A's new requests, sealed to the old certificate, are
   delivered (B opens them with the retired key; its receipts are signed
   with the new key, which A accepts because B authenticated the link with
   the new certificate, and A logs a hint to update its directory).  Every
   request, from before and after, fetches on B.  Without retired_key the
   old ones fail to fetch with a clear error; with it back they fetch.
3. Revocation: a CRL revoking A, given to B with SIGHUP: A's new links are
   refused ("certificate revoked") and its new request stays QUEUED.
4. `comityd --check` warns (stderr names nextUpdate, exit 0) when the
   CRL's nextUpdate is 2 days away, and not with a 30-day CRL.
"""

import os
import shutil
import signal
import subprocess

from harness import COMITYD, TestFailure, check, log, mkpki, run, wait_until
import peer

A, B = "AA-ONE", "BB-TWO"


def sighup(d, expect="reloaded"):
    """SIGHUP daemon D and wait for its log line saying EXPECT."""
    mark = len(d.log_text())
    d.signal(signal.SIGHUP)

    def line():
        new = d.log_text()[mark:]
        if "reload refused" in new:
            raise AssertionError("%s refused the reload: %s"
                                 % (d.id, new.strip()))
        return [ln for ln in new.splitlines() if expect in ln]
    return wait_until(line, 15, "%s to log %r after SIGHUP"
                      % (d.id, expect))[0]


def new_lines(d, mark, *words):
    """D's log lines after offset MARK containing every one of WORDS."""
    return [ln for ln in d.log_text()[mark:].splitlines()
            if all(w in ln for w in words)]


def settled(d, ident, timeout=20):
    """The status of D's outbox item IDENT once it left QUEUED and SENT."""
    def done():
        st = d.status(ident)
        return st["state"] not in ("QUEUED", "SENT") and st
    try:
        return wait_until(done, timeout, "%s to settle on %s" % (ident, d.id))
    except TestFailure as e:
        raise TestFailure("%s (it is %s)" % (e, d.status(ident)["state"]))


def test(net):
    a, b = net[A], net[B]
    pki = net.pki
    bdir = os.path.join(b.dir, "directory.conf")
    bconf = {"directory": bdir}

    def configure_b(**kw):
        """Rewrite B's configuration: its own directory plus KW."""
        auth = dict(bconf)
        auth.update(kw)
        b.write_conf({"authority": auth})

    # The pin as certs/README.md computes it.
    p = subprocess.run("openssl x509 -in %s -pubkey -noout | openssl pkey "
                       "-pubin -outform DER | sha256sum" % net.cert(A),
                       shell=True, capture_output=True, check=True)
    pin = p.stdout.decode().split()[0]
    check(len(pin) == 64 and pin == peer.spki_pin(net.cert(A)),
          "pin %r" % pin)
    wrong = ("%064x" % (int(pin, 16) ^ 1))

    # ---------------------------------------------------------- 1. pin
    net.write_directory({A: {"pin": wrong}}, path=bdir)
    configure_b()
    net.start()
    mark = len(b.log_text())
    docs = {}

    def submit(text):
        ident = a.submit(B, net.file("doc-%d.txt" % len(docs), text))
        docs[ident] = text.encode()
        return ident

    first = submit("request sent while B pins a wrong key\n")
    wait_until(lambda: len(new_lines(b, mark, "peer=" + A,
                                     "refused: SPKI pin mismatch")) >= 2,
               20, "B to refuse A twice for the pin")
    check(a.status(first)["state"] == "QUEUED",
          "with a wrong pin the request is %s" % a.status(first)["state"])
    check(b.inbox() == [], "B took a request over a refused link")
    log("wrong pin: B refused A (%s)"
        % new_lines(b, mark, "SPKI pin")[0].split(": ", 1)[1])
    net.write_directory({A: {"pin": pin}}, path=bdir)
    sighup(b)
    a.wait_state(first, "DELIVERED", timeout=20)
    log("right pin, SIGHUP: delivered")

    # ---------------------------------------------------------- 2. rotation
    before = [first] + [submit("request %d before the rotation\n" % i)
                        for i in range(2)]
    for ident in before:
        a.wait_state(ident, "DELIVERED")
    old_pem = os.path.join(net.root, "BB-TWO-old.pem")
    old_key = os.path.join(net.root, "BB-TWO-old.key")
    shutil.copyfile(net.cert(B), old_pem)
    shutil.copyfile(net.key(B), old_key)
    os.chmod(old_key, 0o600)
    # A's directory lists B's old certificate (a copy: B.pem changes).
    net.write_directory({B: {"cert": old_pem}})
    sighup(a)
    mkpki(pki, [B], "--force")
    with open(old_pem, "rb") as f1, open(net.cert(B), "rb") as f2:
        check(f1.read() != f2.read(), "mkpki --force did not re-issue B")
    configure_b(retired_key=old_key)
    amark = len(a.log_text())
    sighup(b)
    after = [submit("request %d after the rotation\n" % i) for i in range(2)]
    # B's own requests are now signed with its new key: A, whose directory
    # lists the old certificate, accepts them on the strength of the link.
    back = b.submit(A, net.file("reply.txt", "B's reply after the "
                                             "rotation\n"))
    st = settled(b, back)
    check(st["state"] == "DELIVERED", "B's request to A after the rotation "
          "is %s: %s" % (st["state"], st.get("reason")))
    for ident in after:
        st = settled(a, ident)
        check(st["state"] == "DELIVERED", "A's request after the rotation "
              "is %s: %s" % (st["state"], st.get("reason")))
    # A sealed them to the old certificate: only the old key opens them.
    sealed = os.path.join(net.root, "after.p7m")
    a.ok("export", after[0], "--out", sealed, json_out=False)
    with open(sealed, "rb") as f:
        body = f.read()
    check(b"after the rotation" in peer.cms_decrypt(body, old_pem, old_key),
          "A's request after the rotation does not open with B's old key")
    try:
        peer.cms_decrypt(body, net.cert(B), net.key(B))
        check(False, "A's request after the rotation opens with B's new "
              "key: A did not seal it to the certificate in its directory")
    except peer.OpensslError:
        pass
    hint = wait_until(lambda: new_lines(a, amark, B, "update the directory"),
                      10, "A to log a hint to update its directory")[0]
    log("after the rotation: delivered; A: %s" % hint.split(": ", 1)[1])

    # The receipts: the old ones signed with the old key, the new ones
    # with the new key; stock openssl accepts both.
    ca = os.path.join(pki, "ca.pem")
    for ident, signer_pem in ([(i, old_pem) for i in before]
                              + [(i, net.cert(B)) for i in after]):
        path = os.path.join(net.root, "r-%s.p7s" % ident)
        a.ok("receipt", ident, "--out", path, json_out=False)
        with open(path, "rb") as f:
            rcpt = f.read()
        got = os.path.join(net.root, "signer.pem")
        ok, _, err = peer.cms_verify(rcpt, ca, signer_out=got)
        check(ok, "receipt of %s does not verify: %s" % (ident, err.strip()))
        fp = [peer.openssl("x509", "-in", x, "-noout", "-fingerprint",
                           "-sha256")[1] for x in (got, signer_pem)]
        check(fp[0] == fp[1], "receipt of %s signed by %s, expected %s"
              % (ident, fp[0].strip(), fp[1].strip()))

    def fetch(ident, tag):
        out = os.path.join(net.root, "fetch-%s-%s" % (tag, ident))
        return b.cli("fetch", ident, "--out", out, json_out=False), out

    everything = before + after
    ids = sorted(r["id"] for r in b.inbox())
    check(ids == sorted(everything), "B's inbox %s, expected %s"
          % (ids, sorted(everything)))
    for ident in everything:
        (rc, _, err), out = fetch(ident, "retired")
        check(rc == 0, "fetch of %s with retired_key: exit %d: %s"
              % (ident, rc, err.strip()))
        with open(os.path.join(out, "doc-%d.txt"
                               % list(docs).index(ident)), "rb") as f:
            check(f.read() == docs[ident], "%s fetched wrong" % ident)
    log("all %d requests fetch on B with the retired key" % len(everything))

    # Without retired_key the requests sealed to the old key do not open.
    configure_b()
    sighup(b)
    mark = len(b.log_text())
    (rc, so, err), out = fetch(before[0], "noretired")
    check(rc != 0, "fetch of an old request without retired_key succeeded")
    check(len(err.strip().splitlines()) == 1 and "retired_key" in err,
          "fetch without retired_key: stderr %r" % err)
    check(not os.path.exists(os.path.join(out, "doc-0.txt")),
          "the failed fetch wrote a document")
    wait_until(lambda: new_lines(b, mark, before[0], "fetch: not sealed to us"),
               10, "B to log why the fetch failed")
    log("without retired_key: fetch exits %d: %s" % (rc, err.strip()))
    configure_b(retired_key=old_key)
    sighup(b)
    (rc, _, err), _ = fetch(before[0], "again")
    check(rc == 0, "fetch with retired_key back: exit %d: %s"
          % (rc, err.strip()))

    # ---------------------------------------------------------- 3. revoked
    crl = os.path.join(pki, "crl.pem")
    a.stop()
    mkpki(pki, [], "--revoke", A)
    configure_b(retired_key=old_key, crl=crl)
    sighup(b)
    mark = len(b.log_text())
    peer.restart_wait(a)
    revoked = submit("request from a revoked authority\n")
    wait_until(lambda: len(new_lines(b, mark, "refused: TLS handshake "
                                     "failed")) >= 2
               and "certificate revoked" in b.log_text()[mark:],
               20, "B to refuse A's revoked certificate twice")
    check(a.status(revoked)["state"] == "QUEUED",
          "the revoked authority's request is %s"
          % a.status(revoked)["state"])
    check(revoked not in [r["id"] for r in b.inbox()],
          "B took a request from a revoked authority")
    check(not new_lines(b, mark, "peer=" + A, ": up ("),
          "a link with the revoked A came up")
    log("revoked: B refuses A's links, the request stays QUEUED")

    # ---------------------------------------------------------- 4. --check
    def check_b():
        p = subprocess.run([COMITYD, "--check", "--config", b.conf],
                           capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stderr.decode(errors="replace")

    rc, err = check_b()
    check(rc == 0 and "nextUpdate" not in err,
          "--check with a 30-day CRL: exit %d, stderr %r" % (rc, err))
    mkpki(pki, [], "--crl", "--crl-days", "2")
    rc, err = check_b()
    check(rc == 0, "--check with a CRL lapsing in 2 days exited %d: %s"
          % (rc, err.strip()))
    check("nextUpdate" in err and crl in err,
          "--check did not warn of the CRL's nextUpdate: %r" % err)
    log("--check: %s" % err.strip())
    mark = len(b.log_text())
    sighup(b)
    check(new_lines(b, mark, "nextUpdate"), "no nextUpdate warning when B "
          "reloaded the 2-day CRL")
    check(a.status(revoked)["state"] == "QUEUED", "revoked request moved")


run(test)
