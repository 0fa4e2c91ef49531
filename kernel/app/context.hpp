// Everything built from one configuration snapshot that sessions use at run
// time: TLS contexts, the router and its cache, the protocol handlers. A
// session keeps the Context it started with (shared_ptr), so a later reload
// never changes a running session.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "app/breaker.hpp"
#include "config/config.hpp"
#include "routing/router.hpp"
#include "tls/client_tls.hpp"
#include "tls/server_tls.hpp"

namespace postern::kernel {

class WorkerPool;

struct Context {
  std::shared_ptr<const Config> config;
  std::unique_ptr<ServerTls> server_tls;
  // Backend-leg TLS per destination (every destination gets one; cheap).
  std::map<std::string, std::unique_ptr<ClientTls>, std::less<>> backend_tls;
  std::unique_ptr<Router> router;
  // One breaker per destination, shared by every protocol.
  std::map<std::string, std::unique_ptr<CircuitBreaker>, std::less<>> breakers;
  // Not fatal, but worth telling the operator at startup.
  std::vector<std::string> warnings;

  // Builds the run-time state; fatal problems (certificate files that do not
  // load, ...) are appended to `errors` and yield null.
  static std::shared_ptr<Context> build(std::shared_ptr<const Config> config, std::vector<std::string>& errors);

  // Loop guard: `target` is one of our own listening addresses (exactly, or
  // a wildcard listener's port on a loopback or unspecified address).
  bool is_own_listener(const boost::asio::ip::tcp::endpoint& target) const;
};

}  // namespace postern::kernel
