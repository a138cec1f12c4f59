"""Office hours: `comity directory` shows each counterpart's time zone,
local time now, office hours, open/closed now and urgent procedure (text
and --json); an urgent submit to a counterpart outside its office hours
prints its urgent procedure on stderr, stdout keeping only the id; the
daemon refuses hours that do not parse (comityd --check names file:line;
a SIGHUP keeps the running directory).

B (Asia/Kathmandu, +05:45) is open only on a day two days off its local
today, so closed whenever the test runs; C (Europe/Brussels) is open all
week; A (ourselves) gives no time zone nor hours.
"""

import datetime
import json
import os
import re
import signal
import subprocess
import zoneinfo

from harness import COMITYD, check, log, run, wait_until

A, B, C = "AA-ONE", "BB-TWO", "CC-THREE"
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
KTM = zoneinfo.ZoneInfo("Asia/Kathmandu")
BRU = zoneinfo.ZoneInfo("Europe/Brussels")
B_URGENT = "Duty prosecutor, +977 1 000 0000, then e-mail"


def offset(dt):
    m = int(dt.utcoffset().total_seconds()) // 60
    return "%s%02d:%02d" % ("-" if m < 0 else "+", abs(m) // 60, abs(m) % 60)


def near_now(text, zone):
    """TEXT (RFC 3339 with offset) is the local time in ZONE now, +-90 s."""
    t = datetime.datetime.fromisoformat(text)
    now = datetime.datetime.now(zone)
    return abs((t - now).total_seconds()) < 90 and offset(now) == text[-6:]


def test(net):
    other_day = DAYS[(datetime.datetime.now(KTM).weekday() + 2) % 7]
    b_hours = "%s 00:00-12:00,12:30-24:00" % other_day
    net.write_directory({
        A: {"timezone": None, "hours": None, "urgent": None},
        B: {"timezone": "Asia/Kathmandu", "hours": b_hours,
            "urgent": B_URGENT},
        C: {"timezone": "Europe/Brussels",
            "hours": "Mon-Fri 00:00-24:00; Sat,Sun 00:00-24:00"},
    })
    net.start(A)
    a = net[A]

    # -- comity directory --json
    rows = {r["id"]: r for r in a.jsonl("directory")}
    check(set(rows) == {A, B, C}, "directory ids %s" % sorted(rows))
    b = rows[B]
    for k in ("timezone", "local_time", "utc_offset", "hours", "office",
              "urgent"):
        check(k in b, "directory --json lacks %s: %s" % (k, b))
    check(b["timezone"] == "Asia/Kathmandu" and b["utc_offset"] == "+05:45",
          "B's zone: %s" % b)
    check(near_now(b["local_time"], KTM), "B's local time %r is not "
          "Kathmandu's now" % b["local_time"])
    check(b["hours"] == b_hours and b["office"] == "closed",
          "B's hours/office: %s" % b)
    check(b["urgent"] == B_URGENT, "B's urgent procedure: %r" % b["urgent"])
    c = rows[C]
    check(c["office"] == "open" and near_now(c["local_time"], BRU)
          and c["utc_offset"] == offset(datetime.datetime.now(BRU)),
          "C: %s" % c)
    me = rows[A]
    check(me["self"] is True and me["local_time"] is None
          and me["utc_offset"] is None and me["office"] is None
          and me["hours"] == "" and me["timezone"] == "",
          "our own entry without zone or hours: %s" % me)
    log("directory --json: B closed at %s, C open at %s"
        % (b["local_time"], c["local_time"]))

    # -- comity directory (text)
    text = a.ok("directory", json_out=False)
    blocks = {blk.split("\n", 1)[0].split()[0]: blk
              for blk in re.split(r"\n(?=\S)", text.strip())}
    bt = blocks[B]
    check(re.search(r"\n  local time (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                    r"\d\d:\d\d \+05:45\n", bt),
          "B's text block has no local time: %r" % bt)
    check("\n  timezone   Asia/Kathmandu\n" in bt, "B's zone: %r" % bt)
    check("\n  hours      %s (closed now)\n" % b_hours in bt,
          "B's hours: %r" % bt)
    check("\n  urgent     %s" % B_URGENT in bt, "B's urgent: %r" % bt)
    check("(open now)" in blocks[C], "C not open: %r" % blocks[C])
    check("\n  local time -\n" in blocks[A] and "\n  hours      -\n"
          in blocks[A], "our own block: %r" % blocks[A])

    # -- urgent submit outside office hours: the note on stderr
    doc = net.file("request.txt", "Please locate the suspect tonight.\n")
    rc, out, err = a.cli("submit", "--to", B, "--type", "mla", "--urgent",
                         doc, json_out=False)
    check(rc == 0, "urgent submit to B exited %d: %s" % (rc, err))
    check(re.fullmatch(r"[0-9a-f]{32}\n", out), "stdout is not the id "
          "alone: %r" % out)
    m = re.fullmatch(r"BB-TWO is outside office hours \((\w{3}) "
                     r"(\d\d:\d\d) Asia/Kathmandu\): urgent procedure: "
                     r"(.*)\n", err)
    check(m, "no out-of-hours note on stderr: %r" % err)
    now = datetime.datetime.now(KTM)
    check(m.group(1) == DAYS[now.weekday()], "note says %s, Kathmandu is "
          "on %s" % (m.group(1), DAYS[now.weekday()]))
    check(m.group(3) == B_URGENT, "note's procedure %r" % m.group(3))
    log("note: %s" % err.strip())

    rc, out, err = a.cli("submit", "--to", B, "--type", "mla", "--urgent",
                         doc)
    check(rc == 0 and len(out.splitlines()) == 1
          and len(json.loads(out)["id"]) == 32, "--json submit: %r" % out)
    check("outside office hours" in err, "--json submit: no note: %r" % err)
    for args in (("--to", C, "--urgent"), ("--to", B)):
        rc, out, err = a.cli("submit", "--type", "mla", *args, doc,
                             json_out=False)
        check(rc == 0 and err == "", "submit %s: rc %d, stderr %r"
              % (" ".join(args), rc, err))
    log("no note when open, nor for a normal request")

    # -- the daemon refuses hours that do not parse
    bad = os.path.join(net.root, "bad-directory.conf")
    net.write_directory(path=bad, extra={B: {
        "timezone": "Asia/Kathmandu", "hours": "Mon-Fri 9 to 5"}})
    with open(bad) as f:
        line = [n for n, ln in enumerate(f, 1)
                if ln.startswith("hours = Mon-Fri 9 to 5")][0]
    a.write_conf({"authority": {"directory": bad}})
    p = subprocess.run([os.path.abspath(COMITYD), "--check", "--config",
                        a.conf], capture_output=True, timeout=30)
    err = p.stderr.decode()
    check(p.returncode == 1 and "%s:%d: [BB-TWO]: hours: expected a time "
          "span" % (bad, line) in err, "--check on bad hours: %d %r"
          % (p.returncode, err))
    mark = len(a.log_text())
    a.signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in a.log_text()[mark:], 10,
               "the reload to be refused")
    check(a.jsonl("directory")[1]["hours"] == b_hours,
          "the running directory changed")
    a.write_conf({})
    log("bad hours refused at %s:%d; the running directory stays"
        % (os.path.basename(bad), line))


run(test, ids=(A, B, C))
