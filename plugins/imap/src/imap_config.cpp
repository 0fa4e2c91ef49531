#include "imap_config.hpp"

#include <algorithm>

#include "imap_text.hpp"

namespace postern::imap {
namespace {

namespace sasl = sdk::sasl;

// RFC 9051 section 9: ATOM-CHAR is any CHAR except atom-specials
// ( "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]" ). A capability is an atom; "]"
// in particular would end the greeting's [CAPABILITY ...] response code.
bool is_atom(std::string_view token) noexcept {
  if (token.empty()) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    return std::string_view("(){%*\"\\]").find(c) == std::string_view::npos;
  });
}

// RFC 9051 section 9: resp-text is TEXT-CHAR or UTF-8, never CR, LF or other
// controls (they would let the banner inject protocol lines).
bool is_text(std::string_view text) noexcept {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool read_advertise(sdk::ConfigTable& table, ImapSettings& settings) {
  constexpr std::string_view key = "advertise";
  if (!table.has(key)) return true;
  std::optional<std::vector<std::string>> list = table.get_string_list(key);
  if (!list) return false;
  bool ok = true;
  std::vector<std::string> seen;
  for (const std::string& entry : *list) {
    if (!is_atom(entry)) {
      table.error(key, "\"" + entry +
                           "\" is not a valid IMAP capability (an atom: no spaces, "
                           "controls or any of ( ) { % * \" \\ ])");
      ok = false;
    } else if (istarts_with(entry, "AUTH=")) {
      table.error(key, "\"" + entry + "\": AUTH= capabilities are derived from the sasl list");
      ok = false;
    } else if (iequals(entry, "STARTTLS") || iequals(entry, "LOGINDISABLED")) {
      table.error(key, "\"" + entry + "\" is added by the proxy when it applies to the connection");
      ok = false;
    } else if (std::any_of(seen.begin(), seen.end(),
                           [&](const std::string& s) { return iequals(s, entry); })) {
      table.error(key, "duplicate capability \"" + entry + "\"");
      ok = false;
    }
    seen.push_back(entry);
  }
  // RFC 9051 section 7.2.2 / RFC 3501 section 7.2.1: a capability listing
  // always names the protocol revision.
  if (ok && std::none_of(list->begin(), list->end(), [](const std::string& s) {
        return iequals(s, "IMAP4rev2") || iequals(s, "IMAP4rev1");
      })) {
    table.error(key, "must contain IMAP4rev2 or IMAP4rev1");
    ok = false;
  }
  if (ok) settings.advertise = std::move(*list);
  return ok;
}

bool read_sasl(sdk::ConfigTable& table, ImapSettings& settings) {
  constexpr std::string_view key = "sasl";
  if (!table.has(key)) return true;
  std::optional<std::vector<std::string>> list = table.get_string_list(key);
  if (!list) return false;
  std::vector<std::string> known;
  for (sasl::Mechanism m : sasl::default_mechanisms()) {
    known.emplace_back(sasl::mechanism_name(m));
  }
  bool ok = true;
  std::vector<sasl::Mechanism> mechanisms;
  for (const std::string& entry : *list) {
    const std::optional<sasl::Mechanism> mechanism = sasl::parse_mechanism(entry);
    if (!mechanism) {
      std::string message =
          "unknown SASL mechanism \"" + entry + "\" (accepted: PLAIN, LOGIN, OAUTHBEARER, XOAUTH2)";
      const std::string hint = sdk::closest_match(entry, known);
      if (!hint.empty()) message += "; did you mean \"" + hint + "\"?";
      table.error(key, message);
      ok = false;
    } else if (std::find(mechanisms.begin(), mechanisms.end(), *mechanism) != mechanisms.end()) {
      table.error(key, "duplicate SASL mechanism \"" + entry + "\"");
      ok = false;
    } else {
      mechanisms.push_back(*mechanism);
    }
  }
  if (ok) settings.sasl = std::move(mechanisms);
  return ok;
}

bool read_banner(sdk::ConfigTable& table, ImapSettings& settings) {
  constexpr std::string_view key = "banner";
  if (!table.has(key)) return true;
  std::optional<std::string> banner = table.get_string(key);
  if (!banner) return false;
  if (banner->empty()) {
    // RFC 9051 section 9: text = 1*TEXT-CHAR.
    table.error(key, "must not be empty");
    return false;
  }
  if (!is_text(*banner)) {
    table.error(key, "must not contain control characters (CR, LF, ...)");
    return false;
  }
  settings.banner = std::move(*banner);
  return true;
}

}  // namespace

std::optional<ImapSettings> parse_settings(sdk::ConfigTable& table) {
  ImapSettings settings;
  bool ok = read_advertise(table, settings);
  ok = read_sasl(table, settings) && ok;
  constexpr std::string_view plain_key = "allow_plain_auth_without_tls";
  if (table.has(plain_key)) {
    const std::optional<bool> allow = table.get_bool(plain_key);
    if (allow) {
      settings.allow_plain_auth_without_tls = *allow;
    } else {
      ok = false;
    }
  }
  ok = read_banner(table, settings) && ok;
  if (!ok) return std::nullopt;
  return settings;
}

ImapConfig::ImapConfig(ImapSettings settings) : settings_(std::move(settings)) {
  for (const bool secure : {false, true}) {
    for (const bool offered : {false, true}) {
      const std::size_t i = index(secure, offered);
      capabilities_[i] = build_capabilities(secure, offered);
      // RFC 9051 section 7.1: the greeting may carry the CAPABILITY response
      // code, which saves a round trip for most clients.
      greetings_[i] = "* OK [CAPABILITY " + capabilities_[i] + "] " + settings_.banner + "\r\n";
    }
  }
}

std::string ImapConfig::build_capabilities(bool secure, bool starttls_offered) const {
  std::string caps;
  auto add = [&caps](std::string_view token) {
    if (!caps.empty()) caps += ' ';
    caps += token;
  };
  for (const std::string& entry : settings_.advertise) add(entry);
  const bool cleartext = cleartext_allowed(secure);
  for (sasl::Mechanism m : settings_.sasl) {
    // PLAIN and LOGIN carry the password in the clear (RFC 4616 section 4):
    // hidden until cleartext authentication is allowed on this connection.
    if (sasl::is_cleartext(m) && !cleartext) continue;
    add("AUTH=" + std::string(sasl::mechanism_name(m)));
  }
  // RFC 9051 section 6.2.3: LOGINDISABLED while LOGIN would be refused.
  if (!cleartext) add("LOGINDISABLED");
  if (starttls_offered) add("STARTTLS");
  return caps;
}

}  // namespace postern::imap
