#include <postern/sdk/forwarding.hpp>

#include <gtest/gtest.h>

namespace postern::sdk {
namespace {

ForwardInfo sample(std::string peer_ip = "203.0.113.7") {
  return {{std::move(peer_ip), 51234}, {"192.0.2.1", 993}, "P2a", 6, true};
}

TEST(ImapId, CarriesEveryFieldInOrder) {
  EXPECT_EQ(imap_id_command("F1", sample()),
            "F1 ID (\"x-originating-ip\" \"203.0.113.7\" \"x-originating-port\" \"51234\" \"x-connected-ip\" "
            "\"192.0.2.1\" \"x-connected-port\" \"993\" \"x-proxy-ttl\" \"6\" \"x-session-id\" \"P2a\" "
            "\"x-client-transport\" \"TLS\")\r\n");
}

TEST(ImapId, NeverEmitsQuotesOrLineBreaksInsideValues) {
  ForwardInfo info = sample();
  info.session_id = "P\"1\r\n";
  EXPECT_NE(imap_id_command("F1", info).find("\"x-session-id\" \"P1\""), std::string::npos);
}

TEST(ImapId, ReadsTheTtlOfAnUpstreamProxy) {
  EXPECT_EQ(ttl_from_imap_id({{"name", "x"}, {"X-Proxy-TTL", "4"}}), 4u);
  EXPECT_EQ(ttl_from_imap_id({{"x-proxy-ttl", "four"}}), std::nullopt);
  EXPECT_EQ(ttl_from_imap_id({{"x-proxy-ttl", ""}}), std::nullopt);
  EXPECT_EQ(ttl_from_imap_id({{"name", "x"}}), std::nullopt);
}

TEST(Xclient, KeepsOnlyAnnouncedAttributesInFixedOrder) {
  EXPECT_EQ(xclient_command(sample(), {"addr", "TTL", "LOGIN", "NAME"}, XclientFlavor::smtp, "client.example"),
            "XCLIENT ADDR=203.0.113.7 TTL=6\r\n");
}

TEST(Xclient, NeverSendsLogin) {
  const auto line = xclient_command(sample(), {"LOGIN"}, XclientFlavor::plain);
  EXPECT_EQ(line, std::nullopt);
}

TEST(Xclient, SmtpFlavorPrefixesIpv6AndAddsProtoAndSafeHelo) {
  EXPECT_EQ(xclient_command(sample("2001:db8::7"), {"ADDR", "HELO", "PROTO"}, XclientFlavor::smtp, "mx.example"),
            "XCLIENT ADDR=IPV6:2001:db8::7 HELO=mx.example PROTO=ESMTP\r\n");
  EXPECT_EQ(xclient_command(sample("2001:db8::7"), {"ADDR", "HELO"}, XclientFlavor::smtp, "bad helo"),
            "XCLIENT ADDR=IPV6:2001:db8::7\r\n");
}

TEST(Xclient, PlainFlavorWithoutAttributeListSendsEverything) {
  EXPECT_EQ(xclient_command(sample("2001:db8::7"), {}, XclientFlavor::plain),
            "XCLIENT ADDR=2001:db8::7 PORT=51234 DESTADDR=192.0.2.1 DESTPORT=993 SESSION=P2a TTL=6 "
            "CLIENT-TRANSPORT=TLS\r\n");
}

}  // namespace
}  // namespace postern::sdk
