"""Fixtures for the integration tests: throwaway Dovecot backends, the real
`postern` binary, certificates, config text and small IMAP client helpers.

Everything here uses the Python standard library and the `openssl` and
`dovecot` command-line tools. Every fixture registers its own cleanup, so
processes are stopped and directories removed even when a test fails.
"""

import base64
import ctypes
import grp
import hashlib
import imaplib
import json
import os
import pwd
import re
import shutil
import shlex
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SOCKET_TIMEOUT = 10.0
TEST_USER = "postern-test"
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"

# Distinctive passwords so a test can search logs for them.
USERS = {
    "alice@example.test": "alice-Pw-7Qx2",
    "bob@example.test": "bob-Pw-4Kd9",
    "carol@example.test": "carol-Pw-1Zr5",
    "dave@example.test": "dave-Pw-8Mv3",
}


def free_port():
    """A loopback TCP port that was free a moment ago (bind 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(text, lines=150):
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# Users and processes


class RunAs:
    """The account servers run as: Dovecot refuses uid 0 for mail, so as root
    the dedicated system user made by scripts/install-deps is used; otherwise
    the current user."""

    def __init__(self):
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(TEST_USER)
            except KeyError:
                raise RuntimeError(
                    f"user {TEST_USER!r} does not exist; run scripts/install-deps as root"
                ) from None
            self.switch = True
        else:
            entry = pwd.getpwuid(os.geteuid())
            self.switch = False
        self.user = entry.pw_name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.group = grp.getgrgid(entry.pw_gid).gr_name

    def popen_args(self):
        """Extra subprocess.Popen arguments that drop to this account (the
        Python equivalent of `runuser -u postern-test --`)."""
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown_tree(self, path):
        if not self.switch:
            return
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(root, name), self.uid, self.gid)


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def dies_with_us(sig):
    """preexec_fn for servers we start: the kernel sends them `sig` if this
    test process dies first (e.g. killed by the CTest timeout), so no
    Dovecot or Postern outlives its test. Runs after the uid switch, which
    would otherwise clear the setting."""
    return lambda: _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Sends sig to a child we started and reaps it, escalating to SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(sig)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return None


# --------------------------------------------------------------------------
# Workspace and certificates


class Workspace:
    """A temporary directory removed at cleanup. World-traversable so the
    unprivileged Dovecot user can reach its own subdirectory."""

    def __init__(self, register_cleanup, prefix="pit-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        os.chmod(self.path, 0o755)
        register_cleanup(self.remove)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def subdir(self, name):
        d = self.path / name
        d.mkdir(parents=True, exist_ok=True)
        return d


class Cert:
    def __init__(self, cert_path, key_path, common_name):
        self.cert = Path(cert_path)
        self.key = Path(key_path)
        self.common_name = common_name

    def der(self):
        return ssl.PEM_cert_to_DER_cert(self.cert.read_text())

    def sha256_hex(self, separator=""):
        digest = hashlib.sha256(self.der()).hexdigest()
        if not separator:
            return digest
        return separator.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def make_cert(directory, common_name, dns_names=(), ip_addresses=()):
    """A self-signed EC P-256 certificate made with the openssl CLI."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / f"{common_name}.crt"
    key = directory / f"{common_name}.key"
    cmd = [
        "openssl", "req", "-x509", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(cert),
    ]
    sans = [f"DNS:{n}" for n in dns_names] + [f"IP:{a}" for a in ip_addresses]
    if sans:
        cmd += ["-addext", "subjectAltName=" + ",".join(sans)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    return Cert(cert, key, common_name)


def client_tls_context(cafile):
    """Client context that trusts exactly the given certificate."""
    return ssl.create_default_context(cafile=str(cafile))


# --------------------------------------------------------------------------
# Log sources shown when a test fails


class LogSource:
    """Something with a log file; keeps the final text once its directory
    has been removed."""

    label = "log"

    def __init__(self, log_path):
        self.log_path = Path(log_path)
        self._final_text = None

    def log_text(self):
        if self._final_text is not None:
            return self._final_text
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def freeze_log(self):
        self._final_text = self.log_text()

    def wait_log(self, pattern, timeout=5.0, start=0):
        """Waits until the regex matches the log text after offset `start`;
        returns the match."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log_text(), start), timeout,
                          what=f"{pattern!r} in {self.label}")

    def log_size(self):
        return len(self.log_text())


class IntegrationCase(unittest.TestCase):
    """Prints the tail of every fixture log when a test fails."""

    _class_log_sources = []

    def run(self, result=None):
        self._log_sources = []
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) != before:
            for source in list(type(self)._class_log_sources) + self._log_sources:
                sys.stderr.write(f"\n----- {source.label} ({self.id()}) -----\n")
                sys.stderr.write(tail(source.log_text()) + "\n")
        return outcome

    @classmethod
    def watch_class_log(cls, source):
        if "_class_log_sources" not in cls.__dict__:
            cls._class_log_sources = []
        cls._class_log_sources.append(source)

    def watch_log(self, source):
        self._log_sources.append(source)


# --------------------------------------------------------------------------
# Dovecot


DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# IDLE keepalives ("* OK Still here") are aligned to a per-user slot of this
# interval, so one could fall into a short test window: keep them rare.
imap_idle_notify_interval = 60 mins
first_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
haproxy_trusted_networks = {haproxy_trusted}
login_trusted_networks = {login_trusted}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = {imaps_ssl}
  }}
  inet_listener imap_haproxy {{
    port = {haproxy_port}
    haproxy = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def rfc822(subject, body, sender="postmaster@example.test", to="user@example.test"):
    """A CRLF message; Dovecot returns exactly these bytes on FETCH BODY[]."""
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n"
    return head.encode() + body


class Dovecot(LogSource):
    """A throwaway Dovecot instance on loopback ports.

    Listeners: `imap_port` (plain, STARTTLS when tls), `imaps_port` (implicit
    TLS when tls), `haproxy_port` (plain, requires a PROXY header from
    haproxy_trusted_networks). Every user's INBOX holds one message whose
    Subject is "on <name>", so a client can tell which backend it reached.
    """

    def __init__(self, workspace, name, tls=True, haproxy_trusted="127.0.0.0/8",
                 login_trusted=""):
        self.name = name
        self.label = f"dovecot {name} log"
        self.dir = workspace.subdir(f"dovecot-{name}")
        super().__init__(self.dir / "dovecot.log")
        self.run_as = RunAs()
        self.tls = tls
        self.tls_name = f"{name}.dovecot.test"
        self.imap_port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.haproxy_port = free_port()
        self.haproxy_trusted = haproxy_trusted
        self.login_trusted = login_trusted
        self.proc = None
        self.cert = None

    @property
    def conf_path(self):
        return self.dir / "dovecot.conf"

    def start(self, timeout=15.0):
        d = self.dir
        for sub in ("run", "state", "home"):
            (d / sub).mkdir(exist_ok=True)
        ssl_files = ""
        if self.tls:
            self.cert = make_cert(d / "tls", self.tls_name, dns_names=[self.tls_name])
            ssl_files = f"ssl_cert = <{self.cert.cert}\nssl_key = <{self.cert.key}"
        (d / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in USERS.items()))
        self.conf_path.write_text(DOVECOT_CONF.format(
            d=d, ssl="yes" if self.tls else "no", ssl_files=ssl_files,
            uid=self.run_as.uid, gid=self.run_as.gid,
            user=self.run_as.user, group=self.run_as.group,
            haproxy_trusted=self.haproxy_trusted, login_trusted=self.login_trusted,
            imap_port=self.imap_port, imaps_port=self.imaps_port,
            imaps_ssl="yes" if self.tls else "no", haproxy_port=self.haproxy_port))
        self.run_as.chown_tree(d)
        with open(d / "dovecot.out", "ab") as out:
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self._env(), preexec_fn=dies_with_us(signal.SIGTERM),
                **self.run_as.popen_args())
        try:
            wait_until(self._greets, timeout, interval=0.05, what=f"dovecot {self.name}")
        except TimeoutError:
            out = (d / "dovecot.out").read_text(errors="replace")
            raise RuntimeError(f"dovecot {self.name} did not start:\n{out}\n{self.log_text()}")
        for user in USERS:
            self.save(user, rfc822(f"on {self.name}", f"hello from {self.name}\r\n".encode()))

    def _env(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.dir)}

    def _greets(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"dovecot {self.name} exited with {self.proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as s:
                return s.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def save(self, user, message, mailbox="INBOX"):
        """Delivers a message into a mailbox with `doveadm save`."""
        result = subprocess.run(
            [DOVEADM, "-c", str(self.conf_path), "save", "-u", user, "-m", mailbox],
            input=message, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self._env(), timeout=60, **self.run_as.popen_args())
        if result.returncode != 0:
            raise RuntimeError(f"doveadm save failed: {result.stderr.decode(errors='replace')}")

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc)
        self.freeze_log()

    def restart(self, timeout=15.0):
        """Starts a stopped instance again on the same ports (same
        configuration; the log file keeps growing)."""
        self._final_text = None
        self.start(timeout)

    def login_lines(self, user, start=0):
        return [line for line in self.log_text()[start:].splitlines()
                if "Login: user=<" + user + ">" in line]


def start_dovecot(case_or_cls, workspace, name, **kwargs):
    """Starts a Dovecot and registers its cleanup on a TestCase instance or
    (from setUpClass) on the class."""
    dovecot = Dovecot(workspace, name, **kwargs)
    if isinstance(case_or_cls, type):
        case_or_cls.addClassCleanup(dovecot.stop)
        case_or_cls.watch_class_log(dovecot)
    else:
        case_or_cls.addCleanup(dovecot.stop)
        case_or_cls.watch_log(dovecot)
    dovecot.start()
    return dovecot


# --------------------------------------------------------------------------
# Postern


def build_dir():
    return Path(os.environ.get("POSTERN_BUILD_DIR", REPO_ROOT / "build"))


def postern_binary():
    path = build_dir() / "bin" / "postern"
    if not path.exists():
        raise RuntimeError(f"{path} not found: build the `postern` target "
                           "(set POSTERN_BUILD_DIR to the build tree)")
    return path


def postern_env(extra=None):
    env = dict(os.environ)
    env.pop("PROXY_CONFIG", None)
    env["POSTERN_PLUGIN_DIR"] = str(build_dir() / "lib" / "postern" / "plugins")
    if extra:
        env.update(extra)
    return env


class Postern(LogSource):
    """The real binary, started on a config written by the test."""

    def __init__(self, workspace, config_text, name="postern", env=None):
        self.dir = workspace.subdir(name)
        super().__init__(self.dir / "postern.log")
        self.label = f"{name} log"
        self.config_path = self.dir / "postern.toml"
        self.config_path.write_text(config_text)
        self.env = postern_env(env)
        self.proc = None
        self.returncode = None

    def start(self, ports, timeout=20.0):
        with open(self.log_path, "ab") as out:
            # POSTERN_TEST_WRAPPER runs the binary under a tool that keeps it
            # in its own process and passes SIGTERM on, e.g. "valgrind
            # --tool=callgrind" (tools that fork the binary, like strace or
            # time, would leave it running when they are stopped).
            wrapper = shlex.split(os.environ.get("POSTERN_TEST_WRAPPER", ""))
            self.proc = subprocess.Popen(
                wrapper + [str(postern_binary()), str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, preexec_fn=dies_with_us(signal.SIGKILL))
        for port in ports:
            wait_until(lambda: self._listening(port), timeout, what=f"postern port {port}")

    def _listening(self, port):
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"postern exited with {self.proc.returncode} during startup:\n{self.log_text()}")
        return can_connect(port)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=20.0):
        """SIGTERM and expect exit status 0 (raises with the log otherwise)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            rc = stop_process(self.proc, signal.SIGTERM, timeout)
        else:
            rc = self.proc.returncode
        self.returncode = rc
        self.freeze_log()
        if rc != 0:
            raise AssertionError(
                f"postern exit status {rc} (expected 0 after SIGTERM); log:\n{tail(self.log_text())}")


def start_postern(case, workspace, config_text, ports, name="postern", env=None):
    postern = Postern(workspace, config_text, name=name, env=env)
    case.addCleanup(postern.stop)
    case.watch_log(postern)
    postern.start(ports)
    return postern


# --------------------------------------------------------------------------
# Config text


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def toml_table(header, keys):
    lines = [f"[{header}]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in keys.items() if value is not None]
    return "\n".join(lines) + "\n\n"


def imap_listener(name, port, tls="plain", **extra):
    keys = {"protocol": "imap", "bind": [f"127.0.0.1:{port}"], "tls": tls}
    keys.update(extra)
    return toml_table(f"listener.{name}", keys)


def dovecot_destination(name, dovecot, leg="plain", pin=None, proxy_protocol=False, **extra):
    """A destination for a Dovecot fixture.

    leg: "plain", "starttls", "implicit" (TLS verified by pinning the
    Dovecot certificate) or "haproxy" (plain, to the PROXY-protocol listener).
    proxy_protocol: None leaves the key out (default: send PROXY v2).
    """
    keys = {"host": "127.0.0.1"}
    if leg == "haproxy":
        port, tls = dovecot.haproxy_port, "plain"
    elif leg == "implicit":
        port, tls = dovecot.imaps_port, "implicit"
    else:
        port, tls = dovecot.imap_port, leg
    if tls == "plain":
        keys["allow_plaintext_auth"] = True
    else:
        keys["tls_server_name"] = dovecot.tls_name
        keys["tls_pinned_cert_sha256"] = pin or dovecot.cert.sha256_hex()
    if leg != "haproxy" or proxy_protocol is not None:
        keys["proxy_protocol"] = proxy_protocol
    keys.update(extra)
    return (toml_table(f"destination.{name}", keys)
            + toml_table(f"destination.{name}.protocol.imap", {"port": port, "tls": tls}))


def certificate_table(name, cert, default=False, subjects=None):
    return toml_table(f"tls.certificate.{name}", {
        "cert": cert.cert, "key": cert.key, "subjects": subjects,
        "default": default or None})


def postern_config(*, listeners, destinations, default_destination, mapping_path,
                   server=None, allow_plain=True, extra=""):
    server_keys = {"shutdown_grace": "5s"}
    server_keys.update(server or {})
    return (toml_table("server", server_keys)
            + "".join(listeners) + "".join(destinations)
            + toml_table("routing", {"default_destination": default_destination})
            + toml_table("mapping", {"source": "file"})
            + toml_table("mapping.file", {"path": mapping_path})
            + toml_table("capabilities.imap", {"allow_plain_auth_without_tls": allow_plain})
            + extra)


def write_mapping(path, mapping):
    Path(path).write_text("# account  destination\n" + "".join(
        f"{account}\t{destination}\n" for account, destination in mapping.items()))


# --------------------------------------------------------------------------
# IMAP client helpers


def imap_client(port, tls="plain", ctx=None, timeout=SOCKET_TIMEOUT):
    """Connects to a Postern (or Dovecot) IMAP port; tls is the client leg."""
    if tls == "implicit":
        return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=timeout)
    client = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
    if tls == "starttls":
        client.starttls(ssl_context=ctx)
    return client


class ProxiedIMAP4(imaplib.IMAP4):
    """imaplib client that writes a PROXY protocol header right after connect."""

    def __init__(self, port, header, timeout=SOCKET_TIMEOUT):
        self._proxy_header = header
        super().__init__("127.0.0.1", port, timeout=timeout)

    def _create_socket(self, timeout):
        sock = super()._create_socket(timeout)
        sock.sendall(self._proxy_header)
        return sock


def proxy_v1_header(src, dst, sport, dport):
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


def proxy_v2_header(src, dst, sport, dport):
    """PROXY protocol v2, PROXY command, TCP over IPv4, no TLVs."""
    signature = b"\r\n\r\n\x00\r\nQUIT\n"
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return signature + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def plain_response(user, password=None):
    password = USERS[user] if password is None else password
    return b"\0" + user.encode() + b"\0" + password.encode()


def login_sasl_ir(client, user, password=None):
    """AUTHENTICATE PLAIN with the initial response on the command line
    (RFC 4959 SASL-IR), which imaplib.authenticate() never sends."""
    b64 = base64.b64encode(plain_response(user, password)).decode()
    typ, data = client._simple_command("AUTHENTICATE", "PLAIN", b64)
    if typ != "OK":
        raise client.error(data[-1])
    client.state = "AUTH"
    return typ, data


def login_plain_continuation(client, user, password=None):
    """AUTHENTICATE PLAIN answered after the server's empty `+ ` prompt."""
    return client.authenticate("PLAIN", lambda _challenge: plain_response(user, password))


def login_mechanism_login(client, user, password=None):
    """AUTHENTICATE LOGIN: the username and password prompts, in order."""
    password = USERS[user] if password is None else password
    answers = [user.encode(), password.encode()]
    return client.authenticate("LOGIN", lambda _challenge: answers.pop(0))


def login(client, user, password=None):
    return client.login(user, USERS[user] if password is None else password)


def backend_of(client):
    """Which Dovecot the session reached, from the INBOX marker message."""
    typ, _ = client.select("INBOX", readonly=True)
    if typ != "OK":
        raise AssertionError(f"SELECT INBOX failed: {typ}")
    typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    if typ != "OK":
        raise AssertionError(f"FETCH failed: {typ} {data}")
    header = data[0][1].decode(errors="replace")
    match = re.search(r"Subject: on (\S+)", header)
    if not match:
        raise AssertionError(f"no marker subject in {header!r}")
    return match.group(1)


def landing(port, user, login_fn=login, tls="plain", ctx=None):
    """Logs in on a fresh connection; returns the backend name reached."""
    client = imap_client(port, tls, ctx)
    try:
        login_fn(client, user)
        return backend_of(client)
    finally:
        logout(client)


def logout(client):
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError):
        # The server already closed (or broke) the connection; only our
        # socket is left to close.
        close_quietly(client)


def close_quietly(client):
    """Closes an imaplib client's socket without a LOGOUT exchange."""
    try:
        client.shutdown()
    except OSError:
        pass


def read_until_closed(sock, timeout):
    """Reads until EOF; returns (bytes received, seconds until EOF).
    Raises TimeoutError if the peer keeps the connection open."""
    start = time.monotonic()
    deadline = start + timeout
    received = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"connection still open after {timeout}s; got {received!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return received, time.monotonic() - start
        received += chunk


# --------------------------------------------------------------------------
# One login attempt on a raw socket, and what the Postern log says about it


class LoginAttempt:
    """What a client saw: `reply` is the tagged reply line to LOGIN (None if
    the connection closed or timed out without one), `seconds` the time from
    sending LOGIN to that line (or to the close), `peer` the client address
    as Postern logs it (`ip:port`, after any PROXY header)."""

    def __init__(self, reply, seconds, peer, closed):
        self.reply = reply
        self.seconds = seconds
        self.peer = peer
        self.closed = closed

    def __repr__(self):
        return (f"LoginAttempt(reply={self.reply!r}, seconds={self.seconds:.3f}, "
                f"peer={self.peer!r}, closed={self.closed})")


def _read_line(sock, buffered, deadline):
    """One CRLF line from sock (with bytes already buffered); returns
    (line or None on EOF/timeout, rest of the buffer)."""
    while b"\r\n" not in buffered:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, buffered
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            return None, buffered
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None, buffered
        buffered += chunk
    line, _, rest = buffered.partition(b"\r\n")
    return line, rest


def try_login(port, user, password="not-checked", header=b"", peer=None,
              timeout=SOCKET_TIMEOUT, start_barrier=None, source_ip=None):
    """Connects to a Postern IMAP port, writes `header` (a PROXY header or
    nothing), reads the greeting and sends `a1 LOGIN`; returns a LoginAttempt.

    peer: the address Postern will log for this client; defaults to the
    socket's own address (pass the PROXY header's source when sending one).
    start_barrier: a threading.Barrier waited on just before LOGIN is sent,
    so several clients can log in at the same moment.
    source_ip: a loopback address (127.x.y.z) to connect from.
    """
    source = (source_ip, 0) if source_ip else None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=source) as sock:
        if peer is None:
            ip, local_port = sock.getsockname()[:2]
            peer = f"{ip}:{local_port}"
        if header:
            sock.sendall(header)
        deadline = time.monotonic() + timeout
        greeting, buffered = _read_line(sock, b"", deadline)
        if greeting is None or not greeting.startswith(b"* OK"):
            raise AssertionError(f"no greeting from port {port}: {greeting!r}")
        if start_barrier is not None:
            start_barrier.wait(timeout)
        command = f'a1 LOGIN "{user}" "{password}"\r\n'.encode()
        start = time.monotonic()
        sock.sendall(command)
        deadline = start + timeout
        while True:
            line, buffered = _read_line(sock, buffered, deadline)
            if line is None:
                closed = time.monotonic() < deadline
                return LoginAttempt(None, time.monotonic() - start, peer, closed)
            if line.startswith(b"a1 "):
                return LoginAttempt(line, time.monotonic() - start, peer, False)


def peer_lines(log_text, peer):
    """The Postern log lines of the session whose client is `peer`."""
    marker = f" peer={peer} "
    return [line for line in log_text.splitlines() if marker in line]


# --------------------------------------------------------------------------
# What a process holds, from /proc


def proc_fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_status_kib(pid, field="VmRSS"):
    """A `kB` field of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


def proc_uses_asan(pid):
    """Whether the process runs with AddressSanitizer's runtime mapped."""
    return "libasan" in Path(f"/proc/{pid}/maps").read_text()


SYS_pidfd_getfd = 438  # x86_64 and aarch64 (Linux 5.6)


def _tcp_table(pid):
    """socket inode -> (local port, remote port, state) from /proc/PID/net/tcp{,6}."""
    table = {}
    for name in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            table[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
    return table


def established_tcp_options(pid, level, option):
    """(local port, remote port, option value) of every established TCP
    socket of process `pid`, read from a duplicate of its descriptor
    (pidfd_getfd(2), which needs the right to ptrace the process)."""
    table = _tcp_table(pid)
    pidfd = os.pidfd_open(pid)
    found = []
    try:
        for entry in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
            except FileNotFoundError:
                continue
            match = re.fullmatch(r"socket:\[(\d+)\]", target)
            if not match or int(match.group(1)) not in table:
                continue
            local, remote, state = table[int(match.group(1))]
            if state != "01":  # TCP_ESTABLISHED
                continue
            fd = _libc.syscall(SYS_pidfd_getfd, pidfd, int(entry), 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "pidfd_getfd")
            dup = socket.socket(fileno=fd)
            try:
                found.append((local, remote, dup.getsockopt(level, option)))
            finally:
                dup.close()
    finally:
        os.close(pidfd)
    return found
