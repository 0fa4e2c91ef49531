"""Backends that fail: every fault of the scripted fault backend gets the
client a prompt `NO [UNAVAILABLE]`, one log line with the right failure
category and exactly the retries the fault deserves; the circuit breaker
opens, probes once and closes again (against a real Dovecot that is
stopped and restarted); a backend that bans one client does not take the
destination down for the others; and 1,000 failed sessions leave Postern
with no more file descriptors and no more memory than before."""

import concurrent.futures
import os
import re
import threading
import time

import fault_backend as fb
import harness as h

BACKEND_TIMEOUT = 2.0
RETRIES = 1
COOLDOWN = 2.0
RETRY_PAUSE = 0.2
# Process start-up, scheduling and the sanitizers' slowness.
SLACK = 2.0
UNAVAILABLE = b"a1 NO [UNAVAILABLE]"
BREAKER_OPEN_LINE = r"destination {} marked down for \d+ ms \[breaker_open\]"


def fault_destination(name, port, tls="plain", pin=None, proxy_protocol=False, **extra):
    """A destination on a fault backend; TLS legs are pinned (to `pin`)."""
    keys = {"host": "127.0.0.1", "proxy_protocol": proxy_protocol}
    if tls == "plain":
        keys["allow_plaintext_auth"] = True
    else:
        keys["tls_server_name"] = "fault.test"
        keys["tls_pinned_cert_sha256"] = pin
    keys.update(extra)
    return (h.toml_table(f"destination.{name}", keys)
            + h.toml_table(f"destination.{name}.protocol.imap", {"port": port, "tls": tls}))


def server_keys(**overrides):
    keys = {"backend_timeout": f"{BACKEND_TIMEOUT:g}s", "backend_connect_retries": RETRIES,
            "host_down_cooldown": f"{COOLDOWN:g}s", "log_level": "debug"}
    keys.update(overrides)
    return keys


def account(destination):
    """The mapping sends this account to `destination`."""
    return f"{destination}@example.test"


class ResilienceCase(h.IntegrationCase):
    """Starts one Postern per test and reads its log per client."""

    def start_proxy(self, destinations, mapping, server, default, listener_extra=None,
                    more_listeners=(), env=None):
        """more_listeners: (name, port) of further plain IMAP listeners."""
        self.port = h.free_port()
        mapping_path = self.ws.path / f"mapping-{self._testMethodName}.tsv"
        h.write_mapping(mapping_path, mapping)
        listeners = [h.imap_listener("imap", self.port, **(listener_extra or {}))]
        listeners += [h.imap_listener(name, port) for name, port in more_listeners]
        config = h.postern_config(
            listeners=listeners, destinations=destinations, default_destination=default,
            mapping_path=mapping_path, server=server)
        self.proxy = h.start_postern(self, self.ws, config,
                                     [self.port] + [port for _, port in more_listeners],
                                     name=f"postern-{self._testMethodName}", env=env)
        return self.proxy

    def lines_of(self, attempt):
        return h.peer_lines(self.proxy.log_text(), attempt.peer)

    def wait_line_of(self, attempt, pattern, timeout=5.0):
        """The first log line of this client's session matching pattern."""
        rx = re.compile(pattern)
        return h.wait_until(
            lambda: next((line for line in self.lines_of(attempt) if rx.search(line)), None),
            timeout, what=f"{pattern!r} in the session of {attempt.peer}")

    def assert_unavailable(self, attempt, within):
        self.assertIsNotNone(attempt.reply,
                             f"no tagged reply (closed={attempt.closed}) after "
                             f"{attempt.seconds:.2f}s: {attempt}")
        self.assertTrue(attempt.reply.startswith(UNAVAILABLE), attempt)
        self.assertLessEqual(attempt.seconds, within, attempt)

    def assert_failure_logged(self, attempt, destination, category):
        """Exactly one `backend unavailable [category]` line (whether other
        lines repeat it is FaultRepliesTest.test_failure_is_logged_once)."""
        line = self.wait_line_of(
            attempt, rf"WARN .*backend unavailable \[{category}\]: destination {destination}: ")
        unavailable = [l for l in self.lines_of(attempt) if "backend unavailable [" in l]
        self.assertEqual(len(unavailable), 1,
                         "one failure, one category line:\n" + "\n".join(unavailable))
        return line

    def retries_logged(self, attempt, destination):
        rx = re.compile(rf"retrying backend {destination} after \[")
        return sum(1 for line in self.lines_of(attempt) if rx.search(line))

    def breaker_opened_count(self, destination, start=0):
        rx = re.compile(BREAKER_OPEN_LINE.format(destination))
        return len(rx.findall(self.proxy.log_text()[start:]))


class FaultRepliesTest(ResilienceCase):
    """One destination per fault; the breaker is off so faults can repeat."""

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        certs = cls.ws.subdir("fault-certs")
        cls.served_cert = h.make_cert(certs, "fault.test", dns_names=["fault.test"])
        cls.other_cert = h.make_cert(certs, "other.test", dns_names=["other.test"])
        cls.faults = {}
        for mode in ("refuse", "silent", "greet_reset", "tls_fail", "wrong_cert", "no_starttls"):
            kwargs = {"cert": cls.served_cert} if mode == "wrong_cert" else {}
            cls.faults[mode] = fb.start_fault_backend(cls, mode, **kwargs)

    def setUp(self):
        pin = self.other_cert.sha256_hex()
        legs = {"tls_fail": "implicit", "wrong_cert": "implicit", "no_starttls": "starttls"}
        destinations = [fault_destination(mode, backend.port, legs.get(mode, "plain"), pin=pin)
                        for mode, backend in self.faults.items()]
        self.start_proxy(destinations, {account(mode): mode for mode in self.faults},
                         server_keys(host_down_threshold=0), default="refuse")

    def check_fault(self, mode, category, attempts, detail=None, min_seconds=0.0):
        """One login against `mode`: the reply, the log line, the retries."""
        backend = self.faults[mode]
        accepted_before = backend.accepted
        attempt = h.try_login(self.port, account(mode),
                              timeout=attempts * (BACKEND_TIMEOUT + RETRY_PAUSE) + 3 * SLACK)
        within = attempts * BACKEND_TIMEOUT + (attempts - 1) * RETRY_PAUSE + SLACK
        self.assert_unavailable(attempt, within)
        self.assertGreaterEqual(attempt.seconds, min_seconds, attempt)
        line = self.assert_failure_logged(attempt, mode, category)
        if detail:
            self.assertRegex(line, detail)
        self.assertEqual(self.retries_logged(attempt, mode), attempts - 1,
                         "\n".join(self.lines_of(attempt)))
        if mode != "refuse":
            # Give the backend's accept thread a moment for the last one.
            time.sleep(0.2)
            self.assertEqual(backend.accepted - accepted_before, attempts,
                             f"connections the {mode} backend accepted")
        return attempt

    # Retryable: the same backend may answer the next attempt.

    def test_refused_connect_is_retried(self):
        self.check_fault("refuse", "connect", 1 + RETRIES, detail="Connection refused")

    def test_backend_that_never_greets_is_retried_after_timeout(self):
        # Each attempt waits for the greeting until backend_timeout.
        self.check_fault("silent", "timeout", 1 + RETRIES, min_seconds=BACKEND_TIMEOUT * 0.9)

    def test_reset_during_greeting_is_retried(self):
        self.check_fault("greet_reset", "greeting", 1 + RETRIES)

    def test_broken_tls_handshake_is_retried(self):
        self.check_fault("tls_fail", "tls", 1 + RETRIES)

    # Not retryable: the next attempt would meet the same refusal.

    def test_wrong_certificate_pin_is_not_retried(self):
        self.check_fault("wrong_cert", "tls", 1, detail="pin mismatch")

    def test_missing_starttls_is_not_retried(self):
        self.check_fault("no_starttls", "protocol", 1, detail="STARTTLS")

    def test_failure_is_logged_once(self):
        # One warning per failed session: the category line, nothing that
        # says the same again at warning level or above.
        for mode in ("refuse", "no_starttls"):
            attempt = h.try_login(self.port, account(mode))
            self.assert_unavailable(attempt, within=(1 + RETRIES) * BACKEND_TIMEOUT + SLACK)
            self.assert_failure_logged(attempt, mode, r"\w+")
            time.sleep(0.3)  # anything logged after the reply
            loud = [line for line in self.lines_of(attempt)
                    if re.search(r"\b(WARN|ERROR)\b", line)]
            self.assertEqual(len(loud), 1, f"{mode}:\n" + "\n".join(loud))


class BreakerTest(ResilienceCase):

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)

    def fail_sessions(self, count, destination, category, within=SLACK):
        attempts = []
        for _ in range(count):
            attempt = h.try_login(self.port, account(destination))
            self.assert_unavailable(attempt, within)
            self.assert_failure_logged(attempt, destination, category)
            attempts.append(attempt)
        return attempts

    def concurrent_logins(self, count, destination, timeout=h.SOCKET_TIMEOUT):
        """`count` clients send LOGIN at the same moment."""
        barrier = threading.Barrier(count)
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            futures = [pool.submit(h.try_login, self.port, account(destination),
                                   timeout=timeout, start_barrier=barrier)
                       for _ in range(count)]
            return [f.result() for f in futures]

    def wait_cooldown(self, opened_at):
        remaining = opened_at + COOLDOWN + 0.3 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def test_refused_destination_opens_probes_once_and_reopens(self):
        refuse = fb.start_fault_backend(self, "refuse")
        self.start_proxy([fault_destination("down", refuse.port)], {},
                         server_keys(host_down_threshold=3, backend_connect_retries=0),
                         default="down")
        # Two failures leave it closed; the third opens it.
        self.fail_sessions(2, "down", "connect")
        self.assertEqual(self.breaker_opened_count("down"), 0)
        self.fail_sessions(1, "down", "connect")
        opened_at = time.monotonic()
        self.proxy.wait_log(BREAKER_OPEN_LINE.format("down") + r"[^\n]*all at the connect stage")

        # Open: answered at once, without dialing.
        log_start = self.proxy.log_size()
        attempt = h.try_login(self.port, account("down"))
        self.assert_unavailable(attempt, within=1.0)
        self.assert_failure_logged(attempt, "down", "breaker_open")
        self.assertNotRegex(self.proxy.log_text()[log_start:], r"half-open|\[connect\]")

        # After the cooldown two clients arrive together: one probes (and is
        # refused), the other is turned away by the open breaker.
        self.wait_cooldown(opened_at)
        log_start = self.proxy.log_size()
        opened_before = self.breaker_opened_count("down")
        pair = self.concurrent_logins(2, "down")
        for attempt in pair:
            self.assert_unavailable(attempt, within=SLACK)
        categories = sorted(
            re.search(r"backend unavailable \[(\w+)\]", self.assert_failure_logged(
                attempt, "down", r"\w+")).group(1) for attempt in pair)
        self.assertEqual(categories, ["breaker_open", "connect"])
        self.assertEqual(len(re.findall(r"destination down half-open: this connection probes it",
                                        self.proxy.log_text()[log_start:])), 1)
        # The failed probe re-opened it at once.
        self.assertEqual(self.breaker_opened_count("down"), opened_before + 1)
        attempt = h.try_login(self.port, account("down"))
        self.assert_unavailable(attempt, within=1.0)
        self.assert_failure_logged(attempt, "down", "breaker_open")

    def test_only_one_probe_while_it_is_in_flight(self):
        # A backend that never greets keeps the probe busy for backend_timeout;
        # a client arriving meanwhile must not become a second probe.
        # host_down_min_clients = 1: one client's timeouts may open it.
        silent = fb.start_fault_backend(self, "silent")
        self.start_proxy([fault_destination("stall", silent.port)], {},
                         server_keys(host_down_threshold=2, host_down_min_clients=1,
                                     backend_connect_retries=0),
                         default="stall")
        self.fail_sessions(2, "stall", "timeout", within=BACKEND_TIMEOUT + SLACK)
        opened_at = time.monotonic()
        self.proxy.wait_log(BREAKER_OPEN_LINE.format("stall"))
        self.assertEqual(silent.accepted, 2)

        self.wait_cooldown(opened_at)
        log_start = self.proxy.log_size()
        probe_result = {}
        probe = threading.Thread(target=lambda: probe_result.update(
            attempt=h.try_login(self.port, account("stall"))))
        probe.start()
        try:
            self.proxy.wait_log(r"destination stall half-open: this connection probes it",
                                start=log_start)
            # The probe is waiting for the silent backend's greeting now.
            other = h.try_login(self.port, account("stall"))
            self.assert_unavailable(other, within=1.0)
            self.assert_failure_logged(other, "stall", "breaker_open")
        finally:
            probe.join(BACKEND_TIMEOUT + 2 * SLACK)
        self.assert_unavailable(probe_result["attempt"], within=BACKEND_TIMEOUT + SLACK)
        self.assert_failure_logged(probe_result["attempt"], "stall", "timeout")
        self.assertEqual(silent.accepted, 3, "exactly one probe connection")
        self.assertEqual(self.breaker_opened_count("stall", log_start), 1)

    def test_restarted_dovecot_closes_breaker_after_probe(self):
        dovecot = h.start_dovecot(self, self.ws, "restarted", tls=False)
        self.start_proxy([h.dovecot_destination("dovecot", dovecot)], {},
                         server_keys(host_down_threshold=3, backend_connect_retries=0),
                         default="dovecot")
        user = "alice@example.test"
        self.assertEqual(h.landing(self.port, user), "restarted")

        dovecot.stop()
        self.fail_sessions(3, "dovecot", "connect")
        opened_at = time.monotonic()
        self.proxy.wait_log(BREAKER_OPEN_LINE.format("dovecot"))
        attempt = h.try_login(self.port, user, h.USERS[user])
        self.assert_unavailable(attempt, within=1.0)
        self.assert_failure_logged(attempt, "dovecot", "breaker_open")

        dovecot.restart()
        self.wait_cooldown(opened_at)
        log_start = self.proxy.log_size()
        self.assertEqual(h.landing(self.port, user), "restarted")
        self.proxy.wait_log(r"destination dovecot half-open: this connection probes it",
                            start=log_start)
        self.proxy.wait_log(r"destination dovecot is back: breaker closed", start=log_start)
        # Closed again: later logins go straight through, without probing.
        log_start = self.proxy.log_size()
        for other in ("bob@example.test", "carol@example.test"):
            self.assertEqual(h.landing(self.port, other), "restarted")
        self.assertNotRegex(self.proxy.log_text()[log_start:], r"half-open|breaker_open")

    def test_threshold_zero_disables_breaker(self):
        refuse = fb.start_fault_backend(self, "refuse")
        self.start_proxy([fault_destination("down", refuse.port)], {},
                         server_keys(host_down_threshold=0, backend_connect_retries=0),
                         default="down")
        self.fail_sessions(8, "down", "connect")
        self.assertNotIn("breaker_open", self.proxy.log_text())
        self.assertNotIn("half-open", self.proxy.log_text())


class BanTest(ResilienceCase):
    """A backend that resets one client address: Postern forwards the real
    address (PROXY v2), so only that client fails; clients reach Postern
    through a trusted PROXY v1 header that gives each its own address."""

    BANNED = "198.51.100.66"
    ALSO_BANNED = "198.51.100.77"
    GOOD = "203.0.113.10"

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)
        cls.dovecot = h.start_dovecot(cls, cls.ws, "old", tls=False)

    def setUp(self):
        self.ban = fb.start_fault_backend(
            self, "ban", upstream=("127.0.0.1", self.dovecot.imap_port))
        self.client_port = 20000
        # A second listener for clients connecting from their own loopback
        # address, without a PROXY header.
        self.direct_port = h.free_port()
        # host_down_min_clients is left at its default (2).
        self.start_proxy([fault_destination("banning", self.ban.port, proxy_protocol=True)], {},
                         server_keys(host_down_threshold=3, host_down_cooldown="30s"),
                         default="banning",
                         listener_extra={"proxy_protocol": "required",
                                         "proxy_trusted": ["127.0.0.1/32"]},
                         more_listeners=[("direct", self.direct_port)])

    def login_from(self, address, user="bob@example.test", password=None):
        self.client_port += 1
        header = h.proxy_v1_header(address, "127.0.0.1", self.client_port, 143)
        password = h.USERS[user] if password is None else password
        return h.try_login(self.port, user, password, header=header,
                           peer=f"{address}:{self.client_port}")

    def fail_from(self, address, direct=False):
        if direct:
            attempt = h.try_login(self.direct_port, "bob@example.test", source_ip=address)
        else:
            attempt = self.login_from(address)
        within = (1 + RETRIES) * BACKEND_TIMEOUT + SLACK
        self.assert_unavailable(attempt, within)
        self.assert_failure_logged(attempt, "banning", "greeting")
        return attempt

    def test_banned_client_does_not_open_breaker_for_others(self):
        self.ban.set_banned({self.BANNED})
        for _ in range(6):
            self.fail_from(self.BANNED)
        # Every attempt (with its retry) reached the backend as that client.
        self.assertEqual(self.ban.sources.count(self.BANNED), 6 * (1 + RETRIES))
        attempt = self.login_from(self.GOOD)
        self.assertIsNotNone(attempt.reply, attempt)
        self.assertTrue(attempt.reply.startswith(b"a1 OK"), attempt)
        self.assertIn(self.GOOD, self.ban.sources)
        self.assertNotIn("breaker_open", self.proxy.log_text())

    def test_failures_from_two_clients_open_breaker(self):
        self.ban.set_banned({self.BANNED, self.ALSO_BANNED})
        for address in (self.BANNED, self.ALSO_BANNED, self.BANNED):
            self.fail_from(address)
        self.proxy.wait_log(BREAKER_OPEN_LINE.format("banning") + r"[^\n]*from 2 clients")
        sources_before = len(self.ban.sources)
        attempt = self.login_from(self.GOOD)
        self.assert_unavailable(attempt, within=1.0)
        self.assert_failure_logged(attempt, "banning", "breaker_open")
        self.assertEqual(len(self.ban.sources), sources_before, "an open breaker must not dial")

    def test_failures_from_two_direct_clients_open_breaker(self):
        # The same, for clients that connect from their own addresses.
        self.ban.set_banned({"127.0.0.66", "127.0.0.77"})
        for address in ("127.0.0.66", "127.0.0.77", "127.0.0.66"):
            self.fail_from(address, direct=True)
        self.proxy.wait_log(BREAKER_OPEN_LINE.format("banning") + r"[^\n]*from 2 clients")
        attempt = h.try_login(self.direct_port, "bob@example.test", source_ip="127.0.0.10")
        self.assert_unavailable(attempt, within=1.0)
        self.assert_failure_logged(attempt, "banning", "breaker_open")


class LeakTest(ResilienceCase):
    """1,000 failed sessions against a refusing destination (breaker off, no
    retries, so each fails fast) must not cost file descriptors or memory."""

    WARM_UP = 200
    SESSIONS = 1000
    WORKERS = 8
    RSS_GROWTH_KIB = 8 * 1024
    # AddressSanitizer keeps freed memory in quarantine (256 MiB by default),
    # so RSS grows until the quarantine is full, leak or no leak: this test's
    # Postern gets a small one (no effect on a build without ASan), and a
    # little more room for the sanitizer's own bookkeeping.
    ASAN_QUARANTINE_MB = 4
    ASAN_RSS_GROWTH_KIB = 16 * 1024

    @classmethod
    def setUpClass(cls):
        cls.ws = h.Workspace(cls.addClassCleanup)

    def asan_options(self):
        inherited = os.environ.get("ASAN_OPTIONS", "")
        own = f"quarantine_size_mb={self.ASAN_QUARANTINE_MB}"
        return f"{inherited}:{own}" if inherited else own

    def run_sessions(self, count):
        def one(_):
            attempt = h.try_login(self.port, account("down"))
            return attempt.reply is not None and attempt.reply.startswith(UNAVAILABLE)
        with concurrent.futures.ThreadPoolExecutor(self.WORKERS) as pool:
            answered = sum(pool.map(one, range(count)))
        self.assertEqual(answered, count, "every failed session gets NO [UNAVAILABLE]")

    def settled_fds(self, pid, limit):
        """The fd count once closing sessions have finished (or the last seen)."""
        try:
            return h.wait_until(lambda: (n := h.proc_fd_count(pid)) <= limit and n, 10.0,
                                interval=0.1, what="file descriptors back to the baseline")
        except TimeoutError:
            return h.proc_fd_count(pid)

    def test_thousand_failed_sessions_leak_nothing(self):
        refuse = fb.start_fault_backend(self, "refuse")
        self.start_proxy([fault_destination("down", refuse.port)], {},
                         server_keys(host_down_threshold=0, backend_connect_retries=0,
                                     log_level="info"),
                         default="down", env={"ASAN_OPTIONS": self.asan_options()})
        pid = self.proxy.proc.pid
        fds_at_start = h.proc_fd_count(pid)
        self.run_sessions(self.WARM_UP)
        fds_before = self.settled_fds(pid, fds_at_start)
        rss_before = h.proc_status_kib(pid)

        self.run_sessions(self.SESSIONS)
        fds_after = self.settled_fds(pid, fds_before)
        time.sleep(0.5)
        rss_after = h.proc_status_kib(pid)
        asan = h.proc_uses_asan(pid)
        bound = self.ASAN_RSS_GROWTH_KIB if asan else self.RSS_GROWTH_KIB
        print(f"\nleak check ({'ASan' if asan else 'plain'} build): fds {fds_at_start} at start, "
              f"{fds_before} after warm-up, {fds_after} after {self.SESSIONS} sessions; "
              f"VmRSS {rss_before} KiB -> {rss_after} KiB "
              f"({rss_after - rss_before:+d} KiB, bound {bound} KiB)")
        self.assertEqual(self.proxy.log_text().count("backend unavailable [connect]"),
                         self.WARM_UP + self.SESSIONS)
        self.assertLessEqual(fds_after, fds_before)
        self.assertLess(rss_after - rss_before, bound)


if __name__ == "__main__":
    import unittest
    unittest.main()
