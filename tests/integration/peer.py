"""A raw comity peer for hostile tests: hand-encoded protobuf frames, a
TLS client with any certificate, protocol version or ALPN, and a fake
TLS server that a daemon can be made to dial.

Frames are a 4-byte big-endian length and one protobuf Frame
(proto/comity.proto), encoded here by hand.  So are the Request, Envelope
and ReceiptContent messages; sealing and signing go through the stock
`openssl cms` command, as a counterpart or an auditor without comity code
would do it.
"""

import hashlib
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

ALPN = "comity/1"
HOST = "127.0.0.1"

# Frame oneof field numbers
F_HELLO = 1
F_ENVELOPE = 2
F_RECEIPT = 3
F_RECEIPT_ACK = 4
F_TRY_LATER = 5


# ---------------------------------------------------------------- protobuf

def varint(n):
    """Protobuf base-128 varint (negative: 64-bit two's complement)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_varint(field, n):
    return varint(field << 3 | 0) + varint(n)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def frame(payload):
    """Length prefix + PAYLOAD."""
    return struct.pack(">I", len(payload)) + payload


def hello_payload(authority_id, software="comity-test-peer/0", now_ns=None):
    if now_ns is None:
        now_ns = time.time_ns()
    # proto3 canonical form, which the daemon insists on: no zero scalars
    return pb_bytes(F_HELLO, pb_bytes(1, authority_id) + pb_bytes(2, software)
                    + (pb_varint(3, now_ns) if now_ns else b""))


def hello(authority_id, **kw):
    """A whole Hello frame."""
    return frame(hello_payload(authority_id, **kw))


def envelope(ident, frm, to, body=b"not a CMS body", created_ns=None):
    """A whole Envelope frame (IDENT: 16 bytes)."""
    if created_ns is None:
        created_ns = time.time_ns()
    env = (pb_bytes(1, ident) + pb_bytes(2, frm) + pb_bytes(3, to)
           + pb_varint(6, created_ns) + pb_bytes(8, body))
    return frame(pb_bytes(F_ENVELOPE, env))


def read_varint(buf, i):
    n = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def pb_fields(buf):
    """The (field, value) pairs of one message: ints or bytes."""
    out = []
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            v = bytes(buf[i:i + n])
            i += n
        elif wt == 1:
            v = bytes(buf[i:i + 8])
            i += 8
        elif wt == 5:
            v = bytes(buf[i:i + 4])
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((field, v))
    return out


def parse_frame(payload):
    """(oneof field number, sub-message bytes) of a Frame payload."""
    fields = pb_fields(payload)
    if len(fields) != 1 or not isinstance(fields[0][1], bytes):
        raise ValueError("not a single-message Frame: %r" % (fields,))
    return fields[0]


def parse_hello(msg):
    d = {}
    for f, v in pb_fields(msg):
        d[{1: "authority_id", 2: "software", 3: "now_ns"}.get(f, f)] = v
    if "authority_id" in d:
        d["authority_id"] = d["authority_id"].decode(errors="replace")
    return d


# ---------------------------------------------------------------- TLS

def client_context(ca, cert=None, key=None, alpn=(ALPN,),
                   version=ssl.TLSVersion.TLSv1_3):
    """A client context trusting CA, presenting CERT/KEY (if given),
    offering ALPN (a sequence, or None for no ALPN extension) and speaking
    only protocol VERSION."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
    ctx.minimum_version = version
    ctx.maximum_version = version
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def server_context(ca, cert, key, alpn=(ALPN,),
                   version=ssl.TLSVersion.TLSv1_3):
    """A server context speaking only protocol VERSION, requiring a client
    certificate from CA and selecting ALPN (None: no ALPN at all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = version
    ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def peer_uri_sans(sslsock):
    """URI SANs of the certificate the other side of SSLSOCK presented."""
    cert = sslsock.getpeercert()
    if not cert:
        return []
    return [v for k, v in cert.get("subjectAltName", ()) if k == "URI"]


class Conn:
    """One connection to a daemon's peer port: TCP first, TLS on demand.

    lport is the local port, which the daemon logs as "127.0.0.1:PORT".
    """

    def __init__(self, port, timeout=5.0):
        self.timeout = timeout
        self.raw = socket.create_connection((HOST, port), timeout=timeout)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.lport = self.raw.getsockname()[1]
        self.addr = "%s:%d" % (HOST, self.lport)
        self.sock = self.raw
        self.buf = b""

    @classmethod
    def accepted(cls, raw, timeout=5.0):
        """A Conn over RAW, a socket accepted from a listener."""
        c = cls.__new__(cls)
        c.timeout = timeout
        c.raw = raw
        c.raw.settimeout(timeout)
        c.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.lport = c.raw.getsockname()[1]
        c.addr = "%s:%d" % (HOST, c.lport)  # the endpoint the daemon dialled
        c.sock = c.raw
        c.buf = b""
        return c

    def tls(self, ctx):
        """Handshake with CTX; raises ssl.SSLError/OSError on failure."""
        self.sock = ctx.wrap_socket(self.raw, server_hostname=None,
                                    do_handshake_on_connect=False)
        self.sock.settimeout(self.timeout)
        self.sock.do_handshake()
        return self

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, timeout):
        """Bytes, b"" at EOF, or raise socket.timeout / OSError."""
        self.sock.settimeout(timeout)
        return self.sock.recv(65536)

    def read_frame(self, timeout=5.0):
        """The next frame as (field, message bytes); raises EOFError at
        EOF, socket.timeout, or ssl.SSLError/OSError."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    payload = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return parse_frame(payload)
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no whole frame within %.1fs" % timeout)
            data = self._recv(left)
            if not data:
                raise EOFError("closed after %d bytes" % len(self.buf))
            self.buf += data

    def read_hello(self, timeout=5.0):
        """Read the daemon's Hello; return it parsed."""
        field, msg = self.read_frame(timeout)
        if field != F_HELLO:
            raise ValueError("first frame is field %d, not Hello" % field)
        return parse_hello(msg)

    def outcome(self, timeout=5.0):
        """Wait for the daemon to end the connection.  Returns
        ("closed", how, data) when it did (EOF or a TLS/socket error;
        DATA = whatever bytes arrived first) or ("open", "timeout", data)
        when it was still open after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return ("open", "timeout", data)
            try:
                chunk = self._recv(left)
            except socket.timeout:
                return ("open", "timeout", data)
            except ssl.SSLError as e:
                return ("closed", "tls: %s" % (e.reason or e), data)
            except OSError as e:
                return ("closed", "socket: %s" % e, data)
            if not chunk:
                return ("closed", "eof", data)
            data += chunk

    def close(self, rst=False):
        try:
            if rst:
                self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass
        try:
            self.raw.close()
        except OSError:
            pass


def attempt_refused(port, ctx, timeout=5.0, send=b""):
    """Connect with CTX and (if the handshake passes) send SEND; then wait
    for the daemon to end it.  Returns (lport, how) when the connection was
    refused before any frame from the daemon was readable; raises
    AssertionError (with what happened) otherwise."""
    c = Conn(port, timeout)
    try:
        try:
            c.tls(ctx)
        except (ssl.SSLError, OSError) as e:
            return c.lport, "handshake: %s" % (getattr(e, "reason", None)
                                               or e)
        if send:
            try:
                c.send(send)
            except (ssl.SSLError, OSError) as e:
                return c.lport, "send: %s" % e
        state, how, data = c.outcome(timeout)
        if state != "closed":
            raise AssertionError("connection from port %d still open after "
                                 "%.0fs (daemon sent %d bytes)"
                                 % (c.lport, timeout, len(data)))
        if data:
            raise AssertionError("daemon sent %d bytes (%r...) on a "
                                 "connection it should refuse"
                                 % (len(data), data[:16]))
        return c.lport, how
    finally:
        c.close()


# ---------------------------------------------------------------- fake server

class FakeServer:
    """A TLS 1.3 server on 127.0.0.1 that a daemon can be made to dial (by
    pointing a directory endpoint at it).  It completes handshakes with
    CTX and records, per connection, the client's URI SANs and every byte
    it sent until it closed.  Runs in a thread; stop() joins it."""

    def __init__(self, ctx, read_timeout=5.0):
        self.ctx = ctx
        self.read_timeout = read_timeout
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []     # dicts: handshake, sans, data, error
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            rec = {"handshake": False, "sans": [], "data": b"",
                   "error": None}
            with self.lock:
                self.conns.append(rec)
            try:
                s.settimeout(self.read_timeout)
                t = self.ctx.wrap_socket(s, server_side=True)
                rec["handshake"] = True
                rec["sans"] = peer_uri_sans(t)
                deadline = time.monotonic() + self.read_timeout
                while time.monotonic() < deadline:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    rec["data"] += chunk
                t.close()
            except (ssl.SSLError, OSError) as e:
                rec["error"] = str(e)
            finally:
                s.close()

    def snapshot(self):
        with self.lock:
            return [dict(c) for c in self.conns]

    def stop(self):
        self._stop.set()
        self.thread.join(10)
        self.lsock.close()


class Listener:
    """A TCP listener on 127.0.0.1 that a daemon can be made to dial (by
    pointing a directory endpoint at it), whose connections the test
    accepts and drives itself, frame by frame, from its own thread."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]

    def accept(self, ctx, timeout=30.0):
        """Wait for a connection, complete a server-side TLS handshake
        with CTX and return it as a Conn (whose addr is the endpoint the
        daemon dialled, as its log names the link)."""
        self.lsock.settimeout(timeout)
        raw, _ = self.lsock.accept()
        c = Conn.accepted(raw, timeout=timeout)
        c.sock = ctx.wrap_socket(raw, server_side=True,
                                 do_handshake_on_connect=False)
        c.sock.settimeout(timeout)
        c.sock.do_handshake()
        return c

    def close(self):
        self.lsock.close()


# ---------------------------------------------------------------- daemon log

def log_lines_for(daemon, addr, what=None):
    """Lines of DAEMON's log about the link from ADDR ("host:port"),
    optionally only those containing WHAT."""
    tag = "link %s " % addr
    tag2 = "link %s:" % addr
    return [ln for ln in daemon.log_text().splitlines()
            if (tag in ln or tag2 in ln) and (what is None or what in ln)]


def proc_status_kib(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, VmSize...)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def asan_build(binary):
    """BINARY was built with AddressSanitizer."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def restart_wait(d, timeout=30):
    """Start daemon D (stopped) and wait for a new " ready: " line: its log
    is appended to across restarts, so an old one does not count."""
    from harness import TestFailure, wait_until

    n = d.log_text().count(" ready: ")

    def ready():
        if d.proc.poll() is not None:
            raise TestFailure("%s exited with %d during start-up:\n%s"
                              % (d.id, d.proc.returncode, d.log_tail()))
        return d.log_text().count(" ready: ") > n
    d.start(wait=False)
    wait_until(ready, timeout, "%s ready again" % d.id)


# ---------------------------------------------------------------- sealed content
#
# The messages of proto/comity.proto that travel inside (or about) an
# envelope, encoded by hand in canonical proto3 form: fields in number
# order, no zero-valued scalar, no empty string or bytes.  The daemon
# insists on that form (it re-encodes what it decodes and compares sizes).

KIND_REQUEST = 0            # EnvelopeKind
KIND_NOTICE = 1
PRIORITY_NORMAL = 0         # Priority
PRIORITY_URGENT = 1
TYPE_MLA = 1                # RequestType
TYPE_EXTRADITION = 2
TYPE_CONFISCATION = 3
TYPE_TRANSFER_OF_SENTENCED_PERSONS = 4
TYPE_JOINT_INVESTIGATION = 5
TYPE_OTHER = 6
RECEIPT_DELIVERED = 1       # ReceiptKind
RECEIPT_REJECTED = 2
RECEIPT_RETRIEVED = 3

# (field number, name, kind) in number order; kind: "v" varint, "b" bytes
# or string, "m" repeated sub-message.
REQUEST_FIELDS = (
    (1, "id", "b"), (2, "from", "b"), (3, "to", "b"), (4, "kind", "v"),
    (5, "priority", "v"), (6, "type", "v"), (7, "legal_basis", "b"),
    (8, "case_ref", "b"), (9, "their_ref", "b"), (10, "in_reply_to", "b"),
    (11, "language", "b"), (12, "subject", "b"), (13, "created_at_ns", "v"),
    (14, "documents", "m"), (15, "expires_at_ns", "v"),
)
DOCUMENT_FIELDS = ((1, "name", "b"), (2, "media_type", "b"),
                   (3, "content", "b"))
ENVELOPE_FIELDS = (
    (1, "id", "b"), (2, "from", "b"), (3, "to", "b"), (4, "kind", "v"),
    (5, "priority", "v"), (6, "created_at_ns", "v"),
    (7, "expires_at_ns", "v"), (8, "body", "b"),
)
RECEIPT_CONTENT_FIELDS = (
    (1, "kind", "v"), (2, "envelope_id", "b"), (3, "from", "b"),
    (4, "to", "b"), (5, "envelope_body_sha256", "b"), (6, "at_ns", "v"),
    (7, "reason", "b"), (8, "issuer_audit_head", "b"),
    (9, "issuer_audit_seq", "v"),
)
# the string (not bytes) fields, decoded to str by the parsers
_STRINGS = {"from", "to", "legal_basis", "case_ref", "their_ref",
            "language", "subject", "name", "media_type", "reason"}
# the signed int64 fields
_SIGNED = {"created_at_ns", "expires_at_ns", "at_ns"}


def pb_encode(spec, msg):
    """Canonical proto3 encoding of dict MSG after SPEC (see above);
    missing keys are zero.  A "m" field is a list of dicts encoded with
    the spec found in _SUBSPECS."""
    out = b""
    for num, name, kind in spec:
        v = msg.get(name)
        if kind == "v":
            if v:
                out += pb_varint(num, v)
        elif kind == "b":
            if v:
                out += pb_bytes(num, v)
        else:
            for sub in v or ():
                out += pb_bytes(num, pb_encode(_SUBSPECS[name], sub))
    return out


def pb_decode(spec, buf):
    """The dict of message BUF after SPEC (unknown fields under their
    number); absent fields get their zero value."""
    names = {num: (name, kind) for num, name, kind in spec}
    d = {}
    for num, name, kind in spec:
        d[name] = [] if kind == "m" else 0 if kind == "v" else (
            "" if name in _STRINGS else b"")
    for f, v in pb_fields(buf):
        if f not in names:
            d[f] = v
            continue
        name, kind = names[f]
        if kind == "m":
            d[name].append(pb_decode(_SUBSPECS[name], v))
        elif kind == "v":
            if name in _SIGNED and v >= 1 << 63:
                v -= 1 << 64
            d[name] = v
        else:
            d[name] = v.decode(errors="replace") if name in _STRINGS else v
    return d


_SUBSPECS = {"documents": DOCUMENT_FIELDS}


def request_msg(req):
    """Encoded Request.  REQ: a dict with the field names of
    REQUEST_FIELDS; documents a list of {name, media_type, content}."""
    return pb_encode(REQUEST_FIELDS, req)


def parse_request(buf):
    return pb_decode(REQUEST_FIELDS, buf)


def new_request(frm, to, ident=None, **fields):
    """A Request dict with a fresh 16-byte id, type MLA, created now and
    one small text document, FIELDS overriding any of that."""
    req = {"id": ident if ident is not None else os.urandom(16),
           "from": frm, "to": to, "kind": KIND_REQUEST,
           "priority": PRIORITY_NORMAL, "type": TYPE_MLA,
           "created_at_ns": time.time_ns(),
           "documents": [{"name": "request.txt", "media_type": "text/plain",
                          "content": b"Please provide the records.\n"}]}
    req.update(fields)
    return req


def envelope_msg(env):
    """Encoded Envelope.  ENV: id, from, to, kind, priority,
    created_at_ns, expires_at_ns, body."""
    return pb_encode(ENVELOPE_FIELDS, env)


def parse_envelope(buf):
    return pb_decode(ENVELOPE_FIELDS, buf)


def envelope_for(req, body, **override):
    """The Envelope dict whose clear header equals REQUEST dict REQ's, with
    BODY (the sealed request); OVERRIDE changes header fields."""
    env = {k: req.get(k, 0) for k in ("id", "from", "to", "kind",
                                       "priority", "created_at_ns",
                                       "expires_at_ns")}
    env["body"] = body
    env.update(override)
    return env


def envelope_frame(env):
    """A whole Envelope frame of dict ENV."""
    return frame(pb_bytes(F_ENVELOPE, envelope_msg(env)))


def receipt_content_msg(rc):
    """Encoded ReceiptContent.  RC: kind, envelope_id, from, to,
    envelope_body_sha256, at_ns, reason, issuer_audit_head,
    issuer_audit_seq."""
    return pb_encode(RECEIPT_CONTENT_FIELDS, rc)


def parse_receipt_content(buf):
    return pb_decode(RECEIPT_CONTENT_FIELDS, buf)


def receipt_frame(signed):
    """A whole Receipt frame carrying SIGNED (DER SignedData)."""
    return frame(pb_bytes(F_RECEIPT, pb_bytes(1, signed)))


def parse_receipt(msg):
    """The signed bytes of a Receipt message (Frame field 3)."""
    d = dict(pb_fields(msg))
    return d.get(1, b"")


# ---------------------------------------------------------------- CMS (openssl)

class OpensslError(Exception):
    pass


def openssl(*args, input=None, check=True):
    """Run the openssl CLI with ARGS (feeding INPUT); return (rc, stdout
    bytes, stderr str), raising OpensslError on failure when CHECK."""
    p = subprocess.run(["openssl", *[str(a) for a in args]], input=input,
                       capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise OpensslError("openssl %s: exit %d: %s"
                           % (" ".join(map(str, args[:2])), p.returncode,
                              err.strip()))
    return p.returncode, p.stdout, err


def cms_sign(content, cert, key, nosmimecap=True):
    """DER CMS SignedData over CONTENT (attached) by CERT/KEY, the way
    stock `openssl cms -sign` makes it (signing time, certificate
    embedded)."""
    args = ["cms", "-sign", "-nodetach", "-binary", "-outform", "DER",
            "-signer", cert, "-inkey", key]
    if nosmimecap:
        args.append("-nosmimecap")
    return openssl(*args, input=content)[1]


def cms_encrypt(data, rcpt_cert):
    """DER CMS AuthEnvelopedData (AES-256-GCM, ECDH with a SHA-256 KDF) of
    DATA to RCPT_CERT."""
    return openssl("cms", "-encrypt", "-aes-256-gcm", "-binary",
                   "-outform", "DER", "-recip", rcpt_cert,
                   "-keyopt", "ecdh_kdf_md:sha256", input=data)[1]


def seal(plain, signer_cert, signer_key, rcpt_cert):
    """A sealed request body: PLAIN signed by SIGNER, encrypted to RCPT."""
    return cms_encrypt(cms_sign(plain, signer_cert, signer_key), rcpt_cert)


def cms_verify(der, ca, signer_out=None, crl=None):
    """`openssl cms -verify -inform DER -binary -CAfile CA` of DER:
    (ok, content, stderr); SIGNER_OUT receives the signer's certificate."""
    args = ["cms", "-verify", "-inform", "DER", "-binary", "-CAfile", ca]
    if signer_out is not None:
        args += ["-signer", signer_out]
    if crl is not None:
        args += ["-CRLfile", crl, "-crl_check"]
    rc, out, err = openssl(*args, input=der, check=False)
    return rc == 0, out, err


def cms_decrypt(der, cert, key):
    """The content of DER AuthEnvelopedData, opened with CERT/KEY."""
    return openssl("cms", "-decrypt", "-inform", "DER", "-binary",
                   "-recip", cert, "-inkey", key, input=der)[1]


def cert_uri_sans(pem_path):
    """The URI SANs of the PEM certificate at PEM_PATH."""
    _, out, _ = openssl("x509", "-in", pem_path, "-noout", "-ext",
                        "subjectAltName")
    sans = []
    for part in out.decode().replace("\n", ",").split(","):
        part = part.strip()
        if part.startswith("URI:"):
            sans.append(part[4:])
    return sans


def spki_pin(pem_path):
    """The directory `pin` of a certificate: hex SHA-256 of its DER
    SubjectPublicKeyInfo (as certs/README.md computes it)."""
    _, pub, _ = openssl("x509", "-in", pem_path, "-pubkey", "-noout")
    _, der, _ = openssl("pkey", "-pubin", "-outform", "DER", input=pub)
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------- DER

def der_tlv(buf, i, end=None):
    """(tag byte, content offset, content length) of the DER object at I."""
    if end is None:
        end = len(buf)
    if i + 2 > end:
        raise ValueError("DER: truncated header at %d" % i)
    tag, n = buf[i], buf[i + 1]
    i += 2
    if tag & 0x1F == 0x1F:
        raise ValueError("DER: high tag numbers not handled")
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > end:
            raise ValueError("DER: bad length at %d" % i)
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    if i + n > end:
        raise ValueError("DER: object overruns its parent")
    return tag, i, n


def der_children(buf, start, length):
    """The (tag, content offset, content length) of each object inside the
    constructed contents BUF[START:START+LENGTH]."""
    out = []
    i, end = start, start + length
    while i < end:
        tag, off, n = der_tlv(buf, i, end)
        out.append((tag, off, n))
        i = off + n
    return out


def aed_encrypted_content(body):
    """(offset, length) of the encryptedContent ([0] IMPLICIT OCTET
    STRING) in DER ContentInfo{AuthEnvelopedData} BODY: the AES-GCM
    ciphertext."""
    _, off, n = der_tlv(body, 0)                    # ContentInfo
    kids = der_children(body, off, n)               # OID, [0]
    _, off, n = kids[1]
    _, off, n = der_tlv(body, off)                  # AuthEnvelopedData
    for tag, o, ln in der_children(body, off, n):
        if tag == 0x30:                             # authEncryptedContentInfo
            for t2, o2, l2 in der_children(body, o, ln):
                if t2 == 0x80:
                    return o2, l2
    raise ValueError("no encryptedContent in the AuthEnvelopedData")
