// The kernel's sdk::Stream: a TCP socket, optionally wrapped in TLS after an
// implicit or STARTTLS handshake, with an optional deadline applied to every
// read and write (pre-auth timeout on the client leg, backend_timeout on the
// backend leg). Bytes handed back by the PROXY header reader are served
// before anything is read from the socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <postern/sdk/io.hpp>

namespace postern::kernel {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class SocketStream final : public sdk::Stream {
 public:
  explicit SocketStream(tcp::socket socket) : socket_(std::move(socket)) {}
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  sdk::Task<sdk::IoResult> read_some(std::span<char> buffer) override;
  sdk::Task<sdk::IoResult> write(std::string_view data) override;
  bool secure() const noexcept override { return tls_.has_value(); }

  // Client side (`server` true) or backend side TLS handshake under the
  // current deadline. `prepare` runs on the SSL object before the handshake
  // (SNI, verification names); when it returns false the handshake is not
  // attempted.
  sdk::Task<std::error_code> handshake(asio::ssl::context& context, bool server,
                                       const std::function<bool(SSL*)>& prepare = {});

  void set_deadline(std::optional<Clock::time_point> deadline) noexcept { deadline_ = deadline; }
  std::optional<Clock::time_point> deadline() const noexcept { return deadline_; }
  // Bytes to serve before reading the socket (read ahead while looking for a
  // PROXY header).
  void push_back_input(std::string bytes) { replay_ = std::move(bytes); }

  tcp::socket& socket() noexcept { return socket_; }
  asio::ssl::stream<tcp::socket&>* tls() noexcept { return tls_ ? &*tls_ : nullptr; }
  SSL* native_tls() noexcept { return tls_ ? tls_->native_handle() : nullptr; }
  // Sends FIN (the TCP write half); the read half stays open.
  void shutdown_send() noexcept;
  void close() noexcept;

 private:
  template <class Operation>
  sdk::Task<sdk::IoResult> with_deadline(Operation operation);

  tcp::socket socket_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  std::optional<Clock::time_point> deadline_;
  std::string replay_;
};

}  // namespace postern::kernel
