#include "tls/test_certificates.hpp"

#include <stdlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace postern::kernel::tls_test_support {
namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + take_openssl_errors());
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1, "add extension");
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  std::fclose(f);
  if (!ok) throw std::runtime_error("cannot write " + path.string());
}

template <class Writer>
std::string to_pem(Writer write) {
  std::unique_ptr<BIO, OpenSslDeleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
  check(bio && write(bio.get()) == 1, "PEM write");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

std::string TestCertificate::sha256_hex() const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  check(X509_digest(cert.get(), EVP_sha256(), digest, &length) == 1, "digest");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

void TestCertificate::write_to(const std::filesystem::path& dir, const std::string& stem) {
  cert_path = dir / (stem + ".crt");
  key_path = dir / (stem + ".key");
  write_file(cert_path, to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); }));
  write_file(key_path, to_pem([&](BIO* bio) {
               return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
             }));
}

void write_encrypted_key(const TestCertificate& cert, const std::filesystem::path& path) {
  static constexpr char passphrase[] = "secret";
  write_file(path, to_pem([&](BIO* bio) {
               return PEM_write_bio_PrivateKey(bio, cert.key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                               const_cast<char*>(passphrase));
             }));
}

TestCertificate make_certificate(const CertificateSpec& spec, const TestCertificate* issuer) {
  TestCertificate out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  check(out.key && out.cert, "key generation");
  X509* x = out.cert.get();

  std::array<unsigned char, 16> serial{};
  check(RAND_bytes(serial.data(), static_cast<int>(serial.size())) == 1, "serial");
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  check(bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) != nullptr, "serial");

  X509_NAME* name = X509_get_subject_name(x);
  if (!spec.common_name.empty()) {
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1,
                                     0) == 1,
          "subject");
  }
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Postern tests"),
                                   -1, -1, 0) == 1,
        "subject");
  check(X509_set_version(x, X509_VERSION_3) == 1 && X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x), 24L * 3600) != nullptr &&
            X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : name) == 1 &&
            X509_set_pubkey(x, out.key.get()) == 1,
        "certificate fields");

  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  add_extension(x, issuer_cert, NID_subject_key_identifier, "hash");
  add_extension(x, issuer_cert, NID_authority_key_identifier, "keyid");
  if (spec.ca) {
    add_extension(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(x, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string sans;
  for (const std::string& dns : spec.dns_names) sans += (sans.empty() ? "DNS:" : ",DNS:") + dns;
  for (const std::string& ip : spec.ip_addresses) sans += (sans.empty() ? "IP:" : ",IP:") + ip;
  if (!sans.empty()) add_extension(x, issuer_cert, NID_subject_alt_name, sans);

  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : out.key.get();
  check(X509_sign(x, signer, EVP_sha256()) > 0, "sign");
  return out;
}

std::filesystem::path make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("POSTERN_TEST_TMP");
  const std::filesystem::path root = base != nullptr && *base != '\0' ? base : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(root);
  std::string pattern = (root / (prefix + ".XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed under " + root.string());
  return pattern;
}

}  // namespace postern::kernel::tls_test_support
