// The backend leg as a protocol plugin sees it (sdk::Backend): a connected
// socket to one destination endpoint, TLS per the destination's verification
// policy, and the backend_timeout budget applied to every read and write.
#pragma once

#include <postern/sdk/protocol.hpp>

#include "app/stream.hpp"
#include "config/config.hpp"
#include "tls/client_tls.hpp"

namespace postern::kernel {

class BackendConnectionImpl final : public sdk::Backend {
 public:
  BackendConnectionImpl(tcp::socket socket, sdk::BackendInfo info, ClientTls& tls, bool allow_plaintext_auth,
                        Duration timeout);

  // postern::sdk::Backend
  sdk::Stream& stream() noexcept override { return stream_; }
  const sdk::BackendInfo& info() const noexcept override { return info_; }
  sdk::Task<sdk::Outcome> start_tls() override;
  bool may_send_credentials() const noexcept override;
  void restart_deadline() noexcept override;

  SocketStream& socket_stream() noexcept { return stream_; }

 private:
  SocketStream stream_;
  sdk::BackendInfo info_;
  ClientTls& tls_;
  bool allow_plaintext_auth_;
  Duration timeout_;
};

}  // namespace postern::kernel
