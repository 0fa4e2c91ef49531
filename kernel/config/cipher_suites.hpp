// The inbound cipher suites Postern offers (behavior.md section 3.3) and the
// names `disable_cipher_suites` accepts for them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace postern::kernel {

struct CipherSuite {
  std::string_view openssl_name;  // canonical: what OpenSSL's suite lists take
  std::string_view iana_name;
  std::string_view reference_name;  // the reference's spelling
  TlsVersion version;               // tls1_3 suites only work with TLS 1.3
};

// Every suite, TLS 1.3 first, in the default preference order.
std::span<const CipherSuite> cipher_suites();

// The suite a name designates, case-insensitively, by any of its spellings.
const CipherSuite* find_cipher_suite(std::string_view name);

}  // namespace postern::kernel
