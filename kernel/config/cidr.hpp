// CIDR ranges for proxy_trusted (behavior.md section 2.3).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::kernel {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);
  // ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged.
  IpAddress unmapped() const;
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress network;
  unsigned prefix = 0;

  // "addr" or "addr/prefix", whitespace around the parts trimmed.
  static std::optional<Cidr> parse(std::string_view text);
  // An IPv4 range also matches IPv4-mapped IPv6 peers; an IPv6 range never
  // matches a plain IPv4 peer.
  bool contains(const IpAddress& address) const;
};

}  // namespace postern::kernel
