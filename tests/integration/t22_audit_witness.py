"""Signed checkpoints and witnesses of the audit trail.

1. A full cycle A -> B; A exports B's RETRIEVED receipt (`comity receipt
   --kind retrieved`): `audit verify --witness` on B finds B's head in it.
2. `comity audit checkpoint --out cp.p7s` on B: stock `openssl cms
   -verify` checks it against the CA and prints the checkpoint text;
   `audit verify` counts it and the periodic ones ([audit]
   checkpoint_interval = 1s), which the export shows as CHECKPOINT
   records; the checkpoint file is a witness too.
3. B stopped: the offline verifier agrees (with and without --ca); on a
   copy of B's store with the tail cut from the receipt's seq on and the
   head moved back, `audit verify --store COPY --witness` fails.
"""

import json
import os
import struct
import subprocess

import peer
from lmdbdump import AUDIT_RECORD_FIELDS, dump, load, seq_key
from harness import EX_DATAERR, check, log, run, wait_until

def full_cycle(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    ident = a.submit("BB-TWO", net.file("request.txt", "witness me\n"))
    a.wait_state(ident, "DELIVERED")
    b.ok("fetch", ident, "--out", os.path.join(net.root, "fetched"),
         json_out=False)
    b.ok("ack", ident, json_out=False)
    a.wait_state(ident, "RETRIEVED")
    return ident


def cp_records(d):
    rc, out, err = d.cli("audit", "export")
    check(rc == 0, "export: %s" % err)
    return [r for r in map(json.loads, out.splitlines())
            if r["event"] == "CHECKPOINT"]


def test(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    b.write_conf({"audit": {"checkpoint_interval": "1s"}})
    net.start()
    ident = full_cycle(net)
    ca = os.path.join(net.pki, "ca.pem")

    # 1. B's head in the receipt A holds
    p7s = os.path.join(net.root, "retrieved.p7s")
    a.ok("receipt", ident, "--kind", "retrieved", "--out", p7s,
         json_out=False)
    rc, out, err = b.cli("audit", "verify", "--witness", p7s,
                         json_out=False)
    check(rc == 0 and "witness found" in out and ": matches" in out,
          "verify --witness receipt: %d %r %r" % (rc, out, err))
    wseq = int(out.split("witness seq ")[1].split()[0])
    log("receipt witness: %s" % out.strip().splitlines()[-1])

    # 2. on-demand checkpoint, checked by stock openssl
    cp = os.path.join(net.root, "cp.p7s")
    rc, out, err = b.cli("audit", "checkpoint", "--out", cp,
                         json_out=False)
    check(rc == 0 and out.startswith("checkpoint of BB-TWO: seq "),
          "audit checkpoint: %d %r %r" % (rc, out, err))
    cseq, chash = int(out.split()[4]), out.split()[6]
    p = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER",
                        "-in", cp, "-binary", "-CAfile", ca],
                       capture_output=True)
    check(p.returncode == 0, "openssl cms -verify: %s" % p.stderr)
    lines = p.stdout.decode().split("\n")
    check(lines[0] == "comity-audit/BB-TWO" and int(lines[1]) == cseq
          and len(lines) == 5 and lines[4] == "",
          "checkpoint text %r" % p.stdout)
    log("openssl: %r" % p.stdout.decode())
    recs = cp_records(b)
    check(any(r["seq"] == cseq + 1 for r in recs),
          "no CHECKPOINT record at seq %d" % (cseq + 1))
    # a periodic one follows new activity within about a second
    n0 = len(recs)
    a.wait_state(a.submit("BB-TWO", net.file("again.txt", "again\n")),
                 "DELIVERED")
    try:
        wait_until(lambda: len(cp_records(b)) > n0, timeout=10,
                   what="a periodic checkpoint")
    except Exception:
        log("B's log: %s" % "".join(l for l in b.run_log_text().splitlines(True)
                                   if "checkpoint" in l or "conf" in l))
        raise
    rc, out, err = b.cli("audit", "verify")
    res = json.loads(out)
    check(rc == 0 and res["ok"] and res["checkpoints"] >= 2,
          "verify with checkpoints: %s" % out)
    rc, out, err = b.cli("audit", "verify", json_out=False)
    check(rc == 0 and "checkpoints: " in out, "verify text: %r" % out)
    rc, out, err = b.cli("audit", "verify", "--witness", cp,
                         json_out=False)
    check(rc == 0 and ": matches" in out and chash in out,
          "verify --witness checkpoint: %d %r %r" % (rc, out, err))

    # 3. offline, then a cut copy
    check(b.stop() == 0, "B did not stop cleanly")
    rc, out, err = b.cli("audit", "verify", "--store", b.store,
                         "--witness", p7s, json_out=False)
    check(rc == 0 and ": matches" in out and "--ca" in out,
          "offline --witness: %d %r %r" % (rc, out, err))
    rc, out, err = b.cli("audit", "verify", "--store", b.store, "--ca", ca,
                         "--witness", cp, json_out=False)
    check(rc == 0 and ": matches" in out and "--ca" not in out,
          "offline --ca --witness: %d %r %r" % (rc, out, err))
    full = dump(b.store)
    keep = [q for q in full["audit"] if struct.unpack(">Q", q[0])[0] < wseq]
    last = peer.pb_decode(AUDIT_RECORD_FIELDS, keep[-1][1])
    metas = [[k, v] for k, v in full["meta"] if k != b"audit_head"]
    metas.append([b"audit_head", seq_key(last["seq"]) + last["hash"]])
    cut = os.path.join(net.root, "cut")
    load(dict(full, audit=keep, meta=metas), cut, net.root)
    rc, out, err = b.cli("audit", "verify", "--store", cut, "--witness",
                         p7s, json_out=False)
    check(rc == EX_DATAERR and "does not match: the chain was altered or "
          "truncated" in out, "cut copy --witness: %d %r %r"
          % (rc, out, err))
    log("cut copy: %s" % out.strip().replace("\n", " / "))


run(test)
