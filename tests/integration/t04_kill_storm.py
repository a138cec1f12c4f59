"""kill -9 storm: 300 requests A -> B while a seeded nemesis kills the
sender and the receiver in turn (every 0.3-1.5 s) and restarts each at
once.  The client keeps a ledger of the ids `submit` accepted; a submit
that fails (the sender is down, or dies under it) is retried with the same
idempotency key, so that a request stored before the crash is not stored
twice.  Afterwards every ledger id is DELIVERED at A, B's inbox holds each
exactly once, and neither side holds anything outside the ledger.

COMITY_SEED=N replays a run."""

import os
import random
import threading
import time

from harness import (TestFailure, check, check_exactly_once, log, run,
                     wait_delivered)

REQUESTS = 300
MIN_KILLS = 16          # the storm goes on at least this long
STORM_MAX = 100         # seconds
TOTAL_MAX = 240         # seconds, the whole test
PAUSE = (0.3, 1.5)      # seconds between kills
PACE = 0.06             # seconds between submits, so they meet the storm


class Nemesis(threading.Thread):
    def __init__(self, rng, victims):
        super().__init__(daemon=True)
        self.rng = rng
        self.victims = victims
        self.halt = threading.Event()
        self.kills = {d.id: 0 for d in victims}
        self.error = None

    @property
    def total(self):
        return sum(self.kills.values())

    def run(self):
        turn = self.rng.randrange(2)
        try:
            while not self.halt.wait(self.rng.uniform(*PAUSE)):
                d = self.victims[turn]
                turn ^= 1
                if not d.running():
                    raise TestFailure("%s died by itself (status %s)"
                                      % (d.id, d.proc.returncode))
                d.kill9()
                self.kills[d.id] += 1
                d.start()       # at once; waits until it is ready
        except Exception as e:  # reported by the main thread
            self.error = e

    def stop(self):
        self.halt.set()
        self.join(60)
        check(not self.is_alive(), "the nemesis did not stop")
        if self.error is not None:
            raise self.error


def test(net):
    t_start = time.monotonic()
    seed = int(os.environ.get("COMITY_SEED", random.randrange(1 << 32)))
    log("seed %d (COMITY_SEED=%d replays the schedule)" % (seed, seed))
    rng = random.Random(seed)
    a, b = net["AA-ONE"], net["BB-TWO"]
    doc = net.file("exhibit.bin", rng.randbytes(16 * 1024))
    net.start()

    nemesis = Nemesis(rng, [a, b])
    nemesis.start()
    ledger = {}             # idempotency key -> id
    failures = 0
    storm_end = t_start + STORM_MAX
    try:
        t_submit = time.monotonic()
        while (len(ledger) < REQUESTS and time.monotonic() < storm_end
               and nemesis.error is None):
            n = len(ledger)
            key = "storm-%03d" % n
            delay = t_submit + n * PACE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            extra = ["--case", key] + (["--urgent"] if n % 10 == 0 else [])
            ident = a.try_submit("BB-TWO", doc, key=key, extra=extra,
                                 timeout=20)
            if ident is None:
                failures += 1
                time.sleep(0.02)
                continue
            check(ident not in ledger.values(),
                  "key %s got the id %s of another request" % (key, ident))
            ledger[key] = ident
        t_submit = time.monotonic() - t_submit
        while (nemesis.total < MIN_KILLS and time.monotonic() < storm_end
               and nemesis.error is None):
            time.sleep(0.1)
    finally:
        nemesis.stop()
    storm = time.monotonic() - t_start
    kills = ", ".join("%s %d" % kv for kv in nemesis.kills.items())
    log("storm: %.1fs, %d kills (%s), %d accepted in %.1fs, %d failed "
        "submits" % (storm, nemesis.total, kills, len(ledger), t_submit,
                     failures))
    check(len(ledger) == REQUESTS, "only %d of %d requests accepted in %ds"
          % (len(ledger), REQUESTS, STORM_MAX))
    check(nemesis.total >= MIN_KILLS, "only %d kills" % nemesis.total)

    for d in (a, b):
        check(d.running(), "%s died by itself (status %s)"
              % (d.id, d.proc.returncode))
    ids = list(ledger.values())
    budget = TOTAL_MAX - (time.monotonic() - t_start) - 10
    wait_delivered(a, ids, timeout=max(budget, 30))
    check_exactly_once(b, a, ids)
    outbox = {r["id"] for r in a.outbox()}
    check(outbox == set(ids), "sender outbox holds %d requests outside the "
          "ledger, e.g. %s" % (len(outbox - set(ids)),
                               sorted(outbox - set(ids))[:3]))
    # Each request kept its own idempotency key (the case carries it) and
    # its priority.
    inbox = {r["id"]: r for r in b.inbox()}
    wrong = [k for k, i in ledger.items()
             if inbox[i]["case"] != k or inbox[i]["priority"] !=
             ("urgent" if int(k[-3:]) % 10 == 0 else "normal")]
    check(not wrong, "inbox items with the wrong case or priority: %s"
          % wrong[:3])
    # The queue counters live in the same transactions as the queue: no
    # kill left one counted twice or not at all.
    p = a.peer(b.id)
    check(p["queued"] == 0 and p["queued_urgent"] == 0,
          "%s still counts %s queued (%s urgent) after every delivery"
          % (a.id, p["queued"], p["queued_urgent"]))

    for d in (a, b):
        rc = d.stop()
        check(rc == 0, "%s exited %s on SIGTERM after the storm" % (d.id, rc))
    log("done in %.1fs: seed %d, %d kills, %d requests delivered once"
        % (time.monotonic() - t_start, seed, nemesis.total, len(ids)))


run(test)
