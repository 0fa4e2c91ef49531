#include "app/backend.hpp"

namespace postern::kernel {

BackendConnectionImpl::BackendConnectionImpl(tcp::socket socket, sdk::BackendInfo info, ClientTls& tls,
                                             bool allow_plaintext_auth, Duration timeout)
    : stream_(std::move(socket)),
      info_(std::move(info)),
      tls_(tls),
      allow_plaintext_auth_(allow_plaintext_auth),
      timeout_(timeout) {
  restart_deadline();
}

sdk::Task<sdk::Outcome> BackendConnectionImpl::start_tls() {
  if (stream_.secure()) co_return sdk::Outcome::fail(sdk::Failure::internal, "backend leg is already TLS");
  const std::error_code ec = co_await stream_.handshake(
      tls_.context(), /*server=*/false, [this](SSL* ssl) { return tls_.prepare(ssl, tls_.server_name()); });
  if (ec) {
    if (ec == std::errc::timed_out) co_return sdk::Outcome::fail(sdk::Failure::timeout, "TLS handshake timed out", true);
    // A certificate that fails verification will fail again: not retryable.
    // Other handshake failures (reset, truncated) may be transient.
    const std::string verification = tls_.verification_failure(stream_.native_tls());
    if (!verification.empty()) {
      co_return sdk::Outcome::fail(sdk::Failure::tls, "backend certificate rejected: " + verification);
    }
    co_return sdk::Outcome::fail(sdk::Failure::tls, "TLS handshake failed: " + ec.message(), true);
  }
  co_return sdk::Outcome::ok();
}

bool BackendConnectionImpl::may_send_credentials() const noexcept {
  // Behaviour 5.7, checked again right before credentials leave: only a TLS
  // leg, or a plain endpoint the operator explicitly allowed.
  if (stream_.secure()) return true;
  return info_.tls == sdk::TlsMode::plain && allow_plaintext_auth_;
}

void BackendConnectionImpl::restart_deadline() noexcept { stream_.set_deadline(Clock::now() + timeout_); }

}  // namespace postern::kernel
