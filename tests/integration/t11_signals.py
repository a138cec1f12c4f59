"""Signals.  SIGHUP reloads the directory: a third authority added on disk
becomes known (and reachable); a bad directory on SIGHUP is refused with a
log line and the old one stays in force.  SIGTERM while requests are in
flight, on the sender and then on the receiver: exit status 0 at once, and
after the restart every request is delivered exactly once."""

import os
import signal
import time

from harness import (check, check_exactly_once, log, run, wait_delivered,
                     wait_until)


def directory_ids(d):
    return sorted(e["id"] for e in d.jsonl("directory"))


def sighup(d, expect):
    """SIGHUP D; wait for the log line saying EXPECT; return it."""
    before = d.run_log_text().count(expect)
    d.signal(signal.SIGHUP)

    def line():
        lines = [ln for ln in d.run_log_text().splitlines() if expect in ln]
        return len(lines) > before and lines[-1]
    return wait_until(line, 10, "%r in the log of %s" % (expect, d.id))


def sigterm(d):
    """SIGTERM D: status 0 within 5 s, "stopped" the last log line."""
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(timeout=15)
    took = time.monotonic() - t0
    check(rc == 0, "%s exited %d on SIGTERM" % (d.id, rc))
    check(took < 5, "%s took %.1fs to stop" % (d.id, took))
    last = d.run_log_text().rstrip().splitlines()[-1]
    check(last.endswith(": stopped"), "%s: last log line %r" % (d.id, last))
    return took


def reload_directory(net, a, b):
    f = net.file("request.txt", "Request for assistance.\n")
    check(directory_ids(a) == ["AA-ONE", "BB-TWO"], "initial directory %s"
          % directory_ids(a))
    rc, _, err = a.cli("submit", "--to", "CC-THREE", "--type", "mla", f,
                       json_out=False)
    check(rc != 0 and err.strip(), "submit to an unknown authority: rc %d"
          % rc)

    # A third authority appears in the directory file; SIGHUP.
    c = net.add_authority("CC-THREE")
    line = sighup(a, "reloaded")
    check("3 authorities" in line, "reload line %r" % line)
    check(directory_ids(a) == ["AA-ONE", "BB-TWO", "CC-THREE"],
          "directory after SIGHUP: %s" % directory_ids(a))
    to_c = [a.submit("CC-THREE", f), a.submit("CC-THREE", f, urgent=True)]
    check(a.peer("CC-THREE")["queued"] == 2, "peers for the new authority: "
          "%s" % a.peer("CC-THREE"))
    c.start()
    wait_delivered(a, to_c)
    check_exactly_once(c, a, to_c)

    # Bad directories on SIGHUP: refused, the old one stays.
    good = open(net.directory).read()
    bad_dirs = {
        "garbled": good + "\n[DD-FOUR\nname = x\n",
        "missing cert": good.replace(net.cert("CC-THREE"),
                                     os.path.join(net.root, "gone.pem")),
        "unknown key": good + "\n[DD-FOUR]\nname = x\ncolour = blue\n",
    }
    for what, text in bad_dirs.items():
        with open(net.directory, "w") as fh:
            fh.write(text)
        line = sighup(a, "reload refused")
        check("stays" in line and net.directory in line,
              "refused reload (%s) logged %r" % (what, line))
        check(a.running(), "a bad directory (%s) on SIGHUP stopped the "
              "daemon" % what)
        check(directory_ids(a) == ["AA-ONE", "BB-TWO", "CC-THREE"],
              "directory after a refused reload (%s): %s"
              % (what, directory_ids(a)))
        log("refused reload (%s): %s" % (what, line.split(": ", 1)[-1]))
    more = [a.submit("CC-THREE", f), a.submit("BB-TWO", f)]
    wait_delivered(a, more)
    check_exactly_once(c, a, to_c + more[:1])

    with open(net.directory, "w") as fh:
        fh.write(good)
    sighup(a, "reloaded")
    c.stop()


def sigterm_in_flight(net, a, b):
    f = net.file("exhibit.bin", os.urandom(256 * 1024))
    # Enough that some are still on their way at each SIGTERM: links now
    # move 60 of these (15 MiB) in less time than the sender's restart.
    n = 240
    check(b.stop() == 0, "receiver did not stop cleanly")
    ledger = [a.submit("BB-TWO", f) for _ in range(n)]

    def delivered():
        return [r["id"] for r in a.outbox() if r["to"] == "BB-TWO" and
                r["id"] in ledger and r["state"] == "DELIVERED"]

    # SIGTERM the sender as its first receipts come in.
    b.start()
    got = wait_until(delivered, 30, "a first delivery", interval=0.01)
    took = sigterm(a)
    check(len(got) < n, "all %d delivered before SIGTERM: nothing was in "
          "flight" % n)
    log("sender stopped in %.2fs with %d of %d delivered" % (took, len(got),
                                                             n))
    a.start()
    now = delivered()
    check(set(got) <= set(now), "DELIVERED lost across SIGTERM: %s"
          % sorted(set(got) - set(now))[:3])

    # SIGTERM the receiver while it takes in the rest.
    start = len(now)
    got = wait_until(lambda: len(delivered()) > start and delivered(), 30,
                     "deliveries after the sender's restart", interval=0.01)
    took = sigterm(b)
    check(len(got) < n, "all %d delivered before the receiver's SIGTERM"
          % n)
    log("receiver stopped in %.2fs with %d of %d delivered"
        % (took, len(got), n))
    b.start()
    wait_delivered(a, ledger, timeout=60)
    check_exactly_once(b, a, ledger)
    for d in (a, b):
        sigterm(d)


def test(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    net.start()
    reload_directory(net, a, b)
    sigterm_in_flight(net, a, b)


run(test)
