#include "config/cidr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace postern::kernel {
namespace {

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const std::size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

// The first `prefix` bits of `a` and `b` (each `size` bytes) are equal.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated copy; the longest textual IPv6 form
  // (with an embedded IPv4 part) is 45 characters.
  char buffer[64];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (::inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
  if (::inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) {
    address.v6 = true;
    return address;
  }
  return std::nullopt;
}

IpAddress IpAddress::unmapped() const {
  static constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (!v6 || std::memcmp(bytes.data(), mapped_prefix, sizeof mapped_prefix) != 0) return *this;
  IpAddress v4;
  std::copy_n(bytes.begin() + 12, 4, v4.bytes.begin());
  return v4;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  text = trim(text);
  const std::size_t slash = text.find('/');
  const auto address = IpAddress::parse(trim(text.substr(0, slash)));
  if (!address) return std::nullopt;
  const unsigned max_prefix = address->v6 ? 128 : 32;
  Cidr cidr{*address, max_prefix};
  if (slash == std::string_view::npos) return cidr;
  const std::string_view digits = trim(text.substr(slash + 1));
  if (digits.empty() || digits.size() > 3 ||
      !std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::from_chars(digits.data(), digits.data() + digits.size(), cidr.prefix);
  if (cidr.prefix > max_prefix) return std::nullopt;
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (network.v6) {
    return address.v6 && same_prefix(network.bytes.data(), address.bytes.data(), prefix);
  }
  const IpAddress peer = address.unmapped();
  return !peer.v6 && same_prefix(network.bytes.data(), peer.bytes.data(), prefix);
}

}  // namespace postern::kernel
