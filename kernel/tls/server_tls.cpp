#include "tls/server_tls.hpp"

#include "config/cipher_suites.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace postern::kernel {
namespace {

namespace ssl = boost::asio::ssl;

constexpr std::string_view suites_key = "tls.protocols.disable_cipher_suites";

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

struct ProtocolPolicy {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string tls12_ciphers;  // SSL_CTX_set_cipher_list syntax
  std::string tls13_suites;   // SSL_CTX_set_ciphersuites syntax
};

std::optional<ProtocolPolicy> build_policy(const TlsConfig& config, std::vector<TlsError>& errors) {
  ProtocolPolicy policy;
  policy.min_version = config.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  bool ok = true;
  // The configuration stage already refused unknown names and stored the
  // canonical OpenSSL ones; a name that slips through is still refused here.
  for (const std::string& name : config.disable_cipher_suites) {
    if (find_cipher_suite(name) == nullptr) {
      errors.push_back({std::string(suites_key), "unknown cipher suite '" + name + "'"});
      ok = false;
    }
  }
  for (const CipherSuite& suite : cipher_suites()) {
    const bool disabled = std::any_of(config.disable_cipher_suites.begin(), config.disable_cipher_suites.end(),
                                      [&](const std::string& name) { return find_cipher_suite(name) == &suite; });
    if (disabled) continue;
    std::string& list = suite.version == TlsVersion::tls1_3 ? policy.tls13_suites : policy.tls12_ciphers;
    if (!list.empty()) list += ':';
    list += suite.openssl_name;
  }
  // A version whose suites were all removed cannot be negotiated: narrow the
  // version range instead of handing OpenSSL an empty list (which it refuses
  // for TLS 1.2).
  if (policy.tls12_ciphers.empty()) policy.min_version = TLS1_3_VERSION;
  if (policy.tls13_suites.empty()) policy.max_version = TLS1_2_VERSION;
  if (policy.min_version > policy.max_version) {
    errors.push_back({std::string(suites_key),
                      config.min_version == TlsVersion::tls1_3 && !policy.tls12_ciphers.empty()
                          ? "every TLS 1.3 suite is disabled but min_version is 1.3"
                          : "every cipher suite is disabled"});
    ok = false;
  }
  if (!ok) return std::nullopt;
  return policy;
}

// Settings shared by all inbound contexts (toolchain P13). Returns an error
// text, empty on success.
std::string apply_policy(SSL_CTX* ctx, const ProtocolPolicy& policy, bool server_preference) {
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, policy.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, policy.max_version) != 1) {
    return "cannot set the TLS version range: " + take_openssl_errors();
  }
  if (!policy.tls12_ciphers.empty() && SSL_CTX_set_cipher_list(ctx, policy.tls12_ciphers.c_str()) != 1) {
    return "OpenSSL refused the TLS 1.2 suites '" + policy.tls12_ciphers + "': " + take_openssl_errors();
  }
  if (SSL_CTX_set_ciphersuites(ctx, policy.tls13_suites.c_str()) != 1) {
    return "OpenSSL refused the TLS 1.3 suites '" + policy.tls13_suites + "': " + take_openssl_errors();
  }
  // Renegotiation buys nothing for a proxy and has a history of DoS and
  // injection problems (RFC 5746); the reference does not support it either.
  std::uint64_t options = SSL_OP_NO_RENEGOTIATION;
  if (server_preference) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx, options);
  // The same session id context everywhere, so a session cached while one
  // certificate was selected is looked up consistently after the switch.
  static constexpr unsigned char sid_ctx[] = "postern";
  SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
  return {};
}

// Section 3.1: the names a certificate is registered under.
std::vector<std::string> certificate_names(const CertificateConfig& certificate, X509* leaf) {
  std::vector<std::string> raw;
  if (!certificate.subjects.empty()) {
    raw = certificate.subjects;
  } else {
    if (auto* sans = static_cast<GENERAL_NAMES*>(
            X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr))) {
      for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans, i);
        if (san->type != GEN_DNS) continue;
        const ASN1_STRING* dns = san->d.dNSName;
        raw.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                         static_cast<std::size_t>(ASN1_STRING_length(dns)));
      }
      GENERAL_NAMES_free(sans);
    }
    if (raw.empty()) {
      const X509_NAME* subject = X509_get_subject_name(leaf);
      for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
           i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
        unsigned char* utf8 = nullptr;
        const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
        if (len >= 0) raw.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
        OPENSSL_free(utf8);
      }
    }
  }
  std::vector<std::string> names;
  for (const std::string& name : raw) {
    std::string normalized = ascii_lower(name);
    if (normalized.starts_with("*.")) normalized.erase(0, 2);
    if (!normalized.empty()) names.push_back(std::move(normalized));
  }
  if (certificate.is_default) names.emplace_back("*");
  return names;
}

struct SelfSigned {
  X509Ptr cert;
  EvpPkeyPtr key;
};

// Section 3.1: the last-resort certificate for "localhost". P-256 rather
// than RSA-2048: generation is instant and every TLS 1.2+ client supports
// ECDSA. Valid for ten years from an hour ago (clock skew); nobody trusts it
// anyway, an expiry would only add a second reason for clients to reject it.
std::optional<SelfSigned> make_self_signed() {
  SelfSigned out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  if (!out.key || !out.cert) return std::nullopt;
  X509* x = out.cert.get();

  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) return std::nullopt;
  serial[0] &= 0x7f;  // RFC 5280 4.1.2.2: positive
  std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>> bn(
      BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) == nullptr) return std::nullopt;

  constexpr long hour = 3600;
  X509_NAME* name = X509_get_subject_name(x);
  bool ok = X509_set_version(x, X509_VERSION_3) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -hour) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x), hour * 24 * 365 * 10) != nullptr &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0) == 1 &&
            X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, out.key.get()) == 1;
  if (!ok) return std::nullopt;

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>> san(
      X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost"));
  if (!san || X509_add_ext(x, san.get(), -1) != 1) return std::nullopt;
  if (X509_sign(x, out.key.get(), EVP_sha256()) <= 0) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::size_t> select_certificate(const CertificateNameMap& names,
                                              std::size_t certificate_count, std::string_view sni) {
  // Section 3.2. TLS host names are case-insensitive (RFC 6066 section 3
  // uses DNS names); an IP literal is not a valid SNI and counts as none.
  const std::string name = ascii_lower(sni);
  if (!name.empty() && !is_ip_literal(name)) {
    if (auto it = names.find(name); it != names.end()) return it->second;
    if (const std::size_t dot = name.find('.'); dot != std::string::npos && dot + 1 < name.size()) {
      if (auto it = names.find(std::string_view(name).substr(dot + 1)); it != names.end()) {
        return it->second;
      }
    }
  }
  if (auto it = names.find("*"); it != names.end()) return it->second;
  if (certificate_count == 1) return 0;
  return std::nullopt;
}

std::string tls_session_summary(const SSL* ssl) {
  std::string summary = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    if (const char* name = SSL_CIPHER_standard_name(cipher)) {
      summary += ' ';
      summary += name;
    }
  }
  return summary;
}

ServerTls::ServerTls() : fallback_(ssl::context::tls_server) {}

ServerTls::~ServerTls() = default;

ServerTls::Build ServerTls::create(const TlsConfig& config) {
  Build out;
  try {
    const std::optional<ProtocolPolicy> policy = build_policy(config, out.errors);
    std::unique_ptr<ServerTls> tls(new ServerTls());
    std::map<std::string, std::string, std::less<>> owner_of_name;  // for the duplicate warning

    tls->contexts_.reserve(config.certificates.size());
    for (std::size_t index = 0; index < config.certificates.size(); ++index) {
      const CertificateConfig& certificate = config.certificates[index];
      ssl::context& ctx = tls->contexts_.emplace_back(ssl::context::tls_server);
      const std::string prefix = "tls.certificate." + certificate.id;
      const CredentialSource source{"certificate '" + certificate.id + "'", prefix + ".cert",
                                    certificate.cert_path, prefix + ".key", certificate.key_path};
      CredentialLoad load = load_credentials(source);
      if (!load.errors.empty()) {
        out.errors.insert(out.errors.end(), load.errors.begin(), load.errors.end());
        continue;
      }
      std::vector<TlsError> install = install_credentials(ctx.native_handle(), load.credentials, source);
      if (!install.empty()) {
        out.errors.insert(out.errors.end(), install.begin(), install.end());
        continue;
      }
      if (policy) {
        if (std::string error = apply_policy(ctx.native_handle(), *policy, config.ignore_client_order);
            !error.empty()) {
          out.errors.push_back({prefix, source.owner + ": " + error});
          continue;
        }
      }
      // Later certificates override earlier ones for the same name (3.1);
      // the file order makes that deterministic, the warning makes it visible.
      for (std::string& name : certificate_names(certificate, load.credentials.chain.front().get())) {
        auto [it, inserted] = owner_of_name.try_emplace(name, certificate.id);
        if (!inserted && it->second != certificate.id) {
          out.warnings.push_back("TLS name '" + name + "' is claimed by certificates '" + it->second +
                                 "' and '" + certificate.id + "'; '" + certificate.id + "' is used");
          it->second = certificate.id;
        }
        tls->names_[std::move(name)] = index;
      }
    }

    std::optional<SelfSigned> fallback = make_self_signed();
    if (!fallback) {
      out.errors.push_back({"tls", "cannot generate the self-signed fallback certificate: " +
                                       take_openssl_errors()});
    } else {
      Credentials credentials;
      credentials.chain.push_back(std::move(fallback->cert));
      credentials.key = std::move(fallback->key);
      const CredentialSource source{"generated fallback certificate", "tls", "<memory>", "tls", "<memory>"};
      std::vector<TlsError> install = install_credentials(tls->fallback_.native_handle(), credentials, source);
      out.errors.insert(out.errors.end(), install.begin(), install.end());
      if (policy) {
        if (std::string error = apply_policy(tls->fallback_.native_handle(), *policy,
                                             config.ignore_client_order);
            !error.empty()) {
          out.errors.push_back({"tls", error});
        }
      }
    }

    SSL_CTX* front = tls->fallback_.native_handle();
    SSL_CTX_set_tlsext_servername_callback(front, &ServerTls::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(front, tls.get());

    if (out.errors.empty()) out.tls = std::move(tls);
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here (SSL_CTX_new failing, bad_alloc).
    out.errors.push_back({"tls", std::string("cannot create the inbound TLS contexts: ") + e.what()});
    out.tls.reset();
  }
  return out;
}

// Runs inside OpenSSL for every ClientHello on front(), with or without SNI
// (OpenSSL calls the servername callback in both cases).
int ServerTls::on_server_name(SSL* ssl, int* alert, void* arg) {
  auto* self = static_cast<ServerTls*>(arg);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const std::optional<std::size_t> index =
      select_certificate(self->names_, self->contexts_.size(), sni != nullptr ? sni : "");
  if (!index) return SSL_TLSEXT_ERR_OK;  // front() already holds the fallback
  if (SSL_set_SSL_CTX(ssl, self->contexts_[*index].native_handle()) == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace postern::kernel
