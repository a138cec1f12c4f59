"""The audit trail end to end.

1. A full cycle A -> B (submit, deliver, fetch, ack): A's export holds
   SUBMITTED, SENT, RECEIPT_RECEIVED, DELIVERED, RECEIPT_RECEIVED,
   RETRIEVED for the request, B's RECEIVED, RETRIEVED, in seq order with
   non-decreasing times; the whole export is seq 1..N; JSON Lines and CSV
   agree; --since/--until/--id filter; the chain recomputes from the
   export alone (an independent implementation of the canonical hash,
   here), from B's genesis; `audit verify` exits 0 on both.
2. `status ID --timeline` on both sides: our records and the
   counterpart's receipt times, in order, with the durations between.
3. Tampering with B's stopped store, each on a copy, found by the offline
   verifier (`audit verify --store`, exit 65 naming the record): a byte
   flipped inside a record's detail in data.mdb, a record removed, two
   records swapped (those copies rebuilt with mdb_dump/mdb_load), and the
   tail cut with the head moved back (the chain alone looks whole; B's
   head in the RETRIEVED receipt A holds, checked by stock openssl, is the
   witness that shows the cut).  The flip in B's own store is found by
   the daemon's verify too.
4. 100,000 records added to A's store (written here as the chain defines
   them and loaded with mdb_load): verify takes well under a second on
   the daemon and offline, and `audit export` streams them all in bounded
   memory (max RSS of the comity process, against an export that prints
   nothing).
"""

import csv
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import peer
from lmdbdump import AUDIT_RECORD_FIELDS, dump, load, seq_key
from harness import COMITY, EX_DATAERR, check, log, run

NO_UID = 0xFFFFFFFF
BULK = 100000
EV_WARNING = 27


# ------------------------------------------------------------ the chain

def chain_hash(seq, time_ns, event, message_id, peer_id, uid, detail_sha,
               prev):
    """The canonical record hash (audit.h), written out again."""
    return hashlib.sha256(
        b"comity-audit-v1\0" + struct.pack(">QqH", seq, time_ns, event)
        + struct.pack(">I", len(message_id)) + message_id
        + struct.pack(">I", len(peer_id)) + peer_id
        + struct.pack(">I", uid) + detail_sha + prev).digest()


def check_exported(records, prev=None):
    """Recompute the chain over exported records (dicts, seq order);
    return the last hash."""
    for r in records:
        detail_sha = bytes.fromhex(r["detail_sha256"])
        check(hashlib.sha256(r["detail"].encode()).digest() == detail_sha,
              "seq %d: detail_sha256 is not the detail's" % r["seq"])
        rprev = bytes.fromhex(r["prev_hash"])
        check(prev is None or rprev == prev,
              "seq %d: prev_hash does not link" % r["seq"])
        h = chain_hash(r["seq"], r["time_ns"], r["event_code"],
                       bytes.fromhex(r["message_id"] or ""),
                       (r["peer"] or "").encode(),
                       NO_UID if r["uid"] is None else r["uid"],
                       detail_sha, rprev)
        check(h.hex() == r["hash"], "seq %d: hash %s recomputes as %s"
              % (r["seq"], r["hash"], h.hex()))
        prev = h
    return prev


def verify_store(d, store, *extra):
    return d.cli("audit", "verify", "--store", store, *extra, json_out=False)


def expect_broken(res, seq, what, why=None):
    rc, out, err = res
    want = "audit chain broken at seq %d: " % seq
    check(rc == EX_DATAERR and out.startswith(want)
          and (why is None or why in out),
          "%s: expected exit 65 and %r%s, got %d: %r %r"
          % (what, want, " ... " + why if why else "", rc, out, err))
    log("%s: %s" % (what, out.strip()))


# ------------------------------------------------------------ parts

def full_cycle(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    ident = a.submit("BB-TWO", net.file("request.txt", "audit me\n"),
                     extra=["--case", "AA/2026/21"])
    a.wait_state(ident, "DELIVERED")
    b.ok("fetch", ident, "--out", os.path.join(net.root, "fetched"),
         json_out=False)
    b.ok("ack", ident, json_out=False)
    a.wait_state(ident, "RETRIEVED")
    return ident


def check_export(d, ident, want):
    """D's export: seq 1..N, the request's events WANT in order (as a
    subsequence: SENT may repeat), times non-decreasing; returns it."""
    recs = d.jsonl("audit", "export")
    check([r["seq"] for r in recs] == list(range(1, len(recs) + 1)),
          "%s export seqs are not 1..%d" % (d.id, len(recs)))
    mine = [r for r in recs if r["message_id"] == ident]
    events = [r["event"] for r in mine]
    it = iter(events)
    check(all(e in it for e in want), "%s events of %s: %s, want %s in "
          "order" % (d.id, ident, events, want))
    times = [r["time_ns"] for r in mine]
    check(times == sorted(times), "%s: times go back: %s" % (d.id, times))
    for r in mine:
        check(r["time"].endswith("Z") and len(r["time"]) == 30,
              "time %r is not RFC 3339 UTC with ns" % r["time"])
    check(d.jsonl("audit", "export", "--id", ident) == mine,
          "%s: export --id differs from the full export's records"
          % d.id)
    log("%s: %d records, the request's: %s" % (d.id, len(recs),
                                                " ".join(events)))
    return recs


def check_csv(d, recs):
    out = d.ok("audit", "export", "--format", "csv", json_out=False)
    rows = list(csv.reader(io.StringIO(out, newline="")))
    check(rows[0] == ["seq", "time", "time_ns", "event", "event_code",
                      "message_id", "peer", "uid", "detail",
                      "detail_sha256", "prev_hash", "hash"],
          "csv header %s" % rows[0])
    check(out.endswith("\r\n"), "csv lines do not end in CRLF")
    n = 0
    for row, r in zip(rows[1:], recs):
        want = [str(r["seq"]), r["time"], str(r["time_ns"]), r["event"],
                str(r["event_code"]), r["message_id"] or "",
                r["peer"] or "", "" if r["uid"] is None else str(r["uid"]),
                r["detail"], r["detail_sha256"], r["prev_hash"], r["hash"]]
        check(row == want, "csv row %s != %s" % (row, want))
        n += 1
    check(n == len(recs) and len(rows) >= len(recs) + 1,
          "csv has %d rows for %d records" % (len(rows) - 1, len(recs)))


def check_filters(d, recs):
    """--since keeps records at or after T (and later ones appended since
    the export), --until those before T."""
    mid = recs[len(recs) // 2]
    after = [r for r in recs if r["time_ns"] >= mid["time_ns"]]
    since = d.jsonl("audit", "export", "--since", mid["time"])
    check(since[:len(after)] == after and
          all(r["time_ns"] >= mid["time_ns"] for r in since),
          "--since %s: %d records" % (mid["time"], len(since)))
    until = d.jsonl("audit", "export", "--until", mid["time"])
    check(until == [r for r in recs if r["time_ns"] < mid["time_ns"]],
          "--until %s: %d records" % (mid["time"], len(until)))
    rc, _, err = d.cli("audit", "export", "--since", mid["time"],
                       "--until", recs[0]["time"])
    check(rc == 64 and "--until" in err, "--until before --since: %d %s"
          % (rc, err))


def check_timelines(net, ident):
    a, b = net["AA-ONE"], net["BB-TWO"]
    for d, want in ((a, [("ours", "SUBMITTED"), ("ours", "SENT"),
                         ("theirs", "RECEIVED"), ("ours", "DELIVERED"),
                         ("theirs", "RETRIEVED"), ("ours", "RETRIEVED")]),
                    (b, [("theirs", "SUBMITTED"), ("ours", "RECEIVED"),
                         ("ours", "RETRIEVED")])):
        (tl,) = d.jsonl("status", ident, "--timeline")
        check(tl["id"] == ident and tl["state"] == "RETRIEVED",
              "timeline item %s" % tl)
        steps = tl["timeline"]
        got = [(s["side"], s["event"]) for s in steps]
        it = iter(got)
        check(all(w in it for w in want), "%s timeline %s, want %s in "
              "order" % (d.id, got, want))
        if d is a:
            # the counterpart's steps come after SENT and in their order
            th = [s for s in steps if s["side"] == "theirs"]
            check(th[0]["time_ns"] <= th[1]["time_ns"] and
                  all(s["authority"] == "BB-TWO" for s in th),
                  "A's view of B's steps: %s" % th)
        prev = None
        for s in steps:
            check(s["since_previous_ns"] == (None if prev is None else
                                             s["time_ns"] - prev),
                  "%s: since_previous_ns of %s" % (d.id, s))
            prev = s["time_ns"]
        text = d.ok("status", ident, "--timeline", json_out=False)
        check(("by its signed DELIVERED receipt" in text) == (d is a)
              and "RETRIEVED" in text, "%s text timeline:\n%s"
              % (d.id, text))
        log("%s timeline: %s" % (d.id, " ".join(e for _, e in got)))


def receipt_witness(net, ident):
    """B's audit head as A holds it: the RETRIEVED receipt B signed,
    verified by stock openssl."""
    a = net["AA-ONE"]
    p7s = os.path.join(net.root, "retrieved.p7s")
    content = os.path.join(net.root, "retrieved.bin")
    a.ok("receipt", ident, "--kind", "retrieved", "--out", p7s,
         json_out=False)
    p = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER",
                        "-in", p7s, "-binary", "-CAfile",
                        os.path.join(net.pki, "ca.pem"), "-out", content],
                       capture_output=True)
    check(p.returncode == 0, "openssl cms -verify: %s" % p.stderr)
    with open(content, "rb") as f:
        rc = peer.parse_receipt_content(f.read())
    return rc["issuer_audit_seq"], rc["issuer_audit_head"]


def tamper(net, ident, b_recs):
    b = net["BB-TWO"]
    wseq, whash = receipt_witness(net, ident)
    rec = {r["seq"]: r for r in b_recs}
    check(rec[wseq]["hash"] == whash.hex() and
          rec[wseq]["event"] == "RETRIEVED",
          "the receipt's head (seq %d) is not B's RETRIEVED record" % wseq)
    wit = ("--witness-seq", str(wseq), "--witness-hash", whash.hex())
    check(b.stop() == 0, "B did not stop cleanly")

    rc, out, err = verify_store(b, b.store, *wit)
    check(rc == 0 and out.startswith("audit chain intact: ") and
          "witness found" in out, "B's store offline: %d %r %r"
          % (rc, out, err))
    n = int(out.split()[3])
    check(n >= len(b_recs), "offline count %d < %d exported" %
          (n, len(b_recs)))
    # B's genesis from its meta, against record 1
    meta = dict((k, v) for k, v in dump(b.store, "meta")["meta"])
    gen = meta[b"audit_genesis"]
    genesis = hashlib.sha256(b"comity-audit-genesis\0" + gen[8:] +
                             gen[:8]).digest()
    check(gen[8:] == b"BB-TWO" and b_recs[0]["prev_hash"] == genesis.hex(),
          "B's record 1 does not link to its genesis")
    check_exported(b_recs, genesis)

    # (a) one byte changed inside a record's detail, in data.mdb itself
    # (every copy: pages LMDB freed may still hold the record)
    received = [r for r in b_recs if r["event"] == "RECEIVED"][0]
    old = received["detail"].encode()
    check(old.endswith(b" documents=1"), "RECEIVED detail %r" % old)
    new = old[:-1] + b"2"
    flip = os.path.join(net.root, "flip")
    shutil.copytree(b.store, flip)
    with open(os.path.join(flip, "data.mdb"), "r+b") as f:
        data = f.read()
        hits = data.count(old)
        check(hits >= 1, "B's RECEIVED detail not in data.mdb")
        f.seek(0)
        f.write(data.replace(old, new))
    expect_broken(verify_store(b, flip), received["seq"],
                  "a byte of a detail changed in data.mdb (%d copies)"
                  % hits,
                  "hash does not match the record")

    full = dump(b.store)
    # (b) a record removed
    gone = dict(full, audit=[p for p in full["audit"]
                             if p[0] != seq_key(3)])
    load(gone, os.path.join(net.root, "removed"), net.root)
    expect_broken(verify_store(b, os.path.join(net.root, "removed")), 3,
                  "record 3 removed", "missing")
    # (c) two records swapped
    audit = [list(p) for p in full["audit"]]
    audit[3][1], audit[4][1] = audit[4][1], audit[3][1]
    load(dict(full, audit=audit), os.path.join(net.root, "swapped"),
         net.root)
    expect_broken(verify_store(b, os.path.join(net.root, "swapped")), 4,
                  "records 4 and 5 swapped")
    # (d) the tail cut from the witness on, the head moved back to
    # what is left: whole to itself, not to the witness
    keep = [p for p in full["audit"] if struct.unpack(">Q", p[0])[0] < wseq]
    last = peer.pb_decode(AUDIT_RECORD_FIELDS, keep[-1][1])
    metas = [[k, v] for k, v in full["meta"] if k != b"audit_head"]
    metas.append([b"audit_head", seq_key(last["seq"]) + last["hash"]])
    cut = os.path.join(net.root, "cut")
    load(dict(full, audit=keep, meta=metas), cut, net.root)
    rc, out, _ = verify_store(b, cut)
    check(rc == 0 and out.startswith("audit chain intact: %d records"
                                     % (wseq - 1)),
          "the cut chain alone: %d %r" % (rc, out))
    expect_broken(verify_store(b, cut, *wit), wseq,
                  "the tail cut at seq %d, against A's receipt" % wseq,
                  "removed from the end")

    # the flip in B's own store: the daemon's verify names it too
    with open(os.path.join(b.store, "data.mdb"), "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(data.replace(old, new))
    b.start()
    rc, out, err = b.cli("audit", "verify", json_out=False)
    expect_broken((rc, out, err), received["seq"], "the daemon's verify")
    rc, out, _ = b.cli("audit", "verify")
    res = json.loads(out)
    check(rc == EX_DATAERR and res["ok"] is False and
          res["bad_seq"] == received["seq"], "verify --json: %s" % out)


MEASURE = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measured(d, outfile, *args):
    """Run comity ARGS against D with stdout to OUTFILE in a process of
    its own: (exit status, max RSS KiB of comity)."""
    env = dict(os.environ)
    if peer.asan_build(COMITY):
        # ASan's quarantine keeps freed memory resident: without it RSS
        # measures comity, not the sanitizer.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":quarantine_size_mb=0"
                               ":thread_local_quarantine_size_kb=0"
                               ).lstrip(":")
    p = subprocess.run([sys.executable, "-c", MEASURE, outfile, COMITY,
                        "--socket", d.sock] + list(args),
                       capture_output=True, check=True, timeout=300,
                       env=env)
    rc, rss = p.stdout.split()
    return int(rc), int(rss)


def bulk(net):
    a = net["AA-ONE"]
    check(a.stop() == 0, "A did not stop cleanly")
    meta = dict((k, v) for k, v in dump(a.store, "meta")["meta"])
    head = meta[b"audit_head"]
    seq0, prev = struct.unpack(">Q", head[:8])[0], head[8:]
    t0 = time.time_ns()
    pairs = []
    for i in range(1, BULK + 1):
        seq = seq0 + i
        detail = b"bulk record %d" % i
        t = t0 + i * 1000
        h = chain_hash(seq, t, EV_WARNING, b"", b"", NO_UID,
                       hashlib.sha256(detail).digest(), prev)
        pairs.append([seq_key(seq), peer.pb_encode(AUDIT_RECORD_FIELDS, {
            "seq": seq, "time_ns": t, "event": EV_WARNING, "uid": NO_UID,
            "detail": detail, "prev_hash": prev, "hash": h})])
        prev = h
    load({"audit": pairs, "meta": [[b"audit_head", seq_key(seq0 + BULK)
                                    + prev]]}, a.store, net.root)
    a.start()

    t = time.monotonic()
    rc, out, err = a.cli("audit", "verify", json_out=False)
    dt = time.monotonic() - t
    check(rc == 0 and out.startswith("audit chain intact: "),
          "verify after the bulk load: %d %r %r" % (rc, out, err))
    total = int(out.split()[3])     # and what the start appended
    check(total > seq0 + BULK, "verify counts %d records, %d loaded"
          % (total, seq0 + BULK))
    t = time.monotonic()
    rc, out, err = verify_store(a, a.store)
    dt2 = time.monotonic() - t
    check(rc == 0 and out.startswith("audit chain intact: %d records"
                                     % total),
          "offline verify of the running A: %d %r %r" % (rc, out, err))
    log("verify of %d records: %.2fs through the daemon, %.2fs offline "
        "(each command as a whole)" % (total, dt, dt2))
    check(dt < 5 and dt2 < 5, "verify too slow")

    nothing = os.path.join(net.root, "nothing.jsonl")
    everything = os.path.join(net.root, "everything.jsonl")
    rc, base = measured(a, nothing, "audit", "export", "--id", "0" * 32)
    check(rc == 0 and os.path.getsize(nothing) == 0,
          "export of nothing: %d" % rc)
    t = time.monotonic()
    rc, rss = measured(a, everything, "audit", "export")
    dt = time.monotonic() - t
    size = os.path.getsize(everything)
    log("export of %d records: %d MiB in %.2fs; comity max RSS %d KiB "
        "(%d KiB exporting nothing)" % (total, size >> 20, dt, rss, base))
    check(rc == 0, "export exited %d" % rc)
    # holding the export would take more than its 40 MiB of text; ASan's
    # allocator keeps some freed memory even without its quarantine
    slack = (24 if peer.asan_build(COMITY) else 8) << 10
    check(rss < base + slack and (rss - base) << 10 < size // 2,
          "comity's memory grows with the export: %d KiB for %d MiB "
          "(%d KiB for none)" % (rss, size >> 20, base))
    n, last = 0, None
    with open(everything) as f:
        batch = []
        for line in f:
            r = json.loads(line)
            n += 1
            check(r["seq"] == n, "record %d has seq %d" % (n, r["seq"]))
            batch.append(r)
            if len(batch) == 10000:
                last = check_exported(batch, last)
                batch = []
        check_exported(batch, last)
    check(n == total, "exported %d records of %d" % (n, total))
    log("the exported chain of %d records recomputes" % n)


def test(net):
    net.start()
    a, b = net["AA-ONE"], net["BB-TWO"]
    ident = full_cycle(net)
    a_recs = check_export(a, ident, ["SUBMITTED", "SENT",
                                     "RECEIPT_RECEIVED", "DELIVERED",
                                     "RECEIPT_RECEIVED", "RETRIEVED"])
    b_recs = check_export(b, ident, ["RECEIVED", "RETRIEVED"])
    check_exported(a_recs)
    check_csv(a, a_recs)
    check_filters(a, a_recs)
    for d in (a, b):
        rc, out, err = d.cli("audit", "verify", json_out=False)
        check(rc == 0 and out.startswith("audit chain intact: ") and
              " records, head seq " in out and " hash " in out,
              "%s audit verify: %d %r %r" % (d.id, rc, out, err))
        log("%s: %s" % (d.id, out.strip()))
    check_timelines(net, ident)
    tamper(net, ident, b_recs)
    bulk(net)


run(test)
