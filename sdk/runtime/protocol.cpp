#include <postern/sdk/protocol.hpp>

namespace postern::sdk {

std::string_view to_string(Phase phase) noexcept {
  switch (phase) {
    case Phase::accept: return "accept";
    case Phase::proxy_header: return "proxy_header";
    case Phase::tls: return "tls";
    case Phase::greeting: return "greeting";
    case Phase::pre_auth: return "pre_auth";
    case Phase::route: return "route";
    case Phase::backend_connect: return "backend_connect";
    case Phase::backend_login: return "backend_login";
    case Phase::bridge: return "bridge";
    case Phase::end: return "end";
  }
  return "unknown";
}

std::string_view to_string(Failure failure) noexcept {
  switch (failure) {
    case Failure::none: return "none";
    case Failure::config: return "config";
    case Failure::lookup: return "lookup";
    case Failure::connect: return "connect";
    case Failure::tls: return "tls";
    case Failure::greeting: return "greeting";
    case Failure::protocol: return "protocol";
    case Failure::plaintext: return "plaintext";
    case Failure::timeout: return "timeout";
    case Failure::breaker_open: return "breaker_open";
    case Failure::loop: return "loop";
    case Failure::auth: return "auth";
    case Failure::identifier: return "identifier";
    case Failure::internal: return "internal";
  }
  return "unknown";
}

}  // namespace postern::sdk
