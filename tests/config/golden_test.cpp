// Golden diagnostics: each case is a small configuration and the exact lines
// `postern --check-config` prints for it. A change to any message or
// position shows up here as a diff.
#include <gtest/gtest.h>

#include <numeric>

#include "config/load.hpp"
#include "fake_plugins.hpp"

namespace postern::kernel {
namespace {

using testing::FakeCatalog;

// A valid configuration the cases extend (lines 1-18).
constexpr std::string_view base = testing::minimal_config;

std::string join(const std::vector<std::string>& lines) {
  return std::accumulate(lines.begin(), lines.end(), std::string(),
                         [](std::string all, const std::string& line) { return all + line + "\n"; });
}

void expect_diagnostics(std::string_view toml, const std::vector<std::string>& expected,
                        const FakeCatalog& catalog = FakeCatalog()) {
  const LoadResult result = load_config_text(toml, "postern.toml", catalog);
  std::vector<std::string> lines;
  for (const Diagnostic& d : result.diagnostics.items()) lines.push_back(d.format());
  EXPECT_EQ(join(lines), join(expected));
  EXPECT_EQ(result.config == nullptr, result.diagnostics.has_errors());
}

std::string with_base(std::string_view extra) { return std::string(base) + std::string(extra); }

TEST(ConfigGolden, ValidConfigurationHasNoDiagnostics) { expect_diagnostics(base, {}); }

TEST(ConfigGolden, TomlSyntaxErrorIsOneDiagnosticAtItsPosition) {
  expect_diagnostics("[server]\nthreads = = 2\n",
                     {"postern.toml:2:11: error: Error while parsing value: could not determine value type"});
  expect_diagnostics("[routing]\n[routing]\n",
                     {"postern.toml:2:1: error: Error while parsing table header: cannot redefine existing table "
                      "'routing'"});
}

TEST(ConfigGolden, UnknownKeysAndTablesWithAndWithoutHint) {
  expect_diagnostics(with_base(R"([server]
treads = 4
colour = "blue"
[metrics]
enabled = true
[servr]
)"),
                     {
                         "postern.toml:20:1: error: server.treads: unknown key; did you mean 'threads'?",
                         "postern.toml:21:1: error: server.colour: unknown key",
                         "postern.toml:22:2: error: metrics: unknown table",
                         "postern.toml:24:2: error: servr: unknown table; did you mean 'server'?",
                     });
}

TEST(ConfigGolden, UnknownKeysInsideListenerAndDestination) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"
max_conections = 10

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain", forwardng = "none" }

[routing]
default_destination = "old"

[mapping]
source = "file"
sorce = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:5:1: error: listener.imap.max_conections: unknown key; did you mean "
                         "'max_connections'?",
                         "postern.toml:10:46: error: destination.old.protocol.imap.forwardng: unknown key; did you "
                         "mean 'forwarding'?",
                         "postern.toml:17:1: error: mapping.sorce: unknown key; did you mean 'source'?",
                     });
}

TEST(ConfigGolden, WrongTypes) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = "127.0.0.1:1143"
tls = "plain"
max_connections = "many"

[destination.old]
host = "old.example"
allow_plaintext_auth = "yes"
protocol.imap = { port = "143", tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"

[server]
threads = "2"
proxy_ttl = 300
)",
                     {
                         "postern.toml:3:1: error: listener.imap.bind: expected a list of strings, found a string",
                         "postern.toml:5:1: error: listener.imap.max_connections: expected an integer, found a "
                         "string",
                         "postern.toml:9:1: error: destination.old.allow_plaintext_auth: expected a boolean (true "
                         "or false), found a string",
                         "postern.toml:10:19: error: destination.old.protocol.imap.port: expected an integer, "
                         "found a string",
                         // allow_plaintext_auth could not be read, so it is false.
                         "postern.toml:10:33: error: destination.old.protocol.imap.tls: protocol 'imap' carries "
                         "credentials and this leg is not encrypted; set allow_plaintext_auth = true in "
                         "[destination.old] to allow it",
                         "postern.toml:22:1: error: server.threads: expected an integer, found a string",
                         "postern.toml:23:1: error: server.proxy_ttl: 300 is above the maximum 255",
                     });
}

TEST(ConfigGolden, Durations) {
  expect_diagnostics(with_base(R"([server]
shutdown_grace = 30
bridge_idle = "1h30m"
backend_timeout = " 10 s "
host_down_cooldown = "soon"
)"),
                     {
                         "postern.toml:20:1: error: server.shutdown_grace: expected a duration string such as "
                         "\"30s\", found an integer",
                         "postern.toml:21:1: error: server.bridge_idle: unknown duration unit 'h30m' in \"1h30m\"; "
                         "use ms, s, m, h or d",
                         "postern.toml:23:1: error: server.host_down_cooldown: invalid duration \"soon\": expected "
                         "a non-negative whole number before the unit",
                     });
}

TEST(ConfigGolden, ListenerRules) {
  expect_diagnostics(R"([listener.a]
protocol = "imap"
bind = []
tls = "plain"
proxy_protocol = "required"

[listener.b]
protocol = "smtp"
bind = ["0.0.0.0:25", "localhost:26", "[::1]:27"]
tls = "starttls"
forwarded = "trust"
proxy_protocol = "optional"
proxy_trusted = ["10.0.0.0/33"]

[listener.c]
protocol = "IMAP"
bind = ["[::]:143"]

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }
protocol.smtp = { port = 25, tls = "plain" }

[routing]
default_destination = "old"
smtp_passthrough_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:3:1: error: listener.a.bind: needs at least one address",
                         "postern.toml:5:1: error: listener.a.proxy_protocol: needs a non-empty proxy_trusted "
                         "list: the peers allowed to send a PROXY header",
                         "postern.toml:9:1: error: listener.b.bind: \"localhost:26\" is not a literal ip:port "
                         "address (IPv6 as [addr]:port; host names are not accepted)",
                         "postern.toml:10:1: error: listener.b.tls: smtp listeners relay the connection untouched "
                         "and cannot offer STARTTLS; use \"plain\" or \"implicit\"",
                         "postern.toml:11:1: error: listener.b.forwarded: only applies to http listeners",
                         "postern.toml:13:1: error: listener.b.proxy_trusted: \"10.0.0.0/33\" is not an address "
                         "or CIDR range (addr/prefix, prefix at most 32 for IPv4 and 128 for IPv6)",
                         "postern.toml:15:11: error: listener.c.tls: required key is missing",
                         "postern.toml:16:1: error: listener.c.protocol: unknown value \"IMAP\"; did you mean "
                         "'imap'?",
                     });
}

TEST(ConfigGolden, ListenerEnumsAndMissingKeys) {
  expect_diagnostics(R"([listener.a]
tls = "tls"
proxy_protocol = "on"

[listener.web]
protocol = "http"
bind = ["127.0.0.1:8080"]
tls = "plain"
forwarded = "keep"
max_auth_attempts = -1
preauth_timeout = "30x"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:1:11: error: listener.a.protocol: required key is missing",
                         "postern.toml:1:11: error: listener.a.bind: required key is missing",
                         "postern.toml:2:1: error: listener.a.tls: unknown value \"tls\"; expected one of "
                         "implicit, starttls, plain",
                         "postern.toml:3:1: error: listener.a.proxy_protocol: unknown value \"on\"; expected one "
                         "of off, optional, required",
                         "postern.toml:6:1: error: listener.web.protocol: no loaded plugin serves protocol "
                         "'http'; it needs the plugin 'http'",
                         "postern.toml:9:1: error: listener.web.forwarded: unknown value \"keep\"; expected one of "
                         "off, trust",
                         "postern.toml:10:1: error: listener.web.max_auth_attempts: -1 is below the minimum 0",
                         "postern.toml:11:1: error: listener.web.preauth_timeout: unknown duration unit 'x' in "
                         "\"30x\"; use ms, s, m, h or d",
                     });
}

TEST(ConfigGolden, ListenerProtocolNeedsAPlugin) {
  FakeCatalog imap_only;
  imap_only.with_smtp = false;
  expect_diagnostics(R"([listener.pop]
protocol = "pop3"
bind = ["127.0.0.1:110"]
tls = "plain"

[listener.sieve]
protocol = "managesieve"
bind = ["127.0.0.1:4190"]
tls = "plain"

[listener.sub]
protocol = "submission"
bind = ["127.0.0.1:587"]
tls = "starttls"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.pop3 = { port = 110, tls = "plain" }
protocol.managesieve = { port = 4190, tls = "plain" }
protocol.submission = { port = 587, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:2:1: error: listener.pop.protocol: no loaded plugin serves protocol "
                         "'pop3'; it needs the plugin 'pop3'",
                         "postern.toml:7:1: error: listener.sieve.protocol: no loaded plugin serves protocol "
                         "'managesieve'; it needs the plugin 'managesieve'",
                         "postern.toml:12:1: error: listener.sub.protocol: no loaded plugin serves protocol "
                         "'submission'; it needs the plugin 'smtp'",
                     },
                     imap_only);
}

TEST(ConfigGolden, DefaultDestinationMustBeDeclared) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "olde"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {"postern.toml:12:1: error: routing.default_destination: destination 'olde' is not declared; "
                      "did you mean 'old'?"});
}

TEST(ConfigGolden, DefaultDestinationMustOfferEveryRoutedListenerProtocol) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[listener.sub]
protocol = "submission"
bind = ["127.0.0.1:587"]
tls = "starttls"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"
required_key_test = 1

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:7:1: error: listener.sub.protocol: the default destination 'old' has no "
                         "[destination.old.protocol.submission] endpoint",
                         "postern.toml:18:1: error: routing.required_key_test: unknown key",
                     });
}

TEST(ConfigGolden, PassThroughNeedsItsDestination) {
  expect_diagnostics(with_base(R"(
[listener.mx]
protocol = "smtp"
bind = ["0.0.0.0:25"]
tls = "plain"
)"),
                     {"postern.toml:21:1: error: listener.mx.protocol: smtp listeners need "
                      "routing.smtp_passthrough_destination"});
}

TEST(ConfigGolden, PassThroughDestinationMustBeDeclared) {
  expect_diagnostics(R"([listener.mx]
protocol = "smtp"
bind = ["0.0.0.0:25"]
tls = "plain"

[destination.relay]
host = "relay.example"
protocol.smtp = { port = 25, tls = "plain" }
protocol.imap = { port = 993, tls = "implicit" }

[routing]
default_destination = "relay"
smtp_passthrough_destination = "relai"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {"postern.toml:13:1: error: routing.smtp_passthrough_destination: destination 'relai' is not "
                      "declared; did you mean 'relay'?"});
}

TEST(ConfigGolden, PassThroughDestinationNeedsSmtpAndLmtp) {
  expect_diagnostics(R"([listener.lmtp]
protocol = "lmtp"
bind = ["127.0.0.1:24"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"
smtp_passthrough_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:13:1: error: routing.smtp_passthrough_destination: destination 'old' has "
                         "no [destination.old.protocol.smtp] endpoint",
                         "postern.toml:13:1: error: routing.smtp_passthrough_destination: destination 'old' has "
                         "no [destination.old.protocol.lmtp] endpoint, which listener 'lmtp' needs",
                     });
}

TEST(ConfigGolden, PlaintextCredentialsAndIpHostsWithTls) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "192.0.2.10"
protocol.imap = { port = 143, tls = "plain" }
protocol.submission = { port = 587, tls = "starttls" }
protocol.smtp = { port = 25, tls = "plain" }
protocol.pop3 = { port = 995, tls = "implicit" }
protocol.http = { port = 80, tls = "plain" }

[destination.named]
host = "192.0.2.11"
tls_server_name = "mail.example"
protocol.imap = { port = 993, tls = "implicit" }

[destination.v6]
host = "2001:db8::1"
protocol.imap = { port = 993, tls = "implicit" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:7:1: error: destination.old.host: is an IP address and the submission, "
                         "pop3 endpoints use TLS; set tls_server_name to the name the backend's certificate "
                         "carries",
                         "postern.toml:8:31: error: destination.old.protocol.imap.tls: protocol 'imap' carries "
                         "credentials and this leg is not encrypted; set allow_plaintext_auth = true in "
                         "[destination.old] to allow it",
                         "postern.toml:12:30: error: destination.old.protocol.http.tls: protocol 'http' carries "
                         "credentials and this leg is not encrypted; set allow_plaintext_auth = true in "
                         "[destination.old] to allow it",
                         "postern.toml:20:1: error: destination.v6.host: is an IP address and the imap endpoint "
                         "uses TLS; set tls_server_name to the name the backend's certificate carries",
                     });
}

TEST(ConfigGolden, DestinationKeys) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = ""
tls_pinned_cert_sha256 = "12:34"
tls_client_cert = "client.pem"
source_ips = ["10.0.0.1", "eth0"]
forwarding = "haproxy"
allow_plaintext_auth = true
protocol.imap = { port = 70000, tls = "plain" }
protocol.imapx = { port = 1, tls = "plain" }
protocol.pop3 = { tls = "plain", forwarding = "xclient" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:7:1: error: destination.old.host: must not be empty",
                         "postern.toml:8:1: error: destination.old.tls_pinned_cert_sha256: expected the SHA-256 of "
                         "the certificate: 64 hexadecimal digits, ':' separators allowed",
                         "postern.toml:9:1: error: destination.old.tls_client_cert: cannot read 'client.pem': No "
                         "such file or directory",
                         "postern.toml:9:1: error: destination.old.tls_client_cert: is set but tls_client_key is "
                         "not; set both or neither",
                         "postern.toml:10:1: error: destination.old.source_ips: \"eth0\" is not an IP address",
                         "postern.toml:11:1: error: destination.old.forwarding: unknown value \"haproxy\"; did you "
                         "mean 'proxy'?",
                         "postern.toml:13:19: error: destination.old.protocol.imap.port: 70000 is above the "
                         "maximum 65535",
                         "postern.toml:14:10: error: destination.old.protocol.imapx: unknown protocol; did you "
                         "mean 'imap'?",
                         "postern.toml:15:10: error: destination.old.protocol.pop3.port: required key is missing",
                     });
}

TEST(ConfigGolden, DestinationNeedsAHost) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
allow_plaintext_auth = true
tls_client_key = "/"
protocol.imap = { port = 143, tls = "plain" }
protocol.gopher = { port = 70 }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)",
                     {
                         "postern.toml:6:14: error: destination.old.host: required key is missing",
                         "postern.toml:8:1: error: destination.old.tls_client_key: '/' is a directory, not a file",
                         "postern.toml:8:1: error: destination.old.tls_client_key: is set but tls_client_cert is "
                         "not; set both or neither",
                         "postern.toml:10:10: error: destination.old.protocol.gopher: unknown protocol; expected "
                         "one of smtp, submission, lmtp, imap, pop3, managesieve, http",
                     });
}

TEST(ConfigGolden, TlsCertificatesAndProtocols) {
  expect_diagnostics(with_base(R"([tls.certificate.main]
cert = "missing-cert.pem"

[tls.certificate.other]
cert = "/"
key = "/nonexistent/key.pem"
subjects = "mail.example"

[tls.protocols]
min_version = "1.4"
disable_cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265", "ecdhe-rsa-aes256-gcm-sha384"]
)"),
                     {
                         "postern.toml:19:18: error: tls.certificate.main.key: required key is missing",
                         "postern.toml:20:1: error: tls.certificate.main.cert: cannot read 'missing-cert.pem': No "
                         "such file or directory",
                         "postern.toml:23:1: error: tls.certificate.other.cert: '/' is a directory, not a file",
                         "postern.toml:24:1: error: tls.certificate.other.key: cannot read '/nonexistent/key.pem': "
                         "No such file or directory",
                         "postern.toml:25:1: error: tls.certificate.other.subjects: expected a list of strings, "
                         "found a string",
                         "postern.toml:28:1: error: tls.protocols.min_version: unknown value \"1.4\"; expected one "
                         "of 1.2, 1.3",
                         "postern.toml:29:1: error: tls.protocols.disable_cipher_suites: unknown cipher suite "
                         "'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265'; did you mean "
                         "'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'?",
                     });
}

TEST(ConfigGolden, CipherSuitesMayNotAllBeRemoved) {
  // With TLS 1.2 allowed, the TLS 1.2 suites keep working.
  expect_diagnostics(with_base(R"([tls.protocols]
disable_cipher_suites = ["TLS13_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "tls_chacha20_poly1305_sha256"]
)"),
                     {});
  expect_diagnostics(with_base(R"([tls.protocols]
min_version = "1.3"
disable_cipher_suites = ["TLS13_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "tls_chacha20_poly1305_sha256"]
)"),
                     {"postern.toml:21:1: error: tls.protocols.disable_cipher_suites: removes every TLS 1.3 cipher "
                      "suite, and min_version = \"1.3\" allows no other"});
  expect_diagnostics(with_base(R"([tls.protocols]
disable_cipher_suites = [
  "TLS13_AES_256_GCM_SHA384", "TLS13_AES_128_GCM_SHA256", "TLS13_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
]
)"),
                     {"postern.toml:20:1: error: tls.protocols.disable_cipher_suites: removes every cipher suite; "
                      "at least one must stay enabled"});
}

TEST(ConfigGolden, AdminAndHttpAreNotSupportedYet) {
  expect_diagnostics(with_base(R"([admin]
bind = "127.0.0.1:9443"

[[http.route]]
match = "/x"
)"),
                     {
                         "postern.toml:19:2: error: admin: not supported yet by this build",
                         "postern.toml:22:3: error: http: not supported yet by this build",
                     });
}

TEST(ConfigGolden, NoListenersAndMissingRequiredTables) {
  expect_diagnostics("[server]\nthreads = 2\n", {
                                                     "postern.toml:1:1: error: listener: no listeners configured",
                                                     "postern.toml:1:1: error: routing: required table is missing",
                                                     "postern.toml:1:1: error: mapping: required table is missing",
                                                 });
}

TEST(ConfigGolden, RoutingAndMappingKeys) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
master_user_separators = "%"

[mapping]
normalize = "upper"
cache_max_entries = -1
on_lookup_error = "fallback"
positive_ttl = "10"
)",
                     {
                         "postern.toml:11:2: error: routing.default_destination: required key is missing",
                         "postern.toml:12:1: error: routing.master_user_separators: expected a list of strings, "
                         "found a string",
                         "postern.toml:14:2: error: mapping.source: required key is missing",
                         "postern.toml:15:1: error: mapping.normalize: unknown value \"upper\"; expected one of "
                         "none, lowercase",
                         "postern.toml:16:1: error: mapping.cache_max_entries: -1 is below the minimum 0",
                         "postern.toml:17:1: error: mapping.on_lookup_error: unknown value \"fallback\"; expected "
                         "one of tempfail, default",
                         "postern.toml:18:1: error: mapping.positive_ttl: missing duration unit in \"10\"; use ms, "
                         "s, m, h or d",
                     });
}

TEST(ConfigGolden, MappingSourceWithoutPlugin) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "redis"

[mapping.redis]
url = "redis://127.0.0.1"

[mapping.file]
path = "kept for later"

[mapping.sql]
url = "sqlite://x"
)",
                     {
                         "postern.toml:15:1: error: mapping.source: no mapping plugin provides source 'redis'; it "
                         "needs the plugin 'mapping-redis'",
                         "postern.toml:23:10: error: mapping.sql: no loaded plugin claims this table; it needs "
                         "the plugin 'mapping-sql'",
                     });
}

TEST(ConfigGolden, MappingSourceNeedsItsTable) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"
)",
                     {"postern.toml:15:1: error: mapping.source: source 'file' needs a [mapping.file] table"});
}

TEST(ConfigGolden, MappingPluginDiagnosticsAreTagged) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
pth = "mappings.tsv"
)",
                     {
                         "postern.toml:17:10: error: mapping.file.path: required key is missing [plugin "
                         "mapping-file 0.1.0]",
                         "postern.toml:18:1: error: mapping.file.pth: unknown key; did you mean 'path'? [plugin "
                         "mapping-file 0.1.0]",
                     });
}

TEST(ConfigGolden, MappedDestinationsAreCheckedThroughTheContext) {
  expect_diagnostics(R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[listener.sub]
protocol = "submission"
bind = ["127.0.0.1:587"]
tls = "starttls"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }
protocol.submission = { port = 587, tls = "plain" }
protocol.http = { port = 80, tls = "plain" }

[destination.new]
host = "new.example"
protocol.imap = { port = 993, tls = "implicit" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
destinations = ["old", "nope", "olde", "new"]
)",
                     {
                         "postern.toml:30:1: error: mapping.file.destinations: destination 'nope' is not declared "
                         "[plugin mapping-file 0.1.0]",
                         "postern.toml:30:1: error: mapping.file.destinations: destination 'olde' is not "
                         "declared; did you mean 'old'? [plugin mapping-file 0.1.0]",
                         "postern.toml:30:1: error: mapping.file.destinations: destination 'new' does not declare "
                         "protocol 'submission', which listener 'sub' serves [plugin mapping-file 0.1.0]",
                     });
}

TEST(ConfigGolden, CapabilityTables) {
  expect_diagnostics(with_base(R"([capabilities.imap]
banner = "hi"
sasl = ["PLAIN", "CRAM-MD5"]
banr = "x"

[capabilities.pop3]
banner = "x"

[capabilities.smtp]

[capabilities.imapp]

[capabilities.gopher]
)"),
                     {
                         "postern.toml:21:1: error: capabilities.imap.sasl: unknown mechanism 'CRAM-MD5' [plugin "
                         "imap 0.1.0]",
                         "postern.toml:22:1: error: capabilities.imap.banr: unknown key; did you mean 'banner'? "
                         "[plugin imap 0.1.0]",
                         "postern.toml:24:15: error: capabilities.pop3: no loaded plugin claims this table; it "
                         "needs the plugin 'pop3'",
                         "postern.toml:27:15: error: capabilities.smtp: unknown table; protocol 'smtp' has no "
                         "capability settings",
                         "postern.toml:29:15: error: capabilities.imapp: unknown table; did you mean 'imap'?",
                         "postern.toml:31:15: error: capabilities.gopher: no loaded plugin claims this table; it "
                         "needs the plugin 'gopher'",
                     });
}

TEST(ConfigGolden, ErrorsFromEverySectionArePrintedInFileOrder) {
  // The loader reads [server] before [mapping] and the backstop runs last;
  // the output still follows the file.
  expect_diagnostics(R"([mapping]
source = "file"
normalize = "Lowercase"

[mapping.file]
path = "mappings.tsv"
extra = 1

[routing]
default_destination = "old"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"
max_connections = 1.5

[server]
threads = -2
)",
                     {
                         "postern.toml:3:1: error: mapping.normalize: unknown value \"Lowercase\"; did you mean "
                         "'lowercase'?",
                         "postern.toml:7:1: error: mapping.file.extra: unknown key [plugin mapping-file 0.1.0]",
                         "postern.toml:21:1: error: listener.imap.max_connections: expected an integer, found a "
                         "floating-point number",
                         "postern.toml:24:1: error: server.threads: -2 is below the minimum 0",
                     });
}

}  // namespace
}  // namespace postern::kernel
