"""Listings page through a long log whatever the filter.  With 2,300
requests in the outbox and only the first and the last urgent, `outbox
--urgent` gives exactly those two, in order, although the daemon looks at
no more than 2,048 log records for one page (LIST_SCAN_MAX, bounds.h) and
answers a page with nothing in it on the way; the whole outbox lists
every request once, the single submits before and after the batches
first and last; the receiver's inbox pages the same way once everything
is delivered.
"""

import json

from harness import check, run, wait_until

A, B = "AA-ONE", "BB-TWO"
N = 2300            # more than one scan's worth between the two urgent ones
BATCH = 256         # requests per `submit --batch`


def test(net):
    net.start()
    a, b = net[A], net[B]
    doc = net.file("request.txt", b"Request for bank records.\n")
    first = a.submit(B, doc, urgent=True)
    ids = [first]
    for k in range(0, N, BATCH):
        lines = "".join(json.dumps({"to": B, "type": "mla",
                                    "case": "AA/2026/%d" % i,
                                    "files": [doc]}) + "\n"
                        for i in range(k, min(k + BATCH, N)))
        out = a.ok("submit", "--batch", net.file("b%d.jsonl" % k, lines))
        rows = [json.loads(line) for line in out.split("\n") if line]
        check(all(r["error"] is None for r in rows), "a batch failed: %s"
              % [r for r in rows if r["error"] is not None][:1])
        ids += [r["id"] for r in rows]
    last = a.submit(B, doc, urgent=True)
    ids.append(last)
    check(len(set(ids)) == N + 2, "%d distinct ids for %d requests"
          % (len(set(ids)), N + 2))

    urgent = [r["id"] for r in a.outbox("--urgent")]
    check(urgent == [first, last], "outbox --urgent gave %d rows: %s"
          % (len(urgent), urgent[:4]))
    # a batch's requests are logged as each one's commit comes, not
    # in the order of its lines; the single submits before and after
    # come first and last
    listed = [r["id"] for r in a.outbox()]
    check(len(listed) == N + 2 and set(listed) == set(ids) and
          listed[0] == first and listed[-1] == last,
          "the outbox listed %d rows, %d distinct, first %s last %s"
          % (len(listed), len(set(listed)), listed[:1], listed[-1:]))

    wait_until(lambda: len(b.inbox()) == N + 2, 300,
               "every request in %s's inbox" % B)
    urgent = [r["id"] for r in b.inbox("--urgent")]
    check(urgent == [first, last], "inbox --urgent gave %d rows: %s"
          % (len(urgent), urgent[:4]))
    for d in (a, b):
        rc = d.stop()
        check(rc == 0 and "Sanitizer" not in d.log_text(),
              "%s stopped with %s:\n%s" % (d.id, rc, d.log_tail()))


run(test)
