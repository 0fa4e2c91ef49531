#include "config/config.hpp"

#include <charconv>

namespace postern::kernel {

std::string SocketAddress::text() const {
  const std::string port_text = std::to_string(port);
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + port_text;
  return ip + ":" + port_text;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  const auto ip = IpAddress::parse(host);
  // IPv6 must be bracketed and IPv4 must not be, as in "[::1]:993".
  if (!ip || ip->v6 != bracketed) return std::nullopt;

  unsigned value = 0;
  const auto parsed = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || parsed.ec != std::errc{} || parsed.ptr != port.data() + port.size() ||
      value > 65535) {
    return std::nullopt;
  }
  return SocketAddress{ip->to_string(), static_cast<std::uint16_t>(value)};
}

Forwarding DestinationConfig::forwarding_for(const std::string& protocol) const {
  if (const auto it = protocols.find(protocol); it != protocols.end() && it->second.forwarding) {
    return *it->second.forwarding;
  }
  if (forwarding) return *forwarding;
  return proxy_protocol ? Forwarding::proxy : Forwarding::none;
}

}  // namespace postern::kernel
