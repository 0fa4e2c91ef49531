#include "tls/server_tls.hpp"

#include "tls/client_tls.hpp"

#include <chrono>
#include <cstdio>
#include <ostream>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "tls/test_certificates.hpp"

namespace postern::kernel {

void PrintTo(const TlsError& error, std::ostream* os) { *os << error.key << ": " << error.message; }

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_test_support::CertificateSpec;
using tls_test_support::TestCertificate;
using ::testing::HasSubstr;

// --- certificates shared by all tests (generated once, P-256: fast) ---

struct Certificates {
  std::filesystem::path dir;
  TestCertificate ca;
  TestCertificate a_test;     // SAN a.test
  TestCertificate b_example;  // SAN b.example.test + imap.example.test, CN ignored
  TestCertificate wildcard;   // SAN *.example.test
  TestCertificate cn_only;    // CN only, mixed case
  TestCertificate ip_local;   // SAN IP 127.0.0.1
  TestCertificate client;     // for mutual TLS
  std::filesystem::path not_pem;
};

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<Certificates>();
    Certificates& c = *certs_;
    c.dir = tls_test_support::make_temp_dir("tls_test");
    c.ca = tls_test_support::make_certificate({"Postern Test CA", {}, {}, true}, nullptr);
    c.a_test = tls_test_support::make_certificate({"a.test", {"a.test"}, {}, false}, &c.ca);
    c.b_example = tls_test_support::make_certificate(
        {"ignored-cn.test", {"B.Example.Test", "imap.example.test"}, {}, false}, &c.ca);
    c.wildcard = tls_test_support::make_certificate({"*.example.test", {"*.example.test"}, {}, false}, &c.ca);
    c.cn_only = tls_test_support::make_certificate({"CN-Only.Test", {}, {}, false}, &c.ca);
    c.ip_local = tls_test_support::make_certificate({"127.0.0.1", {}, {"127.0.0.1"}, false}, &c.ca);
    c.client = tls_test_support::make_certificate({"client.test", {"client.test"}, {}, false}, &c.ca);
    c.ca.write_to(c.dir, "ca");
    c.a_test.write_to(c.dir, "a");
    c.b_example.write_to(c.dir, "b");
    c.wildcard.write_to(c.dir, "wildcard");
    c.cn_only.write_to(c.dir, "cn_only");
    c.ip_local.write_to(c.dir, "ip_local");
    c.client.write_to(c.dir, "client");
    c.not_pem = c.dir / "not_pem.crt";
    std::FILE* f = std::fopen(c.not_pem.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not a certificate\n", f);
    std::fclose(f);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(certs_->dir, ignored);
    certs_.reset();
  }

  static const Certificates& certs() { return *certs_; }

  static CertificateConfig certificate(const std::string& id, const TestCertificate& cert,
                                       std::vector<std::string> subjects = {}, bool is_default = false) {
    return {id, cert.cert_path.string(), cert.key_path.string(), std::move(subjects), is_default};
  }

  static std::unique_ptr<ServerTls> server(const TlsConfig& config) {
    ServerTls::Build build = ServerTls::create(config);
    EXPECT_THAT(build.errors, ::testing::IsEmpty());
    EXPECT_NE(build.tls, nullptr);
    return std::move(build.tls);
  }

  static std::unique_ptr<ClientTls> client(DestinationConfig destination) {
    if (destination.id.empty()) destination.id = "backend";
    ClientTls::Build build = ClientTls::create(destination);
    EXPECT_THAT(build.errors, ::testing::IsEmpty());
    EXPECT_NE(build.tls, nullptr);
    return std::move(build.tls);
  }

 private:
  static inline std::unique_ptr<Certificates> certs_;
};

// --- real handshakes over a connected loopback socket pair ---

std::string common_name(X509* cert) {
  if (cert == nullptr) return {};
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

struct Handshake {
  boost::system::error_code server_error;
  boost::system::error_code client_error;
  std::string server_cn;       // CN of the certificate the client was shown
  std::string client_cn;       // CN of the client certificate the server got
  std::string sni_seen;        // SNI as the server saw it, "" = none
  std::string client_session;  // tls_session_summary() on the client side
  std::string server_session;
  std::string client_failure;  // filled by the `after` hook when wanted
  bool ok() const { return !server_error && !client_error; }
};

asio::awaitable<void> handshake_side(ssl::stream<tcp::socket>& stream, ssl::stream_base::handshake_type type,
                                     boost::system::error_code& error) {
  auto [ec] = co_await stream.async_handshake(type, asio::as_tuple(asio::use_awaitable));
  error = ec;
  // A failed side closes its socket so the peer never waits for bytes that
  // will not come.
  if (ec) {
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
  }
}

Handshake run_handshake(ssl::context& server_ctx, ssl::context& client_ctx,
                        const std::function<void(SSL*)>& before_client = {},
                        const std::function<void(SSL*, Handshake&)>& after_client = {}) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client_socket(io);
  client_socket.connect(acceptor.local_endpoint());
  tcp::socket server_socket = acceptor.accept();
  ssl::stream<tcp::socket> server(std::move(server_socket), server_ctx);
  ssl::stream<tcp::socket> client(std::move(client_socket), client_ctx);
  if (before_client) before_client(client.native_handle());

  Handshake out;
  asio::co_spawn(io, handshake_side(server, ssl::stream_base::server, out.server_error), asio::detached);
  asio::co_spawn(io, handshake_side(client, ssl::stream_base::client, out.client_error), asio::detached);
  io.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(io.stopped()) << "handshake did not finish";

  if (!out.client_error) {
    X509* peer = SSL_get1_peer_certificate(client.native_handle());
    out.server_cn = common_name(peer);
    X509_free(peer);
    out.client_session = tls_session_summary(client.native_handle());
  }
  if (!out.server_error) {
    X509* peer = SSL_get1_peer_certificate(server.native_handle());
    out.client_cn = common_name(peer);
    X509_free(peer);
    const char* sni = SSL_get_servername(server.native_handle(), TLSEXT_NAMETYPE_host_name);
    out.sni_seen = sni != nullptr ? sni : "";
    out.server_session = tls_session_summary(server.native_handle());
  }
  if (after_client) after_client(client.native_handle(), out);
  return out;
}

// A client that accepts any certificate, optionally limited in versions
// and suites (0 / nullptr: OpenSSL's default).
std::unique_ptr<ssl::context> probe_client(int max_version = 0, const char* tls12 = nullptr,
                                           const char* tls13 = nullptr, int min_version = 0) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_verify(ctx->native_handle(), SSL_VERIFY_NONE, nullptr);
  if (min_version != 0) SSL_CTX_set_min_proto_version(ctx->native_handle(), min_version);
  if (max_version != 0) SSL_CTX_set_max_proto_version(ctx->native_handle(), max_version);
  if (tls12 != nullptr) {
    EXPECT_EQ(SSL_CTX_set_cipher_list(ctx->native_handle(), tls12), 1);
  }
  if (tls13 != nullptr) {
    EXPECT_EQ(SSL_CTX_set_ciphersuites(ctx->native_handle(), tls13), 1);
  }
  return ctx;
}

std::function<void(SSL*)> with_sni(std::string name) {
  return [name = std::move(name)](SSL* ssl) { SSL_set_tlsext_host_name(ssl, name.c_str()); };
}

// ===================== names (3.1) =====================

TEST_F(Tls, SubjectsReplaceCertificateNames) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test, {"Mail.Example.COM", "*.Other.Test"})};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->names(), (CertificateNameMap{{"mail.example.com", 0}, {"other.test", 0}}));
}

TEST_F(Tls, SanDnsNamesAreUsedAndCommonNameIgnored) {
  TlsConfig config;
  config.certificates = {certificate("b", certs().b_example)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->names(), (CertificateNameMap{{"b.example.test", 0}, {"imap.example.test", 0}}));
}

TEST_F(Tls, WildcardIsStoredUnderItsParent) {
  TlsConfig config;
  config.certificates = {certificate("w", certs().wildcard)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->names(), (CertificateNameMap{{"example.test", 0}}));
}

TEST_F(Tls, CommonNameIsUsedWithoutDnsSans) {
  TlsConfig config;
  config.certificates = {certificate("cn", certs().cn_only)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->names(), (CertificateNameMap{{"cn-only.test", 0}}));
}

TEST_F(Tls, DefaultCertificateAlsoTakesTheCatchAll) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test), certificate("w", certs().wildcard, {}, true)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->names(), (CertificateNameMap{{"a.test", 0}, {"example.test", 1}, {"*", 1}}));
  EXPECT_EQ(tls->certificate_count(), 2U);
}

TEST_F(Tls, LaterCertificateWinsASharedNameWithAWarning) {
  TlsConfig config;
  config.certificates = {certificate("first", certs().a_test), certificate("second", certs().cn_only, {"A.test"})};
  ServerTls::Build build = ServerTls::create(config);
  ASSERT_NE(build.tls, nullptr);
  EXPECT_EQ(build.tls->names(), (CertificateNameMap{{"a.test", 1}}));
  const std::vector<std::string>& warnings = build.warnings;
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_THAT(warnings[0], HasSubstr("'a.test'"));
  EXPECT_THAT(warnings[0], HasSubstr("'second'"));
}

// ===================== selection (3.2), pure =====================

TEST(SelectCertificate, ExactName) {
  const CertificateNameMap names{{"a.test", 0}, {"b.example.test", 1}, {"*", 2}};
  EXPECT_EQ(select_certificate(names, 3, "a.test"), 0U);
  EXPECT_EQ(select_certificate(names, 3, "b.example.test"), 1U);
}

TEST(SelectCertificate, IsCaseInsensitive) {
  const CertificateNameMap names{{"a.test", 0}, {"b.test", 1}};
  EXPECT_EQ(select_certificate(names, 2, "A.TEST"), 0U);
}

TEST(SelectCertificate, ParentDomainOneLevelOnly) {
  const CertificateNameMap names{{"example.test", 0}, {"a.test", 1}};
  EXPECT_EQ(select_certificate(names, 2, "imap.example.test"), 0U);
  // Two labels away: not a match, and with two certificates and no "*"
  // nothing else applies.
  EXPECT_EQ(select_certificate(names, 2, "x.imap.example.test"), std::nullopt);
}

TEST(SelectCertificate, ExactBeatsParentBeatsCatchAll) {
  const CertificateNameMap names{{"mail.example.test", 0}, {"example.test", 1}, {"*", 2}};
  EXPECT_EQ(select_certificate(names, 3, "mail.example.test"), 0U);
  EXPECT_EQ(select_certificate(names, 3, "pop.example.test"), 1U);
  EXPECT_EQ(select_certificate(names, 3, "other.test"), 2U);
}

TEST(SelectCertificate, MissingSniSkipsNameRules) {
  const CertificateNameMap names{{"a.test", 0}, {"*", 1}};
  EXPECT_EQ(select_certificate(names, 2, ""), 1U);
  const CertificateNameMap no_default{{"a.test", 0}, {"b.test", 1}};
  EXPECT_EQ(select_certificate(no_default, 2, ""), std::nullopt);
}

TEST(SelectCertificate, SingleCertificateWithTwoNamesIsStillUsed) {
  // Difference 13: one certificate, two entries; the reference would fall
  // back to the self-signed certificate here.
  const CertificateNameMap names{{"a.test", 0}, {"b.test", 0}};
  EXPECT_EQ(select_certificate(names, 1, "unrelated.test"), 0U);
  EXPECT_EQ(select_certificate(names, 1, ""), 0U);
}

TEST(SelectCertificate, SingleCertificateWithoutNamesIsUsed) {
  EXPECT_EQ(select_certificate({}, 1, "anything.test"), 0U);
}

TEST(SelectCertificate, FallbackWhenNothingApplies) {
  const CertificateNameMap names{{"a.test", 0}, {"b.test", 1}};
  EXPECT_EQ(select_certificate(names, 2, "c.test"), std::nullopt);
  EXPECT_EQ(select_certificate({}, 0, "a.test"), std::nullopt);
  EXPECT_EQ(select_certificate({}, 0, ""), std::nullopt);
}

TEST(SelectCertificate, IpLiteralSniCountsAsNone) {
  // "0.0.1" would be the parent-domain candidate of "127.0.0.1".
  const CertificateNameMap names{{"127.0.0.1", 0}, {"::1", 1}, {"0.0.1", 2}};
  EXPECT_EQ(select_certificate(names, 3, "127.0.0.1"), std::nullopt);
  EXPECT_EQ(select_certificate(names, 3, "::1"), std::nullopt);
  const CertificateNameMap with_default{{"127.0.0.1", 0}, {"*", 1}};
  EXPECT_EQ(select_certificate(with_default, 2, "127.0.0.1"), 1U);
}

// ===================== load errors =====================

TEST_F(Tls, MissingFileNamesCertificateAndPath) {
  TlsConfig config;
  config.certificates = {{"main", (certs().dir / "missing.crt").string(), certs().a_test.key_path.string(), {}, false}};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "tls.certificate.main.cert");
  EXPECT_THAT(errors[0].message, HasSubstr("'main'"));
  EXPECT_THAT(errors[0].message, HasSubstr("missing.crt"));
  EXPECT_THAT(errors[0].message, HasSubstr("No such file"));
}

TEST_F(Tls, NonPemCertificateAndKeyAreRefused) {
  TlsConfig config;
  config.certificates = {{"junk", certs().not_pem.string(), certs().not_pem.string(), {}, false}};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_EQ(errors[0].key, "tls.certificate.junk.cert");
  EXPECT_EQ(errors[1].key, "tls.certificate.junk.key");
  EXPECT_THAT(errors[0].message, HasSubstr("no PEM certificate"));
  EXPECT_THAT(errors[1].message, HasSubstr("no PEM private key"));
  EXPECT_THAT(errors[0].message, HasSubstr("not_pem.crt"));
}

TEST_F(Tls, EncryptedOrDamagedKeysAreRefused) {
  const std::filesystem::path encrypted = certs().dir / "encrypted.key";
  tls_test_support::write_encrypted_key(certs().a_test, encrypted);
  const std::filesystem::path damaged = certs().dir / "damaged.key";
  std::FILE* f = std::fopen(damaged.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
  std::fclose(f);

  TlsConfig config;
  config.certificates = {{"enc", certs().a_test.cert_path.string(), encrypted.string(), {}, false},
                         {"dmg", certs().a_test.cert_path.string(), damaged.string(), {}, false}};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_THAT(errors[0].message, HasSubstr("encrypted"));
  EXPECT_THAT(errors[0].message, HasSubstr("'enc'"));
  EXPECT_THAT(errors[1].message, HasSubstr("damaged private key"));
  EXPECT_THAT(errors[1].message, HasSubstr("damaged.key"));
}

TEST_F(Tls, KeyOfAnotherCertificateIsRefused) {
  TlsConfig config;
  config.certificates = {{"mixed", certs().a_test.cert_path.string(), certs().b_example.key_path.string(), {}, false}};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "tls.certificate.mixed.key");
  EXPECT_THAT(errors[0].message, HasSubstr("does not match"));
  EXPECT_THAT(errors[0].message, HasSubstr("'mixed'"));
  EXPECT_THAT(errors[0].message, HasSubstr("b.key"));
}

TEST_F(Tls, EveryProblemIsReported) {
  TlsConfig config;
  config.certificates = {certificate("good", certs().a_test),
                         {"bad1", (certs().dir / "nope1.crt").string(), certs().a_test.key_path.string(), {}, false},
                         {"bad2", certs().a_test.cert_path.string(), (certs().dir / "nope2.key").string(), {}, false}};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_THAT(errors[0].message, HasSubstr("nope1.crt"));
  EXPECT_THAT(errors[1].message, HasSubstr("nope2.key"));
}

TEST_F(Tls, SuiteFilterThatLeavesNothingIsAnError) {
  TlsConfig config;
  config.disable_cipher_suites = {"TLS_AES_256_GCM_SHA384", "tls13_aes_128_gcm_sha256",
                                  "TLS_CHACHA20_POLY1305_SHA256"};
  config.min_version = TlsVersion::tls1_3;
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "tls.protocols.disable_cipher_suites");
  EXPECT_THAT(errors[0].message, HasSubstr("every TLS 1.3 suite is disabled"));

  // With TLS 1.2 still allowed the same filter is fine.
  config.min_version = TlsVersion::tls1_2;
  build = ServerTls::create(config);
  EXPECT_NE(build.tls, nullptr);
  EXPECT_THAT(build.errors, ::testing::IsEmpty());
}

TEST_F(Tls, UnknownSuiteNameIsAnError) {
  TlsConfig config;
  config.disable_cipher_suites = {"TLS_RSA_WITH_RC4_128_MD5"};
  ServerTls::Build build = ServerTls::create(config);
  EXPECT_EQ(build.tls, nullptr);
  const std::vector<TlsError>& errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "tls.protocols.disable_cipher_suites");
  EXPECT_THAT(errors[0].message, HasSubstr("TLS_RSA_WITH_RC4_128_MD5"));
}

// ===================== inbound handshakes =====================

TEST_F(Tls, SniSelectsTheCertificate) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test), certificate("b", certs().b_example),
                         certificate("w", certs().wildcard)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  auto probe = probe_client();

  Handshake h = run_handshake(tls->front(), *probe, with_sni("a.test"));
  ASSERT_TRUE(h.ok()) << h.server_error.message() << " / " << h.client_error.message();
  EXPECT_EQ(h.server_cn, "a.test");
  EXPECT_EQ(h.sni_seen, "a.test");

  h = run_handshake(tls->front(), *probe, with_sni("IMAP.example.test"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "ignored-cn.test");  // the b certificate, by its second SAN

  h = run_handshake(tls->front(), *probe, with_sni("pop.example.test"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "*.example.test");  // parent of the SNI

  h = run_handshake(tls->front(), *probe, with_sni("unknown.test"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "localhost");  // three certificates, no default

  h = run_handshake(tls->front(), *probe);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.sni_seen, "");
  EXPECT_EQ(h.server_cn, "localhost");
}

TEST_F(Tls, DefaultCertificateServesMissingSni) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test), certificate("b", certs().b_example, {}, true)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  auto probe = probe_client();
  const Handshake h = run_handshake(tls->front(), *probe);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "ignored-cn.test");
}

TEST_F(Tls, SingleCertificateServesEveryName) {
  TlsConfig config;
  config.certificates = {certificate("b", certs().b_example)};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  auto probe = probe_client();
  Handshake h = run_handshake(tls->front(), *probe, with_sni("elsewhere.test"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "ignored-cn.test");
  h = run_handshake(tls->front(), *probe);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "ignored-cn.test");
}

TEST_F(Tls, WithoutCertificatesTheGeneratedOneIsServed) {
  auto tls = server({});
  ASSERT_NE(tls, nullptr);
  auto probe = probe_client();
  const Handshake h = run_handshake(tls->front(), *probe, with_sni("mail.example.test"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "localhost");
}

TEST_F(Tls, MinVersion13RefusesATls12Client) {
  TlsConfig config;
  config.min_version = TlsVersion::tls1_3;
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);
  auto tls12_only = probe_client(TLS1_2_VERSION);
  Handshake h = run_handshake(tls->front(), *tls12_only);
  EXPECT_TRUE(h.server_error);
  EXPECT_TRUE(h.client_error);

  // The same client is fine with the default minimum.
  auto lenient = server({});
  ASSERT_NE(lenient, nullptr);
  h = run_handshake(lenient->front(), *tls12_only);
  ASSERT_TRUE(h.ok());
  EXPECT_THAT(h.server_session, ::testing::StartsWith("TLSv1.2 "));
}

TEST_F(Tls, DisabledTls13SuiteIsNeverNegotiated) {
  TlsConfig config;
  config.disable_cipher_suites = {"TLS13_AES_256_GCM_SHA384"};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);

  auto only_disabled = probe_client(0, nullptr, "TLS_AES_256_GCM_SHA384", TLS1_3_VERSION);
  Handshake h = run_handshake(tls->front(), *only_disabled);
  EXPECT_TRUE(h.server_error);

  auto prefers_disabled = probe_client(0, nullptr, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
  h = run_handshake(tls->front(), *prefers_disabled);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_session, "TLSv1.3 TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(h.client_session, h.server_session);
}

TEST_F(Tls, DisabledTls12SuiteIsNeverNegotiated) {
  TlsConfig config;
  config.disable_cipher_suites = {"ecdhe-ecdsa-aes256-gcm-sha384"};
  auto tls = server(config);
  ASSERT_NE(tls, nullptr);

  auto only_disabled = probe_client(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384");
  Handshake h = run_handshake(tls->front(), *only_disabled);
  EXPECT_TRUE(h.server_error);

  auto prefers_disabled =
      probe_client(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256");
  h = run_handshake(tls->front(), *prefers_disabled);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_session, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

TEST_F(Tls, IgnoreClientOrderUsesTheServerPreference) {
  // The client prefers AES-128; the server list puts AES-256 first.
  auto client_order = probe_client(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384");

  TlsConfig honour;
  auto tls = server(honour);
  ASSERT_NE(tls, nullptr);
  Handshake h = run_handshake(tls->front(), *client_order);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_session, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");

  TlsConfig ignore;
  ignore.ignore_client_order = true;
  tls = server(ignore);
  ASSERT_NE(tls, nullptr);
  h = run_handshake(tls->front(), *client_order);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.server_session, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
}

// ===================== backend client (5.3) =====================

// The server side for client tests: one certificate (so every SNI gets it).
std::function<void(SSL*, Handshake&)> record_failure(const ClientTls& tls) {
  return [&tls](SSL* ssl, Handshake& h) { h.client_failure = tls.verification_failure(ssl); };
}

TEST_F(Tls, PinnedCertificateIsAcceptedWithoutChainOrNameChecks) {
  // The generated localhost certificate is self-signed and named for
  // another host: only the pin matters.
  auto backend = server({});
  ASSERT_NE(backend, nullptr);
  // Learn the fallback certificate's fingerprint from a first handshake.
  auto probe = probe_client();
  std::string pin;
  run_handshake(backend->front(), *probe, {}, [&](SSL* ssl, Handshake&) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    ASSERT_NE(peer, nullptr);
    unsigned char digest[32];
    unsigned int length = 0;
    X509_digest(peer, EVP_sha256(), digest, &length);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < length; ++i) {
      pin += hex[digest[i] >> 4];
      pin += hex[digest[i] & 0x0f];
    }
    X509_free(peer);
  });
  ASSERT_EQ(pin.size(), 64U);

  DestinationConfig destination;
  destination.host = "backend.test";
  destination.tls_pinned_cert_sha256 = pin;
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->verification(), ClientTls::Verification::pinned);
  const Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                                    record_failure(*tls));
  ASSERT_TRUE(h.ok()) << h.client_failure;
  EXPECT_EQ(h.sni_seen, "backend.test");
}

TEST_F(Tls, WrongPinIsRefused) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test)};
  auto backend = server(config);
  ASSERT_NE(backend, nullptr);

  DestinationConfig destination;
  destination.host = "a.test";
  destination.tls_pinned_cert_sha256 = certs().b_example.sha256_hex();  // not the one served
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                              record_failure(*tls));
  EXPECT_TRUE(h.client_error);
  EXPECT_EQ(h.client_failure, "certificate pin mismatch");

  // The right pin for the same server (CA-signed, but the CA is not trusted).
  destination.tls_pinned_cert_sha256 = certs().a_test.sha256_hex();
  tls = client(destination);
  ASSERT_NE(tls, nullptr);
  h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                    record_failure(*tls));
  EXPECT_TRUE(h.ok()) << h.client_failure;
}

TEST_F(Tls, AllowInvalidCertsAcceptsASelfSignedCertificate) {
  auto backend = server({});
  ASSERT_NE(backend, nullptr);
  DestinationConfig destination;
  destination.host = "backend.test";
  destination.tls_allow_invalid_certs = true;
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->verification(), ClientTls::Verification::none);
  const Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                                    record_failure(*tls));
  EXPECT_TRUE(h.ok());
  EXPECT_EQ(h.server_cn, "localhost");
  EXPECT_EQ(h.client_failure, "");  // nothing to report, although the chain is untrusted
}

TEST_F(Tls, SystemVerificationRejectsAnUntrustedCertificate) {
  auto backend = server({});
  ASSERT_NE(backend, nullptr);
  DestinationConfig destination;
  destination.host = "localhost";
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->verification(), ClientTls::Verification::system);
  const Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                                    record_failure(*tls));
  EXPECT_TRUE(h.client_error);
  EXPECT_EQ(h.client_failure, X509_verify_cert_error_string(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
}

TEST_F(Tls, SystemVerificationAcceptsACertificateFromAnAddedCa) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test)};
  auto backend = server(config);
  ASSERT_NE(backend, nullptr);
  DestinationConfig destination;
  destination.host = "10.0.0.1";  // tls_server_name takes precedence over host
  destination.tls_server_name = "a.test";
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->server_name(), "a.test");

  // Not trusted yet.
  Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                              record_failure(*tls));
  EXPECT_TRUE(h.client_error);
  EXPECT_EQ(h.client_failure, X509_verify_cert_error_string(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));

  ASSERT_TRUE(tls->add_trusted_ca_file_for_test(certs().ca.cert_path.string()));
  h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                    record_failure(*tls));
  ASSERT_TRUE(h.ok()) << h.client_failure;
  EXPECT_EQ(h.sni_seen, "a.test");
}

TEST_F(Tls, SystemVerificationChecksTheHostName) {
  TlsConfig config;
  config.certificates = {certificate("a", certs().a_test)};
  auto backend = server(config);
  ASSERT_NE(backend, nullptr);
  DestinationConfig destination;
  destination.host = "b.test";
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  ASSERT_TRUE(tls->add_trusted_ca_file_for_test(certs().ca.cert_path.string()));
  const Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                                    record_failure(*tls));
  EXPECT_TRUE(h.client_error);
  EXPECT_EQ(h.client_failure, X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH));
}

TEST_F(Tls, IpLiteralHostIsVerifiedAsAnAddressWithoutSni) {
  TlsConfig config;
  config.certificates = {certificate("ip", certs().ip_local)};
  auto backend = server(config);
  ASSERT_NE(backend, nullptr);
  DestinationConfig destination;
  destination.host = "127.0.0.1";
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  ASSERT_TRUE(tls->add_trusted_ca_file_for_test(certs().ca.cert_path.string()));
  Handshake h = run_handshake(backend->front(), tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); },
                              record_failure(*tls));
  ASSERT_TRUE(h.ok()) << h.client_failure;
  EXPECT_EQ(h.sni_seen, "");

  h = run_handshake(backend->front(), tls->context(),
                    [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, "127.0.0.2")); }, record_failure(*tls));
  EXPECT_TRUE(h.client_error);
  EXPECT_EQ(h.client_failure, X509_verify_cert_error_string(X509_V_ERR_IP_ADDRESS_MISMATCH));
}

TEST_F(Tls, ClientCertificateIsPresentedForMutualTls) {
  // A backend that demands a client certificate from the test CA.
  ssl::context backend(ssl::context::tls_server);
  backend.use_certificate_chain_file(certs().a_test.cert_path.string());
  backend.use_private_key_file(certs().a_test.key_path.string(), ssl::context::pem);
  backend.load_verify_file(certs().ca.cert_path.string());
  backend.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);

  DestinationConfig destination;
  destination.host = "a.test";
  destination.tls_pinned_cert_sha256 = certs().a_test.sha256_hex();
  destination.tls_client_cert = certs().client.cert_path.string();
  destination.tls_client_key = certs().client.key_path.string();
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  Handshake h = run_handshake(backend, tls->context(), [&](SSL* ssl) { ASSERT_TRUE(tls->prepare(ssl, tls->server_name())); });
  ASSERT_TRUE(h.ok()) << h.server_error.message();
  EXPECT_EQ(h.client_cn, "client.test");

  // Without one, the backend refuses.
  destination.tls_client_cert.reset();
  destination.tls_client_key.reset();
  auto anonymous = client(destination);
  ASSERT_NE(anonymous, nullptr);
  h = run_handshake(backend, anonymous->context(), [&](SSL* ssl) { ASSERT_TRUE(anonymous->prepare(ssl, anonymous->server_name())); });
  EXPECT_TRUE(h.server_error);
}

TEST_F(Tls, ClientTlsConfigurationErrors) {
  DestinationConfig destination;
  destination.id = "old";
  destination.host = "a.test";
  destination.tls_client_cert = certs().client.cert_path.string();
  destination.tls_client_key = (certs().dir / "absent.key").string();
  ClientTls::Build build = ClientTls::create(destination);
  EXPECT_EQ(build.tls, nullptr);
  std::vector<TlsError> errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "destination.old.tls_client_key");
  EXPECT_THAT(errors[0].message, HasSubstr("'old'"));
  EXPECT_THAT(errors[0].message, HasSubstr("absent.key"));

  destination.tls_client_key.reset();
  build = ClientTls::create(destination);
  EXPECT_EQ(build.tls, nullptr);
  errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "destination.old.tls_client_key");
  EXPECT_THAT(errors[0].message, HasSubstr("must be set together"));

  destination.tls_client_cert.reset();
  destination.tls_pinned_cert_sha256 = "abcd";
  build = ClientTls::create(destination);
  EXPECT_EQ(build.tls, nullptr);
  errors = build.errors;
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].key, "destination.old.tls_pinned_cert_sha256");
  EXPECT_THAT(errors[0].message, HasSubstr("64 hexadecimal digits"));
}

TEST_F(Tls, SystemVerificationNeedsAName) {
  DestinationConfig destination;
  destination.host = "a.test";
  auto tls = client(destination);
  ASSERT_NE(tls, nullptr);
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(tls->context().native_handle()), SSL_free);
  EXPECT_FALSE(tls->prepare(ssl.get(), ""));
  EXPECT_TRUE(tls->prepare(ssl.get(), "a.test", ClientTls::Alpn::http_1_1));
}

}  // namespace
}  // namespace postern::kernel
