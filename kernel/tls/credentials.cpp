#include "tls/credentials.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

namespace postern::kernel {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free>>;

// Certificate bundles are small; the cap only protects against a path that
// points at something huge (a log file, /dev/zero).
constexpr std::size_t max_pem_file_size = std::size_t{16} * 1024 * 1024;

struct FileRead {
  std::optional<std::string> content;
  std::string error;
};

FileRead read_file(const std::string& path) {
  struct Closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
  if (!file) return {std::nullopt, std::strerror(errno)};
  std::string content;
  char chunk[16 * 1024];
  for (;;) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, file.get());
    content.append(chunk, n);
    if (content.size() > max_pem_file_size) return {std::nullopt, "file larger than 16 MiB"};
    if (n < sizeof chunk) break;
  }
  // A directory opens fine on Linux and fails on the first read (EISDIR).
  if (std::ferror(file.get())) return {std::nullopt, std::strerror(errno)};
  return {std::move(content), {}};
}

// Never prompts: without this callback OpenSSL would ask on the terminal
// for the passphrase of an encrypted key.
int refuse_passphrase(char*, int, int, void*) { return -1; }

BioPtr memory_bio(const std::string& content) {
  return BioPtr(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
}

// True when the last PEM read stopped because no further block of the
// requested kind exists (as opposed to a damaged block).
bool pem_reached_end() {
  const unsigned long err = ERR_peek_last_error();
  return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace

std::string take_openssl_errors() {
  std::string text;
  while (const unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    // Keep only the reason part ("error:0A00007A:SSL routines::bad value" ->
    // "bad value"); the codes help nobody reading a config error.
    const char* reason = std::strrchr(buf, ':');
    text += reason != nullptr && reason[1] != '\0' ? reason + 1 : buf;
  }
  return text;
}

CredentialLoad load_credentials(const CredentialSource& source) {
  CredentialLoad out;
  ERR_clear_error();
  const std::string cert_file_name = quoted(source.cert_path);
  const std::string key_file_name = quoted(source.key_path);
  auto cert_error = [&](const std::string& text) {
    out.errors.push_back({source.cert_key, source.owner + ": " + text});
  };
  auto key_error = [&](const std::string& text) {
    out.errors.push_back({source.key_key, source.owner + ": " + text});
  };

  FileRead cert_file = read_file(source.cert_path);
  if (!cert_file.content) {
    cert_error("cannot read certificate file " + cert_file_name + ": " + cert_file.error);
  } else {
    BioPtr bio = memory_bio(*cert_file.content);
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr)) {
      out.credentials.chain.emplace_back(cert);
    }
    if (!pem_reached_end()) {
      cert_error("malformed PEM certificate in " + cert_file_name + ": " + take_openssl_errors());
    } else if (out.credentials.chain.empty()) {
      cert_error("no PEM certificate in " + cert_file_name);
    }
    ERR_clear_error();
  }

  FileRead key_file = read_file(source.key_path);
  if (!key_file.content) {
    key_error("cannot read private key file " + key_file_name + ": " + key_file.error);
  } else {
    BioPtr bio = memory_bio(*key_file.content);
    out.credentials.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
    if (!out.credentials.key) {
      // OpenSSL 3's decoders report a missing key as "unsupported", so the
      // PEM labels are looked at directly to say what is wrong.
      const std::string& text = *key_file.content;
      if (text.find("PRIVATE KEY-----") == std::string::npos) {
        key_error("no PEM private key in " + key_file_name);
      } else if (text.find("ENCRYPTED") != std::string::npos) {
        key_error("the private key in " + key_file_name + " is encrypted; Postern needs it unencrypted");
      } else {
        key_error("damaged private key in " + key_file_name + ": " + take_openssl_errors());
      }
    }
    ERR_clear_error();
  }
  // Never hand out half of a pair.
  if (!out.errors.empty()) out.credentials = {};
  return out;
}

std::vector<TlsError> install_credentials(SSL_CTX* ctx, const Credentials& credentials,
                                          const CredentialSource& source) {
  std::vector<TlsError> errors;
  ERR_clear_error();
  if (credentials.chain.empty() || !credentials.key) {
    errors.push_back({source.cert_key, source.owner + ": no certificate loaded"});
    return errors;
  }
  bool ok = SSL_CTX_use_certificate(ctx, credentials.chain.front().get()) == 1;
  for (std::size_t i = 1; ok && i < credentials.chain.size(); ++i) {
    ok = SSL_CTX_add1_chain_cert(ctx, credentials.chain[i].get()) == 1;
  }
  if (!ok) {
    errors.push_back({source.cert_key, source.owner + ": certificate in " + quoted(source.cert_path) +
                                           " is not usable: " + take_openssl_errors()});
    return errors;
  }
  if (SSL_CTX_use_PrivateKey(ctx, credentials.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    const std::string detail = take_openssl_errors();
    errors.push_back({source.key_key, source.owner + ": private key in " + quoted(source.key_path) +
                                          " does not match the certificate in " + quoted(source.cert_path) +
                                          (detail.empty() ? "" : " (" + detail + ")")});
  }
  return errors;
}

bool is_ip_literal(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string z(text);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

}  // namespace postern::kernel
