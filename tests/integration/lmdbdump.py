"""An LMDB store as data, for the audit tamper tests: mdb_dump into
{database name: [[key, value], ...]}, mdb_load back, and the layout of
the audit sub-database (u64be seq -> AuditRecord, see
proto/comity.proto)."""

import os
import struct
import subprocess

AUDIT_RECORD_FIELDS = (
    (1, "seq", "v"), (2, "time_ns", "v"), (3, "event", "v"),
    (4, "message_id", "b"), (5, "peer", "b"), (6, "uid", "v"),
    (7, "detail", "b"), (8, "prev_hash", "b"), (9, "hash", "b"),
)


def dump(store, name=None):
    """mdb_dump of STORE: {db name: [[key bytes, value bytes], ...]}."""
    args = ["mdb_dump"] + (["-s", name] if name else ["-a"]) + [store]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    dbs, cur, pair = {}, None, []
    for line in out.decode().split("\n"):
        if line.startswith("database="):
            cur = dbs.setdefault(line[len("database="):], [])
        elif line.startswith(" "):
            pair.append(bytes.fromhex(line[1:]))
            if len(pair) == 2:
                cur.append(pair)
                pair = []
    return dbs


def load(dbs, dest, root):
    """Write DBS to DEST with mdb_load (DEST created if needed)."""
    os.makedirs(dest, mode=0o700, exist_ok=True)
    path = os.path.join(root, "load.dump")
    with open(path, "w") as f:
        for name, pairs in dbs.items():
            f.write("VERSION=3\nformat=bytevalue\ndatabase=%s\n"
                    "type=btree\nmapsize=1073741824\nHEADER=END\n" % name)
            for k, v in pairs:
                f.write(" %s\n %s\n" % (k.hex(), v.hex()))
            f.write("DATA=END\n")
    subprocess.run(["mdb_load", "-f", path, dest], check=True,
                   capture_output=True)
    os.unlink(path)


def seq_key(seq):
    return struct.pack(">Q", seq)
