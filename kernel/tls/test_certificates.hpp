// Test-only: certificates made in-process with OpenSSL (a CA, leaves with
// chosen names), written as PEM files for the loaders under test.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tls/credentials.hpp"

namespace postern::kernel::tls_test_support {

struct CertificateSpec {
  std::string common_name;             // empty: no CN in the subject
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool ca = false;
};

struct TestCertificate {
  X509Ptr cert;
  EvpPkeyPtr key;
  std::filesystem::path cert_path;  // set by write_to()
  std::filesystem::path key_path;

  // SHA-256 of the certificate's DER, 64 lowercase hex digits.
  std::string sha256_hex() const;
  // Writes <stem>.crt and <stem>.key into `dir` and remembers the paths.
  void write_to(const std::filesystem::path& dir, const std::string& stem);
};

// Writes `cert`'s key encrypted (AES-256-CBC, passphrase "secret").
void write_encrypted_key(const TestCertificate& cert, const std::filesystem::path& path);

// P-256 key; valid from an hour ago for a day. `issuer` null = self-signed.
TestCertificate make_certificate(const CertificateSpec& spec, const TestCertificate* issuer);

// A fresh directory under $POSTERN_TEST_TMP (or the system temp dir).
std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace postern::kernel::tls_test_support
