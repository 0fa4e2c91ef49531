// What a valid configuration loads into, and the file-level entry points.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/load.hpp"
#include "fake_plugins.hpp"

namespace postern::kernel {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::FakeCatalog;
using testing::FakeHandler;
using testing::FakeSource;

constexpr std::string_view minimal = testing::minimal_config;

std::shared_ptr<const Config> load_ok(std::string_view text, const FakeCatalog& catalog,
                                      const std::string& path = "postern.toml") {
  LoadResult result = load_config_text(text, path, catalog);
  for (const Diagnostic& d : result.diagnostics.items()) ADD_FAILURE() << d.format();
  EXPECT_NE(result.config, nullptr);
  return result.config;
}

// A fresh directory for files the configuration points at.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "postern-config-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, std::string_view content) const {
    const std::string file = (fs::path(path_) / name).string();
    std::ofstream(file) << content;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadConfig, DefaultsOfAMinimalConfiguration) {
  FakeCatalog catalog;
  const auto config = load_ok(minimal, catalog);
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->path, "postern.toml");

  EXPECT_EQ(config->server.threads, 0u);
  EXPECT_FALSE(config->server.hostname);
  EXPECT_EQ(config->server.shutdown_grace, milliseconds(30'000));
  EXPECT_EQ(config->server.bridge_idle, milliseconds(1'800'000));
  EXPECT_EQ(config->server.backend_timeout, milliseconds(10'000));
  EXPECT_EQ(config->server.backend_connect_retries, 1u);
  EXPECT_EQ(config->server.host_down_threshold, 5u);
  EXPECT_EQ(config->server.host_down_min_clients, 2u);
  EXPECT_EQ(config->server.host_down_cooldown, milliseconds(30'000));
  EXPECT_EQ(config->server.proxy_ttl, 7u);
  EXPECT_EQ(config->server.log_level, "info");
  EXPECT_FALSE(config->server.plugin_dir);

  EXPECT_TRUE(config->tls.certificates.empty());
  EXPECT_EQ(config->tls.min_version, TlsVersion::tls1_2);
  EXPECT_FALSE(config->tls.ignore_client_order);
  EXPECT_TRUE(config->tls.disable_cipher_suites.empty());

  ASSERT_EQ(config->listeners.size(), 1u);
  const ListenerConfig& listener = config->listeners[0];
  EXPECT_EQ(listener.id, "imap");
  EXPECT_EQ(listener.protocol, "imap");
  ASSERT_EQ(listener.bind.size(), 1u);
  EXPECT_EQ(listener.bind[0].text(), "127.0.0.1:1143");
  EXPECT_EQ(listener.tls, sdk::TlsMode::plain);
  EXPECT_EQ(listener.proxy_protocol, ProxyProtocolMode::off);
  EXPECT_TRUE(listener.proxy_trusted.empty());
  EXPECT_EQ(listener.max_connections, 8192u);
  EXPECT_EQ(listener.preauth_timeout, milliseconds(30'000));
  EXPECT_EQ(listener.max_auth_attempts, 3u);
  EXPECT_EQ(listener.forwarded, ForwardedHeaders::off);

  const DestinationConfig& old = config->destinations.at("old");
  EXPECT_EQ(old.host, "old.example");
  EXPECT_TRUE(old.proxy_protocol);
  EXPECT_FALSE(old.forwarding);
  EXPECT_EQ(old.forwarding_for("imap"), Forwarding::proxy);
  EXPECT_EQ(old.protocols.at("imap").port, 143);

  EXPECT_EQ(config->routing.default_destination, "old");
  EXPECT_FALSE(config->routing.smtp_passthrough_destination);
  EXPECT_EQ(config->routing.master_user_separators, std::vector<std::string>{"%"});

  EXPECT_EQ(config->mapping.source, "file");
  EXPECT_EQ(config->mapping.normalize, Normalize::none);
  EXPECT_EQ(config->mapping.negative_ttl, milliseconds(30'000));
  EXPECT_EQ(config->mapping.positive_ttl, milliseconds(600'000));
  EXPECT_EQ(config->mapping.cache_max_entries, 1'000'000u);
  EXPECT_EQ(config->mapping.lookup_timeout, milliseconds(5'000));
  EXPECT_EQ(config->mapping.on_lookup_error, OnLookupError::tempfail);
  EXPECT_EQ(config->oauth.jwt_username_claim, "email");

  // Delegation: the imap plugin configured its protocol although there is no
  // [capabilities.imap] table, and the mapping plugin built the source.
  EXPECT_EQ(catalog.imap.configured, std::vector<std::string>{"imap"});
  ASSERT_EQ(config->protocol_handlers.size(), 1u);
  EXPECT_EQ(dynamic_cast<FakeHandler&>(*config->protocol_handlers.at("imap")).banner, "default banner");
  ASSERT_NE(config->mapping_source, nullptr);
  EXPECT_EQ(config->mapping_source->describe(), "file mappings.tsv");
}

TEST(LoadConfig, EveryKernelKey) {
  TempDir dir;
  const std::string cert = dir.write("cert.pem", "x");
  dir.write("key.pem", "x");
  dir.write("client.pem", "x");
  const std::string client_key = dir.write("client.key", "x");
  const std::string text = R"([server]
threads = 4
hostname = "proxy.example"
shutdown_grace = "45s"
bridge_idle = "1h"
backend_timeout = "250ms"
backend_connect_retries = 3
host_down_threshold = 0
host_down_min_clients = 0
host_down_cooldown = "2m"
proxy_ttl = 3
log_level = "debug"
plugin_dir = "plugins"

[tls.certificate.main]
cert = ")" + cert + R"("
key = "key.pem"
subjects = ["mail.example", "*.example"]
default = true

[tls.protocols]
min_version = "1.3"
ignore_client_order = true
disable_cipher_suites = ["tls13_aes_128_gcm_sha256", "ECDHE-RSA-AES128-GCM-SHA256",
                         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]

[listener.imaps]
protocol = "imap"
bind = ["0.0.0.0:993", "[::]:993"]
tls = "implicit"
proxy_protocol = "optional"
proxy_trusted = ["10.0.0.0/8", " ::1 "]
max_connections = 100
preauth_timeout = "1m"
max_auth_attempts = 5

[listener.mx]
protocol = "smtp"
bind = ["0.0.0.0:25"]
tls = "plain"

[listener.web]
protocol = "http"
bind = ["0.0.0.0:443"]
tls = "implicit"
forwarded = "trust"

[destination.old]
host = "192.0.2.1"
tls_server_name = "old.example"
proxy_protocol = false
forwarding = "xclient"
forwarded = true
tls_allow_invalid_certs = true
tls_pinned_cert_sha256 = "  AB:CD:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89 "
tls_client_cert = "client.pem"
tls_client_key = ")" + client_key + R"("
source_ips = ["192.0.2.100", "2001:DB8::5"]
hide_auth_errors = true
protocol.imap = { port = 993, tls = "implicit", forwarding = "none" }
protocol.smtp = { port = 25, tls = "plain" }
protocol.http = { port = 443, tls = "implicit" }

[routing]
default_destination = "old"
smtp_passthrough_destination = "old"
master_user_separators = ["%", "*"]

[mapping]
source = "file"
normalize = "lowercase"
negative_ttl = "5s"
positive_ttl = "1d"
cache_max_entries = 10
lookup_timeout = "2s"
on_lookup_error = "default"

[mapping.file]
path = "m.tsv"

[capabilities.imap]
banner = "Hello"

[oauth]
jwt_username_claim = "preferred_username"
)";
  FakeCatalog catalog;
  catalog.with_http = true;
  const auto config = load_ok(text, catalog, dir.path() + "/postern.toml");
  ASSERT_NE(config, nullptr);

  EXPECT_EQ(config->server.threads, 4u);
  EXPECT_EQ(config->server.hostname, "proxy.example");
  EXPECT_EQ(config->server.shutdown_grace, milliseconds(45'000));
  EXPECT_EQ(config->server.bridge_idle, milliseconds(3'600'000));
  EXPECT_EQ(config->server.backend_timeout, milliseconds(250));
  EXPECT_EQ(config->server.backend_connect_retries, 3u);
  EXPECT_EQ(config->server.host_down_threshold, 0u);
  EXPECT_EQ(config->server.host_down_min_clients, 0u);
  EXPECT_EQ(config->server.host_down_cooldown, milliseconds(120'000));
  EXPECT_EQ(config->server.proxy_ttl, 3u);
  EXPECT_EQ(config->server.log_level, "debug");
  EXPECT_EQ(config->server.plugin_dir, dir.path() + "/plugins");

  ASSERT_EQ(config->tls.certificates.size(), 1u);
  const CertificateConfig& certificate = config->tls.certificates[0];
  EXPECT_EQ(certificate.id, "main");
  EXPECT_EQ(certificate.cert_path, cert);
  EXPECT_EQ(certificate.key_path, dir.path() + "/key.pem");  // relative to the file's directory
  EXPECT_EQ(certificate.subjects, (std::vector<std::string>{"mail.example", "*.example"}));
  EXPECT_TRUE(certificate.is_default);
  EXPECT_EQ(config->tls.min_version, TlsVersion::tls1_3);
  EXPECT_TRUE(config->tls.ignore_client_order);
  // Canonical OpenSSL names, each once.
  EXPECT_EQ(config->tls.disable_cipher_suites,
            (std::vector<std::string>{"TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"}));

  ASSERT_EQ(config->listeners.size(), 3u);  // file order
  const ListenerConfig& imaps = config->listeners[0];
  EXPECT_EQ(imaps.id, "imaps");
  ASSERT_EQ(imaps.bind.size(), 2u);
  EXPECT_EQ(imaps.bind[1].text(), "[::]:993");
  EXPECT_EQ(imaps.tls, sdk::TlsMode::implicit);
  EXPECT_EQ(imaps.proxy_protocol, ProxyProtocolMode::optional);
  ASSERT_EQ(imaps.proxy_trusted.size(), 2u);
  EXPECT_TRUE(imaps.proxy_trusted[0].contains(*IpAddress::parse("10.1.1.1")));
  EXPECT_TRUE(imaps.proxy_trusted[1].contains(*IpAddress::parse("::1")));
  EXPECT_EQ(imaps.max_connections, 100u);
  EXPECT_EQ(imaps.preauth_timeout, milliseconds(60'000));
  EXPECT_EQ(imaps.max_auth_attempts, 5u);
  EXPECT_EQ(config->listeners[1].id, "mx");
  EXPECT_EQ(config->listeners[2].forwarded, ForwardedHeaders::trust);

  const DestinationConfig& old = config->destinations.at("old");
  EXPECT_EQ(old.tls_server_name, "old.example");
  EXPECT_FALSE(old.proxy_protocol);
  EXPECT_EQ(old.forwarding, Forwarding::xclient);
  EXPECT_TRUE(old.forwarded);
  EXPECT_TRUE(old.tls_allow_invalid_certs);
  EXPECT_EQ(old.tls_pinned_cert_sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(old.tls_client_cert, dir.path() + "/client.pem");
  EXPECT_EQ(old.tls_client_key, client_key);
  EXPECT_EQ(old.source_ips, (std::vector<std::string>{"192.0.2.100", "2001:db8::5"}));
  EXPECT_TRUE(old.hide_auth_errors);
  EXPECT_FALSE(old.allow_plaintext_auth);
  EXPECT_EQ(old.protocols.size(), 3u);
  EXPECT_EQ(old.protocols.at("imap").tls, sdk::TlsMode::implicit);
  EXPECT_EQ(old.forwarding_for("imap"), Forwarding::none);
  EXPECT_EQ(old.forwarding_for("smtp"), Forwarding::xclient);

  EXPECT_EQ(config->routing.smtp_passthrough_destination, "old");
  EXPECT_EQ(config->routing.master_user_separators, (std::vector<std::string>{"%", "*"}));
  EXPECT_EQ(config->mapping.normalize, Normalize::lowercase);
  EXPECT_EQ(config->mapping.negative_ttl, milliseconds(5'000));
  EXPECT_EQ(config->mapping.positive_ttl, milliseconds(86'400'000));
  EXPECT_EQ(config->mapping.cache_max_entries, 10u);
  EXPECT_EQ(config->mapping.lookup_timeout, milliseconds(2'000));
  EXPECT_EQ(config->mapping.on_lookup_error, OnLookupError::default_destination);
  EXPECT_EQ(config->oauth.jwt_username_claim, "preferred_username");

  // Handlers for every protocol a listener uses, from the plugin serving it.
  EXPECT_EQ(dynamic_cast<FakeHandler&>(*config->protocol_handlers.at("imap")).banner, "Hello");
  EXPECT_EQ(dynamic_cast<FakeHandler&>(*config->protocol_handlers.at("smtp")).banner, "smtp");
  EXPECT_EQ(dynamic_cast<FakeHandler&>(*config->protocol_handlers.at("http")).banner, "http");
  EXPECT_EQ(config->protocol_handlers.size(), 3u);
}

TEST(LoadConfig, MappingContextNormalizesAndChecksDestinations) {
  const std::string text = std::string(minimal) + R"(
[destination.new]
host = "new.example"
protocol.pop3 = { port = 995, tls = "implicit" }
)";
  FakeCatalog catalog;
  std::string lowercase = text;
  lowercase.replace(lowercase.find("source = \"file\""), 15, "source = \"file\"\nnormalize = \"lowercase\"");
  ASSERT_NE(load_ok(lowercase, catalog), nullptr);
  ASSERT_TRUE(catalog.file.context);
  const sdk::MappingContext context = *catalog.file.context;
  EXPECT_EQ(context.normalize("J\xC3\x96RG@Example.COM"), "j\xC3\xB6rg@example.com");
  EXPECT_EQ(context.check_destination("old"), std::nullopt);
  EXPECT_EQ(context.check_destination("new"),
            "destination 'new' does not declare protocol 'imap', which listener 'imap' serves");
  EXPECT_EQ(context.check_destination("ol"), "destination 'ol' is not declared; did you mean 'old'?");

  FakeCatalog identity;
  ASSERT_NE(load_ok(text, identity), nullptr);
  EXPECT_EQ(identity.file.context->normalize("J\xC3\x96RG@Example.COM"), "J\xC3\x96RG@Example.COM");
}

TEST(LoadConfig, ReadsTheFile) {
  TempDir dir;
  const std::string path = dir.write("postern.toml", minimal);
  FakeCatalog catalog;
  const LoadResult result = load_config(path, catalog);
  EXPECT_TRUE(result.diagnostics.items().empty());
  ASSERT_NE(result.config, nullptr);
  EXPECT_EQ(result.config->path, path);

  const std::string broken = dir.write("broken.toml", "[routing\n");
  const LoadResult failed = load_config(broken, catalog);
  EXPECT_EQ(failed.config, nullptr);
  ASSERT_EQ(failed.diagnostics.items().size(), 1u);
  EXPECT_EQ(failed.diagnostics.items()[0].where.file, broken);
  EXPECT_EQ(failed.diagnostics.items()[0].where.line, 1u);
}

TEST(LoadConfig, UnreadableFile) {
  FakeCatalog catalog;
  const LoadResult result = load_config("/nonexistent/postern.toml", catalog);
  EXPECT_EQ(result.config, nullptr);
  ASSERT_EQ(result.diagnostics.items().size(), 1u);
  EXPECT_EQ(result.diagnostics.items()[0].format(),
            "/nonexistent/postern.toml: error: cannot read the configuration file: No such file or directory");
}

TEST(ResolvePluginDir, EnvironmentThenFileThenExecutable) {
  TempDir dir;
  const std::string with_dir = dir.write("a.toml", "[server]\nplugin_dir = \"../lib/plugins\"\n");
  const std::string absolute = dir.write("b.toml", "[server]\nplugin_dir = \"/opt/postern/plugins\"\n");
  const std::string without = dir.write("c.toml", "[server]\nthreads = 1\n");
  const std::string broken = dir.write("d.toml", "[server\n");

  ::setenv("POSTERN_PLUGIN_DIR", "/from/env", 1);
  EXPECT_EQ(resolve_plugin_dir(with_dir), "/from/env");
  ::unsetenv("POSTERN_PLUGIN_DIR");

  EXPECT_EQ(resolve_plugin_dir(with_dir), (fs::path(dir.path()).parent_path() / "lib/plugins").string());
  EXPECT_EQ(resolve_plugin_dir(absolute), "/opt/postern/plugins");
  const std::string fallback =
      (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "lib/postern/plugins").string();
  EXPECT_EQ(resolve_plugin_dir(without), fallback);
  EXPECT_EQ(resolve_plugin_dir(broken), fallback);
  EXPECT_EQ(resolve_plugin_dir("/nonexistent/postern.toml"), fallback);
}

}  // namespace
}  // namespace postern::kernel
