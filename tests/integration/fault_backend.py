"""A scripted misbehaving backend for the resilience tests.

Each FaultBackend listens on one free loopback port and misbehaves in one
way (its `mode`), counting the connections it accepted so a test can check
how often Postern tried. Standard library only; one daemon thread accepts,
one more per connection. Everything is closed by stop().

Modes:
  refuse       the port is bound but not listening: connects are refused
               (nothing can be accepted, so `accepted` stays 0)
  silent       accepts and never sends a byte
  greet_reset  accepts, sends half a greeting line, then (after a moment)
               resets the connection (SO_LINGER 0)
  tls_fail     accepts, waits for the TLS ClientHello, answers with bytes
               that are not TLS and closes
  wrong_cert   a real TLS server presenting `cert` (which the test pins
               differently); greets over TLS if a handshake ever succeeds
  no_starttls  a plain IMAP greeting whose capabilities lack STARTTLS
  ban          reads Postern's PROXY v2 header; resets connections whose
               source address is in `banned`, relays the others to
               `upstream` (a real server's plain port)
"""

import socket
import ssl
import struct
import threading
import time

MODES = ("refuse", "silent", "greet_reset", "tls_fail", "wrong_cert", "no_starttls", "ban")
NO_STARTTLS_GREETING = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"
HALF_GREETING = b"* OK [CAPABILITY IMAP4rev1 AUTH="
PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
# A connection a test forgot about must not keep a handler thread forever.
HANDLER_TIMEOUT = 30.0
RESET_DELAY = 0.3


def reset_close(sock):
    """Closes with an RST instead of a FIN (SO_LINGER on, timeout 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed during the PROXY header")
        data += chunk
    return data


def read_proxy_v2_source(sock):
    """Reads one PROXY v2 header (TCP over IPv4 or IPv6); returns
    (source address, bytes received after it: none, the header is read
    exactly)."""
    fixed = recv_exact(sock, 16)
    if fixed[:12] != PROXY_V2_SIGNATURE:
        raise ValueError(f"not a PROXY v2 header: {fixed!r}")
    family = fixed[13]
    length = struct.unpack("!H", fixed[14:16])[0]
    if length > 1024:
        raise ValueError(f"PROXY v2 header too long ({length})")
    body = recv_exact(sock, length)
    if family == 0x11 and length >= 12:
        return socket.inet_ntop(socket.AF_INET, body[0:4])
    if family == 0x21 and length >= 36:
        return socket.inet_ntop(socket.AF_INET6, body[0:16])
    return None


def drain(sock):
    """Reads and discards until EOF or error (the peer's commands)."""
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


class FaultBackend:

    def __init__(self, mode, cert=None, upstream=None, banned=()):
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        if mode == "wrong_cert" and cert is None:
            raise ValueError("wrong_cert needs a certificate")
        if mode == "ban" and upstream is None:
            raise ValueError("ban needs an upstream (host, port)")
        self.mode = mode
        self.upstream = upstream
        self.banned = set(banned)
        self._lock = threading.Lock()
        self._accepted = 0
        self.sources = []  # ban mode: PROXY source address of every connection
        self._stopping = threading.Event()
        self._connections = set()
        self._threads = []
        self._tls = None
        if mode == "wrong_cert":
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(str(cert.cert), str(cert.key))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        if mode != "refuse":
            # A bound socket that never listens keeps the port ours while
            # every connect to it is refused.
            self._sock.listen(64)
            self._sock.settimeout(0.2)
            self._spawn(self._accept_loop)

    @property
    def accepted(self):
        with self._lock:
            return self._accepted

    def set_banned(self, addresses):
        with self._lock:
            self.banned = set(addresses)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"fault-{self.mode}")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._accepted += 1
                self._connections.add(conn)
            conn.settimeout(HANDLER_TIMEOUT)
            self._spawn(self._handle, conn)

    def _forget(self, conn):
        with self._lock:
            self._connections.discard(conn)

    def _handle(self, conn):
        try:
            getattr(self, "_serve_" + self.mode)(conn)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            self._forget(conn)
            try:
                conn.close()
            except OSError:
                pass

    # -- one method per mode -----------------------------------------------

    def _serve_silent(self, conn):
        drain(conn)

    def _serve_greet_reset(self, conn):
        conn.sendall(HALF_GREETING)
        # An RST that arrives before Postern has seen its connect complete
        # turns into a connect error; this fault is about the greeting.
        time.sleep(RESET_DELAY)
        reset_close(conn)

    def _serve_tls_fail(self, conn):
        # Wait for the ClientHello so the failure is in the handshake.
        conn.recv(4096)
        conn.sendall(b"this is not a TLS server hello\r\n" * 4)
        conn.close()

    def _serve_wrong_cert(self, conn):
        with self._tls.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] pinned wrongly\r\n")
            drain(tls)

    def _serve_no_starttls(self, conn):
        conn.sendall(NO_STARTTLS_GREETING)
        drain(conn)

    def _serve_ban(self, conn):
        source = read_proxy_v2_source(conn)
        with self._lock:
            self.sources.append(source)
            banned = source in self.banned
        if banned:
            reset_close(conn)
            return
        upstream = socket.create_connection(self.upstream, timeout=HANDLER_TIMEOUT)
        with self._lock:
            self._connections.add(upstream)
        try:
            pump = threading.Thread(target=self._pump, args=(upstream, conn), daemon=True)
            pump.start()
            self._pump(conn, upstream)
            pump.join(HANDLER_TIMEOUT)
        finally:
            self._forget(upstream)
            upstream.close()

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self._stopping.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)


def start_fault_backend(case_or_cls, mode, **kwargs):
    """Starts a FaultBackend and registers its stop on a TestCase instance
    or (from setUpClass) on the class."""
    backend = FaultBackend(mode, **kwargs)
    if isinstance(case_or_cls, type):
        case_or_cls.addClassCleanup(backend.stop)
    else:
        case_or_cls.addCleanup(backend.stop)
    return backend
