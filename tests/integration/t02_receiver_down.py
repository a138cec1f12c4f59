"""Receiver down: requests wait QUEUED, `peers` says the link is down and
counts them (urgent apart), and once the receiver starts every one is
DELIVERED and in its inbox exactly once."""

import time

from harness import check, check_exactly_once, run, wait_delivered


def test(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    a.start()
    files = [net.file("req%d.txt" % i, "request %d\n" % i) for i in range(5)]
    normal = [a.submit("BB-TWO", f, extra=["--case", "AA/%d" % i])
              for i, f in enumerate(files)]
    urgent = a.submit("BB-TWO", files[0], urgent=True,
                      extra=["--case", "AA/urgent"])
    ids = normal + [urgent]
    check(len(set(ids)) == len(ids), "submit reused an id: %s" % ids)

    # Several dial attempts fail meanwhile ([retry] initial 50ms, max 500ms).
    time.sleep(2.0)
    for i in ids:
        st = a.status(i)
        check(st["state"] == "QUEUED",
              "%s is %s with the receiver down" % (i, st["state"]))
        check(st["delivered_at"] is None and st["sent_at"] is None,
              "%s has sent/delivered times with the receiver down: %s"
              % (i, st))
    check(a.status(urgent)["priority"] == "urgent", "urgent lost its priority")

    p = a.peer("BB-TWO")
    check(p["up"] is False, "link shown up with the receiver down: %s" % p)
    check(p["queued"] == 6 and p["queued_urgent"] == 1,
          "peers counts %s/%s queued/urgent, want 6/1"
          % (p["queued"], p["queued_urgent"]))
    check(p["in_flight"] == 0, "in flight with the receiver down: %s" % p)
    # A cancelled item leaves the counts, urgent or not.
    for pri in (False, True):
        extra = a.submit("BB-TWO", files[1], urgent=pri)
        q = a.peer("BB-TWO")
        check((q["queued"], q["queued_urgent"]) == (7, 1 + pri),
              "after one more submit: %s/%s queued/urgent"
              % (q["queued"], q["queued_urgent"]))
        a.ok("cancel", extra)
        q = a.peer("BB-TWO")
        check((q["queued"], q["queued_urgent"]) == (6, 1),
              "after its cancel: %s/%s queued/urgent"
              % (q["queued"], q["queued_urgent"]))
    check(p["oldest_queued_at"] and p["oldest_urgent_at"],
          "no age of the oldest waiting items: %s" % p)
    check(p["oldest_queued_at"] <= p["oldest_urgent_at"],
          "oldest waiting item younger than the urgent one: %s" % p)
    check(p["last_error"], "no last error on a link that cannot connect")
    check(p["last_contact_at"] is None, "contact with a daemon never started")
    text = a.ok("peers", json_out=False)
    row = [ln for ln in text.splitlines() if ln.startswith("BB-TWO")]
    check(row and row[0].split()[1] == "down",
          "peers text does not show the link down: %r" % text)

    t0 = time.monotonic()
    b.start()
    wait_delivered(a, ids, timeout=30)
    elapsed = time.monotonic() - t0
    rows = check_exactly_once(b, a, ids)
    check(len(rows) == len(ids), "receiver inbox has %d items, want %d"
          % (len(rows), len(ids)))
    by_id = {r["id"]: r for r in rows}
    check(by_id[urgent]["priority"] == "urgent", "urgent arrived as normal")
    for n, i in enumerate(normal):
        check(by_id[i]["case"] == "AA/%d" % n, "case of %s: %r"
              % (i, by_id[i]["case"]))
        check(by_id[i]["state"] == "RECEIVED", "inbox state %s" % by_id[i])

    p = a.peer("BB-TWO")
    check(p["up"] is True and p["queued"] == 0 and p["queued_urgent"] == 0,
          "after delivery peers shows %s" % p)
    check(p["last_contact_at"], "no last contact after delivery")
    print("delivered %d requests %.2fs after the receiver started"
          % (len(ids), elapsed))


run(test)
