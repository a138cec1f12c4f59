"""The send window ([limits] window, WINDOW_BYTES, URGENT_WINDOW), as
`comity peers` on the sender shows it (in_flight: sent, not receipted).

1. Count: A with [limits] window = 4, B down; A queues 60 small
   requests, then B starts.  Polled every few ms while they flow, A never
   has more than 4 in flight (and the window is used: more than one at
   some point); all are delivered exactly once.
2. Urgent beyond a full window: B is stopped (SIGSTOP) with the link up,
   so that nothing is acknowledged.  A queues 6 normal requests: exactly
   4 go out and stay in flight.  An urgent request then goes out beyond
   the full window (5 in flight), and no normal one follows it.  After
   SIGCONT all are delivered exactly once.
3. Bytes: A back at the default window (256), B down; A queues 40
   requests of a 1 MiB document each, then B starts.  Normal envelopes
   stop at about WINDOW_BYTES (8 MiB) in flight: polled while they flow,
   never more than 9 (8 MiB / 1 MiB, plus one); all delivered exactly
   once.
"""

import os
import signal
import threading
import time

from harness import (check, check_exactly_once, log, run, wait_delivered,
                     wait_until)

A, B = "AA-ONE", "BB-TWO"
SMALL_WINDOW = 4
SMALL_N = 60
STALLED_N = 6
BIG_N = 40
BIG_SIZE = 1 << 20
WINDOW_BYTES = 8 << 20
BYTES_MAX = WINDOW_BYTES // BIG_SIZE + 1


class InFlight:
    """Poll A's in_flight for B on a thread until stopped; keep the
    largest value seen and how many samples showed any in flight."""

    def __init__(self, a, limit_s=90):
        self.a = a
        self.max = 0
        self.busy = 0
        self.samples = 0
        self.first_over = None
        self.error = None
        self.done = threading.Event()
        self.deadline = time.monotonic() + limit_s
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.done.is_set() and \
                    time.monotonic() < self.deadline:
                n = self.a.peer(B)["in_flight"]
                self.samples += 1
                if n > 0:
                    self.busy += 1
                if n > self.max:
                    self.max = n
                time.sleep(0.003)
        except Exception as e:          # reported by stop()
            self.error = e

    def stop(self):
        self.done.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "the in_flight poller hung")
        if self.error is not None:
            raise self.error
        return self


def watched(poll):
    """The poller saw the flow, and more than one request in flight."""
    check(poll.busy > 0 and poll.max >= 2, "the poller saw at most %d in "
          "flight (in %d of %d samples): it did not watch the flow"
          % (poll.max, poll.busy, poll.samples))


def reload(d, extra):
    before = d.run_log_text().count(": reloaded ")
    d.write_conf(extra)
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.run_log_text().count(": reloaded ") > before, 10,
               "%s reloaded" % d.id)


def flow(a, b, ids, timeout):
    """Start B and poll A's in_flight until IDS are all delivered."""
    poll = InFlight(a)
    try:
        b.start()
        wait_delivered(a, ids, timeout=timeout)
    finally:
        poll.stop()
    check_exactly_once(b, a, ids)
    return poll


def count_window(net, a, b):
    f = net.file("small.txt", "Request for one bank statement.\n")
    ids = [a.submit(B, f, extra=["--case", "W/%02d" % i])
           for i in range(SMALL_N)]
    p = a.peer(B)
    check(p["up"] is False and p["queued"] == SMALL_N and
          p["in_flight"] == 0, "peers with B down: %s" % p)
    poll = flow(a, b, ids, 60)
    log("1. window %d: at most %d in flight over %d samples (%d busy)"
        % (SMALL_WINDOW, poll.max, poll.samples, poll.busy))
    check(poll.max <= SMALL_WINDOW, "%d in flight with [limits] window = %d"
          % (poll.max, SMALL_WINDOW))
    watched(poll)


def urgent_beyond(net, a, b):
    f = net.file("stalled.txt", "Request while the receiver stalls.\n")
    check(a.peer(B)["up"] is True and a.peer(B)["in_flight"] == 0,
          "before the stall: %s" % a.peer(B))
    b.signal(signal.SIGSTOP)
    try:
        ids = [a.submit(B, f, extra=["--case", "S/%d" % i])
               for i in range(STALLED_N)]
        wait_until(lambda: a.peer(B)["in_flight"] >= SMALL_WINDOW, 10,
                   "%d in flight to the stopped receiver" % SMALL_WINDOW,
                   interval=0.02)
        time.sleep(0.5)
        p = a.peer(B)
        check(p["in_flight"] == SMALL_WINDOW and p["queued"] == STALLED_N,
              "window %d, receiver stopped, %d queued: %s"
              % (SMALL_WINDOW, STALLED_N, p))
        urgent = a.submit(B, f, urgent=True, extra=["--case", "S/URG"])
        wait_until(lambda: a.peer(B)["in_flight"] > SMALL_WINDOW, 10,
                   "the urgent request in flight beyond the window",
                   interval=0.02)
        time.sleep(0.5)
        p = a.peer(B)
        check(p["in_flight"] == SMALL_WINDOW + 1 and
              p["queued"] == STALLED_N + 1 and p["queued_urgent"] == 1,
              "after an urgent submit beyond the full window: %s" % p)
        check(a.status(urgent)["state"] == "SENT",
              "the urgent request is %s" % a.status(urgent)["state"])
    finally:
        b.signal(signal.SIGCONT)
    ids.append(urgent)
    wait_delivered(a, ids, timeout=30)
    check_exactly_once(b, a, ids)
    log("2. receiver stopped: %d of %d normal in flight, then the urgent "
        "one beyond the window: %d" % (SMALL_WINDOW, STALLED_N,
                                       SMALL_WINDOW + 1))


def byte_window(net, a, b):
    f = net.file("exhibit.bin", os.urandom(BIG_SIZE))
    ids = [a.submit(B, f, extra=["--case", "X/%02d" % i])
           for i in range(BIG_N)]
    p = a.peer(B)
    check(p["up"] is False and p["queued"] == BIG_N and
          p["in_flight"] == 0, "peers with B down: %s" % p)
    poll = flow(a, b, ids, 90)
    log("3. %d x 1 MiB: at most %d in flight over %d samples (%d busy)"
        % (BIG_N, poll.max, poll.samples, poll.busy))
    check(poll.max <= BYTES_MAX, "%d documents of 1 MiB in flight at once, "
          "above %d MiB in flight" % (poll.max, WINDOW_BYTES >> 20))
    watched(poll)


def test(net):
    a, b = net[A], net[B]
    a.write_conf({"limits": {"window": str(SMALL_WINDOW)}})
    a.start()
    count_window(net, a, b)
    urgent_beyond(net, a, b)
    check(b.stop() == 0, "%s did not stop cleanly" % B)
    reload(a, {"limits": {"window": None}})
    byte_window(net, a, b)
    p = a.peer(B)
    check(p["in_flight"] == 0 and p["queued"] == 0, "after the flows: %s"
          % p)
    for d in (a, b):
        check(d.stop() == 0 and "Sanitizer" not in d.log_text(),
              "%s stopped with an error:\n%s" % (d.id, d.log_tail()))


run(test)
