// The kernel's sdk::Stream: a TCP socket, optionally carrying TLS after an
// implicit or STARTTLS handshake, with an optional deadline applied to every
// read, write and readiness wait (pre-auth timeout on the client leg,
// backend_timeout on the backend leg). Bytes handed back by the PROXY header
// reader are served before anything is read from the socket.
//
// TLS runs OpenSSL directly on the non-blocking socket (a socket BIO) and
// waits for readiness through Asio, instead of asio::ssl::stream: no
// per-stream copy buffers (asio's engine keeps two 17 KiB buffers per
// stream), and SSL_MODE_RELEASE_BUFFERS gives OpenSSL's record buffers back
// while a connection is idle. One read and one write may be in progress at
// the same time (the bridge relays both directions); both run on the
// connection's single thread, so OpenSSL calls never overlap.
//
// Plain reads and writes are direct non-blocking system calls that wait
// through Asio only when the socket would block: an operation that can
// finish at once costs one system call and no trip through the event loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/ssl.h>

#include <postern/sdk/io.hpp>

namespace postern::kernel {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class SocketStream final : public sdk::Stream {
 public:
  explicit SocketStream(tcp::socket socket) : socket_(std::move(socket)) {}
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  // postern::sdk::Stream
  sdk::Task<sdk::IoResult> read_some(std::span<char> buffer) override;
  sdk::Task<sdk::IoResult> write(std::string_view data) override;
  bool secure() const noexcept override { return ssl_ != nullptr; }

  // Server (`server` true) or client TLS handshake under the current
  // deadline. `prepare` runs on the new SSL object first (SNI, verification
  // names); when it returns false the handshake is not attempted.
  sdk::Task<std::error_code> handshake(asio::ssl::context& context, bool server,
                                       const std::function<bool(SSL*)>& prepare = {});

  // A new non-blocking socket of `protocol`, replacing any open one.
  std::error_code open(const tcp& protocol);
  // splice(2) and OpenSSL's socket BIO need the descriptor itself in
  // non-blocking mode (recv and send here pass MSG_DONTWAIT instead).
  void ensure_non_blocking() noexcept;
  // TCP connect of the (already opened) socket, under the deadline.
  sdk::Task<std::error_code> connect(const tcp::endpoint& target);

  void set_deadline(std::optional<Clock::time_point> deadline);
  std::optional<Clock::time_point> deadline() const noexcept { return deadline_; }
  // Bytes to serve before reading the socket (read ahead while looking for a
  // PROXY header).
  void push_back_input(std::string bytes) { replay_ = std::move(bytes); }

  // --- for the bridge (non-blocking, callback driven) ---
  // Input is available without touching the socket (replayed bytes, or
  // decrypted TLS data OpenSSL already holds).
  bool has_buffered_input() const noexcept;
  // The result of one non-blocking attempt: bytes moved, or 0 bytes and no
  // error when the socket must first become ready for `wait` (a TLS read may
  // need to write, and a TLS write to read); an error (eof included) ends
  // the direction.
  struct Progress {
    std::error_code error;
    std::size_t bytes = 0;
    tcp::socket::wait_type wait = tcp::socket::wait_read;
  };
  Progress read_now(std::span<char> buffer);
  Progress write_now(std::string_view data);

  tcp::socket& socket() noexcept { return socket_; }
  SSL* native_tls() noexcept { return ssl_.get(); }
  // Ends the sending direction: a TLS close_notify when possible, then FIN.
  // The receiving direction stays open.
  void shutdown_send() noexcept;
  void close() noexcept;

 private:
  struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
  };
  // The deadline is one timer per stream, not a race per operation: when it
  // fires, every pending operation on the socket is cancelled and reports
  // timed_out. The handler reaches the stream through this state, which the
  // destructor detaches (a completed handler may still be queued).
  struct DeadlineState {
    SocketStream* stream = nullptr;
  };
  void arm_deadline();
  void deadline_passed() noexcept;
  bool expired() const noexcept;
  Progress receive_now(std::span<char> buffer);
  Progress send_now(std::string_view data);
  std::error_code finish(const boost::system::error_code& ec) const;
  // The Progress of an SSL_read_ex/SSL_write_ex call that returned `result`.
  Progress tls_progress(int result, std::size_t bytes) const;
  sdk::Task<std::error_code> wait(tcp::socket::wait_type type);
  sdk::Task<sdk::IoResult> tls_read(std::span<char> buffer);
  sdk::Task<sdk::IoResult> tls_write(std::string_view data);

  tcp::socket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::optional<Clock::time_point> deadline_;
  std::optional<asio::steady_timer> deadline_timer_;
  std::shared_ptr<DeadlineState> deadline_state_;
  // When the timer's wait is pending: the expiry it was set for. A later
  // deadline does not touch the timer (each change would cost a timerfd
  // update); the handler re-arms for it when the earlier expiry comes.
  std::optional<Clock::time_point> timer_expiry_;
  bool deadline_fired_ = false;
  std::string replay_;
  bool send_closed_ = false;
};

}  // namespace postern::kernel
