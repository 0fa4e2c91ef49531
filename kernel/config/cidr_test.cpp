#include <gtest/gtest.h>

#include "config/cidr.hpp"

namespace postern::kernel {
namespace {

IpAddress ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

Cidr cidr(std::string_view text) {
  const auto parsed = Cidr::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Cidr{});
}

TEST(IpAddress, ParsesBothFamilies) {
  const IpAddress v4 = ip("192.0.2.7");
  EXPECT_FALSE(v4.v6);
  EXPECT_EQ(v4.to_string(), "192.0.2.7");
  const IpAddress v6 = ip("2001:DB8::1");
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.to_string(), "2001:db8::1");
}

TEST(IpAddress, RejectsNonLiterals) {
  for (const char* text : {"", "localhost", "1.2.3", "1.2.3.256", "01.2.3.4", "[::1]", "::1%eth0", " 1.2.3.4",
                           "1.2.3.4 ", "2001:db8::1::2"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << text;
  }
  EXPECT_FALSE(IpAddress::parse(std::string(200, '1')).has_value());
}

TEST(IpAddress, Unmapped) {
  EXPECT_EQ(ip("::ffff:10.1.2.3").unmapped(), ip("10.1.2.3"));
  EXPECT_EQ(ip("::1").unmapped(), ip("::1"));
  EXPECT_EQ(ip("10.1.2.3").unmapped(), ip("10.1.2.3"));
  EXPECT_EQ(ip("::10.1.2.3").unmapped(), ip("::10.1.2.3"));
}

TEST(Cidr, BareAddressIsOneHost) {
  const Cidr host = cidr("10.0.0.1");
  EXPECT_EQ(host.prefix, 32u);
  EXPECT_TRUE(host.contains(ip("10.0.0.1")));
  EXPECT_FALSE(host.contains(ip("10.0.0.2")));
  EXPECT_EQ(cidr("::1").prefix, 128u);
}

TEST(Cidr, WhitespaceAroundPartsIsTrimmed) {
  const Cidr range = cidr("  10.0.0.0 / 8 ");
  EXPECT_EQ(range.prefix, 8u);
  EXPECT_TRUE(range.contains(ip("10.200.1.1")));
}

TEST(Cidr, PrefixBounds) {
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0").has_value());
  EXPECT_TRUE(Cidr::parse("10.0.0.0/32").has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33").has_value());
  EXPECT_TRUE(Cidr::parse("::/128").has_value());
  EXPECT_FALSE(Cidr::parse("::/129").has_value());
  for (const char* text : {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8x", "10.0.0.0/0008",
                           "/8", "host/8", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(Cidr::parse(text).has_value()) << text;
  }
}

TEST(Cidr, PartialBytePrefix) {
  const Cidr range = cidr("192.168.0.0/23");
  EXPECT_TRUE(range.contains(ip("192.168.1.255")));
  EXPECT_FALSE(range.contains(ip("192.168.2.0")));
  // Host bits in the written network do not matter.
  EXPECT_TRUE(cidr("192.168.1.77/23").contains(ip("192.168.0.1")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
}

TEST(Cidr, Ipv4RangeMatchesMappedIpv6Peer) {
  const Cidr range = cidr("10.0.0.0/8");
  EXPECT_TRUE(range.contains(ip("::ffff:10.9.8.7")));
  EXPECT_FALSE(range.contains(ip("::ffff:11.9.8.7")));
  EXPECT_FALSE(range.contains(ip("::a09:807")));  // IPv4-compatible, not mapped
}

TEST(Cidr, Ipv6RangeNeverMatchesPlainIpv4) {
  EXPECT_FALSE(cidr("::/0").contains(ip("10.0.0.1")));
  EXPECT_FALSE(cidr("::ffff:0:0/96").contains(ip("10.0.0.1")));
  EXPECT_TRUE(cidr("::ffff:0:0/96").contains(ip("::ffff:10.0.0.1")));
  const Cidr range = cidr("2001:db8::/32");
  EXPECT_TRUE(range.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(range.contains(ip("2001:db9::1")));
}

}  // namespace
}  // namespace postern::kernel
