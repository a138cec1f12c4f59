"""The urgent lane end to end (SPEC §6): the queue jump, the sender's
non-delivery warning and the recipient's escalation.

1. B is down.  A queues 400 normal requests to B, then one urgent one.
   Once B starts, the urgent request is DELIVERED ahead of all but at
   most one window ([limits] window, set to 64 here) of the normal ones
   (compared by delivered_at), and A's watcher sees its STATE DELIVERED.
2. Meanwhile, A ([urgent] delivery_warning = 1s, a hook recording its
   environment) warns about the urgent request while B is down: A's
   watcher sees WARNING within 3 s of the submission, naming the
   procedure from the directory; A's hook runs with
   COMITY_WARNING=undelivered and COMITY_PROCEDURE; the warning repeats
   (two within 3.5 s); no warning about a normal request; `peers` shows
   the link down with the age of the oldest waiting item of each class.
   Once the request is delivered, no more warnings.
3. B ([urgent] retrieve_deadline = 2s after a reload, a hook): an urgent
   request left unread is escalated exactly once: B's hook runs again
   with COMITY_ESCALATION=1, B's watcher sees ESCALATION, and A's watcher
   sees the NOTICE B queued, in reply to that request, which A's inbox
   lists as a notice.  An urgent request acked in time is not escalated.
   The audit trails hold the WARNING and ESCALATED records.
"""

import calendar
import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time

from harness import COMITY, check, log, run, wait_delivered, wait_until
import peer

A, B = "AA-ONE", "BB-TWO"
NORMAL = 400
WINDOW = 64
PROCEDURE_B = "24/7 duty prosecutor of BB-TWO, +99 555 0100"
AUDIT_ESCALATED, AUDIT_WARNING = 11, 27


class Watcher:
    """`comity --json watch` on DAEMON, its lines parsed as they come."""

    def __init__(self, daemon):
        self.name = daemon.id
        self.proc = subprocess.Popen(
            [COMITY, "--socket", daemon.sock, "--json", "watch"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        self.events = []        # (time read, event)
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda e: e["kind"] == "SUBSCRIBED", 10, "SUBSCRIBED")

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append((time.time(), json.loads(line)))

    def seen(self, pred):
        with self.lock:
            return [(t, ev) for t, ev in self.events if pred(ev)]

    def wait_for(self, pred, timeout, what):
        return wait_until(lambda: self.seen(pred), timeout,
                          "%s on %s's watcher" % (what, self.name),
                          interval=0.02)[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def event(ident, kind, state=None):
    return lambda ev: (ev.get("id") == ident and ev["kind"] == kind and
                       (state is None or ev["state"] == state))


def secs(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time with milliseconds."""
    date, frac = rfc3339.rstrip("Z").split(".")
    return (calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) +
            int(frac) / 1000.0)


def record_hook(net, name):
    """A hook writing its environment to a directory of its own per run;
    returns (path, runs directory)."""
    runs = os.path.join(net.root, name + "-runs")
    os.mkdir(runs)
    path = net.file(name, """#!/bin/sh
d=%s/run-$$
mkdir "$d" || exit 9
cat /proc/$$/environ > "$d/environ.tmp" && mv "$d/environ.tmp" "$d/environ"
""" % runs)
    os.chmod(path, 0o755)
    return path, runs


def hook_runs(runs):
    """The environments of the hook's runs so far, in no order."""
    out = []
    for r in os.listdir(runs):
        try:
            with open(os.path.join(runs, r, "environ"), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            continue
        out.append(dict(kv.decode(errors="replace").split("=", 1)
                        for kv in raw.split(b"\0") if kv))
    return out


def audit_records(d):
    """D's audit records as dicts of field -> value (D stopped)."""
    out = subprocess.run(["mdb_dump", "-s", "audit", d.store],
                         capture_output=True, check=True).stdout.decode()
    lines = out.splitlines()
    i = lines.index("HEADER=END") + 1
    recs = []
    while lines[i] != "DATA=END":
        recs.append(dict(peer.pb_fields(bytes.fromhex(lines[i + 1].strip()))))
        i += 2
    return recs


def reload(d, extra):
    before = d.log_text().count(": reloaded ")
    d.write_conf(extra)
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.log_text().count(": reloaded ") > before, 10,
               "%s reloaded" % d.id)


def test(net):
    a, b = net[A], net[B]
    hook_a, runs_a = record_hook(net, "hook-a")
    hook_b, runs_b = record_hook(net, "hook-b")
    net.write_directory({B: {"urgent": PROCEDURE_B}})
    a.write_conf({"urgent": {"hook": hook_a, "delivery_warning": "1s"},
                  "limits": {"window": str(WINDOW)}})
    b.write_conf({"urgent": {"hook": hook_b}})
    a.start()
    wa = Watcher(a)
    watchers = [wa]
    try:
        lane_and_warnings(net, a, b, wa, runs_a)
        escalation(net, a, b, wa, watchers, hook_b, runs_a, runs_b)
    finally:
        for w in watchers:
            w.stop()
    check(a.stop() == 0 and b.stop() == 0, "a daemon did not stop cleanly")
    audit(a, b)


def lane_and_warnings(net, a, b, wa, runs_a):
    f = net.file("request.txt", "Request for assistance.\n")
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        normal = list(pool.map(lambda i: a.submit(B, f, extra=[
            "--case", "N/%03d" % i]), range(NORMAL)))
    log("queued %d normal requests in %.1fs with %s down"
        % (NORMAL, time.monotonic() - t0, B))
    urgent = a.submit(B, f, urgent=True, type="extradition",
                      extra=["--case", "URG/1"])
    submitted = secs(a.status(urgent)["submitted_at"])

    # -- 2. warnings while B is down ---------------------------------------
    t, ev = wa.wait_for(event(urgent, "WARNING"), 5, "WARNING")
    check(t - submitted < 3.0, "first warning read %.2fs after the submit"
          % (t - submitted))
    check(ev["procedure"] == PROCEDURE_B, "warning procedure %r"
          % ev["procedure"])
    check("undelivered" in ev["detail"] and B in ev["detail"],
          "warning detail %r" % ev["detail"])
    check(ev["state"] in ("QUEUED", "SENT") and ev["priority"] == "urgent"
          and ev["warned_at"], "warning event %s" % ev)
    wait_until(lambda: len(wa.seen(event(urgent, "WARNING"))) >= 2, 5,
               "a second warning")
    second = wa.seen(event(urgent, "WARNING"))[1][0]
    check(second - submitted < 3.5, "second warning read %.2fs after the "
          "submit" % (second - submitted))
    check(not wa.seen(lambda e: e["kind"] == "WARNING" and
                      e.get("id") != urgent),
          "a warning about a normal request")
    runs = wait_until(lambda: [r for r in hook_runs(runs_a)
                               if r.get("COMITY_ID") == urgent] or None,
                      5, "A's hook for the warning")
    env = runs[0]
    want = {"COMITY_WARNING": "undelivered", "COMITY_ID": urgent,
            "COMITY_TO": B, "COMITY_TYPE": "extradition",
            "COMITY_CASE": "URG/1", "COMITY_PRIORITY": "urgent",
            "COMITY_SUBMITTED_AT": a.status(urgent)["submitted_at"],
            "COMITY_PROCEDURE": PROCEDURE_B, "PATH": "/usr/bin:/bin"}
    check(env == want, "A's hook environment:\n  got  %r\n  want %r"
          % (env, want))
    check(any("undelivered warning peer=%s" % B in ln and urgent in ln
              for ln in a.log_text().splitlines()), "no warning log line")

    p = a.peer(B)
    check(p["up"] is False and p["queued"] == NORMAL + 1 and
          p["queued_urgent"] == 1, "peers with B down: %s" % p)
    check(p["oldest_urgent_at"] and p["oldest_normal_at"] and
          p["oldest_normal_at"] <= p["oldest_urgent_at"],
          "peers: oldest per class %s" % p)
    row = [ln.split() for ln in a.ok("peers", json_out=False).splitlines()
           if ln.startswith(B)]
    check(row and row[0][1] == "down" and row[0][2] == "%d/1" % (NORMAL + 1)
          and "/" in row[0][4] and "-" not in row[0][4].split("/"),
          "peers text: %r" % row)
    log("2. warnings with %s down: first %.2fs, second %.2fs after the "
        "submit, procedure %r; peers: %s" % (B, t - submitted,
                                            second - submitted,
                                            ev["procedure"], " ".join(row[0])))

    # -- 1. the queue jump ---------------------------------------------------
    b.start()
    rows = wait_delivered(a, normal + [urgent], timeout=120)
    wa.wait_for(event(urgent, "STATE", "DELIVERED"), 10, "DELIVERED")
    u_at = rows[urgent]["delivered_at"]
    before = sorted(i for i in normal if rows[i]["delivered_at"] < u_at)
    check(len(before) <= WINDOW, "%d normal requests delivered before the "
          "urgent one (at most %d allowed)" % (len(before), WINDOW))
    log("1. urgent DELIVERED after %d of %d normal requests (window %d)"
        % (len(before), NORMAL, WINDOW))

    # -- 2. no warning once delivered -----------------------------------------
    time.sleep(0.3)
    n_ev = len(wa.seen(event(urgent, "WARNING")))
    n_run = len([r for r in hook_runs(runs_a)
                 if r.get("COMITY_ID") == urgent])
    time.sleep(2.5)
    check(len(wa.seen(event(urgent, "WARNING"))) == n_ev,
          "warnings went on after the delivery")
    check(len([r for r in hook_runs(runs_a)
               if r.get("COMITY_ID") == urgent]) == n_run,
          "the warning hook ran after the delivery")
    p = a.peer(B)
    check(p["up"] is True and p["queued"] == 0 and p["last_delivery_at"],
          "peers after the delivery: %s" % p)
    log("2. %d warnings in all, none after the delivery" % n_ev)
    b.ok("ack", urgent, json_out=False)
    a.wait_state(urgent, "RETRIEVED")


def escalation(net, a, b, wa, watchers, hook_b, runs_a, runs_b):
    reload(b, {"urgent": {"hook": hook_b, "retrieve_deadline": "2s"}})
    wb = Watcher(b)
    watchers.append(wb)
    f = net.file("urgent.txt", "Urgent request.\n")
    late = a.submit(B, f, urgent=True, extra=["--case", "ESC/3"])
    prompt = a.submit(B, f, urgent=True, extra=["--case", "ESC/4"])
    wait_until(lambda: any(r["id"] == prompt for r in b.inbox()), 10,
               "the second urgent request at B")
    b.ok("ack", prompt, json_out=False)
    acked_in = secs(b.status(prompt)["retrieved_at"]) - \
        secs(b.status(prompt)["received_at"])
    check(acked_in < 2.0, "the test acked after %.2fs, past the deadline"
          % acked_in)

    t, ev = wb.wait_for(event(late, "ESCALATION"), 10, "ESCALATION")
    received = b.status(late)["received_at"]
    waited = t - secs(received)
    check(2.0 <= waited + 0.05 and waited < 4.0,
          "escalation read %.2fs after the arrival, deadline 2s" % waited)
    check(A in ev["detail"] and "not retrieved" in ev["detail"] and
          ev["escalated_at"] and ev["state"] == "RECEIVED",
          "escalation event %s" % ev)
    t, notice = wa.wait_for(lambda e: e["kind"] == "NOTICE", 10, "NOTICE")
    check(notice["in_reply_to"] == late and notice["from"] == B and
          notice["box"] == "in" and notice["priority"] == "urgent",
          "notice event on A %s" % notice)
    rows = [r for r in a.inbox() if r["id"] == notice["id"]]
    check(len(rows) == 1 and rows[0]["kind"] == "notice" and
          rows[0]["in_reply_to"] == late and rows[0]["from"] == B,
          "A's inbox row of the notice: %s" % rows)
    check(all(r["kind"] == "request" for r in a.inbox()
              if r["id"] != notice["id"]), "a request listed as a notice")
    text = [ln for ln in a.ok("inbox", json_out=False).splitlines()
            if ln.startswith(notice["id"])]
    check(text and " notice " in text[0] and "re " + late in text[0],
          "A's inbox text of the notice: %r" % text)
    out = [r for r in b.outbox() if r["id"] == notice["id"]]
    check(len(out) == 1 and out[0]["kind"] == "notice" and
          out[0]["in_reply_to"] == late, "B's outbox of the notice: %s" % out)

    # exactly once, and not for the request acked in time
    time.sleep(3.0)
    esc = [r for r in hook_runs(runs_b) if r.get("COMITY_ESCALATION")]
    check(len(esc) == 1, "B's hook ran %d times with COMITY_ESCALATION"
          % len(esc))
    want = {"COMITY_ESCALATION": "1", "COMITY_ID": late, "COMITY_FROM": A,
            "COMITY_TYPE": "mla", "COMITY_CASE": "ESC/3",
            "COMITY_PRIORITY": "urgent", "COMITY_RECEIVED_AT": received,
            "PATH": "/usr/bin:/bin"}
    check(esc[0] == want, "B's escalation hook environment:\n  got  %r\n"
          "  want %r" % (esc[0], want))
    arrivals = [r for r in hook_runs(runs_b) if r.get("COMITY_ID") == late]
    check(len(arrivals) == 2, "B's hook ran %d times for the late request"
          % len(arrivals))
    check(len(wb.seen(lambda e: e["kind"] == "ESCALATION")) == 1,
          "B's watcher saw %d escalations"
          % len(wb.seen(lambda e: e["kind"] == "ESCALATION")))
    check(len(wa.seen(lambda e: e["kind"] == "NOTICE")) == 1,
          "A's watcher saw %d notices"
          % len(wa.seen(lambda e: e["kind"] == "NOTICE")))
    check(not [r for r in hook_runs(runs_a)
               if r.get("COMITY_ID") == notice["id"]],
          "A's hook ran for the notice")
    check(b.status(prompt)["escalated_at"] is None,
          "the request acked in time was escalated")
    check(a.status(late)["state"] == "DELIVERED", "the late request is %s "
          "at A" % a.status(late)["state"])
    log("3. escalation %.2fs after the arrival (deadline 2s); notice %s "
        "on A in reply to it; none for the request acked in %.2fs"
        % (waited, notice["id"], acked_in))


def audit(a, b):
    def ids(recs, event):
        return [r[4].hex() for r in recs if r.get(3) == event]
    wa = ids(audit_records(a), AUDIT_WARNING)
    eb = ids(audit_records(b), AUDIT_ESCALATED)
    check(len(wa) >= 2 and len(set(wa)) == 1, "A's WARNING records: %s" % wa)
    check(len(eb) == 1, "B's ESCALATED records: %s" % eb)
    log("audit: %d WARNING records on %s, 1 ESCALATED on %s"
        % (len(wa), A, B))


run(test)
