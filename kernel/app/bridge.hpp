// The byte bridge between an authenticated client and its backend (behaviour
// 5.9): both directions at once, one fixed buffer per direction, half-close
// passed on, and an idle watchdog (bridge_idle).
#pragma once

#include <cstdint>
#include <string>

#include "app/stream.hpp"
#include "config/config.hpp"

namespace postern::kernel {

struct BridgeStats {
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_to_client = 0;
  bool idle_timeout = false;
};

// Sends the residuals first (pipelined client bytes to the backend, backend
// bytes after its login reply to the client), then relays until both
// directions have ended, the idle limit passes, or the coroutine is cancelled.
asio::awaitable<BridgeStats> run_bridge(SocketStream& client, SocketStream& backend, std::string client_residual,
                                        std::string backend_residual, Duration idle_limit);

}  // namespace postern::kernel
