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
  if (!errors.empty()) return nullptr;
  return context;
}

}  // namespace postern::kernel
