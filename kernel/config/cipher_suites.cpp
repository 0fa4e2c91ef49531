#include "config/cipher_suites.hpp"

#include <array>
#include <cctype>

namespace postern::kernel {
namespace {

constexpr std::array<CipherSuite, 9> suites = {{
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384", TlsVersion::tls1_3},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256", TlsVersion::tls1_3},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS13_CHACHA20_POLY1305_SHA256",
     TlsVersion::tls1_3},
    {"ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
     "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TlsVersion::tls1_2},
    {"ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TlsVersion::tls1_2},
    {"ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
     "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TlsVersion::tls1_2},
    {"ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TlsVersion::tls1_2},
    {"ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TlsVersion::tls1_2},
    {"ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TlsVersion::tls1_2},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const CipherSuite> cipher_suites() { return suites; }

const CipherSuite* find_cipher_suite(std::string_view name) {
  for (const CipherSuite& suite : suites) {
    if (equal_ignoring_case(name, suite.openssl_name) || equal_ignoring_case(name, suite.iana_name) ||
        equal_ignoring_case(name, suite.reference_name)) {
      return &suite;
    }
  }
  return nullptr;
}

}  // namespace postern::kernel
