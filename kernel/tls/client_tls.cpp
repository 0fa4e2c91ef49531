#include "tls/client_tls.hpp"

#include <cstring>
#include <optional>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace postern::kernel {
namespace {

namespace ssl = boost::asio::ssl;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The config layer normalizes the pin to 64 lowercase hex digits; ':'
// separators and upper case are still tolerated here (2.4).
std::optional<std::array<unsigned char, 32>> decode_pin(std::string_view text) {
  std::array<unsigned char, 32> pin{};
  std::size_t nibbles = 0;
  for (char c : text) {
    if (c == ':' || c == ' ' || c == '\t') continue;
    const int v = hex_value(c);
    if (v < 0 || nibbles >= 64) return std::nullopt;
    pin[nibbles / 2] = static_cast<unsigned char>(pin[nibbles / 2] << 4 | v);
    ++nibbles;
  }
  if (nibbles != 64) return std::nullopt;
  return pin;
}

}  // namespace

ClientTls::ClientTls() : context_(ssl::context::tls_client) {}

ClientTls::~ClientTls() = default;

ClientTls::Build ClientTls::create(const DestinationConfig& destination) {
  Build out;
  const std::string prefix = "destination." + destination.id;
  const std::string owner = "destination '" + destination.id + "'";
  try {
    std::unique_ptr<ClientTls> tls(new ClientTls());
    SSL_CTX* ctx = tls->context_.native_handle();
    tls->server_name_ = destination.tls_server_name.value_or(destination.host);

    ERR_clear_error();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
      out.errors.push_back({prefix, owner + ": cannot set the TLS version range: " + take_openssl_errors()});
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);

    if (destination.tls_allow_invalid_certs) {
      tls->verification_ = Verification::none;
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else if (destination.tls_pinned_cert_sha256) {
      tls->verification_ = Verification::pinned;
      if (auto pin = decode_pin(*destination.tls_pinned_cert_sha256)) {
        tls->pin_ = *pin;
      } else {
        out.errors.push_back({prefix + ".tls_pinned_cert_sha256",
                              owner + ": the pin must be 64 hexadecimal digits (SHA-256)"});
      }
      // The pin replaces chain verification entirely; OpenSSL still checks
      // the handshake signatures made with the pinned certificate's key.
      // SSL_VERIFY_PEER makes a callback failure abort the handshake.
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      SSL_CTX_set_cert_verify_callback(ctx, &ClientTls::check_pin, tls.get());
    } else {
      tls->verification_ = Verification::system;
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        out.errors.push_back({prefix, owner + ": cannot load the system trust store: " + take_openssl_errors()});
      }
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }

    const bool has_cert = destination.tls_client_cert.has_value();
    const bool has_key = destination.tls_client_key.has_value();
    if (has_cert != has_key) {
      out.errors.push_back({prefix + (has_cert ? ".tls_client_key" : ".tls_client_cert"),
                            owner + ": tls_client_cert and tls_client_key must be set together"});
    } else if (has_cert) {
      const CredentialSource source{owner + " client certificate", prefix + ".tls_client_cert",
                                    *destination.tls_client_cert, prefix + ".tls_client_key",
                                    *destination.tls_client_key};
      CredentialLoad load = load_credentials(source);
      if (!load.errors.empty()) {
        out.errors.insert(out.errors.end(), load.errors.begin(), load.errors.end());
      } else {
        std::vector<TlsError> install = install_credentials(ctx, load.credentials, source);
        out.errors.insert(out.errors.end(), install.begin(), install.end());
      }
    }

    if (out.errors.empty()) out.tls = std::move(tls);
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here (SSL_CTX_new failing, bad_alloc).
    out.errors.push_back({prefix, owner + ": cannot create the TLS context: " + e.what()});
  }
  return out;
}

bool ClientTls::prepare(SSL* ssl, std::string_view server_name, Alpn alpn) const {
  // An embedded NUL would silently shorten the name OpenSSL checks.
  if (server_name.find('\0') != std::string_view::npos) return false;
  const std::string name(server_name);
  const bool ip = is_ip_literal(name);
  if (!ip && !name.empty() && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
  if (verification_ == Verification::system) {
    // Without a name there is nothing to check the certificate against.
    if (name.empty()) return false;
    if (ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) return false;
    } else {
      // RFC 6125 section 6.4.3: a wildcard stands for one whole label only.
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl, name.c_str()) != 1) return false;
    }
  }
  if (alpn == Alpn::http_1_1) {
    static constexpr unsigned char protocols[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    // SSL_set_alpn_protos returns 0 on success.
    if (SSL_set_alpn_protos(ssl, protocols, sizeof protocols) != 0) return false;
  }
  return true;
}

std::string ClientTls::verification_failure(const SSL* ssl) const {
  // With Verification::none OpenSSL still records a (non-fatal) result.
  if (ssl == nullptr || verification_ == Verification::none) return {};
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return {};
  if (verification_ == Verification::pinned && result == X509_V_ERR_APPLICATION_VERIFICATION) {
    return "certificate pin mismatch";
  }
  return X509_verify_cert_error_string(result);
}

bool ClientTls::add_trusted_ca_file_for_test(const std::string& path) {
  const bool ok = SSL_CTX_load_verify_file(context_.native_handle(), path.c_str()) == 1;
  ERR_clear_error();
  return ok;
}

// Replaces OpenSSL's chain verification in pinned mode: the leaf's DER
// SHA-256 must equal the pin; issuer, names and dates are deliberately not
// looked at (section 5.3).
int ClientTls::check_pin(X509_STORE_CTX* store, void* arg) {
  const auto* self = static_cast<const ClientTls*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (leaf != nullptr && X509_digest(leaf, EVP_sha256(), digest, &length) == 1 &&
      length == self->pin_.size() && std::memcmp(digest, self->pin_.data(), length) == 0) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

}  // namespace postern::kernel
