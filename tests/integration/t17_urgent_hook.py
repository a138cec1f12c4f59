"""The urgent hook (SPEC §6).  On B, the [urgent] hook runs once per urgent
arrival and never for a normal one, without a shell, with argv = {path},
exactly PATH and the six COMITY_* variables in its environment (values
from the counterpart sanitised, never the content), fds 0, 1 and 2 on
/dev/null and nothing else open, a session of its own, no signal ignored
or blocked, umask 077 and "/" as its directory.  Then its failures: an
exit status of 3 is logged; a hook that hangs is killed with its process
group after hook_timeout while deliveries go on; a hook that is not there
any more is logged and delivery is unaffected (and a config naming a
missing hook is refused by --check and on SIGHUP); 20 urgent arrivals at
once with a slow hook run at most 16 hooks, skip the rest with a log
line, keep the daemon responsive and leave no zombie; SIGTERM kills a
running hook.  Every outcome is in B's audit trail as URGENT_HOOK."""

import os
import random
import signal
import subprocess
import time

from harness import COMITYD, check, log, run, wait_until
import peer

A, B = "AA-ONE", "BB-TWO"
AUDIT_URGENT_HOOK = 10
HOOK_RUNNING_MAX = 16


def script(net, name, body):
    """An executable shell script NAME in the test directory."""
    path = net.file(name, "#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def proc_stat(pid):
    """(state, ppid) of PID, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def children(pid):
    """[(pid, state)] of the processes whose parent is PID."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st is not None and st[1] == pid:
                out.append((int(d), st[0]))
    return out


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def with_cmdline(arg):
    """Pids of live processes with ARG among their arguments."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if arg.encode() in argv and alive(int(d)):
            out.append(int(d))
    return out


def status_fields(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def log_lines(d, *words):
    return [ln for ln in d.log_text().splitlines()
            if all(w in ln for w in words)]


def reload(d, extra):
    """Rewrite D's config with EXTRA and SIGHUP it; wait for the reload."""
    before = len(log_lines(d, ": reloaded "))
    d.write_conf(extra)
    d.signal(signal.SIGHUP)
    wait_until(lambda: len(log_lines(d, ": reloaded ")) > before, 10,
               "%s reloaded" % d.id)


def urgent_conf(hook, timeout):
    return {"urgent": {"hook": hook, "hook_timeout": timeout}}


def audit_records(d):
    """D's audit records (daemon stopped), as dicts of field -> value."""
    out = subprocess.run(["mdb_dump", "-s", "audit", d.store],
                         capture_output=True, check=True).stdout.decode()
    lines = out.splitlines()
    i = lines.index("HEADER=END") + 1
    recs = []
    while lines[i] != "DATA=END":
        recs.append(dict(peer.pb_fields(bytes.fromhex(lines[i + 1].strip()))))
        i += 2
    return recs


def test(net):
    a, b = net[A], net[B]
    runs = os.path.join(net.root, "runs")
    os.mkdir(runs)
    record = script(net, "record-hook", """d=%s/run-$$
mkdir "$d" || exit 9
cat /proc/$$/environ > "$d/environ"
cat /proc/$$/status > "$d/status"
printf '%%s\\n' "$#" "$0" > "$d/argv"
pwd > "$d/cwd"
: > "$d/ready"
exec sleep 3
""" % runs)
    b.write_conf(urgent_conf(record, "10s"))
    net.start()
    outcomes = {}   # id -> what its URGENT_HOOK audit detail must say

    # -- 1. one urgent and one normal request: one run, for the urgent one
    marker = "content-marker-%08x" % random.getrandbits(32)
    doc = net.file("request.txt", "Please freeze account 1 (%s)\n" % marker)
    # (U+009B is CSI as a C1 control)
    case = "AA/2026/17\nFAKE=1\x1b[31m \u009b\u00fcber"
    want_case = "AA/2026/17?FAKE=1?[31m ?\u00fcber"
    u1 = a.submit(B, doc, type="extradition", urgent=True,
                  extra=["--case", case, "--subject", "subj " + marker])
    n1 = a.submit(B, doc, type="extradition",
                  extra=["--case", "AA/2026/18"])
    a.wait_state(u1, "DELIVERED")
    a.wait_state(n1, "DELIVERED")
    wait_until(lambda: [r for r in os.listdir(runs)
                        if os.path.exists(os.path.join(runs, r, "ready"))],
               20, "the hook's record")
    run_dir = os.path.join(runs, os.listdir(runs)[0])
    pid = int(run_dir.rsplit("-", 1)[1])

    # the running hook (now `sleep`, exec'd by the script) seen from outside
    fds = {int(fd): os.readlink("/proc/%d/fd/%s" % (pid, fd))
           for fd in os.listdir("/proc/%d/fd" % pid)}
    check(fds == {0: "/dev/null", 1: "/dev/null", 2: "/dev/null"},
          "the hook's open fds: %s" % fds)
    st = status_fields("/proc/%d/status" % pid)
    check(int(st["PPid"]) == b.pid(), "hook's parent %s, not comityd %d"
          % (st["PPid"], b.pid()))
    check(st["NSsid"] == str(pid) and st["NSpgid"] == str(pid),
          "hook not in a session of its own: sid %s pgid %s pid %d"
          % (st["NSsid"], st["NSpgid"], pid))
    for field in ("SigIgn", "SigBlk"):
        check(int(st[field], 16) == 0, "hook %s = %s" % (field, st[field]))
    check(st["Umask"] == "0077", "hook umask %s" % st["Umask"])
    # (the shell blocks signals itself while it waits for cat)
    inner = status_fields(os.path.join(run_dir, "status"))
    check(int(inner["SigIgn"], 16) == 0, "the hook script started with "
          "SigIgn %s" % inner["SigIgn"])

    with open(os.path.join(run_dir, "environ"), "rb") as f:
        raw = f.read()
    env = dict(kv.decode().split("=", 1) for kv in raw.split(b"\0") if kv)
    received_at = b.status(u1)["received_at"]
    want = {
        "PATH": "/usr/bin:/bin",
        "COMITY_ID": u1,
        "COMITY_FROM": A,
        "COMITY_TYPE": "extradition",
        "COMITY_CASE": want_case,
        "COMITY_PRIORITY": "urgent",
        "COMITY_RECEIVED_AT": received_at,
    }
    check(env == want, "hook environment:\n  got  %r\n  want %r"
          % (env, want))
    check(marker.encode() not in raw, "content in the hook's environment")
    with open(os.path.join(run_dir, "argv")) as f:
        argv = f.read().splitlines()
    check(argv == ["0", record], "hook argv: $# $0 = %r" % argv)
    with open(os.path.join(run_dir, "cwd")) as f:
        check(f.read().strip() == "/", "hook cwd is not /")
    wait_until(lambda: log_lines(b, u1, "hook done why=arrival",
                                 "exit=0"), 20, "hook done line")
    time.sleep(0.5)
    check(len(os.listdir(runs)) == 1, "the hook ran %d times for one "
          "urgent and one normal request" % len(os.listdir(runs)))
    check(not any(marker in ln for ln in b.log_text().splitlines()),
          "content in B's log")
    outcomes[u1] = "done why=arrival pid=%d exit=0" % pid
    log("1. one run, for the urgent request; env, fds, session, signals, "
        "umask, cwd as expected")

    # -- 2. a hook exiting 3
    reload(b, urgent_conf(script(net, "exit3-hook", "exit 3\n"), "10s"))
    u2 = a.submit(B, doc, urgent=True)
    a.wait_state(u2, "DELIVERED")
    line = wait_until(lambda: log_lines(b, u2, "hook failed why=arrival",
                                        "exit=3"), 20, "exit 3 logged")
    check(" warn: " in line[0], "exit 3 not logged as a warning: %s"
          % line[0])
    outcomes[u2] = "failed why=arrival"
    log("2. %s" % line[0].split(": ", 2)[-1])

    # -- 3. a hook that hangs: killed with its group; deliveries go on
    tag = str(90000 + random.randrange(9999))
    hang_pid = os.path.join(net.root, "hang.pid")
    hang = script(net, "hang-hook", "echo $$ > %s\nsleep %s\nexit 0\n"
                  % (hang_pid, tag))
    reload(b, urgent_conf(hang, "5s"))
    u3 = a.submit(B, doc, urgent=True)
    wait_until(lambda: os.path.exists(hang_pid) and
               os.path.getsize(hang_pid) > 0, 20, "the hanging hook")
    with open(hang_pid) as f:
        hpid = int(f.read())
    wait_until(lambda: with_cmdline(tag), 10, "the hook's sleep")
    t0 = time.monotonic()
    n3 = a.submit(B, doc)
    a.wait_state(n3, "DELIVERED", timeout=10)
    took = time.monotonic() - t0
    check(alive(hpid) and not log_lines(b, u3, "timed out"),
          "the hook was gone before the next delivery was checked")
    check(took < 4, "a normal request took %.1fs while the hook hung" % took)
    line = wait_until(lambda: log_lines(b, u3, "hook timed out why=arrival",
                                        "timeout=5000ms"), 20,
                      "the time-out line")
    wait_until(lambda: not alive(hpid) and not with_cmdline(tag), 10,
               "the hook and its sleep killed")
    check(log_lines(b, u3, "still running after 5000ms"),
          "no line saying the hook is being killed")
    outcomes[u3] = "timed out why=arrival"
    log("3. delivered in %.2fs while the hook hung; %s"
        % (took, line[0].split(": ", 2)[-1]))

    # -- 4. a hook that is not there any more
    gone = script(net, "gone-hook", "exit 0\n")
    reload(b, urgent_conf(gone, "5s"))
    os.unlink(gone)
    u4 = a.submit(B, doc, urgent=True)
    a.wait_state(u4, "DELIVERED")
    line = wait_until(lambda: log_lines(b, u4, "hook not started",
                                        "No such file or directory"), 20,
                      "not started line")
    outcomes[u4] = "not started why=arrival"
    before = len(log_lines(b, "reload refused"))
    b.signal(signal.SIGHUP)
    wait_until(lambda: len(log_lines(b, "reload refused", gone)) > before,
               10, "reload refused for the missing hook")
    p = subprocess.run([COMITYD, "--check", "--config", b.conf],
                       capture_output=True, text=True)
    check(p.returncode == 1 and gone in p.stderr,
          "--check with a missing hook: %d %r" % (p.returncode, p.stderr))
    log("4. %s; --check: %s" % (line[0].split(": ", 2)[-1],
                                p.stderr.strip()))

    # -- 5. 20 urgent arrivals at once with a slow hook
    slow = script(net, "slow-hook", "exec sleep 6\n")
    b.stop()
    b.write_conf(urgent_conf(slow, "30s"))
    burst = [a.submit(B, doc, urgent=True) for _ in range(20)]
    b.start()
    wait_until(lambda: len(children(b.pid())) >= HOOK_RUNNING_MAX, 20,
               "%d hooks running" % HOOK_RUNNING_MAX)
    t0 = time.monotonic()
    b.inbox()
    took_list = time.monotonic() - t0
    n5 = a.submit(B, doc)
    a.wait_state(n5, "DELIVERED", timeout=10)
    took = time.monotonic() - t0
    most = len(children(b.pid()))
    for i in burst:
        a.wait_state(i, "DELIVERED")
    check(most <= HOOK_RUNNING_MAX, "%d hooks at once" % most)
    check(took_list < 2 and took < 5, "B slow with hooks running: inbox "
          "%.1fs, a delivery %.1fs" % (took_list, took))
    started = [i for i in burst if log_lines(b, i, "hook started")]
    skipped = [i for i in burst if log_lines(b, i, "hook not run",
                                             "16 hooks running")]
    check(len(started) == HOOK_RUNNING_MAX and len(skipped) == 4 and
          not set(started) & set(skipped),
          "burst: %d started, %d skipped" % (len(started), len(skipped)))
    wait_until(lambda: all(log_lines(b, i, "hook done") for i in started),
               30, "every slow hook done")
    wait_until(lambda: not children(b.pid()), 10, "no child of B left")
    for i in started:
        outcomes[i] = "done why=arrival"
    for i in skipped:
        outcomes[i] = "not run why=arrival: 16 hooks running"
    log("5. burst of 20: 16 ran, 4 skipped; at most %d at once; inbox in "
        "%.2fs, a delivery in %.2fs meanwhile; all reaped"
        % (most, took_list, took))

    # -- 6. SIGTERM with a hook running kills it
    os.unlink(hang_pid)
    reload(b, urgent_conf(hang, "10m"))
    u6 = a.submit(B, doc, urgent=True)
    wait_until(lambda: os.path.exists(hang_pid) and
               os.path.getsize(hang_pid) > 0, 20, "the hanging hook")
    with open(hang_pid) as f:
        hpid = int(f.read())
    wait_until(lambda: with_cmdline(tag), 10, "the hook's sleep")
    t0 = time.monotonic()
    check(b.stop() == 0, "B did not stop cleanly")
    took = time.monotonic() - t0
    check(took < 5, "B took %.1fs to stop with a hook running" % took)
    check(log_lines(b, u6, "hook killed why=arrival", "daemon stopping"),
          "no line for the hook killed at stop")
    wait_until(lambda: not alive(hpid) and not with_cmdline(tag), 10,
               "the hook and its sleep gone after the stop")
    outcomes[u6] = "killed why=arrival"
    log("6. SIGTERM: stopped in %.2fs, the hook killed" % took)

    # -- the audit trail has one URGENT_HOOK record per outcome
    recs = [r for r in audit_records(b) if r.get(3) == AUDIT_URGENT_HOOK]
    by_id = {}
    for r in recs:
        by_id.setdefault(r[4].hex(), []).append(r)
    for ident, what in outcomes.items():
        rs = by_id.get(ident, [])
        check(len(rs) == 1, "%d URGENT_HOOK records for %s" % (len(rs),
                                                               ident))
        detail = rs[0].get(7, b"").decode()
        check(what in detail and rs[0].get(5) == A.encode(),
              "URGENT_HOOK for %s: %r (peer %r), wanted %r"
              % (ident, detail, rs[0].get(5), what))
    check(len(recs) == len(outcomes), "%d URGENT_HOOK records for %d "
          "outcomes" % (len(recs), len(outcomes)))
    log("audit: %d URGENT_HOOK records, one per outcome" % len(recs))


run(test)
