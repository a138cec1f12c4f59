"""Batch submit: `comity submit --batch` with 200 requests, one of them to
an authority not in the directory (line 101).  Each request gets its own
result, in order: the bad one fails with its reason, every other one gets
an id (checked against its case reference in the outbox) and is delivered
exactly once.  Idempotency keys behave as with single submits: a key used
by an earlier single submit and a key given twice in the batch return
existed with the first id; the same batch again returns existed for all,
with the same ids, and queues nothing.  The daemon logs one line per
batch.  A request the library refuses fails alone; a malformed file
submits nothing; a batch above the bound is refused with a clear error,
by the CLI and, sent raw, by the daemon, which keeps serving.
"""

import json
import os
import socket
import struct

from harness import (EX_DATAERR, EX_USAGE, check, check_exactly_once, run,
                     wait_delivered, wait_until)
import peer

A, B = "AA-ONE", "BB-TWO"
N = 200
BAD = 101           # the line sent to an unknown authority
DUP = (10, 20)      # line 20 repeats line 10's key
SINGLE = 30         # line 30 reuses the key of a single submit
BATCH_MAX = 256
EX_NOHOST = 68


def batch_lines(doc, n=N):
    lines = []
    for i in range(1, n + 1):
        key = "t24-%03d" % i
        if i == DUP[1]:
            key = "t24-%03d" % DUP[0]
        elif i == SINGLE:
            key = "single-key"
        lines.append({"to": "ZZ-NOBODY" if i == BAD else B, "type": "mla",
                      "case": "AA/2026/%d" % i, "subject": "batch item",
                      "key": key, "files": [doc]})
    return "".join(json.dumps(line) + "\n" for line in lines)


def raw_batch(sock_path, count):
    """Send a LocalRequest{submit_batch} of COUNT requests on the local
    socket; return (error, message) of the answer."""
    doc = peer.pb_bytes(1, "a.txt") + peer.pb_bytes(3, b"x")
    item = (peer.pb_bytes(1, B) + peer.pb_varint(2, 1)
            + peer.pb_bytes(11, doc))
    batch = b"".join(peer.pb_bytes(1, item) for _ in range(count))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sock_path)
        s.sendall(peer.frame(peer.pb_bytes(16, batch)))
        buf = b""
        while len(buf) < 4:
            chunk = s.recv(4 - len(buf))
            check(chunk, "the daemon closed the connection on a raw batch")
            buf += chunk
        (n,) = struct.unpack(">I", buf)
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            check(chunk, "the daemon closed the connection mid-answer")
            body += chunk
    finally:
        s.close()
    err, msg = 0, ""
    for f, v in peer.pb_fields(body):
        if f == 1:
            err = v - (1 << 64) if v >= 1 << 63 else v
        elif f == 2:
            msg = v.decode(errors="replace")
    return err, msg


def test(net):
    net.start()
    a, b = net[A], net[B]
    doc = net.file("request.txt", b"Request for bank records.\n")
    single = a.submit(B, doc, key="single-key")

    path = net.file("batch.jsonl", batch_lines(doc))
    rc, out, err = a.cli("submit", "--batch", path)
    check(rc == EX_NOHOST, "batch with an unknown authority exited %d, not "
          "%d: %s" % (rc, EX_NOHOST, err.strip()))
    rows = [json.loads(line) for line in out.split("\n") if line]
    check(len(rows) == N, "%d result lines for %d requests" % (len(rows), N))
    for i, r in enumerate(rows, 1):
        check(set(r) == {"line", "id", "existed", "error"},
              "line %d: fields %s" % (i, sorted(r)))
        check(r["line"] == i, "result %d names line %r" % (i, r["line"]))
    bad = rows[BAD - 1]
    check(bad["id"] is None and not bad["existed"] and
          bad["error"] == "ZZ-NOBODY is not in the directory",
          "the bad request's result: %s" % bad)
    check("batch.jsonl:%d: ZZ-NOBODY is not in the directory" % BAD in err,
          "stderr does not name the bad line: %r" % err)
    ids = {}
    for r in rows:
        if r["line"] == BAD:
            continue
        check(r["error"] is None and len(r["id"] or "") == 32,
              "line %d failed: %s" % (r["line"], r))
        ids[r["line"]] = r["id"]
    check(ids[SINGLE] == single and rows[SINGLE - 1]["existed"],
          "the single submit's key gave %s (existed %s), not %s"
          % (ids[SINGLE], rows[SINGLE - 1]["existed"], single))
    check(ids[DUP[1]] == ids[DUP[0]] and rows[DUP[1] - 1]["existed"] and
          not rows[DUP[0] - 1]["existed"],
          "a key given twice in the batch: %s then %s"
          % (rows[DUP[0] - 1], rows[DUP[1] - 1]))
    new = {i: x for i, x in ids.items() if i not in (SINGLE, DUP[1])}
    check(len(set(new.values())) == N - 3,
          "%d distinct new ids, not %d" % (len(set(new.values())), N - 3))
    check(sum(1 for r in rows if r["existed"]) == 2,
          "existed set on other lines than %d and %d" % (SINGLE, DUP[1]))
    wait_until(lambda: "op=submit-batch count=%d ok=%d failed=1 existed=2: "
               "item %d rc=-11: ZZ-NOBODY is not in the directory"
               % (N, N - 1, BAD) in a.log_text(), 10, "the batch's log line")

    # each id is its own request: the outbox holds it with its line's case
    out_rows = {r["id"]: r for r in a.outbox()}
    check(len(out_rows) == N - 2, "outbox holds %d items, not %d"
          % (len(out_rows), N - 2))
    for i, x in new.items():
        check(out_rows[x]["case"] == "AA/2026/%d" % i,
              "line %d's id %s has case %r" % (i, x, out_rows[x]["case"]))
    all_ids = set(new.values()) | {single}
    wait_delivered(a, all_ids, timeout=120)
    check_exactly_once(b, a, all_ids)

    # the same batch again: every key is known, nothing new
    rc, out, err = a.cli("submit", "--batch", path, json_out=False)
    check(rc == EX_NOHOST, "repeated batch exited %d: %s" % (rc, err.strip()))
    lines = out.split("\n")[:-1]
    check(len(lines) == N, "%d text lines for %d requests" % (len(lines), N))
    for i, line in enumerate(lines, 1):
        want = "-" if i == BAD else ids[i]
        check(line == want, "repeated batch, line %d: %r, not %r"
              % (i, line, want))
    wait_until(lambda: "op=submit-batch count=%d ok=%d failed=1 existed=%d"
               % (N, N - 1, N - 1) in a.log_text(), 10,
               "the repeated batch's log line")
    check(len(a.outbox()) == N - 2, "a repeated batch queued something")

    # a request the library refuses fails alone
    path2 = net.file("mixed.jsonl",
                     json.dumps({"to": "not an id", "type": "mla",
                                 "files": [doc]}) + "\n\n" +
                     json.dumps({"to": B, "type": "other", "urgent": True,
                                 "key": "mixed-2", "files": [doc]}) + "\n")
    rc, out, err = a.cli("submit", "--batch", path2)
    check(rc == EX_DATAERR, "mixed batch exited %d: %s" % (rc, err.strip()))
    rows = [json.loads(line) for line in out.split("\n") if line]
    check(len(rows) == 2 and rows[0]["line"] == 1 and rows[1]["line"] == 3,
          "mixed batch results: %s" % rows)
    check(rows[0]["id"] is None and
          rows[0]["error"] == "invalid recipient authority id",
          "the refused request: %s" % rows[0])
    check(rows[1]["error"] is None and len(rows[1]["id"]) == 32,
          "the good request: %s" % rows[1])
    check(a.status(rows[1]["id"])["priority"] == "urgent",
          "the urgent field was lost")
    count = len(a.outbox())

    # a malformed file submits nothing
    path3 = net.file("typo.jsonl",
                     json.dumps({"to": B, "type": "mla", "files": [doc]}) +
                     "\n" + json.dumps({"to": B, "tpye": "mla",
                                        "files": [doc]}) + "\n")
    rc, _, err = a.cli("submit", "--batch", path3)
    check(rc == EX_DATAERR and "typo.jsonl:2: unknown field tpye" in err,
          "a misspelt field: rc %d, %r" % (rc, err))
    rc, _, err = a.cli("submit", "--batch", path3, "--to", B)
    check(rc == EX_USAGE and "--batch" in err, "--batch with --to: rc %d, %r"
          % (rc, err))

    # above the bound: refused with a clear error, nothing queued
    path4 = net.file("big.jsonl", batch_lines(doc, BATCH_MAX + 1)
                     .replace("ZZ-NOBODY", B).replace("t24-", "big-"))
    rc, _, err = a.cli("submit", "--batch", path4)
    check(rc == EX_DATAERR and "more than %d requests" % BATCH_MAX in err,
          "a batch of %d: rc %d, %r" % (BATCH_MAX + 1, rc, err))
    code, msg = raw_batch(a.sock, BATCH_MAX + 1)
    check(code == -12 and msg == "batch of %d requests: at most %d in one "
          "batch" % (BATCH_MAX + 1, BATCH_MAX),
          "the daemon answered a raw batch of %d with %d %r"
          % (BATCH_MAX + 1, code, msg))
    check(len(a.outbox()) == count, "a refused batch queued something")
    a.ok("peers")
    rc = a.stop()
    check(rc == 0 and "Sanitizer" not in a.log_text(),
          "%s stopped with %s:\n%s" % (A, rc, a.log_tail()))


run(test)
