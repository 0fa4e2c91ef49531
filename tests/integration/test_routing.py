"""Routing by the file mapping: every IMAP credential form reaches the backend
the mapping names, unmapped accounts reach the default destination, and
SIGHUP re-reads the mapping."""

import signal

import harness as h

# The default destination is "old"; the mapping moves alice and carol to
# "new", names bob explicitly and leaves dave unmapped.
MAPPING = {
    "alice@example.test": "new",
    "bob@example.test": "old",
    "carol@example.test": "new",
}


class RoutingTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.old = h.start_dovecot(cls, cls.ws, "old")
        cls.new = h.start_dovecot(cls, cls.ws, "new")

    def start_proxy(self):
        self.port = h.free_port()
        self.mapping_path = self.ws.path / f"mapping-{self.id().rsplit('.', 1)[-1]}.tsv"
        h.write_mapping(self.mapping_path, MAPPING)
        config = h.postern_config(
            listeners=[h.imap_listener("imap", self.port)],
            destinations=[h.dovecot_destination("old", self.old),
                          h.dovecot_destination("new", self.new)],
            default_destination="old", mapping_path=self.mapping_path)
        name = "postern-" + self.id().rsplit(".", 1)[-1]
        self.proxy = h.start_postern(self, self.ws, config, [self.port], name=name)

    def landing(self, user, login_fn=h.login):
        return h.landing(self.port, user, login_fn)

    def test_login_command_follows_mapping(self):
        self.start_proxy()
        self.assertEqual(self.landing("alice@example.test"), "new")
        self.assertEqual(self.landing("bob@example.test"), "old")

    def test_unmapped_account_goes_to_default_destination(self):
        self.start_proxy()
        self.assertEqual(self.landing("dave@example.test"), "old")

    def test_authenticate_plain_with_initial_response(self):
        self.start_proxy()
        self.assertEqual(self.landing("alice@example.test", h.login_sasl_ir), "new")
        self.assertEqual(self.landing("dave@example.test", h.login_sasl_ir), "old")

    def test_authenticate_plain_after_continuation(self):
        self.start_proxy()
        self.assertEqual(self.landing("carol@example.test", h.login_plain_continuation), "new")
        self.assertEqual(self.landing("bob@example.test", h.login_plain_continuation), "old")

    def test_authenticate_login_mechanism(self):
        self.start_proxy()
        self.assertEqual(self.landing("alice@example.test", h.login_mechanism_login), "new")
        self.assertEqual(self.landing("dave@example.test", h.login_mechanism_login), "old")

    def test_bridged_session_logs_session_closed(self):
        self.start_proxy()
        self.assertEqual(self.landing("bob@example.test"), "old")
        self.proxy.wait_log(r"session closed")

    def test_sighup_rereads_mapping(self):
        self.start_proxy()
        # The first lookup also fills the routing cache, which SIGHUP must clear.
        self.assertEqual(self.landing("bob@example.test"), "old")
        moved = dict(MAPPING)
        moved["bob@example.test"] = "new"
        h.write_mapping(self.mapping_path, moved)
        self.proxy.signal(signal.SIGHUP)
        h.wait_until(lambda: self.landing("bob@example.test") == "new", 5.0, interval=0.2,
                     what="bob routed to new after SIGHUP")
        self.assertEqual(self.landing("alice@example.test"), "new")
        self.assertEqual(self.landing("dave@example.test"), "old")


if __name__ == "__main__":
    import unittest
    unittest.main()
