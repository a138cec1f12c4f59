"""Integration test harness: real comityd daemons on 127.0.0.1.

A Net makes a temporary directory with a PKI from certs/mkpki, a shared
directory file and one configuration per authority, on ephemeral ports.
Daemons are started and stopped by pid; the CLI is driven with --json.
Everything is removed on exit unless COMITY_KEEP is set.

Environment: COMITY_BUILD_DIR (the build tree holding daemon/comityd and
client/comity) and COMITY_SOURCE_DIR (the source tree, for certs/mkpki).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("COMITY_BUILD_DIR", "build/default")
SOURCE = os.environ.get("COMITY_SOURCE_DIR", ".")
COMITYD = os.path.join(BUILD, "daemon", "comityd")
COMITY = os.path.join(BUILD, "client", "comity")
MKPKI = os.path.join(SOURCE, "certs", "mkpki")

# sysexits.h
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_PROTOCOL = 76
EX_NOPERM = 77
EX_CONFIG = 78


class TestFailure(Exception):
    pass


def check(cond, what):
    """Fail the test with WHAT unless COND holds."""
    if not cond:
        raise TestFailure(what)


def log(msg):
    print(msg, flush=True)


def free_ports(n):
    """N distinct free TCP ports on 127.0.0.1 (bound, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(fn, timeout=30.0, what="condition", interval=0.05):
    """Call FN until it returns a true value; return it, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.0fs waiting for %s"
                              % (timeout, what))
        time.sleep(interval)


def mkpki(pkidir, ids, *opts):
    subprocess.run([MKPKI, *opts, pkidir, *ids], check=True,
                   stdout=subprocess.DEVNULL)


class Daemon:
    def __init__(self, net, ident, port):
        self.net = net
        self.id = ident
        self.port = port
        self.dir = os.path.join(net.root, ident)
        self.conf = os.path.join(self.dir, "comityd.conf")
        self.store = os.path.join(self.dir, "store")
        self.sock = os.path.join(self.dir, "comity.sock")
        self.logfile = os.path.join(self.dir, "comityd.log")
        self.proc = None
        self.extra = {}

    # -- configuration ------------------------------------------------
    def write_conf(self, extra=None):
        """(Re)write the configuration; EXTRA maps section -> {key: val}."""
        if extra is not None:
            self.extra = extra
        sections = {
            "authority": {
                "id": self.id,
                "cert": self.net.cert(self.id),
                "key": self.net.key(self.id),
                "ca": os.path.join(self.net.pki, "ca.pem"),
                "directory": self.net.directory,
            },
            "listen": {"address": "127.0.0.1:%d" % self.port},
            "store": {"path": self.store},
            "client": {"socket": self.sock},
            "retry": {"initial": "50ms", "max": "500ms"},
            "log": {"level": "debug"},
        }
        for sec, kv in self.extra.items():
            sections.setdefault(sec, {}).update(kv)
            for k in [k for k, v in sections[sec].items() if v is None]:
                del sections[sec][k]
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")

    # -- process ------------------------------------------------------
    def start(self, wait=True):
        check(self.proc is None or self.proc.poll() is not None,
              "%s already running" % self.id)
        self.logfh = open(self.logfile, "ab")
        self.log_start = self.logfh.tell()  # this run's lines start here
        self.proc = subprocess.Popen([COMITYD, "--config", self.conf],
                                     stdout=self.logfh, stderr=self.logfh,
                                     stdin=subprocess.DEVNULL)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %d during start-up:\n%s"
                                  % (self.id, self.proc.returncode,
                                     self.log_tail()))
            return " ready: " in self.run_log_text()
        wait_until(ready, timeout, "%s ready" % self.id)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def stop(self, timeout=30):
        """SIGTERM and wait; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("%s did not stop within %ds on SIGTERM"
                                  % (self.id, timeout))
        self.logfh.close()
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.logfh.close()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def run_log_text(self):
        """The log lines of the current (or last) run only."""
        try:
            with open(self.logfile, "rb") as f:
                f.seek(getattr(self, "log_start", 0))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    # -- client ---------------------------------------------------------
    def cli(self, *args, json_out=True, input=None, timeout=60):
        """Run comity against this daemon: (rc, stdout, stderr)."""
        argv = [COMITY, "--socket", self.sock]
        if json_out:
            argv.append("--json")
        argv += [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, input=input,
                           timeout=timeout)
        return (p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"))

    def ok(self, *args, **kw):
        """Run comity; fail unless it exits 0; return stdout."""
        rc, out, err = self.cli(*args, **kw)
        check(rc == 0, "comity %s on %s exited %d: %s"
              % (" ".join(map(str, args)), self.id, rc, err.strip()))
        return out

    def jsonl(self, *args):
        """Run comity --json; return the parsed JSON lines."""
        out = self.ok(*args)
        # split on newlines only: str.splitlines() also cuts at U+0085 and
        # friends, which a counterpart's text may hold
        return [json.loads(line) for line in out.split("\n") if line]

    def submit(self, to, *files, type="mla", urgent=False, key=None,
               extra=()):
        args = ["submit", "--to", to, "--type", type]
        if urgent:
            args.append("--urgent")
        if key is not None:
            args += ["--key", key]
        args += list(extra)
        args += list(files)
        out = self.ok(*args, json_out=False).strip()
        check(len(out) == 32, "submit printed %r, not an id" % out)
        return out

    def status(self, ident):
        rows = self.jsonl("status", ident)
        check(len(rows) == 1, "status %s gave %d lines" % (ident, len(rows)))
        return rows[0]

    def outbox(self, *args):
        return self.jsonl("outbox", *args)

    def inbox(self, *args):
        return self.jsonl("inbox", *args)

    def wait_state(self, ident, state, timeout=30):
        return wait_until(lambda: self.status(ident)["state"] == state
                          and self.status(ident),
                          timeout, "%s %s on %s" % (ident, state, self.id))

    def peer(self, ident):
        """This daemon's `peers` row for counterpart IDENT."""
        rows = [r for r in self.jsonl("peers") if r["id"] == ident]
        check(len(rows) == 1, "peers on %s: %d rows for %s"
              % (self.id, len(rows), ident))
        return rows[0]

    def try_submit(self, to, *files, key=None, extra=(), timeout=30):
        """submit that may fail: the id, or None (with the daemon down)."""
        args = ["submit", "--to", to, "--type", "mla"]
        if key is not None:
            args += ["--key", key]
        args += list(extra) + list(files)
        try:
            rc, out, _ = self.cli(*args, json_out=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        out = out.strip()
        if rc != 0:
            return None
        check(len(out) == 32, "submit printed %r, not an id" % out)
        return out

    def wait_exit(self, timeout=30):
        """Wait for the daemon to exit by itself; return its status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s still running after %ds"
                              % (self.id, timeout))
        self.logfh.close()
        return self.proc.returncode


class Net:
    """A network of authorities in a temporary directory."""

    def __init__(self, ids, name="comity-test"):
        self.root = tempfile.mkdtemp(prefix=name + ".")
        os.chmod(self.root, 0o700)
        self.pki = os.path.join(self.root, "pki")
        self.directory = os.path.join(self.root, "directory.conf")
        self.ids = list(ids)
        mkpki(self.pki, self.ids)
        ports = free_ports(len(self.ids))
        self.d = {}
        for ident, port in zip(self.ids, ports):
            d = Daemon(self, ident, port)
            os.makedirs(d.dir, mode=0o700)
            self.d[ident] = d
        self.dir_extra = {}
        self.write_directory()
        for d in self.d.values():
            d.write_conf()

    def cert(self, ident):
        return os.path.join(self.pki, ident + ".pem")

    def key(self, ident):
        return os.path.join(self.pki, ident + ".key")

    def write_directory(self, extra=None, path=None):
        """(Re)write directory.conf; EXTRA maps id -> {key: val|None}.
        With PATH, write a directory file of the network there instead
        (for a daemon given a directory of its own through its
        [authority] directory key): EXTRA then applies to it alone."""
        if path is None:
            if extra is not None:
                self.dir_extra = extra
            path, extra = self.directory, self.dir_extra
        elif extra is None:
            extra = {}
        with open(path, "w") as f:
            for ident, d in self.d.items():
                kv = {
                    "name": "Test authority " + ident,
                    "endpoint": "127.0.0.1:%d" % d.port,
                    "cert": self.cert(ident),
                    "accepts": "mla, extradition, confiscation, transfer, "
                               "joint_investigation, other",
                    "timezone": "UTC",
                    "hours": "Mon-Fri 08:00-17:00",
                    "urgent": "duty officer of " + ident,
                }
                kv.update(extra.get(ident, {}))
                f.write("[%s]\n" % ident)
                for k, v in kv.items():
                    if v is not None:
                        f.write("%s = %s\n" % (k, v))
                f.write("\n")

    def __getitem__(self, ident):
        return self.d[ident]

    def add_authority(self, ident):
        """Extend the PKI with IDENT, give it a configuration and add it to
        the shared directory file (running daemons see it on SIGHUP)."""
        check(ident not in self.d, "%s already in the network" % ident)
        mkpki(self.pki, [ident])
        d = Daemon(self, ident, free_ports(1)[0])
        os.makedirs(d.dir, mode=0o700)
        self.d[ident] = d
        self.ids.append(ident)
        self.write_directory()
        d.write_conf()
        return d

    def start(self, *ids):
        for ident in ids or self.ids:
            self.d[ident].start(wait=False)
        for ident in ids or self.ids:
            self.d[ident].wait_ready()

    def close(self, failed=False):
        for d in self.d.values():
            if d.running():
                try:
                    d.stop()
                except TestFailure:
                    pass
        if failed:
            for d in self.d.values():
                sys.stdout.write("--- log of %s (last lines)\n%s\n"
                                 % (d.id, d.log_tail(60)))
        if os.environ.get("COMITY_KEEP"):
            log("kept %s" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def file(self, name, data):
        """Write DATA (bytes or str) to a file in the test directory."""
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        return path


def wait_delivered(sender, ids, timeout=60):
    """Wait until every id in IDS is DELIVERED (or RETRIEVED) in SENDER's
    outbox; fail naming what is missing; return the outbox rows by id."""
    want = set(ids)
    last = {}

    def done():
        rows = {r["id"]: r for r in sender.outbox()}
        last.clear()
        last.update(rows)
        return all(i in rows and rows[i]["state"] in ("DELIVERED",
                                                        "RETRIEVED")
                   for i in want) and rows
    try:
        return wait_until(done, timeout, "%d requests DELIVERED at %s"
                          % (len(want), sender.id), interval=0.2)
    except TestFailure:
        missing = sorted(i for i in want
                         if last.get(i, {}).get("state") not in
                         ("DELIVERED", "RETRIEVED"))
        states = {}
        for i in missing:
            st = last.get(i, {}).get("state", "absent")
            states[st] = states.get(st, 0) + 1
        raise TestFailure("%d of %d requests not DELIVERED at %s after "
                          "%ds (%s), e.g. %s"
                          % (len(missing), len(want), sender.id, timeout,
                             states, missing[:3]))


def check_exactly_once(receiver, sender, ids):
    """The total-queue check: RECEIVER's inbox holds each id of IDS from
    SENDER exactly once (lost = duplicated = 0), and nothing from SENDER
    that SENDER's outbox does not hold (unexpected = 0).  Returns the
    inbox rows from SENDER."""
    rows = [r for r in receiver.inbox() if r["from"] == sender.id]
    seen = {}
    for r in rows:
        seen[r["id"]] = seen.get(r["id"], 0) + 1
    dup = sorted(i for i, n in seen.items() if n > 1)
    lost = sorted(set(ids) - set(seen))
    out = {r["id"] for r in sender.outbox() if r["to"] == receiver.id}
    unexpected = sorted(set(seen) - out)
    check(not lost and not dup and not unexpected,
          "%s inbox from %s: %d lost (e.g. %s), %d duplicated (e.g. %s), "
          "%d unexpected (e.g. %s)"
          % (receiver.id, sender.id, len(lost), lost[:3], len(dup), dup[:3],
             len(unexpected), unexpected[:3]))
    return rows


def run(test, ids=("AA-ONE", "BB-TWO")):
    """Run TEST(net) in a fresh Net; exit 0 on success, 1 on failure."""
    net = Net(ids)
    failed = True
    try:
        test(net)
        failed = False
    except TestFailure as e:
        log("FAIL: %s" % e)
    except Exception:
        import traceback
        traceback.print_exc()
    finally:
        net.close(failed)
    if not failed:
        log("PASS")
    sys.exit(1 if failed else 0)
