// Shared pieces of the TLS area: OpenSSL handle ownership, loading a PEM
// certificate chain and private key from disk, and the error type both the
// inbound (ServerTls) and backend (ClientTls) builders report.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace postern::kernel {

// One problem found while building TLS contexts. `key` is the dotted
// configuration key it belongs to ("tls.certificate.main.cert",
// "destination.old.tls_client_key", "tls.protocols.disable_cipher_suites"),
// so the caller can turn it into a config diagnostic; `message` names the
// certificate or destination id and the file involved.
struct TlsError {
  std::string key;
  std::string message;
};

template <auto free_fn>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    free_fn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;

// A certificate chain (leaf first) and its private key, as read from PEM files.
struct Credentials {
  std::vector<X509Ptr> chain;
  EvpPkeyPtr key;
};

// Where the credentials come from and how errors about them are labelled.
struct CredentialSource {
  std::string owner;     // starts every message: "certificate 'main'"
  std::string cert_key;  // dotted config key of the certificate path
  std::string cert_path;
  std::string key_key;   // dotted config key of the private key path
  std::string key_path;
};

// Reads every CERTIFICATE block of cert_path (at least one; other PEM blocks
// are skipped, so a combined cert+key file works) and the first private key
// of key_path (PKCS#8, PKCS#1 RSA or SEC1 EC). Encrypted keys are refused:
// there is nobody to type a passphrase. On failure `errors` is non-empty.
struct CredentialLoad {
  Credentials credentials;
  std::vector<TlsError> errors;
};
CredentialLoad load_credentials(const CredentialSource& source);

// Installs chain and key on `ctx` and checks that the key matches the leaf.
// Returns the errors (empty on success), labelled like load_credentials.
std::vector<TlsError> install_credentials(SSL_CTX* ctx, const Credentials& credentials,
                                          const CredentialSource& source);

// True for a textual IPv4 or IPv6 address (no brackets, no zone).
bool is_ip_literal(std::string_view text);

// Drains OpenSSL's thread-local error queue into one line ("" if empty).
std::string take_openssl_errors();

}  // namespace postern::kernel
