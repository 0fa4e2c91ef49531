"""`postern --check`: every configuration error at once, each with its
file:line:col, exit status 1; a valid file exits 0; usage errors exit 2."""

import re
import subprocess

import harness as h

DIAGNOSTIC = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<key>[^\s:]+): (?P<message>.+)$")

VALID = """\
[server]
shutdown_grace = "5s"

[listener.imap]
protocol = "imap"
bind = ["127.0.0.1:{port}"]
tls = "plain"
preauth_timeout = "{preauth_timeout}"

[destination.old]
host = "127.0.0.1"
allow_plaintext_auth = true
proxy_protocol = false

[destination.old.protocol.imap]
port = 1143
tls = "plain"

[routing]
default_destination = "{default_destination}"

[mapping]
source = "file"

[mapping.file]
path = "{mapping}"

[capabilities.imap]
allow_plain_auth_without_tls = true
"""


class CheckTest(h.IntegrationCase):

    def setUp(self):
        self.ws = h.Workspace(self.addCleanup)
        self.mapping = self.ws.path / "mapping.tsv"
        h.write_mapping(self.mapping, {"alice@example.test": "old"})

    def write_config(self, text, name="postern.toml"):
        path = self.ws.path / name
        path.write_text(text)
        return path

    def run_postern(self, *args, env=None):
        return subprocess.run([str(h.postern_binary()), *map(str, args)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=h.postern_env(env), timeout=30)

    def valid_text(self, **overrides):
        values = {"port": h.free_port(), "preauth_timeout": "30s",
                  "default_destination": "old", "mapping": self.mapping}
        values.update(overrides)
        return VALID.format(**values)

    def test_valid_config_exits_zero(self):
        path = self.write_config(self.valid_text())
        result = self.run_postern("--check", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotRegex(result.stderr, r": error: ")

    def test_config_path_from_environment(self):
        path = self.write_config(self.valid_text())
        result = self.run_postern("--check", env={"PROXY_CONFIG": str(path)})
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_every_error_is_reported_with_position(self):
        text = self.valid_text(preauth_timeout="10 parsecs", default_destination="nowhere")
        text = text.replace('shutdown_grace = "5s"', 'shutdown_gracee = "5s"')
        path = self.write_config(text)
        lines = text.splitlines()

        def line_of(fragment):
            return next(i for i, line in enumerate(lines, 1) if fragment in line)

        expected = {
            "server.shutdown_gracee": line_of("shutdown_gracee"),
            "listener.imap.preauth_timeout": line_of("preauth_timeout"),
            "routing.default_destination": line_of("default_destination"),
        }
        result = self.run_postern("--check", path)
        self.assertEqual(result.returncode, 1, result.stderr)

        found = {}
        for line in result.stderr.splitlines():
            if ": error: " not in line:
                continue
            match = DIAGNOSTIC.match(line)
            self.assertIsNotNone(match, f"malformed diagnostic: {line!r}")
            self.assertEqual(match["file"], str(path), line)
            self.assertGreaterEqual(int(match["col"]), 1, line)
            found.setdefault(match["key"], []).append(match)
        for key, line_number in expected.items():
            self.assertIn(key, found, f"no error for {key} in:\n{result.stderr}")
            self.assertIn(line_number, [int(m["line"]) for m in found[key]],
                          f"{key} reported at the wrong line:\n{result.stderr}")
        typo = found["server.shutdown_gracee"][0]["message"]
        self.assertRegex(typo, r"shutdown_grace\b", "no 'did you mean' hint for the typo")

    def test_no_config_is_a_usage_error(self):
        result = self.run_postern()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("usage", result.stderr.lower())


if __name__ == "__main__":
    import unittest
    unittest.main()
