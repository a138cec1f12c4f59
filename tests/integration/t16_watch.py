"""comity watch: arrivals and receipts pushed as they happen, to many
watchers at once, with the --urgent filter; a stopped watcher is dropped
with a clear message while the daemon goes on at full speed.

1. Two watchers on B (one --urgent) and one on A.  A submits a normal and
   an urgent request: B's watchers see ARRIVED (the urgent one only the
   urgent item), A's sees STATE DELIVERED for both; after B acks the
   normal one, A sees RETRIEVED.  Each event is read within a second of
   the change it reports: pushed, not polled.
2. A third watcher on B is stopped (SIGSTOP) while 2000 requests with
   long case references flow: B drops it (a warning in its log), submits
   go on at the rate they had before, and the watchers that read see
   every arrival at once (within 2 s under that load).  Resumed, the
   stopped watcher prints what was queued for it, then the DROPPED event,
   and exits 75 with the reason.
3. SIGINT ends a watcher with status 0, and the daemon forgets it.
"""

import calendar
import concurrent.futures
import json
import signal
import subprocess
import threading
import time

from harness import (COMITY, EX_TEMPFAIL, TestFailure, check, log, run,
                     wait_delivered)

PROMPT = 1.0            # seconds: an event is read this soon after its change
PROMPT_LOADED = 2.0     # the same while 8 submits at a time keep CPUs busy
FLOOD = 2000            # requests sent while a watcher is stopped
WORKERS = 8             # concurrent `comity submit` processes


class Watcher:
    """`comity --json watch` on DAEMON, its lines parsed as they come."""

    def __init__(self, daemon, urgent=False):
        argv = [COMITY, "--socket", daemon.sock, "--json", "watch"]
        if urgent:
            argv.append("--urgent")
        self.name = "%s%s" % (daemon.id, " --urgent" if urgent else "")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.events = []        # (wall-clock time read, event), all of them
        self.ended = False
        self.lock = threading.Lock()
        self.thr = threading.Thread(target=self._read, daemon=True)
        self.thr.start()
        self.wait_for(lambda e: True, 10, "SUBSCRIBED")
        first = self.events[0][1]
        check(first["kind"] == "SUBSCRIBED",
              "%s: first event %s" % (self.name, first))

    def _read(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            with self.lock:
                self.events.append((time.time(), ev))
        self.ended = True

    def wait_for(self, pred, timeout, what):
        """The first event read so far or within TIMEOUT for which PRED
        holds (events are timed by the reader thread, not by this loop)."""
        deadline = time.monotonic() + timeout
        while True:
            hits = self.seen(pred)
            if hits:
                return hits[0][1]
            check(not self.ended, "%s: the watch ended while waiting for "
                  "%s" % (self.name, what))
            check(time.monotonic() < deadline, "%s: no %s within %ss"
                  % (self.name, what, timeout))
            time.sleep(0.01)

    def seen(self, pred):
        with self.lock:
            return [(t, ev) for t, ev in self.events if pred(ev)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def ns(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time with milliseconds."""
    date, frac = rfc3339.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return secs + int(frac) / 1000.0


def prompt(w, ev, read_at, field, within=PROMPT):
    """EV (read at READ_AT) came WITHIN seconds of the item's FIELD time."""
    changed = ns(ev[field])
    check(read_at - changed < within,
          "%s: %s %s of %s read %.2fs after %s"
          % (w.name, ev["kind"], ev["state"], ev["id"], read_at - changed,
             field))


def event(ident, kind, state=None):
    return lambda ev: (ev.get("id") == ident and ev["kind"] == kind and
                       (state is None or ev["state"] == state))


def flood(a, f, n, case):
    """Submit N requests from A with WORKERS at once; return (ids, s)."""
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        ids = list(pool.map(lambda i: a.submit("BB-TWO", f, extra=[
            "--case", "%s-%05d" % (case, i)]), range(n)))
    return ids, time.monotonic() - t0


def test(net):
    net.start()
    a, b = net["AA-ONE"], net["BB-TWO"]
    f = net.file("request.txt", "Request for assistance, case W/1.\n")
    watchers = []
    try:
        run_watch(net, a, b, f, watchers)
    finally:
        for w in watchers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)
                w.proc.kill()
                w.proc.wait()


def run_watch(net, a, b, f, watchers):
    # -- 1. the three watchers, the filter, promptness --------------------
    wb, wbu, wa = Watcher(b), Watcher(b, urgent=True), Watcher(a)
    watchers += [wb, wbu, wa]
    normal = a.submit("BB-TWO", f, extra=["--case", "W/1"])
    urgent = a.submit("BB-TWO", f, urgent=True, extra=["--case", "W/2"])

    for ident, prio in ((normal, "normal"), (urgent, "urgent")):
        ev = wb.wait_for(event(ident, "ARRIVED"), 30, "ARRIVED " + prio)
        check(ev["state"] == "RECEIVED" and ev["from"] == "AA-ONE" and
              ev["to"] == "BB-TWO" and ev["priority"] == prio and
              ev["type"] == "mla" and ev["box"] == "in",
              "ARRIVED event on B: %s" % ev)
        check(ev["case"] == ("W/1" if prio == "normal" else "W/2"),
              "case in %s" % ev)
        ev = wa.wait_for(event(ident, "STATE", "DELIVERED"), 30,
                         "DELIVERED " + prio)
        check(ev["detail"] == "delivered" and ev["box"] == "out" and
              ev["delivered_at"], "DELIVERED event on A: %s" % ev)
    ev = wbu.wait_for(lambda e: e.get("id") is not None, 10,
                      "an event on the urgent watcher")
    check(ev["id"] == urgent and ev["kind"] == "ARRIVED",
          "the urgent watcher's first event is %s" % ev)

    # every event was read within PROMPT of the change it reports
    for t, ev in wb.seen(lambda e: e["kind"] == "ARRIVED"):
        prompt(wb, ev, t, "received_at")
    for t, ev in wa.seen(lambda e: e["kind"] == "STATE"):
        check(ev["state"] == "DELIVERED", "A's event %s" % ev)
        prompt(wa, ev, t, "delivered_at")

    b.ok("ack", normal, json_out=False)
    acked = time.time()
    ev = wa.wait_for(event(normal, "STATE", "RETRIEVED"), 30,
                     "RETRIEVED on A")
    check(ev["detail"] == "retrieved" and ev["retrieved_at"],
          "RETRIEVED event on A: %s" % ev)
    t, ev = wa.seen(event(normal, "STATE", "RETRIEVED"))[0]
    prompt(wa, ev, t, "retrieved_at")
    check(t - acked < 2 * PROMPT, "RETRIEVED read %.2fs after the ack"
          % (t - acked))
    ev = wb.wait_for(event(normal, "STATE", "RETRIEVED"), 10,
                     "RETRIEVED on B")
    check(ev["box"] == "in", "B's RETRIEVED event: %s" % ev)
    check(not wbu.seen(lambda e: e.get("id") == normal),
          "the urgent watcher saw the normal request: %s"
          % wbu.seen(lambda e: e.get("id") == normal))
    log("watchers: ARRIVED, DELIVERED, RETRIEVED pushed within %.1fs"
        % PROMPT)

    # -- 2. a stopped watcher while requests flow ---------------------------
    case = "x" * 1000           # events of ~1.2 KB: 2000 of them pass 1 MiB
    base_ids, base_s = flood(a, f, 300, case)
    wait_delivered(a, base_ids)
    base_rate = len(base_ids) / base_s
    stopped = Watcher(b)
    watchers.append(stopped)
    stopped.proc.send_signal(signal.SIGSTOP)
    ids, secs = flood(a, f, FLOOD, case)
    rate = len(ids) / secs
    log("submits: %.0f/s before, %.0f/s with a stopped watcher"
        % (base_rate, rate))
    # a daemon that waited for the watcher would all but stop; the margin
    # is for other work on the machine
    check(rate > base_rate / 3, "submits slowed from %.0f/s to %.0f/s with "
          "a stopped watcher" % (base_rate, rate))
    rows = wait_delivered(a, ids, timeout=120)
    check("watcher reads too slowly" in b.run_log_text(),
          "B did not log the drop:\n%s" % b.log_tail())

    # the reading watchers saw every arrival, each at once
    last = max(ns(rows[i]["delivered_at"]) for i in ids)
    want = set(ids)
    wait = time.monotonic() + 30
    while time.monotonic() < wait:
        got = {ev["id"] for _, ev in wb.seen(lambda e: e["kind"] ==
                                             "ARRIVED")}
        if want <= got:
            break
        time.sleep(0.1)
    arrived = wb.seen(lambda e: e["kind"] == "ARRIVED" and e["id"] in want)
    check(len(arrived) == FLOOD, "B's watcher saw %d of %d arrivals"
          % (len(arrived), FLOOD))
    late = [(t - ns(ev["received_at"]), ev["id"]) for t, ev in arrived
            if t - ns(ev["received_at"]) >= PROMPT_LOADED]
    check(not late, "%d arrivals read late, e.g. %.2fs for %s"
          % (len(late), *(late[0] if late else (0, ""))))
    delivered = {ev["id"] for _, ev in wa.seen(lambda e: e["kind"] == "STATE"
                                               and e["state"] == "DELIVERED")}
    check(want <= delivered, "A's watcher missed %d DELIVERED events"
          % len(want - delivered))
    check(not wbu.seen(lambda e: e.get("id") in want),
          "the urgent watcher saw normal requests")
    log("all %d arrivals read at once; the last delivered %.1fs ago"
        % (FLOOD, time.time() - last))

    # resumed, the dropped watcher gets what was queued, DROPPED, the end
    stopped.proc.send_signal(signal.SIGCONT)
    try:
        rc = stopped.proc.wait(30)
    except subprocess.TimeoutExpired:
        raise TestFailure("the dropped watcher is still running")
    stopped.thr.join(10)
    err = stopped.proc.stderr.read().decode(errors="replace")
    evs = [ev for _, ev in stopped.events]
    check(rc == EX_TEMPFAIL, "dropped watcher exited %d: %s" % (rc, err))
    check(evs and evs[-1]["kind"] == "DROPPED",
          "the dropped watcher's last event: %s" % (evs[-1:],))
    check("reading too slowly" in evs[-1]["detail"], "DROPPED detail %r"
          % evs[-1]["detail"])
    check("comity: watch: dropped: reading too slowly" in err,
          "dropped watcher's message: %r" % err)
    n = sum(1 for ev in evs if ev["kind"] == "ARRIVED")
    check(0 < n < FLOOD, "the dropped watcher got %d of %d arrivals"
          % (n, FLOOD))
    log("the stopped watcher was dropped after %d events: %s"
        % (n, err.strip()))

    # SIGINT ends a watcher with status 0; the daemon counts it gone
    for w in (wb, wbu, wa):
        rc = w.stop()
        check(rc == 0, "%s exited %d on SIGINT" % (w.name, rc))
    wait = time.monotonic() + 10
    while time.monotonic() < wait:
        if "stopped watching watchers=0" in b.run_log_text():
            break
        time.sleep(0.1)
    check("stopped watching watchers=0" in b.run_log_text(),
          "B still counts watchers")


run(test)
