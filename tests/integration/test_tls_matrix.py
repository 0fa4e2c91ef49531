"""TLS on both legs: every client leg (implicit, STARTTLS, plain) crossed
with every backend leg (implicit, STARTTLS, plain), backend certificate
pinning, and SNI certificate selection on the client leg."""

import imaplib
import re
import ssl
import subprocess

import harness as h

CLIENT_LEGS = ("implicit", "starttls", "plain")
BACKEND_LEGS = ("implicit", "starttls", "plain")
# One account per backend leg: the mapping sends it to the destination that
# reaches Dovecot over that leg.
ACCOUNT_FOR_LEG = {
    "implicit": "alice@example.test",
    "starttls": "bob@example.test",
    "plain": "carol@example.test",
}
BAD_PIN_ACCOUNT = "dave@example.test"


class TlsMatrixTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.dovecot = h.start_dovecot(cls, cls.ws, "old", tls=True)
        certs = cls.ws.subdir("postern-certs")
        # The default certificate also covers 127.0.0.1, which is what the
        # matrix clients verify (Python sends no SNI for an IP address).
        cls.default_cert = h.make_cert(certs, "postern.test", dns_names=["postern.test"],
                                       ip_addresses=["127.0.0.1"])
        cls.a_cert = h.make_cert(certs, "a.test", dns_names=["a.test"])
        cls.b_cert = h.make_cert(certs, "b.test", dns_names=["b.test"])
        cls.client_ctx = h.client_tls_context(cls.default_cert.cert)

    def setUp(self):
        self.ports = {leg: h.free_port() for leg in CLIENT_LEGS}
        mapping_path = self.ws.path / f"mapping-{self._testMethodName}.tsv"
        mapping = {account: f"d_{leg}" for leg, account in ACCOUNT_FOR_LEG.items()}
        mapping[BAD_PIN_ACCOUNT] = "d_badpin"
        h.write_mapping(mapping_path, mapping)
        # The STARTTLS destination writes its pin with ":" separators.
        destinations = [
            h.dovecot_destination("d_implicit", self.dovecot, "implicit"),
            h.dovecot_destination("d_starttls", self.dovecot, "starttls",
                                  pin=self.dovecot.cert.sha256_hex(":")),
            h.dovecot_destination("d_plain", self.dovecot, "plain"),
        ]
        # A pin that matches some other certificate, not Dovecot's.
        destinations.append(h.dovecot_destination(
            "d_badpin", self.dovecot, "implicit", pin=self.a_cert.sha256_hex(":")))
        config = h.postern_config(
            listeners=[h.imap_listener(f"imap_{leg}", port, tls=leg)
                       for leg, port in self.ports.items()],
            destinations=destinations, default_destination="d_plain",
            mapping_path=mapping_path, allow_plain=True,
            extra=(h.certificate_table("default", self.default_cert, default=True)
                   + h.certificate_table("a", self.a_cert)
                   + h.certificate_table("b", self.b_cert, subjects=["b.test"])))
        self.proxy = h.start_postern(self, self.ws, config, list(self.ports.values()),
                                     name=f"postern-{self._testMethodName}")

    def check_combination(self, client_leg, backend_leg):
        user = ACCOUNT_FOR_LEG[backend_leg]
        log_start = self.dovecot.log_size()
        client = h.imap_client(self.ports[client_leg], client_leg, self.client_ctx)
        try:
            self.assertEqual(isinstance(client.sock, ssl.SSLSocket), client_leg != "plain")
            h.login(client, user)
            typ, data = client.select("INBOX")
            self.assertEqual(typ, "OK", data)
            self.assertEqual(h.backend_of(client), "old")
        finally:
            h.logout(client)
        # Dovecot marks logins that arrived over TLS with ", TLS,".
        line = self.dovecot.wait_log(rf"Login: user=<{re.escape(user)}>[^\n]*", start=log_start)
        if backend_leg == "plain":
            self.assertNotIn(", TLS", line.group(0))
        else:
            self.assertIn(", TLS", line.group(0))

    def test_backend_pin_mismatch_is_unavailable(self):
        client = h.imap_client(self.ports["plain"])
        try:
            with self.assertRaises(imaplib.IMAP4.error) as caught:
                h.login(client, BAD_PIN_ACCOUNT)
            self.assertIn("[UNAVAILABLE]", str(caught.exception))
        finally:
            h.logout(client)
        self.assertEqual(self.dovecot.login_lines(BAD_PIN_ACCOUNT), [])

    def served_subject(self, servername):
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.ports['implicit']}"]
        cmd += ["-servername", servername] if servername else ["-noservername"]
        result = subprocess.run(cmd, input=b"", stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=h.SOCKET_TIMEOUT)
        out = result.stdout.decode(errors="replace")
        match = re.search(r"^subject=.*?CN\s*=\s*([^\s,/]+)", out, re.MULTILINE)
        self.assertIsNotNone(match, f"no certificate subject in s_client output:\n{out}")
        return match.group(1)

    def test_sni_selects_certificate(self):
        self.assertEqual(self.served_subject("b.test"), "b.test")
        self.assertEqual(self.served_subject("a.test"), "a.test")

    def test_unknown_or_missing_sni_gets_default_certificate(self):
        self.assertEqual(self.served_subject("unknown.test"), "postern.test")
        self.assertEqual(self.served_subject(None), "postern.test")


def _add_matrix():
    for client_leg in CLIENT_LEGS:
        for backend_leg in BACKEND_LEGS:
            def test(self, c=client_leg, b=backend_leg):
                self.check_combination(c, b)
            name = f"test_client_{client_leg}_backend_{backend_leg}"
            test.__name__ = name
            test.__doc__ = f"client leg {client_leg}, backend leg {backend_leg}"
            setattr(TlsMatrixTest, name, test)


_add_matrix()

if __name__ == "__main__":
    import unittest
    unittest.main()
