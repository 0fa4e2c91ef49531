// Backend TLS (behavior.md section 5.3): one client context per destination,
// used for implicit TLS and STARTTLS on the backend leg.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/credentials.hpp"

namespace postern::kernel {

// TLS 1.2 and 1.3 with OpenSSL's default suites (the inbound suite filter
// does not apply here), the destination's verification policy and, when
// configured, a client certificate for mutual TLS.
//
// Thread safety: immutable after create(); prepare() and
// verification_failure() may run concurrently on different SSL objects.
// The object must outlive every SSL made from context() (the pin check
// points at it).
class ClientTls {
 public:
  // Verification precedence of section 5.3.
  enum class Verification {
    none,    // tls_allow_invalid_certs: any certificate is accepted
    pinned,  // tls_pinned_cert_sha256: only the leaf's SHA-256 is compared
    system,  // OS trust store plus host name (or IP address) check
  };

  struct Build {
    std::unique_ptr<ClientTls> tls;  // null when `errors` is not empty
    std::vector<TlsError> errors;    // keys under "destination.<id>."
  };
  // Builds the context for one destination; every problem (client
  // certificate files, a malformed pin, the trust store) is collected.
  static Build create(const DestinationConfig& destination);

  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;
  ~ClientTls();

  boost::asio::ssl::context& context() noexcept { return context_; }
  Verification verification() const noexcept { return verification_; }
  // tls_server_name if set, else host: what prepare() is normally given.
  const std::string& server_name() const noexcept { return server_name_; }

  enum class Alpn { none, http_1_1 };  // HTTP endpoints offer "http/1.1" (5.3)
  // Call on every new SSL (stream.native_handle()) before the handshake,
  // normally with server_name(). A host name is sent as SNI and, with
  // Verification::system, checked against the certificate; an IP literal
  // sends no SNI (RFC 6066 section 3 allows host names only) and is checked
  // against the certificate's IP addresses. Returns false if OpenSSL refused
  // a setting or there is no name to verify: do not handshake then.
  [[nodiscard]] bool prepare(SSL* ssl, std::string_view server_name, Alpn alpn = Alpn::none) const;

  // After a failed handshake on `ssl` (may be null): why the certificate was
  // rejected, for logs ("certificate pin mismatch", "hostname mismatch",
  // "self-signed certificate", ...), or "" when verification did not fail
  // (the handshake failed for another reason).
  std::string verification_failure(const SSL* ssl) const;

  // Tests only: trust an extra CA (PEM file) besides the system store.
  bool add_trusted_ca_file_for_test(const std::string& path);

 private:
  ClientTls();
  static int check_pin(X509_STORE_CTX* store, void* arg);

  boost::asio::ssl::context context_;
  Verification verification_ = Verification::system;
  std::string server_name_;
  std::array<unsigned char, 32> pin_{};
};

}  // namespace postern::kernel
