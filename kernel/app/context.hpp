// Everything built from one configuration snapshot that sessions use at run
// time: TLS contexts, the router and its cache, the protocol handlers. A
// session keeps the Context it started with (shared_ptr), so a later reload
// never changes a running session.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

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
  // Not fatal, but worth telling the operator at startup.
  std::vector<std::string> warnings;

  // Builds the run-time state; fatal problems (certificate files that do not
  // load, ...) are appended to `errors` and yield null.
  static std::shared_ptr<Context> build(std::shared_ptr<const Config> config, std::vector<std::string>& errors);
};

}  // namespace postern::kernel
