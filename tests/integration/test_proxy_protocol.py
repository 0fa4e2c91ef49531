"""PROXY protocol on both legs: Postern sends a v2 header to a Dovecot
listener with `haproxy = yes` (the destination default), and accepts v1 and
v2 headers from trusted clients only."""

import re
import socket

import harness as h


class ProxyProtocolTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.dovecot = h.start_dovecot(cls, cls.ws, "old", tls=False,
                                      haproxy_trusted="127.0.0.0/8")

    def setUp(self):
        self.direct_port = h.free_port()
        self.required_port = h.free_port()
        self.untrusted_port = h.free_port()
        mapping_path = self.ws.path / f"mapping-{self._testMethodName}.tsv"
        h.write_mapping(mapping_path, {})
        config = h.postern_config(
            listeners=[
                h.imap_listener("direct", self.direct_port),
                h.imap_listener("required", self.required_port, proxy_protocol="required",
                                proxy_trusted=["127.0.0.1/32"]),
                h.imap_listener("untrusted", self.untrusted_port, proxy_protocol="required",
                                proxy_trusted=["10.0.0.0/8"]),
            ],
            # proxy_protocol is left out: the default sends a PROXY v2 header.
            destinations=[h.dovecot_destination("old", self.dovecot, "haproxy",
                                                proxy_protocol=None)],
            default_destination="old", mapping_path=mapping_path)
        self.assertNotIn("proxy_protocol = false", config)
        self.proxy = h.start_postern(
            self, self.ws, config,
            [self.direct_port, self.required_port, self.untrusted_port],
            name=f"postern-{self._testMethodName}")

    def assert_login_from(self, client, user, address):
        log_start = self.dovecot.log_size()
        try:
            h.login(client, user)
            self.assertEqual(h.backend_of(client), "old")
        finally:
            h.logout(client)
        line = self.dovecot.wait_log(rf"Login: user=<{re.escape(user)}>[^\n]*", start=log_start)
        self.assertIn(f"rip={address},", line.group(0))

    def test_backend_receives_client_address_for_direct_client(self):
        self.assert_login_from(h.imap_client(self.direct_port), "alice@example.test",
                               "127.0.0.1")

    def test_inbound_v1_header_is_forwarded(self):
        header = h.proxy_v1_header("203.0.113.7", "127.0.0.1", 5555, 143)
        self.assert_login_from(h.ProxiedIMAP4(self.required_port, header),
                               "bob@example.test", "203.0.113.7")

    def test_inbound_v2_header_is_forwarded(self):
        header = h.proxy_v2_header("198.51.100.9", "127.0.0.1", 6666, 143)
        self.assert_login_from(h.ProxiedIMAP4(self.required_port, header),
                               "carol@example.test", "198.51.100.9")

    def test_required_mode_refuses_untrusted_peer(self):
        with socket.create_connection(("127.0.0.1", self.untrusted_port),
                                      timeout=h.SOCKET_TIMEOUT) as sock:
            received, _ = h.read_until_closed(sock, h.SOCKET_TIMEOUT)
        self.assertEqual(received, b"", "untrusted peer got data instead of a closed connection")

    def test_required_mode_refuses_trusted_peer_without_header(self):
        with socket.create_connection(("127.0.0.1", self.required_port),
                                      timeout=h.SOCKET_TIMEOUT) as sock:
            sock.sendall(b"a1 CAPABILITY\r\n")
            received, _ = h.read_until_closed(sock, h.SOCKET_TIMEOUT)
        self.assertEqual(received, b"")


if __name__ == "__main__":
    import unittest
    unittest.main()
