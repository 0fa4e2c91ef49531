// The validated, immutable configuration snapshot. Built once by
// load_config(); running sessions hold a shared_ptr to the snapshot they
// started with.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <postern/sdk/mapping.hpp>
#include <postern/sdk/protocol.hpp>

#include "config/cidr.hpp"

namespace postern::kernel {

using Duration = std::chrono::milliseconds;

struct ServerConfig {
  unsigned threads = 0;  // 0 = one per CPU
  std::optional<std::string> hostname;
  Duration shutdown_grace{30'000};
  Duration bridge_idle{1'800'000};
  Duration backend_timeout{10'000};
  unsigned backend_connect_retries = 1;
  unsigned host_down_threshold = 5;
  unsigned host_down_min_clients = 2;
  Duration host_down_cooldown{30'000};
  unsigned proxy_ttl = 7;
  std::string log_level = "info";
  std::optional<std::string> plugin_dir;
};

struct CertificateConfig {
  std::string id;
  std::string cert_path;
  std::string key_path;
  std::vector<std::string> subjects;
  bool is_default = false;
};

enum class TlsVersion { tls1_2, tls1_3 };

struct TlsConfig {
  std::vector<CertificateConfig> certificates;
  TlsVersion min_version = TlsVersion::tls1_2;
  bool ignore_client_order = false;
  // Canonical OpenSSL names of the suites to remove (already validated).
  std::vector<std::string> disable_cipher_suites;
};

enum class ProxyProtocolMode { off, optional, required };

struct SocketAddress {
  std::string ip;   // literal, no brackets
  std::uint16_t port = 0;
  std::string text() const;  // "1.2.3.4:993" / "[::1]:993"

  // A literal "ip:port" or "[ipv6]:port"; hostnames are not accepted.
  static std::optional<SocketAddress> parse(std::string_view text);
  bool operator==(const SocketAddress&) const = default;
};

// HTTP listeners: what to do with inbound Forwarded / X-Forwarded-For.
enum class ForwardedHeaders { off, trust };

struct ListenerConfig {
  std::string id;
  std::string protocol;
  std::vector<SocketAddress> bind;
  sdk::TlsMode tls = sdk::TlsMode::plain;
  ProxyProtocolMode proxy_protocol = ProxyProtocolMode::off;
  std::vector<Cidr> proxy_trusted;
  unsigned max_connections = 8192;
  Duration preauth_timeout{30'000};
  unsigned max_auth_attempts = 3;
  ForwardedHeaders forwarded = ForwardedHeaders::off;  // http listeners only
};

enum class Forwarding { proxy, xclient, none };

struct EndpointConfig {
  std::uint16_t port = 0;
  sdk::TlsMode tls = sdk::TlsMode::plain;
  std::optional<Forwarding> forwarding;
};

struct DestinationConfig {
  std::string id;
  std::string host;
  std::optional<std::string> tls_server_name;
  bool proxy_protocol = true;
  std::optional<Forwarding> forwarding;
  bool forwarded = false;
  bool tls_allow_invalid_certs = false;
  std::optional<std::string> tls_pinned_cert_sha256;  // 64 lowercase hex digits
  std::optional<std::string> tls_client_cert;
  std::optional<std::string> tls_client_key;
  std::vector<std::string> source_ips;
  bool hide_auth_errors = false;
  bool allow_plaintext_auth = false;
  std::map<std::string, EndpointConfig> protocols;

  // Section 5.4: per-protocol forwarding, else destination-wide, else
  // proxy_protocol (true = PROXY v2 header).
  Forwarding forwarding_for(const std::string& protocol) const;
};

struct RoutingConfig {
  std::string default_destination;
  std::optional<std::string> smtp_passthrough_destination;
  std::vector<std::string> master_user_separators{"%"};
};

enum class Normalize { none, lowercase };
enum class OnLookupError { tempfail, default_destination };

struct MappingConfig {
  std::string source;
  Normalize normalize = Normalize::none;
  Duration negative_ttl{30'000};
  Duration positive_ttl{600'000};
  std::uint64_t cache_max_entries = 1'000'000;
  Duration lookup_timeout{5'000};
  OnLookupError on_lookup_error = OnLookupError::tempfail;
};

struct OAuthConfig {
  std::string jwt_username_claim = "email";
};

struct Config {
  std::string path;
  ServerConfig server;
  TlsConfig tls;
  std::vector<ListenerConfig> listeners;            // file order
  std::map<std::string, DestinationConfig> destinations;
  RoutingConfig routing;
  MappingConfig mapping;
  OAuthConfig oauth;

  // Built by the plugins that claimed the sections, for this snapshot.
  std::map<std::string, std::shared_ptr<sdk::ProtocolHandler>> protocol_handlers;
  std::shared_ptr<sdk::MappingSource> mapping_source;
};

}  // namespace postern::kernel
