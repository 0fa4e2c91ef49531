// The configuration loader: the kernel's own tables, the rules that span
// tables (behavior.md sections 2.5 and 2.6), the delegation of plugin-owned
// tables, and the unknown-key backstop. Every problem is collected.
#include "config/load.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "config/cipher_suites.hpp"
#include "config/normalize.hpp"
#include "config/toml_table.hpp"

namespace postern::kernel {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t max_config_bytes = 16 * 1024 * 1024;
constexpr std::int64_t max_unsigned = std::numeric_limits<unsigned>::max();

constexpr std::array<std::string_view, 7> protocol_names = {"smtp", "submission", "lmtp", "imap",
                                                            "pop3", "managesieve", "http"};

bool is_protocol(std::string_view name) { return std::ranges::count(protocol_names, name) > 0; }

const std::vector<std::string>& protocol_name_list() {
  static const std::vector<std::string> names(protocol_names.begin(), protocol_names.end());
  return names;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const std::size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::string resolve_relative(std::string_view base_directory, std::string_view text) {
  const fs::path path(text);
  if (path.is_absolute()) return path.lexically_normal().string();
  return (fs::path(base_directory) / path).lexically_normal().string();
}

// Protocols whose sessions are routed per account through the mapping
// (section 2.5 rule 2e); smtp/lmtp go to the pass-through destination and
// http follows its own routes.
bool is_routed(std::string_view protocol) {
  return protocol == "imap" || protocol == "pop3" || protocol == "managesieve" || protocol == "submission";
}

// Section 2.5 rule 4a.
bool carries_credentials(std::string_view protocol) { return is_routed(protocol) || protocol == "http"; }

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

// Enum values are lowercase and matched exactly (section 2.1).
template <class E, std::size_t N>
std::optional<E> get_enum(TomlTable& table, std::string_view key, const std::array<EnumName<E>, N>& names) {
  const auto text = table.get_string(key);
  if (!text) return std::nullopt;
  std::vector<std::string> candidates;
  for (const auto& entry : names) {
    if (entry.name == *text) return entry.value;
    candidates.emplace_back(entry.name);
  }
  const std::string hint = text->size() > 3 ? sdk::closest_match(*text, candidates) : std::string();
  if (!hint.empty()) {
    table.error(key, fmt::format("unknown value \"{}\"; did you mean '{}'?", *text, hint));
  } else {
    table.error(key, fmt::format("unknown value \"{}\"; expected one of {}", *text, fmt::join(candidates, ", ")));
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::optional<E> require_enum(TomlTable& table, std::string_view key, const std::array<EnumName<E>, N>& names) {
  if (!table.has(key)) {
    table.mark_read(key);
    table.error(key, "required key is missing");
    return std::nullopt;
  }
  return get_enum(table, key, names);
}

std::optional<std::string> require_string(TomlTable& table, std::string_view key) {
  auto value = table.get_string(key);
  if (!table.has(key)) {
    table.error(key, "required key is missing");
  } else if (value && value->empty()) {
    table.error(key, "must not be empty");
    return std::nullopt;
  }
  return value;
}

// An optional string that may not be empty when given.
std::optional<std::string> get_non_empty(TomlTable& table, std::string_view key) {
  auto value = table.get_string(key);
  if (value && value->empty()) {
    table.error(key, "must not be empty");
    return std::nullopt;
  }
  return value;
}

template <class T>
void get_unsigned(TomlTable& table, std::string_view key, std::int64_t max, T& out) {
  if (const auto value = table.get_integer(key, 0, max)) out = static_cast<T>(*value);
}

void get_duration(TomlTable& table, std::string_view key, Duration& out) {
  if (const auto value = table.get_duration(key)) out = *value;
}

void get_bool(TomlTable& table, std::string_view key, bool& out) {
  if (const auto value = table.get_bool(key)) out = *value;
}

std::string undeclared_message(std::string_view destination, const std::vector<std::string>& declared) {
  std::string message = fmt::format("destination '{}' is not declared", destination);
  if (const std::string hint = sdk::closest_match(destination, declared); !hint.empty()) {
    message += fmt::format("; did you mean '{}'?", hint);
  }
  return message;
}

constexpr std::array<EnumName<sdk::TlsMode>, 3> tls_modes = {
    {{"implicit", sdk::TlsMode::implicit}, {"starttls", sdk::TlsMode::starttls}, {"plain", sdk::TlsMode::plain}}};
constexpr std::array<EnumName<Forwarding>, 3> forwarding_modes = {
    {{"proxy", Forwarding::proxy}, {"xclient", Forwarding::xclient}, {"none", Forwarding::none}}};

// What check_destination needs, copied so that a mapping source may keep it
// after loading (reload).
struct RoutingTargets {
  std::map<std::string, std::set<std::string>, std::less<>> protocols;  // destination -> endpoints
  std::vector<std::string> names;
  std::vector<std::pair<std::string, std::string>> routed;  // (protocol, first listener serving it)

  std::optional<std::string> check(std::string_view destination) const {
    const auto it = protocols.find(destination);
    if (it == protocols.end()) return undeclared_message(destination, names);
    for (const auto& [protocol, listener] : routed) {
      if (!it->second.contains(protocol)) {
        return fmt::format("destination '{}' does not declare protocol '{}', which listener '{}' serves",
                           destination, protocol, listener);
      }
    }
    return std::nullopt;
  }
};

class Loader {
 public:
  Loader(TomlDocument& document, const PluginCatalog& plugins, Diagnostics& diagnostics)
      : plugins_(plugins), diagnostics_(diagnostics), root_(document.root()) {}

  void load(Config& config) {
    for (const std::string_view later : {"admin", "http"}) {
      if (root_->has(later)) {
        root_->mark_read(later);
        root_->error(later, "not supported yet by this build");
      }
    }
    read_server(config.server);
    read_tls(config.tls);
    read_listeners(config.listeners);
    read_destinations(config.destinations);
    read_routing(config.routing);
    read_mapping(config.mapping);
    read_oauth(config.oauth);

    check_default_destination(config);
    check_passthrough(config);

    configure_protocols(config);
    configure_mapping(config);
  }

 private:
  std::string resolve_path(std::string_view text) const {
    return resolve_relative(root_->base_directory(), text);
  }

  // A path key naming a file that must exist and be readable; returns the
  // resolved path. Parsing the contents belongs to the code that uses them.
  std::optional<std::string> get_readable_file(TomlTable& table, std::string_view key, bool required) {
    const auto text = required ? require_string(table, key) : get_non_empty(table, key);
    if (!text) return std::nullopt;
    std::string path = resolve_path(*text);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      table.error(key, fmt::format("'{}' is a directory, not a file", path));
      return std::nullopt;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      table.error(key, fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
      return std::nullopt;
    }
    ::close(fd);
    return path;
  }

  void read_server(ServerConfig& out) {
    auto server = root_->table("server");
    get_unsigned(*server, "threads", 1024, out.threads);
    if (auto hostname = get_non_empty(*server, "hostname")) out.hostname = std::move(hostname);
    get_duration(*server, "shutdown_grace", out.shutdown_grace);
    get_duration(*server, "bridge_idle", out.bridge_idle);
    get_duration(*server, "backend_timeout", out.backend_timeout);
    get_unsigned(*server, "backend_connect_retries", 1000, out.backend_connect_retries);
    get_unsigned(*server, "host_down_threshold", max_unsigned, out.host_down_threshold);
    get_unsigned(*server, "host_down_min_clients", max_unsigned, out.host_down_min_clients);
    get_duration(*server, "host_down_cooldown", out.host_down_cooldown);
    get_unsigned(*server, "proxy_ttl", 255, out.proxy_ttl);
    if (auto level = get_non_empty(*server, "log_level")) out.log_level = std::move(*level);
    if (auto dir = get_non_empty(*server, "plugin_dir")) out.plugin_dir = resolve_path(*dir);
  }

  void read_tls(TlsConfig& out) {
    auto tls = root_->table("tls");
    auto certificates = tls->table("certificate");
    for (const std::string& id : certificates->keys()) {
      auto entry = certificates->table(id);
      if (!entry->present()) continue;
      CertificateConfig certificate;
      certificate.id = id;
      const auto cert = get_readable_file(*entry, "cert", true);
      const auto key = get_readable_file(*entry, "key", true);
      if (auto subjects = entry->get_string_list("subjects")) certificate.subjects = std::move(*subjects);
      get_bool(*entry, "default", certificate.is_default);
      if (cert && key) {
        certificate.cert_path = *cert;
        certificate.key_path = *key;
        out.certificates.push_back(std::move(certificate));
      }
    }

    auto protocols = tls->table("protocols");
    constexpr std::array<EnumName<TlsVersion>, 2> versions = {
        {{"1.2", TlsVersion::tls1_2}, {"1.3", TlsVersion::tls1_3}}};
    if (const auto version = get_enum(*protocols, "min_version", versions)) out.min_version = *version;
    get_bool(*protocols, "ignore_client_order", out.ignore_client_order);
    read_disabled_suites(*protocols, out);
  }

  // Postern deliberately differs (item 15): any spelling is accepted and an
  // unknown name is an error instead of being ignored.
  void read_disabled_suites(TomlTable& protocols, TlsConfig& out) {
    const auto names = protocols.get_string_list("disable_cipher_suites");
    if (!names) return;
    std::vector<std::string> candidates;
    for (const CipherSuite& suite : cipher_suites()) {
      candidates.emplace_back(suite.iana_name);
      candidates.emplace_back(suite.openssl_name);
    }
    bool all_known = true;
    for (const std::string& name : *names) {
      const CipherSuite* suite = find_cipher_suite(name);
      if (suite == nullptr) {
        all_known = false;
        std::string message = fmt::format("unknown cipher suite '{}'", name);
        if (const std::string hint = sdk::closest_match(name, candidates); !hint.empty()) {
          message += fmt::format("; did you mean '{}'?", hint);
        }
        protocols.error("disable_cipher_suites", message);
        continue;
      }
      if (std::ranges::count(out.disable_cipher_suites, suite->openssl_name) == 0) {
        out.disable_cipher_suites.emplace_back(suite->openssl_name);
      }
    }
    if (!all_known) return;
    const bool tls13_only = out.min_version == TlsVersion::tls1_3;
    const bool any_left = std::ranges::any_of(cipher_suites(), [&](const CipherSuite& suite) {
      return (!tls13_only || suite.version == TlsVersion::tls1_3) &&
             std::ranges::count(out.disable_cipher_suites, suite.openssl_name) == 0;
    });
    if (!any_left) {
      protocols.error("disable_cipher_suites",
                      tls13_only ? "removes every TLS 1.3 cipher suite, and min_version = \"1.3\" allows no other"
                                 : "removes every cipher suite; at least one must stay enabled");
    }
  }

  void read_listeners(std::vector<ListenerConfig>& out) {
    auto listeners = root_->table("listener");
    const std::vector<std::string> ids = listeners->keys();
    if (ids.empty()) {
      if (listeners->present()) {
        listeners->error("", "no listeners configured");
      } else if (!root_->has("listener")) {
        root_->error("listener", "no listeners configured");
      }
    }
    for (const std::string& id : ids) {
      auto table = listeners->table(id);
      if (!table->present()) continue;
      if (auto listener = read_listener(id, *table)) {
        out.push_back(std::move(*listener));
        listener_tables_[id] = std::move(table);
      }
    }
  }

  std::optional<ListenerConfig> read_listener(const std::string& id, TomlTable& table) {
    constexpr std::array<EnumName<std::string_view>, 7> protocols = {{{"smtp", "smtp"},
                                                                      {"submission", "submission"},
                                                                      {"lmtp", "lmtp"},
                                                                      {"imap", "imap"},
                                                                      {"pop3", "pop3"},
                                                                      {"managesieve", "managesieve"},
                                                                      {"http", "http"}}};
    constexpr std::array<EnumName<ProxyProtocolMode>, 3> proxy_modes = {{{"off", ProxyProtocolMode::off},
                                                                         {"optional", ProxyProtocolMode::optional},
                                                                         {"required", ProxyProtocolMode::required}}};
    constexpr std::array<EnumName<ForwardedHeaders>, 2> forwarded_modes = {
        {{"off", ForwardedHeaders::off}, {"trust", ForwardedHeaders::trust}}};

    ListenerConfig listener;
    listener.id = id;
    const auto protocol = require_enum(table, "protocol", protocols);

    if (const auto binds = table.get_string_list("bind")) {
      if (binds->empty()) table.error("bind", "needs at least one address");
      for (const std::string& text : *binds) {
        if (auto address = SocketAddress::parse(text)) {
          listener.bind.push_back(std::move(*address));
        } else {
          table.error("bind", fmt::format("\"{}\" is not a literal ip:port address (IPv6 as [addr]:port; "
                                          "host names are not accepted)",
                                          text));
        }
      }
    } else if (!table.has("bind")) {
      table.error("bind", "required key is missing");
    }

    const auto tls = require_enum(table, "tls", tls_modes);
    if (tls) listener.tls = *tls;
    if (const auto mode = get_enum(table, "proxy_protocol", proxy_modes)) listener.proxy_protocol = *mode;
    const auto trusted = table.get_string_list("proxy_trusted");
    if (trusted) {
      for (const std::string& text : *trusted) {
        if (auto cidr = Cidr::parse(text)) {
          listener.proxy_trusted.push_back(*cidr);
        } else {
          table.error("proxy_trusted", fmt::format("\"{}\" is not an address or CIDR range (addr/prefix, "
                                                   "prefix at most 32 for IPv4 and 128 for IPv6)",
                                                   text));
        }
      }
    }
    get_unsigned(table, "max_connections", max_unsigned, listener.max_connections);
    get_duration(table, "preauth_timeout", listener.preauth_timeout);
    get_unsigned(table, "max_auth_attempts", max_unsigned, listener.max_auth_attempts);
    const auto forwarded = get_enum(table, "forwarded", forwarded_modes);
    if (forwarded) listener.forwarded = *forwarded;

    // Section 2.5 rule 2b (a proxy_trusted of the wrong type is reported already).
    const bool trusted_missing = trusted ? trusted->empty() : !table.has("proxy_trusted");
    if (listener.proxy_protocol != ProxyProtocolMode::off && trusted_missing) {
      table.error("proxy_protocol", "needs a non-empty proxy_trusted list: the peers allowed to send a PROXY header");
    }
    if (!protocol) return std::nullopt;
    listener.protocol = std::string(*protocol);

    // Pass-through relays the TLS session untouched, so it cannot answer
    // STARTTLS itself (section 2.5 rule 2c).
    if ((*protocol == "smtp" || *protocol == "lmtp") && tls == sdk::TlsMode::starttls) {
      table.error("tls", fmt::format("{} listeners relay the connection untouched and cannot offer "
                                     "STARTTLS; use \"plain\" or \"implicit\"",
                                     *protocol));
    }
    if (forwarded && *protocol != "http") {
      table.error("forwarded", "only applies to http listeners");
    }
    if (plugins_.protocol_plugin(*protocol) == nullptr) {
      table.error("protocol", fmt::format("no loaded plugin serves protocol '{}'; it needs the plugin '{}'",
                                          *protocol, plugin_needed_for_protocol(*protocol)));
    }
    return listener;
  }

  void read_destinations(std::map<std::string, DestinationConfig>& out) {
    auto destinations = root_->table("destination");
    for (const std::string& id : destinations->keys()) {
      auto table = destinations->table(id);
      if (table->present()) out[id] = read_destination(id, *table);
    }
  }

  DestinationConfig read_destination(const std::string& id, TomlTable& table) {
    DestinationConfig destination;
    destination.id = id;
    if (auto host = require_string(table, "host")) destination.host = std::move(*host);
    if (auto name = get_non_empty(table, "tls_server_name")) destination.tls_server_name = std::move(name);
    get_bool(table, "proxy_protocol", destination.proxy_protocol);
    destination.forwarding = get_enum(table, "forwarding", forwarding_modes);
    get_bool(table, "forwarded", destination.forwarded);
    get_bool(table, "tls_allow_invalid_certs", destination.tls_allow_invalid_certs);
    if (const auto pin = table.get_string("tls_pinned_cert_sha256")) {
      destination.tls_pinned_cert_sha256 = normalize_pin(table, *pin);
    }
    destination.tls_client_cert = get_readable_file(table, "tls_client_cert", false);
    destination.tls_client_key = get_readable_file(table, "tls_client_key", false);
    if (table.has("tls_client_cert") != table.has("tls_client_key")) {
      const bool cert_set = table.has("tls_client_cert");
      table.error(cert_set ? "tls_client_cert" : "tls_client_key",
                  fmt::format("is set but {} is not; set both or neither",
                              cert_set ? "tls_client_key" : "tls_client_cert"));
    }
    if (const auto ips = table.get_string_list("source_ips")) {
      for (const std::string& text : *ips) {
        if (const auto ip = IpAddress::parse(text)) {
          destination.source_ips.push_back(ip->to_string());
        } else {
          table.error("source_ips", fmt::format("\"{}\" is not an IP address", text));
        }
      }
    }
    get_bool(table, "hide_auth_errors", destination.hide_auth_errors);
    get_bool(table, "allow_plaintext_auth", destination.allow_plaintext_auth);

    auto protocols = table.table("protocol");
    std::vector<std::string> tls_endpoints;
    for (const std::string& name : protocols->keys()) {
      if (!is_protocol(name)) {
        protocols->mark_read(name);
        const std::string hint = sdk::closest_match(name, protocol_name_list());
        protocols->error(name, hint.empty() ? fmt::format("unknown protocol; expected one of {}",
                                                          fmt::join(protocol_names, ", "))
                                            : fmt::format("unknown protocol; did you mean '{}'?", hint));
        continue;
      }
      auto endpoint_table = protocols->table(name);
      if (!endpoint_table->present()) continue;
      EndpointConfig endpoint;
      if (const auto port = endpoint_table->get_integer("port", 0, 65535)) {
        endpoint.port = static_cast<std::uint16_t>(*port);
      } else if (!endpoint_table->has("port")) {
        endpoint_table->error("port", "required key is missing");
      }
      const auto tls = require_enum(*endpoint_table, "tls", tls_modes);
      if (tls) endpoint.tls = *tls;
      endpoint.forwarding = get_enum(*endpoint_table, "forwarding", forwarding_modes);

      // Section 2.5 rule 4a: credentials never cross a plain leg by accident.
      if (tls == sdk::TlsMode::plain && carries_credentials(name) && !destination.allow_plaintext_auth) {
        endpoint_table->error("tls", fmt::format("protocol '{}' carries credentials and this leg is not "
                                                 "encrypted; set allow_plaintext_auth = true in "
                                                 "[destination.{}] to allow it",
                                                 name, id));
      }
      if (tls && *tls != sdk::TlsMode::plain) tls_endpoints.push_back(name);
      destination.protocols[name] = endpoint;
    }

    // Section 2.5 rule 4b: a certificate cannot be checked against a bare IP
    // address the way operators expect, so the name must be explicit.
    if (!tls_endpoints.empty() && !destination.tls_server_name && IpAddress::parse(destination.host)) {
      table.error("host", fmt::format("is an IP address and the {} endpoint{} use{} TLS; set tls_server_name "
                                      "to the name the backend's certificate carries",
                                      fmt::join(tls_endpoints, ", "), tls_endpoints.size() > 1 ? "s" : "",
                                      tls_endpoints.size() > 1 ? "" : "s"));
    }
    return destination;
  }

  // SHA-256 pin: 64 hex digits once ':' separators and surrounding
  // whitespace are removed (section 2.6), stored lowercase.
  static std::optional<std::string> normalize_pin(TomlTable& table, std::string_view text) {
    std::string digits;
    for (const char c : trim(text)) {
      if (c != ':') digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const bool hex = std::ranges::all_of(digits, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (digits.size() != 64 || !hex) {
      table.error("tls_pinned_cert_sha256",
                  "expected the SHA-256 of the certificate: 64 hexadecimal digits, ':' separators allowed");
      return std::nullopt;
    }
    return digits;
  }

  void read_routing(RoutingConfig& out) {
    routing_ = root_->table("routing");
    if (!routing_->present()) {
      if (!root_->has("routing")) root_->error("routing", "required table is missing");
      return;
    }
    if (auto destination = require_string(*routing_, "default_destination")) {
      out.default_destination = std::move(*destination);
    }
    if (auto destination = get_non_empty(*routing_, "smtp_passthrough_destination")) {
      out.smtp_passthrough_destination = std::move(destination);
    }
    if (auto separators = routing_->get_string_list("master_user_separators")) {
      out.master_user_separators = std::move(*separators);
    }
  }

  void read_mapping(MappingConfig& out) {
    mapping_ = root_->table("mapping");
    if (!mapping_->present()) {
      if (!root_->has("mapping")) root_->error("mapping", "required table is missing");
      return;
    }
    constexpr std::array<EnumName<Normalize>, 2> normalize = {
        {{"none", Normalize::none}, {"lowercase", Normalize::lowercase}}};
    constexpr std::array<EnumName<OnLookupError>, 2> on_error = {
        {{"tempfail", OnLookupError::tempfail}, {"default", OnLookupError::default_destination}}};
    if (auto source = require_string(*mapping_, "source")) out.source = std::move(*source);
    if (const auto mode = get_enum(*mapping_, "normalize", normalize)) out.normalize = *mode;
    get_duration(*mapping_, "negative_ttl", out.negative_ttl);
    get_duration(*mapping_, "positive_ttl", out.positive_ttl);
    get_unsigned(*mapping_, "cache_max_entries", std::numeric_limits<std::int64_t>::max(), out.cache_max_entries);
    get_duration(*mapping_, "lookup_timeout", out.lookup_timeout);
    if (const auto mode = get_enum(*mapping_, "on_lookup_error", on_error)) out.on_lookup_error = *mode;
  }

  void read_oauth(OAuthConfig& out) {
    auto oauth = root_->table("oauth");
    if (auto claim = get_non_empty(*oauth, "jwt_username_claim")) out.jwt_username_claim = std::move(*claim);
  }

  const DestinationConfig* find_destination(const Config& config, std::string_view id) const {
    const auto it = config.destinations.find(std::string(id));
    return it == config.destinations.end() ? nullptr : &it->second;
  }

  std::vector<std::string> destination_names(const Config& config) const {
    std::vector<std::string> names;
    for (const auto& [id, destination] : config.destinations) names.push_back(id);
    return names;
  }

  // Section 2.5 rules 1 and 2e.
  void check_default_destination(const Config& config) {
    const std::string& id = config.routing.default_destination;
    if (id.empty()) return;
    const DestinationConfig* destination = find_destination(config, id);
    if (destination == nullptr) {
      routing_->error("default_destination", undeclared_message(id, destination_names(config)));
      return;
    }
    for (const ListenerConfig& listener : config.listeners) {
      if (is_routed(listener.protocol) && !destination->protocols.contains(listener.protocol)) {
        listener_tables_.at(listener.id)
            ->error("protocol", fmt::format("the default destination '{}' has no [destination.{}.protocol.{}] "
                                            "endpoint",
                                            id, id, listener.protocol));
      }
    }
  }

  // Section 2.5 rule 3.
  void check_passthrough(const Config& config) {
    const ListenerConfig* first_smtp = nullptr;
    const ListenerConfig* first_lmtp = nullptr;
    for (const ListenerConfig& listener : config.listeners) {
      if (listener.protocol == "smtp" && first_smtp == nullptr) first_smtp = &listener;
      if (listener.protocol == "lmtp" && first_lmtp == nullptr) first_lmtp = &listener;
    }
    const auto& id = config.routing.smtp_passthrough_destination;
    if (!id) {
      const ListenerConfig* first = first_smtp != nullptr ? first_smtp : first_lmtp;
      if (first != nullptr) {
        listener_tables_.at(first->id)
            ->error("protocol", fmt::format("{} listeners need routing.smtp_passthrough_destination",
                                            first->protocol));
      }
      return;
    }
    const DestinationConfig* destination = find_destination(config, *id);
    if (destination == nullptr) {
      routing_->error("smtp_passthrough_destination", undeclared_message(*id, destination_names(config)));
      return;
    }
    if (!destination->protocols.contains("smtp")) {
      routing_->error("smtp_passthrough_destination",
                      fmt::format("destination '{}' has no [destination.{}.protocol.smtp] endpoint", *id, *id));
    }
    if (first_lmtp != nullptr && !destination->protocols.contains("lmtp")) {
      routing_->error("smtp_passthrough_destination",
                      fmt::format("destination '{}' has no [destination.{}.protocol.lmtp] endpoint, which "
                                  "listener '{}' needs",
                                  *id, *id, first_lmtp->id));
    }
  }

  // Runs a plugin's configure step; a plugin that returns nothing without
  // saying why still yields an error.
  template <class Result, class Configure>
  Result call_plugin(TomlTable& table, std::string_view what, Configure&& configure) {
    const std::size_t before = diagnostics_.items().size();
    Result result;
    try {
      result = configure();
    } catch (const std::exception& e) {
      table.error("", fmt::format("the plugin failed while configuring {}: {}", what, e.what()));
      return nullptr;
    } catch (...) {
      table.error("", fmt::format("the plugin failed while configuring {}", what));
      return nullptr;
    }
    if (result == nullptr && diagnostics_.items().size() == before) {
      table.error("", fmt::format("the plugin refused to configure {} without saying why", what));
    }
    return result;
  }

  void configure_protocols(Config& config) {
    auto capabilities = root_->table("capabilities");
    std::set<std::string> configured;
    for (const ListenerConfig& listener : config.listeners) {
      if (plugins_.protocol_plugin(listener.protocol) != nullptr) configured.insert(listener.protocol);
    }
    for (const std::string& name : capabilities->keys()) {
      if (!capabilities->has_table(name)) continue;  // left to the backstop
      const std::string table_name = "capabilities." + name;
      if (plugins_.table_owner(table_name)) {
        capabilities->mark_read(name);
        if (plugins_.protocol_plugin(name) != nullptr) configured.insert(name);
        continue;
      }
      capabilities->mark_read(name);
      if (plugins_.protocol_plugin(name) != nullptr) {
        capabilities->error(name, fmt::format("unknown table; protocol '{}' has no capability settings", name));
      } else if (is_protocol(name)) {
        capabilities->error(name, fmt::format("no loaded plugin claims this table; it needs the plugin '{}'",
                                              plugin_needed_for_protocol(name)));
      } else if (const std::string hint = sdk::closest_match(name, protocol_name_list());
                 !hint.empty()) {
        capabilities->error(name, fmt::format("unknown table; did you mean '{}'?", hint));
      } else {
        capabilities->error(name, fmt::format("no loaded plugin claims this table; it needs the plugin '{}'",
                                              plugin_needed_for_protocol(name)));
      }
    }
    for (const std::string& protocol : configured) {
      sdk::ProtocolPlugin* plugin = plugins_.protocol_plugin(protocol);
      auto table = capabilities->table(protocol, plugins_.table_owner("capabilities." + protocol).value_or(""));
      auto handler = call_plugin<std::unique_ptr<sdk::ProtocolHandler>>(
          *table, fmt::format("protocol '{}'", protocol), [&] { return plugin->configure(protocol, *table); });
      if (handler) config.protocol_handlers[protocol] = std::move(handler);
    }
  }

  void configure_mapping(Config& config) {
    if (!mapping_ || !mapping_->present()) return;
    const std::string& source = config.mapping.source;
    for (const std::string& name : mapping_->keys()) {
      if (name == source || !mapping_->has_table(name)) continue;
      mapping_->mark_read(name);
      // A table for another source is left alone when its plugin is loaded
      // (switching sources is a one-line change).
      if (!plugins_.table_owner("mapping." + name)) {
        mapping_->error(name, fmt::format("no loaded plugin claims this table; it needs the plugin '{}'",
                                          plugin_needed_for_source(name)));
      }
    }
    if (source.empty()) return;

    sdk::MappingPlugin* plugin = plugins_.mapping_plugin(source);
    if (plugin == nullptr) {
      mapping_->mark_read(source);
      mapping_->error("source", fmt::format("no mapping plugin provides source '{}'; it needs the plugin '{}'",
                                            source, plugin_needed_for_source(source)));
      return;
    }
    // Section 2.5 rule 6.
    if (!mapping_->has_table(source)) {
      if (!mapping_->has(source)) {
        mapping_->error("source", fmt::format("source '{}' needs a [mapping.{}] table", source, source));
      } else {
        mapping_->table(source);  // reports the wrong type
      }
      return;
    }

    auto targets = std::make_shared<RoutingTargets>();
    for (const auto& [id, destination] : config.destinations) {
      targets->names.push_back(id);
      auto& protocols = targets->protocols[id];
      for (const auto& [protocol, endpoint] : destination.protocols) protocols.insert(protocol);
    }
    for (const ListenerConfig& listener : config.listeners) {
      if (!is_routed(listener.protocol)) continue;
      const bool known = std::ranges::any_of(targets->routed, [&](const auto& r) { return r.first == listener.protocol; });
      if (!known) targets->routed.emplace_back(listener.protocol, listener.id);
    }
    sdk::MappingContext context;
    context.normalize = [mode = config.mapping.normalize](std::string_view key) { return normalize_key(mode, key); };
    context.check_destination = [targets = std::shared_ptr<const RoutingTargets>(targets)](std::string_view d) {
      return targets->check(d);
    };

    auto table = mapping_->table(source, plugins_.table_owner("mapping." + source).value_or(""));
    auto mapping_source = call_plugin<std::unique_ptr<sdk::MappingSource>>(
        *table, fmt::format("mapping source '{}'", source), [&] { return plugin->configure(source, *table, context); });
    if (mapping_source) config.mapping_source = std::move(mapping_source);
  }

  const PluginCatalog& plugins_;
  Diagnostics& diagnostics_;
  std::unique_ptr<TomlTable> root_;
  std::unique_ptr<TomlTable> routing_;
  std::unique_ptr<TomlTable> mapping_;
  std::map<std::string, std::unique_ptr<TomlTable>> listener_tables_;
};

std::string base_directory_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

LoadResult load_config_text(std::string_view text, const std::string& display_path, const PluginCatalog& plugins) {
  LoadResult result;
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(display_path));
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    result.diagnostics.add(
        Diagnostic{{display_path, begin.line, begin.column}, Severity::error, {}, std::string(e.description()), {}});
    return result;
  }

  auto config = std::make_shared<Config>();
  config->path = display_path;
  Diagnostics collected;
  {
    TomlDocument document(std::move(root), display_path, base_directory_of(display_path), collected);
    Loader loader(document, plugins, collected);
    loader.load(*config);
    document.report_unread_keys();
  }
  for (Diagnostic& d : collected.sorted()) result.diagnostics.add(std::move(d));
  if (!result.diagnostics.has_errors()) result.config = std::move(config);
  return result;
}

namespace {

// A problem with the file as a whole (no line or column).
LoadResult file_error(const std::string& path, std::string message) {
  Diagnostic diagnostic;
  diagnostic.where.file = path;
  diagnostic.message = std::move(message);
  LoadResult result;
  result.diagnostics.add(std::move(diagnostic));
  return result;
}

}  // namespace

LoadResult load_config(const std::string& path, const PluginCatalog& plugins) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return file_error(path, fmt::format("cannot read the configuration file: {}", std::strerror(errno)));
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_config_bytes) {
      return file_error(path, fmt::format("the configuration file is larger than {} MiB",
                                          max_config_bytes / (1024 * 1024)));
    }
  }
  return load_config_text(text, path, plugins);
}

std::string resolve_plugin_dir(const std::string& config_path) {
  if (const char* env = std::getenv("POSTERN_PLUGIN_DIR"); env != nullptr && *env != '\0') return env;
  try {
    const toml::table root = toml::parse_file(config_path);
    if (const auto dir = root["server"]["plugin_dir"].value<std::string>(); dir && !dir->empty()) {
      return resolve_relative(base_directory_of(config_path), *dir);
    }
  } catch (const std::exception&) {
    // load_config() reports the problem with its position.
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path bin = ec ? fs::path("bin") : exe.parent_path();
  return (bin / ".." / "lib" / "postern" / "plugins").lexically_normal().string();
}

}  // namespace postern::kernel
