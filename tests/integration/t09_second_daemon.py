"""A second comityd on the same store (the same configuration) refuses to
start with EX_TEMPFAIL and a clear "store in use" line, without touching
the first one's socket or store; the first keeps working."""

import os
import subprocess
import time

from harness import (COMITYD, EX_TEMPFAIL, check, check_exactly_once, run,
                     wait_delivered)


def test(net):
    a, b = net["AA-ONE"], net["BB-TWO"]
    net.start()
    f = net.file("request.txt", "Request for assistance.\n")
    before = a.submit("BB-TWO", f)
    wait_delivered(a, [before])
    sock_ino = os.stat(a.sock).st_ino

    for attempt in range(2):
        t0 = time.monotonic()
        p = subprocess.run([COMITYD, "--config", a.conf], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        took = time.monotonic() - t0
        err = p.stderr.decode(errors="replace")
        check(p.returncode == EX_TEMPFAIL,
              "second daemon exited %d, want %d (EX_TEMPFAIL): %s"
              % (p.returncode, EX_TEMPFAIL, err.strip()))
        check(took < 10, "second daemon took %.1fs to give up" % took)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        check(any("store in use" in ln and a.store in ln for ln in lines),
              "no clear 'store in use' line naming the store: %r" % err)
        check(not any(" ready: " in ln for ln in lines),
              "second daemon said it was ready: %r" % err)
        check(a.running(), "first daemon died when a second one started")
        check(os.stat(a.sock).st_ino == sock_ino,
              "second daemon replaced the first one's socket")

    # The first daemon still serves its clients and its link.
    check(a.status(before)["state"] == "DELIVERED", "status after attempt")
    after = [a.submit("BB-TWO", f), a.submit("BB-TWO", f, urgent=True)]
    wait_delivered(a, after)
    check_exactly_once(b, a, [before] + after)

    # --check does not open the store, so it works beside a running daemon.
    p = subprocess.run([COMITYD, "--check", "--config", a.conf],
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "--check beside a running daemon exited %d: %s"
          % (p.returncode, p.stderr.decode(errors="replace").strip()))

    # After the first stops, the store is free again.
    check(a.stop() == 0, "first daemon did not stop cleanly")
    a.start()
    check(a.status(after[0])["state"] == "DELIVERED", "state after restart")


run(test)
