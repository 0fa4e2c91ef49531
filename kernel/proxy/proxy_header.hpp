// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2):
// reading the header a trusted load balancer puts in front of a client
// connection (behavior.md section 4, step 2) and writing the v2 header
// Postern sends to backends (section 5.2). No I/O here: the caller reads
// the socket and hands the bytes over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/cidr.hpp"

namespace postern::kernel {

struct ProxyEndpoint {
  IpAddress address;
  std::uint16_t port = 0;
};

struct ProxyHeader {
  // False for v1 "PROXY UNKNOWN", v2 LOCAL, and v2 PROXY with an AF_UNSPEC
  // or AF_UNIX block or a non-stream transport: keep the TCP addresses then.
  bool has_addresses = false;
  ProxyEndpoint source;       // the client
  ProxyEndpoint destination;  // the address the client connected to
};

// A v1 line, "PROXY" to CRLF included, is at most 107 bytes (spec 2.1).
inline constexpr std::size_t proxy_v1_max_length = 107;
// v2 headers may announce up to 65535 bytes after the 16-byte fixed part;
// Postern accepts at most 1024 (addresses plus TLVs), like the reference's
// probe limit, and refuses longer ones instead of buffering them.
inline constexpr std::size_t proxy_v2_max_payload = 1024;
inline constexpr std::size_t proxy_header_max_size = 16 + proxy_v2_max_payload;

class ProxyHeaderParser {
 public:
  enum class Status {
    need_more,  // a header prefix so far: read more and call feed() again
    complete,   // `header` is valid; the first `consumed` bytes were the header
    not_proxy,  // the bytes are not a PROXY header: replay them as protocol data
    malformed,  // a PROXY signature followed by an invalid header: `error` says why
  };
  struct Result {
    Status status = Status::need_more;
    ProxyHeader header;
    std::size_t consumed = 0;
    std::string error;
  };

  // `received` is everything read from the connection so far (the caller
  // keeps it, since it replays what follows the header or, on not_proxy, all
  // of it). Each call re-examines it from the start, which costs little:
  // need_more is only ever returned for fewer than proxy_header_max_size
  // bytes, so the caller's buffer stays bounded. IPv4-mapped IPv6 addresses
  // in a header are returned as IPv4.
  Result feed(std::string_view received) const;
};

// The v2 PROXY header (command PROXY, TCP over IPv4 or IPv6, no TLVs) for a
// connection from `source` to `destination`, IPv4-mapped addresses first
// turned into IPv4. When the two families still differ no v2 header can
// describe the pair and the v1 line "PROXY UNKNOWN\r\n" is returned.
std::string make_proxy_v2(const ProxyEndpoint& source, const ProxyEndpoint& destination);

}  // namespace postern::kernel
