// Inbound TLS (behavior.md section 3): the certificate store built from
// [tls], certificate selection by SNI, and the protocol parameters shared by
// every listener (implicit TLS, STARTTLS) and the admin API.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/credentials.hpp"

namespace postern::kernel {

// Name -> index into TlsConfig::certificates. Names are lowercase, a leading
// "*." is stripped (a wildcard certificate is stored under its parent
// domain), and "*" is the catch-all entry of `default = true` certificates.
using CertificateNameMap = std::map<std::string, std::size_t, std::less<>>;

// Section 3.2, as a pure function: which certificate serves a handshake with
// this SNI (empty = the client sent none). Returns the certificate index, or
// nullopt for the generated self-signed fallback. Order: exact name, the name
// with its first label removed (one level only), "*", the only configured
// certificate when exactly one is configured (Postern counts certificates,
// not names: difference 13), then the fallback. A missing or IP-literal SNI
// skips the first two steps. Matching is case-insensitive.
std::optional<std::size_t> select_certificate(const CertificateNameMap& names,
                                              std::size_t certificate_count, std::string_view sni);

// "TLSv1.3 TLS_AES_256_GCM_SHA384": protocol version and IANA suite name of
// an established connection, for the debug line logged after a handshake.
std::string tls_session_summary(const SSL* ssl);

// All inbound TLS contexts: one per configured certificate plus the
// self-signed fallback (P-256, CN=localhost, generated in memory at
// creation). Every context carries the same protocol settings, because
// SSL_set_SSL_CTX only swaps the certificate and key (toolchain P13).
//
// Thread safety: immutable after create(); handshakes on any thread may use
// front() concurrently. The object must outlive every SSL created from
// front(), since the SNI callback points at it. Reload builds a new ServerTls.
class ServerTls {
 public:
  struct Build {
    std::unique_ptr<ServerTls> tls;     // null when `errors` is not empty
    std::vector<TlsError> errors;       // fatal at startup; a refused reload
    std::vector<std::string> warnings;  // e.g. a name claimed by two certificates
  };
  // Loads every certificate, generates the fallback and applies
  // [tls.protocols]. Every problem is collected, not only the first.
  // config.disable_cipher_suites is matched case-insensitively against the
  // OpenSSL, IANA and "TLS13_" spellings.
  static Build create(const TlsConfig& config);

  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;
  ~ServerTls();

  // The context acceptors wrap their streams in. It serves the fallback
  // certificate until its SNI callback (run for every handshake, with or
  // without SNI) switches the connection to the selected certificate.
  boost::asio::ssl::context& front() noexcept { return fallback_; }

  const CertificateNameMap& names() const noexcept { return names_; }
  std::size_t certificate_count() const noexcept { return contexts_.size(); }

 private:
  ServerTls();
  static int on_server_name(SSL* ssl, int* alert, void* arg);

  boost::asio::ssl::context fallback_;
  std::vector<boost::asio::ssl::context> contexts_;  // same order as the config
  CertificateNameMap names_;
};

}  // namespace postern::kernel
