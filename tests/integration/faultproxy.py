"""A fault-injecting TCP proxy on 127.0.0.1 for the integration tests.

A Proxy listens on an ephemeral port and forwards every connection it
accepts to a target port.  Each direction is cut into TLS records (a
5-byte header: type, version, 16-bit length), and every record is offered
to a decide(conn, direction, record) callback that answers PASS (forward
it), DROP (swallow it) or CUT (close both sides of the connection at once,
without forwarding it).  direction is UP (client to server, i.e. from the
dialling daemon) or DOWN.  Without a callback everything passes.

conn.state is a dict that the callback may use as it likes, conn.n is the
number of the connection (from 1) and conn.records counts the records
seen per direction.  The callback runs on the connection's pump threads,
so it must be quick; it may read and set attributes of the test.
"""

import socket
import threading

PASS = "pass"
DROP = "drop"
CUT = "cut"
UP = "up"
DOWN = "down"

TLS_APPLICATION_DATA = 0x17


class ProxyConn:
    def __init__(self, proxy, n, client, server):
        self.proxy = proxy
        self.n = n
        self.client = client
        self.server = server
        self.state = {}
        self.records = {UP: 0, DOWN: 0}
        self.lock = threading.Lock()
        self.closed = False
        self.threads = [
            threading.Thread(target=self._pump, args=(UP, client, server),
                             daemon=True),
            threading.Thread(target=self._pump, args=(DOWN, server, client),
                             daemon=True),
        ]

    def start(self):
        for t in self.threads:
            t.start()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump(self, direction, src, dst):
        buf = b""
        try:
            while not self.closed:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 5:
                    end = 5 + int.from_bytes(buf[3:5], "big")
                    if len(buf) < end:
                        break
                    rec, buf = buf[:end], buf[end:]
                    self.records[direction] += 1
                    verdict = (self.proxy.decide(self, direction, rec)
                               if self.proxy.decide else PASS)
                    if verdict == CUT:
                        self.proxy.count_cut()
                        return
                    if verdict == PASS:
                        dst.sendall(rec)
                    else:
                        self.proxy.count_drop()
        except OSError:
            pass
        finally:
            # One side gone, or cut: the whole connection goes.
            self.close()


class Proxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:TARGET_PORT through DECIDE."""

    def __init__(self, target_port, decide=None, host="127.0.0.1"):
        self.target = (host, target_port)
        self.decide = decide
        self.lock = threading.Lock()
        self.conns = []
        self.connections = 0    # accepted so far
        self.cuts = 0
        self.drops = 0
        self.closing = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.endpoint = "%s:%d" % (host, self.port)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def count_cut(self):
        with self.lock:
            self.cuts += 1

    def count_drop(self):
        with self.lock:
            self.drops += 1

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            client.settimeout(None)
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.closing:
                    client.close()
                    server.close()
                    break
                self.connections += 1
                conn = ProxyConn(self, self.connections, client, server)
                self.conns = [c for c in self.conns if not c.closed]
                self.conns.append(conn)
            conn.start()

    def cut_all(self):
        """Close every open connection now."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def close(self):
        self.closing = True
        self.thread.join(5)
        self.sock.close()
        self.cut_all()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            for t in c.threads:
                t.join(5)
