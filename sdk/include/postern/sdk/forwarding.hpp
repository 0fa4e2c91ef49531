// Telling a backend who the real client is, for backends that accept it as
// protocol commands rather than a PROXY header: IMAP ID (RFC 2971, with the
// field names Dovecot and the Stalwart proxy use) and XCLIENT (Postfix's
// XCLIENT, also spoken by Dovecot's POP3, ManageSieve and submission).
// Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::sdk {

struct Address {
  std::string ip;          // textual, IPv4-mapped IPv6 already converted to IPv4
  std::uint16_t port = 0;
};

// How a destination wants the client identity: a PROXY v2 header (sent by
// the kernel before anything else), protocol commands (IMAP ID / XCLIENT,
// sent by the protocol plugin), or nothing.
enum class Forwarding { proxy, xclient, none };

struct ForwardInfo {
  Address peer;            // the client
  Address local;           // where the client connected to Postern
  std::string session_id;  // Postern's session id, as sent to backends
  unsigned ttl = 0;        // hops left for the next proxy (already decremented)
  bool client_tls = false; // the client leg is TLS at hand-off
};

// `<tag> ID ("x-originating-ip" "..." "x-originating-port" "..."
// "x-connected-ip" "..." "x-connected-port" "..." "x-proxy-ttl" "..."
// "x-session-id" "..." "x-client-transport" "TLS"|"insecure")` with CRLF.
std::string imap_id_command(std::string_view tag, const ForwardInfo& info);

// The hop count an upstream proxy put in an IMAP ID parameter list
// ("x-proxy-ttl"); nullopt when absent or not a number.
std::optional<unsigned> ttl_from_imap_id(const std::vector<std::pair<std::string, std::string>>& fields);

enum class XclientFlavor {
  smtp,  // ADDR/DESTADDR of IPv6 carry the "IPV6:" prefix (Postfix XCLIENT)
  plain  // POP3 and ManageSieve: addresses written as they are
};

// `XCLIENT ADDR=... PORT=... DESTADDR=... DESTPORT=... SESSION=... TTL=...
// CLIENT-TRANSPORT=... [HELO=...] [PROTO=ESMTP]` with CRLF, keeping only the
// attributes in `advertised` (case-insensitive; empty = every attribute, for
// protocols whose XCLIENT capability lists none). LOGIN is never sent: the
// backend must see the client's own authentication. HELO is sent only when
// `helo` is free of controls, spaces, DEL and '"'. nullopt when no attribute
// is left.
std::optional<std::string> xclient_command(const ForwardInfo& info, const std::vector<std::string>& advertised,
                                           XclientFlavor flavor, std::string_view helo = {});

}  // namespace postern::sdk
