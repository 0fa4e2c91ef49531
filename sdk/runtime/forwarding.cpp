#include <postern/sdk/forwarding.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace postern::sdk {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Values come from our own state (addresses, numbers, the session id), never
// from the client, but an IMAP quoted string must not carry '"', '\\', CR or
// LF (RFC 9051 section 4.3): anything else is dropped rather than trusted.
std::string imap_quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c != '"' && c != '\\' && c != '\r' && c != '\n') out += c;
  }
  out += '"';
  return out;
}

bool helo_is_safe(std::string_view helo) {
  return !helo.empty() && std::ranges::none_of(helo, [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f || c == '"';
  });
}

std::string smtp_address(std::string_view ip, XclientFlavor flavor) {
  if (flavor == XclientFlavor::smtp && ip.find(':') != std::string_view::npos) return "IPV6:" + std::string(ip);
  return std::string(ip);
}

}  // namespace

std::string imap_id_command(std::string_view tag, const ForwardInfo& info) {
  const std::array<std::pair<std::string_view, std::string>, 7> fields{{
      {"x-originating-ip", info.peer.ip},
      {"x-originating-port", std::to_string(info.peer.port)},
      {"x-connected-ip", info.local.ip},
      {"x-connected-port", std::to_string(info.local.port)},
      {"x-proxy-ttl", std::to_string(info.ttl)},
      {"x-session-id", info.session_id},
      {"x-client-transport", info.client_tls ? "TLS" : "insecure"},
  }};
  std::string line(tag);
  line += " ID (";
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) line += ' ';
    first = false;
    line += imap_quoted(name);
    line += ' ';
    line += imap_quoted(value);
  }
  line += ")\r\n";
  return line;
}

std::optional<unsigned> ttl_from_imap_id(const std::vector<std::pair<std::string, std::string>>& fields) {
  for (const auto& [name, value] : fields) {
    if (!iequals(name, "x-proxy-ttl")) continue;
    unsigned ttl = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), ttl);
    if (error != std::errc() || end != value.data() + value.size() || value.empty()) return std::nullopt;
    return ttl;
  }
  return std::nullopt;
}

std::optional<std::string> xclient_command(const ForwardInfo& info, const std::vector<std::string>& advertised,
                                           XclientFlavor flavor, std::string_view helo) {
  const auto announced = [&](std::string_view attribute) {
    return advertised.empty() ||
           std::ranges::any_of(advertised, [&](const std::string& a) { return iequals(a, attribute); });
  };
  std::vector<std::pair<std::string_view, std::string>> candidates{
      {"ADDR", smtp_address(info.peer.ip, flavor)},
      {"PORT", std::to_string(info.peer.port)},
      {"DESTADDR", smtp_address(info.local.ip, flavor)},
      {"DESTPORT", std::to_string(info.local.port)},
      {"SESSION", info.session_id},
      {"TTL", std::to_string(info.ttl)},
      {"CLIENT-TRANSPORT", info.client_tls ? "TLS" : "insecure"},
  };
  if (helo_is_safe(helo)) candidates.emplace_back("HELO", std::string(helo));
  if (flavor == XclientFlavor::smtp) candidates.emplace_back("PROTO", "ESMTP");
  std::string line = "XCLIENT";
  bool any = false;
  for (const auto& [name, value] : candidates) {
    if (!announced(name) || value.empty()) continue;
    line += ' ';
    line += name;
    line += '=';
    line += value;
    any = true;
  }
  if (!any) return std::nullopt;
  line += "\r\n";
  return line;
}

}  // namespace postern::sdk
