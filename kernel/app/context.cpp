#include "app/context.hpp"

#include <fmt/format.h>

#include "config/normalize.hpp"

namespace postern::kernel {

std::shared_ptr<Context> Context::build(std::shared_ptr<const Config> config, std::vector<std::string>& errors) {
  auto context = std::make_shared<Context>();
  context->config = config;
  auto report = [&errors](const std::vector<TlsError>& found) {
    for (const TlsError& e : found) errors.push_back(fmt::format("{}: {}", e.key, e.message));
  };
  ServerTls::Build server = ServerTls::create(config->tls);
  report(server.errors);
  context->server_tls = std::move(server.tls);
  context->warnings = std::move(server.warnings);
  for (const auto& [id, destination] : config->destinations) {
    ClientTls::Build client = ClientTls::create(destination);
    report(client.errors);
    if (client.tls) context->backend_tls.emplace(id, std::move(client.tls));
  }
  // The predicate may run on a mapping source's thread after this context is
  // gone: it keeps the configuration alive itself.
  context->router = std::make_unique<Router>(
      config->routing, config->mapping, config->mapping_source,
      [config](std::string_view destination) { return config->destinations.contains(std::string(destination)); },
      [mode = config->mapping.normalize](std::string_view key) { return normalize_key(mode, key); });
  for (const auto& [id, destination] : config->destinations) {
    context->breakers.emplace(id, std::make_unique<CircuitBreaker>(config->server.host_down_threshold,
                                                                   config->server.host_down_min_clients,
                                                                   config->server.host_down_cooldown));
  }
  if (!errors.empty()) return nullptr;
  return context;
}

bool Context::is_own_listener(const boost::asio::ip::tcp::endpoint& target) const {
  boost::system::error_code ec;
  auto address = target.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  for (const ListenerConfig& listener : config->listeners) {
    for (const SocketAddress& bound : listener.bind) {
      if (bound.port != target.port()) continue;
      const auto own = boost::asio::ip::make_address(bound.ip, ec);
      if (ec) continue;
      if (own == address) return true;
      if (own.is_unspecified() && (address.is_loopback() || address.is_unspecified())) return true;
    }
  }
  return false;
}

}  // namespace postern::kernel
