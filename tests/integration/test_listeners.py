"""Listeners and the backend leg: dual-stack binds, fatal bind failures,
max_connections, optional PROXY mode without a stall, DNS names and source
addresses for destinations, and bridge_idle."""

import imaplib
import re
import socket
import subprocess
import time

import harness as h


class ListenerTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.old = h.start_dovecot(cls, cls.ws, "old")

    def name(self):
        return self.id().rsplit(".", 1)[-1]

    def config(self, listeners, destination=None, server=None):
        mapping = self.ws.path / f"mapping-{self.name()}.tsv"
        h.write_mapping(mapping, {})
        return h.postern_config(
            listeners=listeners,
            destinations=[destination or h.dovecot_destination("old", self.old)],
            default_destination="old", mapping_path=mapping, server=server)

    def start(self, listeners, ports, **kwargs):
        return h.start_postern(self, self.ws, self.config(listeners, **kwargs), ports,
                               name="postern-" + self.name())

    def test_ipv4_and_ipv6_wildcards_listen_together(self):
        port = h.free_port()
        listener = h.toml_table("listener.imap", {
            "protocol": "imap", "bind": [f"0.0.0.0:{port}", f"[::]:{port}"], "tls": "plain"})
        self.start([listener], [port])
        for host in ("127.0.0.1", "::1"):
            client = imaplib.IMAP4(host, port, timeout=h.SOCKET_TIMEOUT)
            try:
                h.login(client, "bob@example.test")
                self.assertEqual(h.backend_of(client), "old", host)
            finally:
                h.logout(client)

    def assert_cannot_listen(self, port, name, server=None):
        """Runs a Postern on `port` and expects it to exit 1 naming the address."""
        postern = h.Postern(self.ws, self.config([h.imap_listener("imap", port)], server=server), name=name)
        self.watch_log(postern)
        with open(postern.log_path, "ab") as out:
            proc = subprocess.run([str(h.postern_binary()), str(postern.config_path)],
                                  stdout=out, stderr=subprocess.STDOUT, env=postern.env,
                                  timeout=20)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(postern.log_text(),
                         rf"listener\.imap: cannot listen on 127\.0\.0\.1:{port}: .*in use")

    def test_bind_failure_is_fatal_and_names_the_address(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.assert_cannot_listen(busy.getsockname()[1], "postern-" + self.name())

    def test_a_port_shared_with_so_reuseport_elsewhere_still_fails(self):
        """Each worker listens on its own socket of a SO_REUSEPORT group; a
        group that someone else (of the same user) already holds must not
        be joined silently, nor may a second Postern join ours."""
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.assert_cannot_listen(busy.getsockname()[1], "postern-foreign-" + self.name(),
                                  server={"threads": 2})

        port = h.free_port()
        first = self.start([h.imap_listener("imap", port)], [port], server={"threads": 2})
        self.assert_cannot_listen(port, "postern-second-" + self.name(), server={"threads": 2})
        # The first instance still serves, on both of its workers' sockets.
        for _ in range(8):
            client = h.imap_client(port)
            try:
                h.login(client, "bob@example.test")
                self.assertEqual(h.backend_of(client), "old")
            finally:
                h.logout(client)
        self.assertIsNone(first.proc.poll())

    def test_max_connections_drops_the_excess_connection(self):
        port = h.free_port()
        self.start([h.imap_listener("imap", port, max_connections=1)], [port])
        # The readiness probe's connection may still be counted for a moment.
        time.sleep(0.3)
        first = socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT)
        self.addCleanup(first.close)
        self.assertTrue(first.recv(4096).startswith(b"* OK "))
        second = socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT)
        self.addCleanup(second.close)
        received, _ = h.read_until_closed(second, 5.0)
        self.assertEqual(received, b"")

    def test_optional_proxy_mode_greets_a_silent_trusted_client(self):
        port = h.free_port()
        self.start([h.imap_listener("imap", port, proxy_protocol="optional",
                                    proxy_trusted=["127.0.0.1/32"])], [port])
        sock = socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT)
        self.addCleanup(sock.close)
        started = time.monotonic()
        greeting = sock.recv(4096)
        self.assertTrue(greeting.startswith(b"* OK "), greeting)
        self.assertLess(time.monotonic() - started, 3.0)

    def test_destination_host_name_is_resolved_at_connect_time(self):
        port = h.free_port()
        self.start([h.imap_listener("imap", port)], [port],
                   destination=h.dovecot_destination("old", self.old, host="localhost"))
        self.assertEqual(h.landing(port, "bob@example.test"), "old")

    def test_source_ips_bind_the_backend_connection(self):
        port = h.free_port()
        mark = len(self.old.log_text())
        self.start([h.imap_listener("imap", port)], [port],
                   destination=h.dovecot_destination("old", self.old, source_ips=["127.0.0.2"]))
        self.assertEqual(h.landing(port, "carol@example.test"), "old")
        self.old.wait_log(r"Login: user=<carol@example\.test>.*rip=127\.0\.0\.2", start=mark)

    def test_bridge_idle_closes_a_silent_session(self):
        port = h.free_port()
        postern = self.start([h.imap_listener("imap", port)], [port],
                             server={"bridge_idle": "2s"})
        client = h.imap_client(port)
        h.login(client, "dave@example.test")
        time.sleep(3.5)
        with self.assertRaises((imaplib.IMAP4.abort, OSError)):
            client.noop()
        h.close_quietly(client)
        postern.wait_log(r"session closed .*reason=bridge_idle")
        self.assertIsNotNone(re.search(r"bytes_to_backend=\d+ bytes_to_client=\d+", postern.log_text()))

    def test_half_close_still_delivers_the_backend_reply(self):
        # The client sends LOGOUT and shuts down its sending side at once;
        # the bridge passes the FIN on and keeps relaying the backend's reply.
        port = h.free_port()
        self.start([h.imap_listener("imap", port)], [port])
        sock = socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT)
        self.addCleanup(sock.close)
        self.assertTrue(sock.recv(4096).startswith(b"* OK "))
        sock.sendall(b"a LOGIN bob@example.test " + h.USERS["bob@example.test"].encode() + b"\r\n")
        reply = b""
        while b"a OK" not in reply:
            chunk = sock.recv(4096)
            self.assertTrue(chunk, f"closed before the login reply: {reply!r}")
            reply += chunk
        sock.sendall(b"b LOGOUT\r\n")
        sock.shutdown(socket.SHUT_WR)
        received, _ = h.read_until_closed(sock, 10.0)
        self.assertIn(b"* BYE", received)
        self.assertIn(b"b OK", received)

    def test_allow_invalid_certs_accepts_any_backend_certificate_with_a_warning(self):
        # The Dovecot certificate is self-signed: only pinning or
        # tls_allow_invalid_certs lets the leg up, and the latter is announced.
        port = h.free_port()
        destination = h.dovecot_destination("old", self.old, leg="implicit", pin=None)
        destination = re.sub(r'tls_pinned_cert_sha256 = "[0-9a-f:]+"\n', "tls_allow_invalid_certs = true\n",
                             destination)
        self.assertIn("tls_allow_invalid_certs = true", destination)
        postern = self.start([h.imap_listener("imap", port)], [port], destination=destination)
        self.assertRegex(postern.log_text(),
                         r"WARN postern: destination old: tls_allow_invalid_certs is set")
        self.assertEqual(h.landing(port, "bob@example.test"), "old")

    def test_large_upload_over_a_tls_client_leg(self):
        # APPEND of 3 MiB from a TLS client: TLS records arrive split across
        # TCP segments, so the bridge often holds part of a record and must
        # wait for the socket rather than spin on OpenSSL's pending input.
        port = h.free_port()
        cert = h.make_cert(self.ws.path / f"certs-{self.name()}", "proxy.test", dns_names=["proxy.test"])
        mapping = self.ws.path / f"mapping-{self.name()}.tsv"
        h.write_mapping(mapping, {})
        config = h.postern_config(
            listeners=[h.imap_listener("imaps", port, tls="implicit")],
            destinations=[h.dovecot_destination("old", self.old)],
            default_destination="old", mapping_path=mapping,
            extra=h.certificate_table("proxy", cert, default=True))
        h.start_postern(self, self.ws, config, [port], name="postern-" + self.name())
        ctx = h.client_tls_context(cert.cert)
        ctx.check_hostname = False
        body = (b"x" * 998 + b"\r\n") * 3 * 1024
        message = h.rfc822("tls upload", body)
        client = h.imap_client(port, tls="implicit", ctx=ctx, timeout=60)
        try:
            h.login(client, "carol@example.test")
            typ, _ = client.append("INBOX", None, None, message)
            self.assertEqual(typ, "OK")
            client.select("INBOX", readonly=True)
            typ, data = client.search(None, "SUBJECT", '"tls upload"')
            self.assertEqual(typ, "OK")
            number = data[0].split()[-1]
            typ, data = client.fetch(number, "(RFC822.SIZE)")
            self.assertIn(f"RFC822.SIZE {len(message)}".encode(), data[0])
        finally:
            h.logout(client)
