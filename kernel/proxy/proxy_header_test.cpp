#include "proxy/proxy_header.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace postern::kernel {

// Readable failure output for addresses (gtest finds this by ADL).
void PrintTo(const IpAddress& address, std::ostream* os) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof text);
  *os << text;
}

namespace {

using Status = ProxyHeaderParser::Status;
using Result = ProxyHeaderParser::Result;

IpAddress ip(const std::string& text) {
  IpAddress address;
  address.v6 = text.find(':') != std::string::npos;
  EXPECT_EQ(inet_pton(address.v6 ? AF_INET6 : AF_INET, text.c_str(), address.bytes.data()), 1) << text;
  return address;
}

const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string u16(std::uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }

std::string raw(const IpAddress& address) {
  return std::string(reinterpret_cast<const char*>(address.bytes.data()), address.v6 ? 16 : 4);
}

// A v2 header: signature, version/command, family/transport, the payload's
// length (or `length` when given, to lie about it) and the payload.
std::string v2(std::uint8_t version_command, std::uint8_t family, const std::string& payload,
               int length = -1) {
  return signature + static_cast<char>(version_command) + static_cast<char>(family) +
         u16(static_cast<std::uint16_t>(length < 0 ? payload.size() : static_cast<std::size_t>(length))) +
         payload;
}

std::string tlv(std::uint8_t type, const std::string& value) {
  return static_cast<char>(type) + u16(static_cast<std::uint16_t>(value.size())) + value;
}

// Feeds `input` growing by one byte at a time, as the slowest client would
// deliver it; returns the first verdict that is not need_more and how many
// bytes it took.
struct Stepwise {
  Result result;
  std::size_t fed = 0;
};
Stepwise feed_bytewise(std::string_view input) {
  const ProxyHeaderParser parser;
  for (std::size_t n = 0; n <= input.size(); ++n) {
    Result r = parser.feed(input.substr(0, n));
    if (r.status != Status::need_more) return {std::move(r), n};
  }
  return {Result{}, input.size()};
}

Result feed_whole(std::string_view input) { return ProxyHeaderParser().feed(input); }

// A complete header must be recognised at exactly its last byte when fed
// bytewise, and leave what follows it unconsumed when fed whole.
void expect_header(const std::string& header, const ProxyHeader& expected) {
  const std::string trailing = "A1 CAPABILITY\r\n";
  const Result whole = feed_whole(header + trailing);
  ASSERT_EQ(whole.status, Status::complete) << whole.error;
  EXPECT_EQ(whole.consumed, header.size());
  EXPECT_EQ(whole.header.has_addresses, expected.has_addresses);
  if (expected.has_addresses) {
    EXPECT_EQ(whole.header.source.address, expected.source.address);
    EXPECT_EQ(whole.header.source.port, expected.source.port);
    EXPECT_EQ(whole.header.destination.address, expected.destination.address);
    EXPECT_EQ(whole.header.destination.port, expected.destination.port);
  }
  const Stepwise step = feed_bytewise(header);
  ASSERT_EQ(step.result.status, Status::complete) << step.result.error;
  EXPECT_EQ(step.fed, header.size());
  EXPECT_EQ(step.result.consumed, header.size());
}

void expect_malformed(const std::string& input) {
  const Result whole = feed_whole(input);
  EXPECT_EQ(whole.status, Status::malformed) << testing::PrintToString(input);
  EXPECT_FALSE(whole.error.empty());
  EXPECT_EQ(feed_bytewise(input).result.status, Status::malformed) << testing::PrintToString(input);
}

ProxyHeader addresses(const char* source, std::uint16_t source_port, const char* destination,
                      std::uint16_t destination_port) {
  return {true, {ip(source), source_port}, {ip(destination), destination_port}};
}

// --- v1 ---

TEST(ProxyV1, Tcp4) {
  expect_header("PROXY TCP4 192.0.2.10 198.51.100.1 56324 993\r\n",
                addresses("192.0.2.10", 56324, "198.51.100.1", 993));
}

TEST(ProxyV1, Tcp6) {
  expect_header("PROXY TCP6 2001:db8::1 2001:db8:0:1::2 4000 143\r\n",
                addresses("2001:db8::1", 4000, "2001:db8:0:1::2", 143));
}

TEST(ProxyV1, Tcp6MappedAddressesBecomeIpv4) {
  expect_header("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 1 65535\r\n",
                addresses("192.0.2.1", 1, "192.0.2.2", 65535));
}

TEST(ProxyV1, UnknownCarriesNoAddresses) {
  expect_header("PROXY UNKNOWN\r\n", {});
  // The receiver ignores whatever follows UNKNOWN on the line (spec 2.1).
  expect_header("PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n", {});
}

TEST(ProxyV1, LongestLegalLineIsAccepted) {
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string line = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(line.size(), proxy_v1_max_length);
  expect_header(line, {});
}

TEST(ProxyV1, LineWithoutCrlfWithin107BytesIsMalformed) {
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string line = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 655350\r\n";
  ASSERT_EQ(line.size(), proxy_v1_max_length + 1);
  expect_malformed(line);
  // The verdict comes as soon as 107 bytes hold no line end: nothing more is
  // buffered waiting for one.
  const Stepwise step = feed_bytewise(std::string(200, 'x').insert(0, "PROXY "));
  EXPECT_EQ(step.result.status, Status::malformed);
  EXPECT_EQ(step.fed, proxy_v1_max_length);
}

TEST(ProxyV1, MalformedLines) {
  expect_malformed("PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_malformed("PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_malformed("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n");
  expect_malformed("PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n");
  expect_malformed("PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 99999\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 2x\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 000002\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3 4 5\r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n");
  expect_malformed("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n");
  expect_malformed("PROXY \r\n");
  expect_malformed("PROXY UNKNOWN\n");
}

// --- v2 ---

TEST(ProxyV2, Tcp4) {
  const std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(56324) + u16(993);
  expect_header(v2(0x21, 0x11, payload), addresses("192.0.2.10", 56324, "198.51.100.1", 993));
}

TEST(ProxyV2, Tcp6) {
  const std::string payload = raw(ip("2001:db8::1")) + raw(ip("2001:db8::2")) + u16(4000) + u16(143);
  expect_header(v2(0x21, 0x21, payload), addresses("2001:db8::1", 4000, "2001:db8::2", 143));
}

TEST(ProxyV2, Tcp6MappedAddressesBecomeIpv4) {
  const std::string payload = raw(ip("::ffff:192.0.2.1")) + raw(ip("::ffff:192.0.2.2")) + u16(1) + u16(2);
  expect_header(v2(0x21, 0x21, payload), addresses("192.0.2.1", 1, "192.0.2.2", 2));
}

TEST(ProxyV2, LocalCommandCarriesNoAddresses) {
  // LOCAL with an address block anyway: the block is skipped, not used.
  const std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(1) + u16(2);
  expect_header(v2(0x20, 0x11, payload), {});
  expect_header(v2(0x20, 0x00, ""), {});
}

TEST(ProxyV2, UnixAndUnspecCarryNoAddresses) {
  std::string paths(216, '\0');
  paths.replace(0, 13, "/run/haproxy1");
  expect_header(v2(0x21, 0x31, paths), {});
  expect_header(v2(0x21, 0x00, ""), {});
  // UDP over IPv4 describes no TCP client either.
  const std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(1) + u16(2);
  expect_header(v2(0x21, 0x12, payload), {});
}

TEST(ProxyV2, TlvsAreSkipped) {
  const std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(56324) + u16(993) +
                              tlv(0x01, "imap") + tlv(0x02, "mail.example.test") + tlv(0x04, std::string(5, '\0'));
  expect_header(v2(0x21, 0x11, payload), addresses("192.0.2.10", 56324, "198.51.100.1", 993));
}

TEST(ProxyV2, PayloadOfExactly1024BytesIsAccepted) {
  std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(1) + u16(2);
  payload += tlv(0x04, std::string(proxy_v2_max_payload - payload.size() - 3, '\0'));
  ASSERT_EQ(payload.size(), proxy_v2_max_payload);
  expect_header(v2(0x21, 0x11, payload), addresses("192.0.2.10", 1, "198.51.100.1", 2));
}

TEST(ProxyV2, OversizeLengthIsRefusedWithoutBuffering) {
  const std::string header = v2(0x21, 0x11, std::string(1025, '\0'));
  expect_malformed(header);
  // Refused as soon as the length field is known.
  const Stepwise step = feed_bytewise(header);
  EXPECT_EQ(step.result.status, Status::malformed);
  EXPECT_EQ(step.fed, 16U);
  EXPECT_EQ(feed_whole(v2(0x21, 0x11, "", 65535)).status, Status::malformed);
}

TEST(ProxyV2, MalformedHeaders) {
  const std::string payload = raw(ip("192.0.2.10")) + raw(ip("198.51.100.1")) + u16(1) + u16(2);
  expect_malformed(v2(0x11, 0x11, payload));  // version 1 in a v2 header
  expect_malformed(v2(0x31, 0x11, payload));  // version 3
  expect_malformed(v2(0x22, 0x11, payload));  // command 2
  expect_malformed(v2(0x21, 0x41, payload));  // family 4
  expect_malformed(v2(0x21, 0x13, payload));  // transport 3
  expect_malformed(v2(0x21, 0x11, payload.substr(0, 8)));               // block too short for INET
  expect_malformed(v2(0x21, 0x21, payload));                            // block too short for INET6
  expect_malformed(v2(0x21, 0x11, payload + std::string("\x01\x00", 2)));               // TLV header cut short
  expect_malformed(v2(0x21, 0x11, payload + tlv(0x01, "imap").substr(0, 5)));  // TLV value cut short
}

// --- detection ---

TEST(ProxyDetection, ProtocolDataIsNotProxy) {
  const Stepwise step = feed_bytewise("A1 LOGIN user secret\r\n");
  EXPECT_EQ(step.result.status, Status::not_proxy);
  EXPECT_EQ(step.fed, 1U);
  EXPECT_EQ(feed_whole("EHLO client.example\r\n").status, Status::not_proxy);
}

TEST(ProxyDetection, PartialPrefixFollowedByMismatchIsNotProxy) {
  Stepwise step = feed_bytewise("PROXX TCP4\r\n");
  EXPECT_EQ(step.result.status, Status::not_proxy);
  EXPECT_EQ(step.fed, 5U);
  step = feed_bytewise("PROXYTCP4\r\n");
  EXPECT_EQ(step.result.status, Status::not_proxy);
  EXPECT_EQ(step.fed, 6U);
  step = feed_bytewise(std::string("\r\n\r\n\0\r\nQUIT\r", 12));
  EXPECT_EQ(step.result.status, Status::not_proxy);
  EXPECT_EQ(step.fed, 12U);
  // An empty line is a v2 prefix until the next byte decides.
  EXPECT_EQ(feed_whole("\r\n").status, Status::need_more);
  EXPECT_EQ(feed_whole("\r\nNOOP\r\n").status, Status::not_proxy);
  EXPECT_EQ(feed_whole("").status, Status::need_more);
  EXPECT_EQ(feed_whole("PROX").status, Status::need_more);
}

// --- writer ---

TEST(ProxyWriter, Ipv4HeaderBytes) {
  const std::string header = make_proxy_v2({ip("192.0.2.10"), 56324}, {ip("198.51.100.1"), 993});
  const std::string expected = signature + std::string("\x21\x11\x00\x0c", 4) +
                               std::string("\xc0\x00\x02\x0a\xc6\x33\x64\x01\xdc\x04\x03\xe1", 12);
  EXPECT_EQ(header, expected);
}

TEST(ProxyWriter, RoundTripsThroughTheParser) {
  expect_header(make_proxy_v2({ip("192.0.2.10"), 56324}, {ip("198.51.100.1"), 993}),
                addresses("192.0.2.10", 56324, "198.51.100.1", 993));
  const std::string v6 = make_proxy_v2({ip("2001:db8::7"), 40000}, {ip("2001:db8::1"), 143});
  EXPECT_EQ(v6.size(), 16U + 36U);
  expect_header(v6, addresses("2001:db8::7", 40000, "2001:db8::1", 143));
}

TEST(ProxyWriter, MappedAddressesAreNormalizedFirst) {
  const std::string header = make_proxy_v2({ip("::ffff:192.0.2.10"), 1}, {ip("198.51.100.1"), 2});
  EXPECT_EQ(header.size(), 16U + 12U);
  expect_header(header, addresses("192.0.2.10", 1, "198.51.100.1", 2));
}

TEST(ProxyWriter, MixedFamiliesGiveUnknown) {
  const std::string header = make_proxy_v2({ip("2001:db8::7"), 1}, {ip("198.51.100.1"), 2});
  EXPECT_EQ(header, "PROXY UNKNOWN\r\n");
  expect_header(header, {});
}

}  // namespace
}  // namespace postern::kernel
