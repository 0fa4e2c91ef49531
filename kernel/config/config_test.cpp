#include <gtest/gtest.h>

#include "config/cipher_suites.hpp"
#include "config/config.hpp"
#include "config/normalize.hpp"
#include "plugin/catalog.hpp"

namespace postern::kernel {
namespace {

TEST(SocketAddress, ParsesLiterals) {
  const auto v4 = SocketAddress::parse("192.0.2.1:993");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->ip, "192.0.2.1");
  EXPECT_EQ(v4->port, 993);
  EXPECT_EQ(v4->text(), "192.0.2.1:993");

  const auto v6 = SocketAddress::parse("[2001:DB8::1]:143");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ip, "2001:db8::1");
  EXPECT_EQ(v6->port, 143);
  EXPECT_EQ(v6->text(), "[2001:db8::1]:143");

  EXPECT_EQ(SocketAddress::parse("0.0.0.0:0")->port, 0);
  EXPECT_EQ(SocketAddress::parse("[::]:65535")->text(), "[::]:65535");
}

TEST(SocketAddress, RejectsEverythingElse) {
  for (const char* text : {"", ":993", "192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1",
                           "192.0.2.1:+1", "192.0.2.1:99x", "192.0.2.1:000993", "localhost:993",
                           "mail.example.com:993", "::1:993", "[192.0.2.1]:993", "[::1]", "[::1]993",
                           "[::1:993", " 192.0.2.1:993"}) {
    EXPECT_FALSE(SocketAddress::parse(text).has_value()) << text;
  }
}

TEST(DestinationConfig, ForwardingResolution) {
  DestinationConfig destination;
  destination.protocols["imap"] = EndpointConfig{143, sdk::TlsMode::plain, std::nullopt};
  destination.protocols["pop3"] = EndpointConfig{110, sdk::TlsMode::plain, Forwarding::xclient};

  // Nothing set: proxy_protocol (default true) means a PROXY header.
  EXPECT_EQ(destination.forwarding_for("imap"), Forwarding::proxy);
  destination.proxy_protocol = false;
  EXPECT_EQ(destination.forwarding_for("imap"), Forwarding::none);
  // The destination-wide setting wins over proxy_protocol...
  destination.forwarding = Forwarding::proxy;
  EXPECT_EQ(destination.forwarding_for("imap"), Forwarding::proxy);
  // ...and the per-protocol one over both.
  EXPECT_EQ(destination.forwarding_for("pop3"), Forwarding::xclient);
  // A protocol without an endpoint uses the destination's settings.
  EXPECT_EQ(destination.forwarding_for("http"), Forwarding::proxy);
}

TEST(NormalizeKey, NoneIsIdentity) {
  EXPECT_EQ(normalize_key(Normalize::none, "User@Example.COM"), "User@Example.COM");
}

TEST(NormalizeKey, LowercaseAsciiAndUnicode) {
  EXPECT_EQ(normalize_key(Normalize::lowercase, "User@Example.COM"), "user@example.com");
  EXPECT_EQ(normalize_key(Normalize::lowercase, "J\xC3\x96RG@B\xC3\x9C" "RO.DE"), "j\xC3\xB6rg@b\xC3\xBC" "ro.de");
  // Greek capital sigma, Cyrillic capital de.
  EXPECT_EQ(normalize_key(Normalize::lowercase, "\xCE\xA3\xD0\x94"), "\xCF\x83\xD0\xB4");
  // A four-byte letter: DESERET CAPITAL LONG I (U+10400) -> U+10428.
  EXPECT_EQ(normalize_key(Normalize::lowercase, "\xF0\x90\x90\x80"), "\xF0\x90\x90\xA8");
}

TEST(NormalizeKey, InvalidUtf8IsKeptAsIs) {
  // A lone continuation byte, a truncated sequence, an overlong 'A' and a
  // surrogate: each byte stays, the letters around them are lowercased.
  EXPECT_EQ(normalize_key(Normalize::lowercase, "A\x80" "B"), "a\x80" "b");
  EXPECT_EQ(normalize_key(Normalize::lowercase, "X\xC3"), "x\xC3");
  EXPECT_EQ(normalize_key(Normalize::lowercase, "\xC1\x81Z"), "\xC1\x81z");
  EXPECT_EQ(normalize_key(Normalize::lowercase, "\xED\xA0\x80Q"), "\xED\xA0\x80q");
  EXPECT_EQ(normalize_key(Normalize::lowercase, std::string("N\0U", 3)), std::string("n\0u", 3));
}

TEST(CipherSuites, AcceptsEverySpellingCaseInsensitively) {
  const CipherSuite* suite = find_cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  ASSERT_NE(suite, nullptr);
  EXPECT_EQ(suite->openssl_name, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(find_cipher_suite("ecdhe-rsa-aes128-gcm-sha256"), suite);
  EXPECT_EQ(find_cipher_suite("tls_ecdhe_rsa_with_aes_128_gcm_sha256"), suite);

  const CipherSuite* tls13 = find_cipher_suite("TLS13_AES_256_GCM_SHA384");
  ASSERT_NE(tls13, nullptr);
  EXPECT_EQ(tls13->openssl_name, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(tls13->version, TlsVersion::tls1_3);
  EXPECT_EQ(find_cipher_suite("tls_aes_256_gcm_sha384"), tls13);

  EXPECT_EQ(find_cipher_suite("ECDHE-RSA-AES128-SHA"), nullptr);
  EXPECT_EQ(find_cipher_suite(""), nullptr);
}

TEST(CipherSuites, UniverseIsNineSuites) {
  EXPECT_EQ(cipher_suites().size(), 9u);
  std::size_t tls13 = 0;
  for (const CipherSuite& suite : cipher_suites()) {
    if (suite.version == TlsVersion::tls1_3) ++tls13;
    EXPECT_EQ(find_cipher_suite(suite.openssl_name), &suite);
    EXPECT_EQ(find_cipher_suite(suite.iana_name), &suite);
    EXPECT_EQ(find_cipher_suite(suite.reference_name), &suite);
  }
  EXPECT_EQ(tls13, 3u);
}

TEST(PluginNames, ForProtocolsAndSources) {
  EXPECT_EQ(plugin_needed_for_protocol("imap"), "imap");
  EXPECT_EQ(plugin_needed_for_protocol("pop3"), "pop3");
  EXPECT_EQ(plugin_needed_for_protocol("managesieve"), "managesieve");
  EXPECT_EQ(plugin_needed_for_protocol("submission"), "smtp");
  EXPECT_EQ(plugin_needed_for_protocol("smtp"), "smtp");
  EXPECT_EQ(plugin_needed_for_protocol("lmtp"), "smtp");
  EXPECT_EQ(plugin_needed_for_protocol("http"), "http");
  EXPECT_EQ(plugin_needed_for_source("redis"), "mapping-redis");
  EXPECT_EQ(plugin_needed_for_source("file"), "mapping-file");
}

}  // namespace
}  // namespace postern::kernel
