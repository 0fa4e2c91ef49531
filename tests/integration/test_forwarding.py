"""Backends that must see the real client: with forwarding = "xclient" a
Dovecot that trusts Postern (`login_trusted_networks`) logs the client's
address from IMAP ID; with "none" it logs Postern's. And the loop guard: a
destination that is one of Postern's own listeners is refused, and two
Postern instances chained into a loop stop when the forwarded TTL runs out."""

import re

import harness as h

CLIENT_IP = "203.0.113.9"
CLIENT_PORT = 40123
# Where the client believes it connected (the PROXY header's destination),
# which ID passes on as x-connected-ip.
CONNECTED_IP = "192.0.2.25"
UNAVAILABLE = b"a1 NO [UNAVAILABLE]"


def plain_destination(name, port, **extra):
    keys = {"host": "127.0.0.1", "allow_plaintext_auth": True}
    keys.update(extra)
    return (h.toml_table(f"destination.{name}", keys)
            + h.toml_table(f"destination.{name}.protocol.imap", {"port": port, "tls": "plain"}))


class ForwardingTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.dovecot = h.start_dovecot(cls, cls.ws, "old", tls=False,
                                      login_trusted="127.0.0.0/8")

    def setUp(self):
        self.port = h.free_port()
        mapping_path = self.ws.path / f"mapping-{self._testMethodName}.tsv"
        h.write_mapping(mapping_path, {"alice@example.test": "by_id",
                                       "bob@example.test": "by_nothing"})
        # The Dovecot plain port takes no PROXY header: proxy_protocol = true
        # would break the session if forwarding did not override it.
        config = h.postern_config(
            listeners=[h.imap_listener("front", self.port, proxy_protocol="required",
                                       proxy_trusted=["127.0.0.1/32"])],
            destinations=[
                h.dovecot_destination("by_id", self.dovecot, proxy_protocol=True,
                                      forwarding="xclient"),
                h.dovecot_destination("by_nothing", self.dovecot, proxy_protocol=True,
                                      forwarding="none"),
            ],
            default_destination="by_nothing", mapping_path=mapping_path,
            server={"log_level": "debug"})
        self.proxy = h.start_postern(self, self.ws, config, [self.port],
                                     name=f"postern-{self._testMethodName}")

    def dovecot_login_line(self, user):
        """Logs `user` in as a client at CLIENT_IP; returns Dovecot's Login line."""
        log_start = self.dovecot.log_size()
        header = h.proxy_v1_header(CLIENT_IP, CONNECTED_IP, CLIENT_PORT, 143)
        client = h.ProxiedIMAP4(self.port, header)
        try:
            h.login(client, user)
            self.assertEqual(h.backend_of(client), "old")
        finally:
            h.logout(client)
        return self.dovecot.wait_log(rf"Login: user=<{re.escape(user)}>[^\n]*",
                                     start=log_start).group(0)

    def postern_session_id(self):
        lines = h.peer_lines(self.proxy.log_text(), f"{CLIENT_IP}:{CLIENT_PORT}")
        self.assertTrue(lines, "no Postern log line for the client")
        return int(re.search(r"\[session=(\d+) ", lines[-1]).group(1))

    def test_xclient_sends_client_address_in_imap_id(self):
        line = self.dovecot_login_line("alice@example.test")
        self.assertIn(f"rip={CLIENT_IP},", line)
        self.assertIn(f"lip={CONNECTED_IP},", line)
        # Dovecot adopts the x-session-id Postern sent ("P" + hex id).
        self.assertIn(f"session=<P{self.postern_session_id():x}>", line)

    def test_forwarding_none_shows_postern_address(self):
        line = self.dovecot_login_line("bob@example.test")
        self.assertIn("rip=127.0.0.1,", line)
        self.assertNotIn(CLIENT_IP, line)


class LoopTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)

    def test_destination_on_own_listener_is_refused(self):
        port = h.free_port()
        mapping_path = self.ws.path / "mapping-self.tsv"
        h.write_mapping(mapping_path, {})
        config = h.postern_config(
            listeners=[h.imap_listener("imap", port)],
            destinations=[plain_destination("myself", port, forwarding="none")],
            default_destination="myself", mapping_path=mapping_path,
            server={"log_level": "debug", "backend_timeout": "2s"})
        proxy = h.start_postern(self, self.ws, config, [port], name="postern-self")
        # The start-up check's own connection must be over before counting.
        proxy.wait_log(r"connection closed")
        log_start = proxy.log_size()
        attempt = h.try_login(port, "alice@example.test")
        self.assertIsNotNone(attempt.reply, attempt)
        self.assertTrue(attempt.reply.startswith(UNAVAILABLE), attempt)
        self.assertLess(attempt.seconds, 2.0, attempt)
        proxy.wait_log(
            rf"backend unavailable \[loop\]: destination myself: "
            rf"proxying loop: 127\.0\.0\.1:{port} is one of our own listeners", start=log_start)
        # Refused before dialing: our client was the only connection.
        accepted = re.findall(r"connection accepted", proxy.log_text()[log_start:])
        self.assertEqual(len(accepted), 1)

    def test_chained_instances_stop_at_ttl(self):
        # A's default destination is B's listener and B's is A's; each
        # trusts the other (proxy_trusted), so each takes the other's
        # x-proxy-ttl, passes it on decremented, and the loop ends.
        ttl = 3
        ports = {"a": h.free_port(), "b": h.free_port()}
        other = {"a": "b", "b": "a"}
        proxies = {}
        for name in ("a", "b"):
            mapping_path = self.ws.path / f"mapping-chain-{name}.tsv"
            h.write_mapping(mapping_path, {})
            config = h.postern_config(
                listeners=[h.imap_listener("imap", ports[name],
                                           proxy_trusted=["127.0.0.1/32"])],
                destinations=[plain_destination(f"to_{other[name]}", ports[other[name]],
                                                forwarding="xclient")],
                default_destination=f"to_{other[name]}", mapping_path=mapping_path,
                server={"log_level": "debug", "proxy_ttl": ttl, "backend_timeout": "2s"})
            proxies[name] = h.start_postern(self, self.ws, config, [ports[name]],
                                            name=f"postern-chain-{name}")
        starts = {name: proxy.log_size() for name, proxy in proxies.items()}

        attempt = h.try_login(ports["a"], "alice@example.test", timeout=8.0)
        self.assertIsNotNone(attempt.reply, attempt)
        self.assertTrue(attempt.reply.startswith(UNAVAILABLE), attempt)
        self.assertLess(attempt.seconds, 5.0, attempt)

        def exhausted():
            return any("forwarded TTL exhausted" in proxy.log_text()[starts[name]:]
                       for name, proxy in proxies.items())
        h.wait_until(exhausted, 5.0, what="'forwarded TTL exhausted' in a Postern log")
        # proxy_ttl = 3: the client's session on A, then B (told 2 hops
        # left), then A again (told 1), which refuses to go on.
        hops = sum(len(re.findall(r"routing decision", proxy.log_text()[starts[name]:]))
                   for name, proxy in proxies.items())
        self.assertEqual(hops, ttl)


if __name__ == "__main__":
    import unittest
    unittest.main()
