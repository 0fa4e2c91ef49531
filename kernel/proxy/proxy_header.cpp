#include "proxy/proxy_header.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <optional>

namespace postern::kernel {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
// Spec 2.2: the 12-byte v2 signature "\r\n\r\n\0\r\nQUIT\n".
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v2_fixed_size = 16;

using Status = ProxyHeaderParser::Status;
using Result = ProxyHeaderParser::Result;

// True when the first min(|input|, |signature|) bytes agree.
bool prefix_matches(std::string_view input, std::string_view signature) {
  const std::size_t n = std::min(input.size(), signature.size());
  return input.substr(0, n) == signature.substr(0, n);
}

Result fail(std::string error) {
  Result r;
  r.status = Status::malformed;
  r.error = std::move(error);
  return r;
}

// IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4; other addresses unchanged.
IpAddress unmap(const IpAddress& address) {
  constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!address.v6 || !std::equal(mapped_prefix.begin(), mapped_prefix.end(), address.bytes.begin())) {
    return address;
  }
  IpAddress v4;
  std::copy_n(address.bytes.begin() + 12, 4, v4.bytes.begin());
  return v4;
}

IpAddress from_bytes(std::string_view raw, bool v6) {
  IpAddress address;
  address.v6 = v6;
  std::copy_n(reinterpret_cast<const std::uint8_t*>(raw.data()), v6 ? 16 : 4, address.bytes.begin());
  return unmap(address);
}

std::uint16_t read_u16(std::string_view raw, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(raw[at]) << 8 |
                                    static_cast<std::uint8_t>(raw[at + 1]));
}

std::optional<IpAddress> parse_v1_address(std::string_view token, bool v6) {
  if (token.empty() || token.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(token);
  std::array<std::uint8_t, 16> raw{};
  if (inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), raw.data()) != 1) return std::nullopt;
  return from_bytes(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()), v6);
}

// Decimal 0-65535 (spec 2.1); at most five digits, so no overflow.
std::optional<std::uint16_t> parse_v1_port(std::string_view token) {
  if (token.empty() || token.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Spec 2.1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport
// CRLF, or "PROXY UNKNOWN" followed by anything up to CRLF; single spaces.
Result parse_v1(std::string_view input) {
  const std::size_t window = std::min(input.size(), proxy_v1_max_length);
  const std::size_t lf = input.substr(0, window).find('\n');
  if (lf == std::string_view::npos) {
    if (input.size() >= proxy_v1_max_length) return fail("PROXY v1 line longer than 107 bytes");
    return {};
  }
  if (input[lf - 1] != '\r') return fail("PROXY v1 line not terminated by CRLF");

  std::string_view rest = input.substr(v1_prefix.size(), lf - 1 - v1_prefix.size());
  std::array<std::string_view, 6> tokens;
  std::size_t count = 0;
  for (;;) {
    const std::size_t space = rest.find(' ');
    const std::string_view token = rest.substr(0, space);
    if (token.empty()) return fail("PROXY v1 line has an empty field");
    if (count == tokens.size()) return fail("PROXY v1 line has too many fields");
    tokens[count++] = token;
    // UNKNOWN: the receiver ignores whatever follows on the line.
    if (count == 1 && token == "UNKNOWN") break;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }

  Result r;
  r.status = Status::complete;
  r.consumed = lf + 1;
  if (tokens[0] == "UNKNOWN") return r;
  if (tokens[0] != "TCP4" && tokens[0] != "TCP6") {
    return fail("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  }
  if (count != 5) return fail("PROXY v1 line must have 5 fields after PROXY");
  const bool v6 = tokens[0] == "TCP6";
  const auto source = parse_v1_address(tokens[1], v6);
  const auto destination = parse_v1_address(tokens[2], v6);
  if (!source || !destination) {
    return fail(v6 ? "PROXY v1 TCP6 needs two IPv6 addresses" : "PROXY v1 TCP4 needs two IPv4 addresses");
  }
  const auto source_port = parse_v1_port(tokens[3]);
  const auto destination_port = parse_v1_port(tokens[4]);
  if (!source_port || !destination_port) return fail("PROXY v1 port is not a number from 0 to 65535");
  r.header = {true, {*source, *source_port}, {*destination, *destination_port}};
  return r;
}

// Spec 2.2: signature, version/command, family/transport, length (network
// order), then the address block and optional TLVs.
Result parse_v2(std::string_view input) {
  if (input.size() < v2_fixed_size) return {};
  const auto version_command = static_cast<std::uint8_t>(input[12]);
  if (version_command >> 4 != 2) return fail("PROXY v2 header with unsupported version");
  const unsigned command = version_command & 0x0fU;  // 0 LOCAL, 1 PROXY
  if (command > 1) return fail("PROXY v2 header with unknown command");
  const auto family_transport = static_cast<std::uint8_t>(input[13]);
  const std::size_t length = read_u16(input, 14);
  if (length > proxy_v2_max_payload) {
    return fail("PROXY v2 header announces " + std::to_string(length) + " bytes (limit 1024)");
  }
  if (input.size() < v2_fixed_size + length) return {};

  Result r;
  r.status = Status::complete;
  r.consumed = v2_fixed_size + length;
  // LOCAL (health checks from the proxy itself): the block is to be ignored.
  if (command == 0) return r;

  const unsigned family = family_transport >> 4U;      // 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX
  const unsigned transport = family_transport & 0x0fU;  // 0 UNSPEC, 1 STREAM, 2 DGRAM
  if (family > 3 || transport > 2) return fail("PROXY v2 header with unknown address family");
  constexpr std::array<std::size_t, 4> address_block{0, 12, 36, 216};
  const std::size_t block = address_block[family];
  if (length < block) return fail("PROXY v2 address block shorter than its family requires");

  const std::string_view payload = input.substr(v2_fixed_size, length);
  // TLVs (type, 16-bit length, value) must tile the rest exactly (spec 2.2.7).
  for (std::string_view tlvs = payload.substr(block); !tlvs.empty();) {
    if (tlvs.size() < 3 || 3 + std::size_t{read_u16(tlvs, 1)} > tlvs.size()) {
      return fail("PROXY v2 header with a truncated TLV");
    }
    tlvs.remove_prefix(3 + std::size_t{read_u16(tlvs, 1)});
  }

  // Only TCP over IPv4/IPv6 describes a client we can use; for the others
  // the spec lets the receiver fall back to the real connection endpoints.
  if ((family == 1 || family == 2) && transport == 1) {
    const bool v6 = family == 2;
    const std::size_t size = v6 ? 16 : 4;
    r.header.has_addresses = true;
    r.header.source = {from_bytes(payload.substr(0, size), v6), read_u16(payload, 2 * size)};
    r.header.destination = {from_bytes(payload.substr(size, size), v6), read_u16(payload, 2 * size + 2)};
  }
  return r;
}

void append_address(std::string& out, const IpAddress& address) {
  out.append(reinterpret_cast<const char*>(address.bytes.data()), address.v6 ? 16 : 4);
}

void append_u16(std::string& out, std::uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xff);
}

}  // namespace

ProxyHeaderParser::Result ProxyHeaderParser::feed(std::string_view received) const {
  // Behavior 4, step 2: keep reading while the bytes can still become
  // either signature; anything else is protocol data.
  const bool maybe_v1 = prefix_matches(received, v1_prefix);
  const bool maybe_v2 = prefix_matches(received, v2_signature);
  if (!maybe_v1 && !maybe_v2) {
    Result r;
    r.status = Status::not_proxy;
    return r;
  }
  if (maybe_v1 && received.size() >= v1_prefix.size()) return parse_v1(received);
  if (maybe_v2 && received.size() >= v2_signature.size()) return parse_v2(received);
  return {};
}

std::string make_proxy_v2(const ProxyEndpoint& source, const ProxyEndpoint& destination) {
  const IpAddress from = unmap(source.address);
  const IpAddress to = unmap(destination.address);
  if (from.v6 != to.v6) return "PROXY UNKNOWN\r\n";
  std::string out(v2_signature);
  out += static_cast<char>(0x21);                 // version 2, command PROXY
  out += static_cast<char>(from.v6 ? 0x21 : 0x11);  // AF_INET6 / AF_INET, STREAM
  append_u16(out, from.v6 ? 36 : 12);
  append_address(out, from);
  append_address(out, to);
  append_u16(out, source.port);
  append_u16(out, destination.port);
  return out;
}

}  // namespace postern::kernel
