"""comityd --check: exit 0 on a good configuration, 1 with the reason on
one line of stderr on a bad one, without creating the store; a daemon
started on a bad configuration exits 78 (EX_CONFIG)."""

import os
import shutil
import subprocess

from harness import COMITYD, EX_CONFIG, check, log, run


def comityd(*args, cwd=None):
    p = subprocess.run([os.path.abspath(COMITYD), *args], cwd=cwd,
                       capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def test(net):
    a = net["AA-ONE"]
    root = net.root

    def good(what, cwd=None, conf=None):
        rc, out, err = comityd("--check", "--config", conf or a.conf,
                               cwd=cwd)
        check(rc == 0, "--check on %s exited %d: %s" % (what, rc,
                                                          err.strip()))
        check("configuration OK" in out and "AA-ONE" in out,
              "--check on %s printed %r" % (what, out))
        check(err == "", "--check on %s wrote to stderr: %r" % (what, err))
        return out

    def bad(what, extra, *reasons):
        """Configuration EXTRA is refused by --check naming REASONS, and
        by a daemon start with EX_CONFIG; neither creates the store."""
        a.write_conf(extra)
        rc, out, err = comityd("--check", "--config", a.conf)
        lines = err.strip().splitlines()
        check(rc == 1, "--check with %s exited %d, want 1: %s"
              % (what, rc, err.strip()))
        check(len(lines) == 1, "--check with %s: want one line on stderr, "
              "got %r" % (what, err))
        for r in reasons:
            check(r in lines[0], "--check with %s: %r does not say %r"
                  % (what, lines[0], r))
        check("configuration OK" not in out, "--check with %s said OK"
              % what)
        rc, _, err = comityd("--config", a.conf)
        check(rc == EX_CONFIG, "daemon with %s exited %d, want %d: %s"
              % (what, rc, EX_CONFIG, err.strip()))
        check(all(r in err for r in reasons), "daemon with %s logged %r"
              % (what, err))
        check(not os.path.exists(a.store), "a failed start with %s created "
              "the store" % what)
        check(not os.path.exists(a.sock), "a failed start with %s left a "
              "socket" % what)
        log("refused %-28s %s" % (what + ":", lines[0][:100]))

    good("the harness configuration")
    check(not os.path.exists(a.store), "--check created the store")

    # Relative paths are relative to the configuration file.
    reldir = os.path.join(root, "rel")
    os.mkdir(reldir, 0o700)
    shutil.copy(net.key("AA-ONE"), os.path.join(reldir, "own.key"))
    os.chmod(os.path.join(reldir, "own.key"), 0o600)
    relconf = os.path.join(reldir, "comityd.conf")
    with open(relconf, "w") as f:
        f.write("[authority]\nid = AA-ONE\ncert = ../pki/AA-ONE.pem\n"
                "key = own.key\nca = ../pki/ca.pem\n"
                "directory = ../directory.conf\n\n"
                "[listen]\naddress = 127.0.0.1:%d\n\n"
                "[store]\npath = store\n\n[client]\nsocket = comity.sock\n"
                % a.port)
    good("relative paths", cwd="/", conf=relconf)

    # Key readable by group or others.
    for mode in (0o644, 0o640, 0o604):
        k = os.path.join(root, "key-%o.pem" % mode)
        shutil.copy(net.key("AA-ONE"), k)
        os.chmod(k, mode)
        bad("key mode %04o" % mode, {"authority": {"key": k}},
            k, "%04o" % mode)

    missing = os.path.join(root, "no-such-cert.pem")
    bad("a missing cert file", {"authority": {"cert": missing}}, missing)
    missing = os.path.join(root, "no-such-ca.pem")
    bad("a missing CA file", {"authority": {"ca": missing}}, missing)
    bad("another authority's cert",
        {"authority": {"cert": net.cert("BB-TWO")}}, net.cert("BB-TWO"))
    bad("an id the cert does not name", {"authority": {"id": "CC-THREE"}},
        "CC-THREE")
    bad("an unknown key", {"listen": {"colour": "blue"}}, "colour")
    bad("an unknown section", {"bogus": {"colour": "blue"}}, "[bogus]")
    bad("a missing required key", {"store": {"path": None}}, "path")
    for addr in ("127.0.0.1:0", "127.0.0.1", "127.0.0.1:65536",
                 "bad host:7443", "::1:7443", "127.0.0.1:-1"):
        bad("listen address %r" % addr, {"listen": {"address": addr}},
            "address", addr)

    # Directories.
    with open(net.directory) as f:
        text = f.read()
    entries = {}
    for chunk in text.split("\n\n"):
        if chunk.strip():
            entries[chunk.split("]")[0].lstrip("[")] = chunk.strip() + "\n"
    empty = net.file("dir-empty.conf", "")
    bad("an empty directory", {"authority": {"directory": empty}},
        empty, "no authorities")
    swapped = net.file("dir-swapped.conf", entries["AA-ONE"] + "\n" +
                       entries["BB-TWO"].replace(net.cert("BB-TWO"),
                                                 net.cert("AA-ONE")))
    bad("a directory cert of another id",
        {"authority": {"directory": swapped}}, swapped)
    garbled = net.file("dir-garbled.conf", text + "\n[CC-THREE\nname = x\n")
    bad("a garbled directory", {"authority": {"directory": garbled}},
        garbled)

    # comityd.conf(5): the directory "may list our own authority"; without
    # it we accept every request type.  It is not an error.
    noself = net.file("dir-noself.conf", entries["BB-TWO"])
    a.write_conf({"authority": {"directory": noself}})
    out = good("a directory without our own id")
    check("1 directory entries" in out, "--check counted %r" % out)

    a.write_conf({})
    good("the harness configuration again")
    rc, _, err = comityd("--check", "--config",
                         os.path.join(root, "no-such.conf"))
    check(rc == 1 and "no-such.conf" in err,
          "--check on a missing file: %d %r" % (rc, err))
    check(not os.path.exists(a.store), "--check created the store")


run(test)
