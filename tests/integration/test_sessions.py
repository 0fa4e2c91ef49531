"""Session lifecycle through the bridge: failed backend logins and retries,
auth-attempt and pre-auth limits, large messages, IDLE, graceful shutdown
and what the trace log must never contain."""

import base64
import hashlib
import imaplib
import random
import select
import signal
import socket
import time

import harness as h

BIG_SUBJECT = "big message"


def big_message(size=10 * 1024 * 1024):
    """A deterministic 10 MiB message body of 76-column base64 lines."""
    raw = random.Random(20240521).randbytes(size * 3 // 4 * 76 // 78)
    body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return h.rfc822(BIG_SUBJECT, body, to="dave@example.test")


class SessionsTest(h.IntegrationCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.dovecot = h.start_dovecot(cls, cls.ws, "old", tls=False)
        cls.big = big_message()
        cls.dovecot.save("dave@example.test", cls.big)

    def start_proxy(self, listener_extra=None, server=None, env=None):
        self.port = h.free_port()
        mapping_path = self.ws.path / f"mapping-{self._testMethodName}.tsv"
        h.write_mapping(mapping_path, {"alice@example.test": "old"})
        config = h.postern_config(
            listeners=[h.imap_listener("imap", self.port, **(listener_extra or {}))],
            destinations=[h.dovecot_destination("old", self.dovecot)],
            default_destination="old", mapping_path=mapping_path, server=server)
        self.proxy = h.start_postern(self, self.ws, config, [self.port],
                                     name=f"postern-{self._testMethodName}", env=env)
        return self.proxy

    # -- sockets -------------------------------------------------------------

    def test_both_legs_set_tcp_nodelay(self):
        """A 4 KiB reply must never wait for a delayed ACK (Nagle): the
        client leg and the backend leg both carry TCP_NODELAY."""
        proxy = self.start_proxy()
        client = h.imap_client(self.port)
        try:
            h.login(client, "alice@example.test")
            client.select("INBOX")
            legs = h.established_tcp_options(proxy.proc.pid, socket.IPPROTO_TCP, socket.TCP_NODELAY)
            client_leg = [value for local, _, value in legs if local == self.port]
            backend_leg = [value for _, remote, value in legs
                           if remote in (self.dovecot.imap_port, self.dovecot.haproxy_port)]
            self.assertEqual(len(client_leg), 1, legs)
            self.assertEqual(len(backend_leg), 1, legs)
            self.assertNotEqual(client_leg[0], 0, "client leg without TCP_NODELAY")
            self.assertNotEqual(backend_leg[0], 0, "backend leg without TCP_NODELAY")
        finally:
            h.logout(client)

    # -- authentication failures -------------------------------------------

    def test_failed_backend_login_returns_to_preauth(self):
        self.start_proxy()
        client = h.imap_client(self.port)
        try:
            with self.assertRaises(imaplib.IMAP4.error) as caught:
                h.login(client, "bob@example.test", "not-the-password")
            self.assertNotIsInstance(caught.exception, imaplib.IMAP4.abort)
            # Dovecot's own rejection text is relayed.
            self.assertIn("AUTHENTICATIONFAILED", str(caught.exception))
            h.login(client, "bob@example.test")
            self.assertEqual(h.backend_of(client), "old")
        finally:
            h.logout(client)

    def test_max_auth_attempts_closes_connection(self):
        self.start_proxy({"max_auth_attempts": 2})
        client = h.imap_client(self.port)
        self.addCleanup(h.close_quietly, client)
        for attempt in (1, 2):
            with self.assertRaises(imaplib.IMAP4.error, msg=f"attempt {attempt}") as caught:
                h.login(client, "bob@example.test", f"wrong-{attempt}")
            self.assertNotIsInstance(caught.exception, imaplib.IMAP4.abort,
                                     f"attempt {attempt} got no tagged NO")
        # An untagged BYE before the close is allowed (RFC 9051 section 7.1.5).
        received, _ = h.read_until_closed(client.sock, h.SOCKET_TIMEOUT)
        self.assertRegex(received, rb"^(\* BYE [^\r\n]*\r\n)?$")

    def test_preauth_timeout_closes_idle_client(self):
        self.start_proxy({"preauth_timeout": "2s"})
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=h.SOCKET_TIMEOUT) as sock:
            greeting = sock.recv(4096)
            self.assertTrue(greeting.startswith(b"* OK"), greeting)
            received, elapsed = h.read_until_closed(sock, 5.0)
        self.assertEqual(received, b"")
        self.assertGreaterEqual(elapsed, 1.5)

    # -- the bridge ----------------------------------------------------------

    def test_large_message_is_byte_identical(self):
        expected = hashlib.sha256(self.big).hexdigest()

        def fetch_big(port):
            client = h.imap_client(port, timeout=60)
            try:
                h.login(client, "dave@example.test")
                client.select("INBOX", readonly=True)
                typ, data = client.search(None, "SUBJECT", f'"{BIG_SUBJECT}"')
                self.assertEqual(typ, "OK")
                (number,) = data[0].split()
                typ, data = client.fetch(number, "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                return data[0][1]
            finally:
                h.logout(client)

        # Dovecot itself must return the stored bytes, or the comparison
        # below would test the fixture rather than the bridge.
        direct = fetch_big(self.dovecot.imap_port)
        self.assertEqual(hashlib.sha256(direct).hexdigest(), expected)
        self.start_proxy()
        through = fetch_big(self.port)
        self.assertEqual(len(through), len(self.big))
        self.assertEqual(hashlib.sha256(through).hexdigest(), expected)

    def test_idle_survives_silence(self):
        self.start_proxy()
        client = h.imap_client(self.port)
        try:
            h.login(client, "alice@example.test")
            client.select("INBOX")
            tag = client._new_tag()
            client.send(tag + b" IDLE\r\n")
            self.assertTrue(client.readline().startswith(b"+"), "no IDLE continuation")
            # Five seconds without a byte from the client. The backend may
            # only send untagged updates or keepalives meanwhile.
            deadline = time.monotonic() + 5.0
            while (remaining := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select([client.sock], [], [], remaining)
                if readable:
                    line = client.readline()
                    self.assertTrue(line.startswith(b"* "), f"during IDLE: {line!r}")
            client.send(b"DONE\r\n")
            line = client.readline()
            while line.startswith(b"*"):
                line = client.readline()
            self.assertTrue(line.startswith(tag + b" OK"), line)
            self.assertEqual(client.noop()[0], "OK")
        finally:
            h.logout(client)

    # -- shutdown --------------------------------------------------------------

    def test_sigterm_drains_active_session(self):
        proxy = self.start_proxy(server={"shutdown_grace": "20s"})
        client = h.imap_client(self.port)
        self.addCleanup(h.close_quietly, client)
        h.login(client, "alice@example.test")
        proxy.signal(signal.SIGTERM)
        h.wait_until(lambda: not h.can_connect(self.port), 5.0, what="listener closed")
        # The bridged session keeps working while the process drains.
        self.assertEqual(h.backend_of(client), "old")
        self.assertIsNone(proxy.wait_exit(0.5), "exited while a session was active")
        h.logout(client)
        started = time.monotonic()
        self.assertEqual(proxy.wait_exit(10.0), 0)
        self.assertLess(time.monotonic() - started, 10.0)

    def test_sigterm_cuts_session_after_grace(self):
        proxy = self.start_proxy(server={"shutdown_grace": "2s"})
        client = h.imap_client(self.port)
        self.addCleanup(h.close_quietly, client)
        h.login(client, "alice@example.test")
        started = time.monotonic()
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(10.0), 0)
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        # The cut session's socket is closed with the process.
        h.read_until_closed(client.sock, 5.0)

    # -- secrets stay out of the log ---------------------------------------

    def test_trace_log_has_no_credentials(self):
        proxy = self.start_proxy(env={"RUST_LOG": "trace"})
        sessions = (("alice@example.test", h.login),
                    ("bob@example.test", h.login_sasl_ir),
                    ("carol@example.test", h.login_plain_continuation),
                    ("dave@example.test", h.login_mechanism_login))
        for user, login_fn in sessions:
            client = h.imap_client(self.port)
            try:
                login_fn(client, user)
                self.assertEqual(h.backend_of(client), "old")
            finally:
                h.logout(client)
        # A rejected password must stay out of the log as well.
        wrong = "Wrong-Pw-3Tq"
        client = h.imap_client(self.port)
        try:
            with self.assertRaises(imaplib.IMAP4.error):
                h.login(client, "alice@example.test", wrong)
        finally:
            h.logout(client)
        h.wait_until(lambda: proxy.log_text().count("session closed") >= len(sessions), 5.0,
                     what="every session closed")
        proxy.stop()
        log = proxy.log_text()
        # The search below only means something if the verbose levels are on.
        self.assertRegex(log, r"\b(TRACE|DEBUG)\b", "RUST_LOG=trace produced no verbose lines")
        self.assertNotIn(wrong, log)
        self.assertNotIn(base64.b64encode(h.plain_response("alice@example.test", wrong)).decode(),
                         log)
        for user, _ in sessions:
            password = h.USERS[user]
            forbidden = {
                "password": password,
                "base64 password": base64.b64encode(password.encode()).decode(),
                "base64 PLAIN response": base64.b64encode(h.plain_response(user)).decode(),
            }
            for what, secret in forbidden.items():
                self.assertNotIn(secret, log, f"{what} of {user} in the trace log")

    def test_trace_log_has_no_bearer_token(self):
        # OAUTHBEARER (RFC 7628) with a JWT naming the account: Postern routes
        # by the token's claim and replays it; this Dovecot has no OAuth, so it
        # refuses. Neither the token nor any part of it may reach the log.
        proxy = self.start_proxy(env={"RUST_LOG": "trace"})
        header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode()
        claims = base64.urlsafe_b64encode(b'{"email":"alice@example.test","sub":"42"}').rstrip(b"=").decode()
        signature = "c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1RbTRa"
        token = f"{header}.{claims}.{signature}"
        response = f"n,a=alice@example.test,\x01auth=Bearer {token}\x01\x01".encode()
        client = h.imap_client(self.port)
        try:
            typ, _ = client._simple_command("AUTHENTICATE", "OAUTHBEARER", base64.b64encode(response).decode())
        except imaplib.IMAP4.error:
            typ = "NO"
        finally:
            h.logout(client)
        self.assertNotEqual(typ, "OK")
        h.wait_until(lambda: "AUTHENTICATE OAUTHBEARER <redacted>" in proxy.log_text(), 5.0,
                     what="the redacted command in the trace log")
        proxy.stop()
        log = proxy.log_text()
        for what, secret in {"token": token, "signature": signature, "claims": claims,
                             "base64 response": base64.b64encode(response).decode()}.items():
            self.assertNotIn(secret, log, f"the {what} in the trace log")


if __name__ == "__main__":
    import unittest
    unittest.main()
