"""Queued requests survive a sender restart; delivered requests survive a
kill -9 of the receiver; SIGTERM stops a daemon promptly with status 0."""

import os
import time

from harness import (check, check_exactly_once, run, wait_delivered,
                     wait_until)


def stop_clean(d):
    """SIGTERM D: it must exit 0 within 5 s and say "stopped"."""
    t0 = time.monotonic()
    rc = d.stop(timeout=15)
    took = time.monotonic() - t0
    check(rc == 0, "%s exited %s on SIGTERM" % (d.id, rc))
    check(took < 5, "%s took %.1fs to stop on SIGTERM" % (d.id, took))
    last = d.log_text().rstrip().splitlines()[-1]
    check(last.endswith(": stopped"), "%s log does not end with 'stopped': "
          "%r" % (d.id, last))
    return took


def test(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    f = net.file("request.txt", "Request for assistance.\n" * 100)

    # 1. Queued while the receiver is down; the sender restarts.
    a.start()
    queued = [a.submit("BB-TWO", f) for _ in range(8)]
    queued.append(a.submit("BB-TWO", f, urgent=True))
    took = stop_clean(a)
    print("sender stopped in %.2fs with %d queued" % (took, len(queued)))
    a.start()
    rows = {r["id"]: r for r in a.outbox()}
    check(set(rows) == set(queued), "outbox after restart: %d items, want %d"
          % (len(rows), len(queued)))
    for i in queued:
        check(rows[i]["state"] == "QUEUED", "%s is %s after a restart"
              % (i, rows[i]["state"]))
    check(a.peer("BB-TWO")["queued"] == len(queued),
          "peers after restart: %s" % a.peer("BB-TWO"))
    b.start()
    wait_delivered(a, queued, timeout=30)
    check_exactly_once(b, a, queued)

    # 2. kill -9 of the receiver right after it reported delivery: what it
    # acknowledged is still in its inbox after the restart.  The batch
    # waits for the receiver, so that the kill lands while it flows.
    stop_clean(b)
    big = net.file("exhibit.bin", os.urandom(256 * 1024))
    batch = [a.submit("BB-TWO", big) for _ in range(40)]
    b.start()

    def some_delivered():
        st = {r["id"]: r["state"] for r in a.outbox()}
        return [i for i in batch if st.get(i) == "DELIVERED"]
    wait_until(some_delivered, 30, "a first DELIVERED of the batch",
               interval=0.01)
    b.kill9()
    acked = some_delivered()
    print("receiver killed with %d of %d delivered" % (len(acked),
                                                      len(batch)))
    b.start()
    inbox = {r["id"] for r in b.inbox()}
    lost = [i for i in acked if i not in inbox]
    check(not lost, "%d DELIVERED requests missing from the inbox after "
          "kill -9 of the receiver, e.g. %s" % (len(lost), lost[:3]))
    wait_delivered(a, batch, timeout=30)
    check_exactly_once(b, a, queued + batch)

    # 3. A second kill -9 once everything is delivered, then a clean stop
    # of both.
    b.kill9()
    b.start()
    check_exactly_once(b, a, queued + batch)
    check(len(b.inbox()) == len(queued) + len(batch),
          "inbox size changed across kill -9")
    stop_clean(a)
    stop_clean(b)


run(test)
