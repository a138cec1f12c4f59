#!/usr/bin/env python3
"""mkcorpus.py - write the seed corpora of fuzz_frame, fuzz_request and
fuzz_receipt into corpus/<target>/.

A frame seed is a byte stream of frames (4-byte big-endian length +
payload); request and receipt seeds are one encoded message each.  All
are hand-encoded protobuf (proto/comity.proto), stored under the SHA-256
of their content.  Deterministic: running it again rewrites the same
files.  (fuzz_cms seeds are real CMS objects: see mkcms.c.)
Usage: tests/fuzz/mkcorpus.py [TARGET [OUTDIR]]
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


def frame_seeds():
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
    local_batch = field(16, LEN, field(1, LEN, submit) * 3 +
                        field(1, LEN, b""))
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
        "local_batch": frame(local_batch),
        # many empty batch items: the allocation budget
        "many_batch_items": frame(field(16, LEN, b"\x0a\x00" * 5000)),
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


def document(name="request.pdf", media="application/pdf",
             content=b"%PDF-1.7\n"):
    return (field(1, LEN, name) + field(2, LEN, media) +
            field(3, LEN, content))


def request(over=None):
    f = {
        1: field(1, LEN, ENV_ID), 2: field(2, LEN, "BE-FPSJ"),
        3: field(3, LEN, "KE-ODPP"), 4: b"", 5: field(5, VARINT, 1),
        6: field(6, VARINT, 1),
        7: field(7, LEN, "Convention on Mutual Assistance, art. 4"),
        8: field(8, LEN, "CASE-2026-001"), 9: field(9, LEN, "KE/2026/77"),
        10: field(10, LEN, bytes(range(0xB0, 0xC0))),
        11: field(11, LEN, "en"), 12: field(12, LEN, "subject"),
        13: field(13, VARINT, 1700000000000000000),
        14: field(14, LEN, document()) + field(14, LEN, b""),
        15: field(15, VARINT, 1800000000000000000),
    }
    f.update(over or {})
    return b"".join(f[k] for k in sorted(f))


def request_seeds():
    return {
        "full": request(),
        "minimal": field(1, LEN, ENV_ID),
        "empty": b"",
        "notice": request({4: field(4, VARINT, 1), 14: b""}),
        "many_docs": request({14: field(14, LEN, b"") * 2000}),
        "big_doc": request({14: field(14, LEN, document(
            content=bytes(range(256)) * 16))}),
        "unknown_type": request({6: field(6, VARINT, 99)}),
        "negative_time": request({13: field(13, VARINT, -1)}),
        "nul_in_subject": request({12: field(12, LEN, "sub\0ject")}),
        "bad_utf8": request({12: field(12, LEN, b"\xc3\x28")}),
        "unknown_field": request() + field(99, LEN, b"later"),
        "truncated": request()[:-3],
    }


def receipt(over=None):
    f = {
        1: field(1, VARINT, 1), 2: field(2, LEN, ENV_ID),
        3: field(3, LEN, "BE-FPSJ"), 4: field(4, LEN, "KE-ODPP"),
        5: field(5, LEN, bytes(range(32))),
        6: field(6, VARINT, 1700000001000000000), 7: b"",
        8: field(8, LEN, bytes(range(32, 64))), 9: field(9, VARINT, 42),
    }
    f.update(over or {})
    return b"".join(f[k] for k in sorted(f))


def receipt_seeds():
    return {
        "delivered": receipt(),
        "rejected": receipt({1: field(1, VARINT, 2),
                             7: field(7, LEN, "unknown request type")}),
        "retrieved": receipt({1: field(1, VARINT, 3)}),
        "empty": b"",
        "unknown_kind": receipt({1: field(1, VARINT, 77)}),
        "short_sha": receipt({5: field(5, LEN, bytes(31))}),
        "nul_in_reason": receipt({7: field(7, LEN, "no\0pe")}),
        "huge_seq": receipt({9: field(9, VARINT, (1 << 64) - 1)}),
        "repeated_field": receipt() + field(3, LEN, "FR-DACG"),
        "truncated": receipt()[:-5],
    }


TARGETS = {
    "frame": frame_seeds,
    "request": request_seeds,
    "receipt": receipt_seeds,
}


def write(target, out):
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(TARGETS[target]().items()):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, digest), "wb") as fp:
            fp.write(data)
        print(f"{digest}  {target}/{name} ({len(data)} bytes)")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) > 3 or (len(sys.argv) > 1 and
                             sys.argv[1] not in TARGETS):
        sys.exit("usage: mkcorpus.py [TARGET [OUTDIR]]; TARGET is one of " +
                 ", ".join(TARGETS))
    targets = [sys.argv[1]] if len(sys.argv) > 1 else sorted(TARGETS)
    for t in targets:
        out = (sys.argv[2] if len(sys.argv) > 2 else
               os.path.join(here, "corpus", t))
        write(t, out)


if __name__ == "__main__":
    main()
