// One client connection, from accept to close, as straight-line phases:
// PROXY header -> implicit TLS -> the protocol plugin's serve() (which calls
// back into route / connect_backend / bridge) -> end.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <postern/sdk/protocol.hpp>

#include "app/context.hpp"
#include "app/directory.hpp"
#include "app/stream.hpp"
#include "log/session_logger.hpp"

namespace postern::kernel {

struct ListenerRuntime {
  const ListenerConfig* config = nullptr;  // listener settings never change without a restart
  // Connections in progress: taken by the acceptor when it admits one,
  // given back by the session's destructor.
  std::atomic<unsigned> active{0};
};

class BackendConnectionImpl;

class ClientSession final : public sdk::Session {
 public:
  // `close` ends this session from any thread (for kick). `peer` and
  // `local` are the connection's TCP addresses (from accept).
  ClientSession(std::shared_ptr<Context> context, ListenerRuntime& listener, tcp::socket socket,
                const tcp::endpoint& peer, const tcp::endpoint& local, std::uint64_t id,
                SessionDirectory& directory, SessionDirectory::Closer close);
  ~ClientSession() override;

  // Runs the connection to its end; never throws.
  sdk::Task<void> run();

  // postern::sdk::Session
  const sdk::SessionInfo& info() const noexcept override { return info_; }
  sdk::Logger& log() noexcept override { return logger_; }
  void set_phase(sdk::Phase phase) noexcept override;
  sdk::Stream& client() noexcept override { return client_; }
  bool starttls_offered() const noexcept override;
  sdk::Task<sdk::Outcome> start_client_tls() override;
  sdk::Task<sdk::Route> route(std::string_view identifier) override;
  sdk::Task<sdk::BackendConnection> connect_backend(std::string_view destination,
                                                    sdk::BackendHandshake handshake) override;
  void authenticated(std::string_view identifier) override;
  sdk::ForwardInfo forward_info() const override;
  void received_ttl(unsigned hops) noexcept override;
  sdk::Task<void> fail_unavailable(const sdk::Outcome& why, std::string_view reply) override;
  sdk::Task<void> bridge(std::unique_ptr<sdk::Backend> backend, std::string client_residual,
                         std::string backend_residual) override;

 private:
  // false: the connection must be closed (untrusted peer in required mode,
  // malformed header, timeout).
  sdk::Task<bool> read_proxy_header();
  sdk::Task<bool> accept_implicit_tls();
  sdk::Task<void> run_bridge();
  struct Attempt {
    sdk::Outcome outcome;
    bool tcp_connected = false;  // the failure came after the TCP connect
  };
  sdk::Task<Attempt> establish(const DestinationConfig& destination, const EndpointConfig& endpoint,
                               BackendConnectionImpl& backend, const sdk::BackendHandshake& handshake);
  sdk::Task<sdk::BackendConnection> connect_through_breaker(const DestinationConfig& destination,
                                                            const EndpointConfig& endpoint,
                                                            const sdk::BackendHandshake& handshake);
  // Tells the destination's breaker how an admitted establishment ended.
  void record_health(CircuitBreaker& breaker, bool probe, const std::string& destination,
                     const sdk::Outcome& outcome);
  sdk::Task<sdk::BackendConnection> connect_with_retries(const DestinationConfig& destination,
                                                         const EndpointConfig& endpoint,
                                                         const sdk::BackendHandshake& handshake);
  // Hops left before this session may forward (a trusted upstream's count,
  // else server.proxy_ttl).
  unsigned hops() const noexcept;
  void arm_preauth_deadline() noexcept;

  std::shared_ptr<Context> context_;
  ListenerRuntime& listener_;
  SocketStream client_;
  sdk::SessionInfo info_;
  SessionLogger logger_;
  sdk::Phase phase_ = sdk::Phase::accept;
  Clock::time_point started_ = Clock::now();
  std::string destination_;
  // Set by bridge(): relayed once the plugin's serve() has returned.
  std::unique_ptr<BackendConnectionImpl> handed_off_;
  std::string client_residual_;
  std::string backend_residual_;
  SessionDirectory& directory_;
  SessionDirectory::Closer close_;      // handed to the directory once authenticated
  std::string registered_as_;           // identifier in the directory, once authenticated
  std::optional<unsigned> upstream_ttl_;
  bool last_attempt_connected_ = false;
};

}  // namespace postern::kernel
