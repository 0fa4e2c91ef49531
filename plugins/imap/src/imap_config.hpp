// [capabilities.imap]: the validated settings of one configuration snapshot
// and the capability lines derived from them.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <postern/sdk/config.hpp>
#include <postern/sdk/sasl.hpp>

namespace postern::imap {

struct ImapSettings {
  std::vector<std::string> advertise{"IMAP4rev2", "IMAP4rev1", "ENABLE",      "SASL-IR",
                                     "LITERAL+",  "ID",        "UTF8=ACCEPT", "JMAPACCESS"};
  std::vector<sdk::sasl::Mechanism> sasl = sdk::sasl::default_mechanisms();
  bool allow_plain_auth_without_tls = false;
  std::string banner = "Postern IMAP4rev2 at your service.";
};

// Reads and validates the table (absent keys keep their defaults). Every
// problem is reported through `table`; nullopt when at least one was.
std::optional<ImapSettings> parse_settings(sdk::ConfigTable& table);

// The settings plus the capability list precomputed for the four connection
// states (section 6.1 of the behaviour contract): immutable, shared by every
// session of one configuration snapshot.
class ImapConfig {
 public:
  explicit ImapConfig(ImapSettings settings);

  const ImapSettings& settings() const noexcept { return settings_; }

  // Cleartext mechanisms (PLAIN, LOGIN, the LOGIN command) are usable when
  // the connection is TLS or the operator allowed them without TLS.
  bool cleartext_allowed(bool secure) const noexcept {
    return secure || settings_.allow_plain_auth_without_tls;
  }
  // Space-separated capability tokens, without the "CAPABILITY" keyword.
  const std::string& capabilities(bool secure, bool starttls_offered) const noexcept {
    return capabilities_[index(secure, starttls_offered)];
  }
  // The whole greeting line, CRLF included.
  const std::string& greeting(bool secure, bool starttls_offered) const noexcept {
    return greetings_[index(secure, starttls_offered)];
  }

 private:
  static std::size_t index(bool secure, bool starttls_offered) noexcept {
    return (secure ? 2u : 0u) + (starttls_offered ? 1u : 0u);
  }
  std::string build_capabilities(bool secure, bool starttls_offered) const;

  ImapSettings settings_;
  std::array<std::string, 4> capabilities_;
  std::array<std::string, 4> greetings_;
};

using ImapConfigPtr = std::shared_ptr<const ImapConfig>;

}  // namespace postern::imap
