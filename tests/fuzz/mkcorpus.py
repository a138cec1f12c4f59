#!/usr/bin/env python3
"""mkcorpus.py - write the seed corpus of fuzz_frame into corpus/frame/.

Each seed is a byte stream of frames (4-byte big-endian length + payload)
with hand-encoded protobuf payloads (proto/comity.proto), stored under the
SHA-256 of its content.  Deterministic: running it again rewrites the same
files.  Usage: tests/fuzz/mkcorpus.py [OUTDIR]
"""
import hashlib
import os
import random
import struct
import sys

VARINT, I64, LEN = 0, 1, 2


def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, wt, val):
    key = varint(num << 3 | wt)
    if wt == VARINT:
        return key + varint(val)
    if isinstance(val, str):
        val = val.encode()
    return key + varint(len(val)) + val


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


ENV_ID = bytes(range(0xA0, 0xB0))


def hello(aid="BE-FPSJ", now=1700000000000000000):
    return (field(1, LEN, aid) + field(2, LEN, "comity/0.1.0") +
            field(3, VARINT, now))


def envelope():
    return (field(1, LEN, ENV_ID) + field(2, LEN, "BE-FPSJ") +
            field(3, LEN, "KE-ODPP") + field(4, VARINT, 1) +
            field(5, VARINT, 1) + field(6, VARINT, 1700000000000000000) +
            field(7, VARINT, 1800000000000000000) +
            field(8, LEN, bytes(range(64))))


def seeds():
    rnd = random.Random(20261123)
    hello_f = field(1, LEN, hello())
    env_f = field(2, LEN, envelope())
    receipt_f = field(3, LEN, field(1, LEN, b"\x30\x82\x01\x00" + bytes(32)))
    ack_f = field(4, LEN, field(1, LEN, ENV_ID) + field(2, VARINT, 3))
    later_f = field(5, LEN, field(1, LEN, ENV_ID) +
                    field(2, LEN, "store full") + field(3, VARINT, 2000))
    doc = (field(1, LEN, "request.pdf") +
           field(2, LEN, "application/pdf") + field(3, LEN, b"%PDF-1.7\n"))
    submit = (field(1, LEN, "KE-ODPP") + field(2, VARINT, 1) +
              field(4, LEN, "CASE-2026-001") + field(7, LEN, "subject") +
              field(10, LEN, "idem-1") + field(11, LEN, doc) +
              field(11, LEN, b""))
    local_submit = field(1, LEN, submit)
    local_status = field(2, LEN, field(1, LEN, ENV_ID))
    local_list = field(3, LEN, field(1, VARINT, 1) + field(6, VARINT, 50))
    return {
        "hello": frame(hello_f),
        "envelope": frame(env_f),
        "receipt": frame(receipt_f),
        "receipt_ack": frame(ack_f),
        "try_later": frame(later_f),
        "stream": frame(hello_f) + frame(env_f) + frame(ack_f),
        "local_submit": frame(local_submit),
        "local_status": frame(local_status),
        "local_list": frame(local_list),
        # a string cut by an embedded NUL, and a non-minimal varint
        "hello_nul": frame(field(1, LEN, field(1, LEN, "AB\0C"))),
        "hello_longvarint": frame(field(1, LEN, b"\x18\x81\x00")),
        # many empty documents: the allocation budget
        "many_docs": frame(field(1, LEN, b"\x5a\x00" * 5000)),
        "oversize": b"\xff\xff\xff\xff" + hello_f,
        "max_plus_one": struct.pack(">I", (1 << 20) + 1) + hello_f,
        "zero_length": b"\x00\x00\x00\x00" + frame(hello_f),
        "partial_header": b"\x00\x00",
        "partial_body": struct.pack(">I", 100) + hello_f[:10],
        "trailing": frame(hello_f + b"\xff"),
        "garbage": frame(bytes(rnd.randrange(256) for _ in range(200))),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "corpus", "frame")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, digest), "wb") as fp:
            fp.write(data)
        print(f"{digest}  {name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
