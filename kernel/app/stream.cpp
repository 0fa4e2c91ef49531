#include "app/stream.hpp"

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>

namespace postern::kernel {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

std::error_code timed_out() { return std::make_error_code(std::errc::timed_out); }
std::error_code end_of_stream() { return make_error_code(asio::error::eof); }

// OpenSSL failures as error codes; the message is OpenSSL's reason text.
class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int reason) const override {
    const char* text = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason));
    return text != nullptr ? text : "TLS failure " + std::to_string(reason);
  }
};

const std::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

// The outcome of one SSL_* call that did not succeed.
enum class SslStep { want_read, want_write, closed, failed };

SslStep classify(SSL* ssl, int result, std::error_code& error) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return SslStep::want_read;
    case SSL_ERROR_WANT_WRITE:
      return SslStep::want_write;
    case SSL_ERROR_ZERO_RETURN:
      error = end_of_stream();
      return SslStep::closed;
    case SSL_ERROR_SYSCALL:
      error = errno != 0 ? std::error_code(errno, std::system_category()) : end_of_stream();
      return SslStep::failed;
    default: {
      const unsigned long code = ERR_peek_last_error();
      error = std::error_code(code != 0 ? ERR_GET_REASON(code) : 0, tls_category());
      return SslStep::failed;
    }
  }
}

}  // namespace

SocketStream::~SocketStream() = default;

template <class Operation>
sdk::Task<sdk::IoResult> SocketStream::with_deadline(Operation operation) {
  if (!deadline_) {
    auto [ec, n] = co_await operation();
    co_return sdk::IoResult{ec, n};
  }
  if (Clock::now() >= *deadline_) co_return sdk::IoResult{timed_out(), 0};
  asio::steady_timer timer(socket_.get_executor());
  timer.expires_at(*deadline_);
  auto outcome = co_await (operation() || timer.async_wait(as_result));
  if (outcome.index() == 1) co_return sdk::IoResult{timed_out(), 0};
  auto [ec, n] = std::get<0>(outcome);
  co_return sdk::IoResult{ec, n};
}

sdk::Task<std::error_code> SocketStream::wait(tcp::socket::wait_type type) {
  const sdk::IoResult waited = co_await with_deadline([&]() -> sdk::Task<std::tuple<boost::system::error_code, std::size_t>> {
    auto [ec] = co_await socket_.async_wait(type, as_result);
    co_return std::tuple{ec, std::size_t{0}};
  });
  co_return waited.error;
}

sdk::Task<std::error_code> SocketStream::wait_readable() { return wait(tcp::socket::wait_read); }
sdk::Task<std::error_code> SocketStream::wait_writable() { return wait(tcp::socket::wait_write); }

bool SocketStream::has_buffered_input() const noexcept {
  return !replay_.empty() || (ssl_ && SSL_has_pending(ssl_.get()) == 1);
}

sdk::IoResult SocketStream::read_now(std::span<char> buffer) {
  if (!replay_.empty()) {
    const std::size_t n = std::min(buffer.size(), replay_.size());
    std::copy_n(replay_.data(), n, buffer.data());
    replay_.erase(0, n);
    return {{}, n};
  }
  if (!ssl_) {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return {{}, 0};
    return {ec, n};
  }
  ERR_clear_error();
  std::size_t n = 0;
  const int result = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
  if (result == 1) return {{}, n};
  std::error_code error;
  const SslStep step = classify(ssl_.get(), result, error);
  if (step == SslStep::want_read || step == SslStep::want_write) return {{}, 0};
  return {error, 0};
}

sdk::Task<sdk::IoResult> SocketStream::read_some(std::span<char> buffer) {
  if (!replay_.empty()) co_return read_now(buffer);
  if (ssl_) co_return co_await tls_read(buffer);
  auto target = asio::buffer(buffer.data(), buffer.size());
  co_return co_await with_deadline([&] { return socket_.async_read_some(target, as_result); });
}

sdk::Task<sdk::IoResult> SocketStream::write(std::string_view data) {
  if (ssl_) co_return co_await tls_write(data);
  auto source = asio::buffer(data.data(), data.size());
  co_return co_await with_deadline([&] { return asio::async_write(socket_, source, as_result); });
}

sdk::Task<sdk::IoResult> SocketStream::tls_read(std::span<char> buffer) {
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    const int result = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
    if (result == 1) co_return sdk::IoResult{{}, n};
    std::error_code error;
    const SslStep step = classify(ssl_.get(), result, error);
    if (step == SslStep::closed || step == SslStep::failed) co_return sdk::IoResult{error, 0};
    error = co_await wait(step == SslStep::want_read ? tcp::socket::wait_read : tcp::socket::wait_write);
    if (error) co_return sdk::IoResult{error, 0};
  }
}

sdk::Task<sdk::IoResult> SocketStream::tls_write(std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ERR_clear_error();
    std::size_t n = 0;
    const int result = SSL_write_ex(ssl_.get(), data.data() + done, data.size() - done, &n);
    if (result == 1) {
      done += n;
      continue;
    }
    std::error_code error;
    const SslStep step = classify(ssl_.get(), result, error);
    if (step == SslStep::closed || step == SslStep::failed) co_return sdk::IoResult{error, done};
    error = co_await wait(step == SslStep::want_read ? tcp::socket::wait_read : tcp::socket::wait_write);
    if (error) co_return sdk::IoResult{error, done};
  }
  co_return sdk::IoResult{{}, done};
}

sdk::Task<std::error_code> SocketStream::handshake(asio::ssl::context& context, bool server,
                                                   const std::function<bool(SSL*)>& prepare) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return ec;
  ssl_.reset(SSL_new(context.native_handle()));
  if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
    ssl_.reset();
    co_return std::make_error_code(std::errc::not_enough_memory);
  }
  // Idle connections give their record buffers back; a peer that closes
  // without close_notify reads as end of stream (mail clients do that).
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_options(ssl_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
  if (prepare && !prepare(ssl_.get())) co_return std::make_error_code(std::errc::invalid_argument);
  for (;;) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_.get());
    if (result == 1) co_return std::error_code{};
    std::error_code error;
    const SslStep step = classify(ssl_.get(), result, error);
    if (step == SslStep::closed || step == SslStep::failed) co_return error ? error : end_of_stream();
    error = co_await wait(step == SslStep::want_read ? tcp::socket::wait_read : tcp::socket::wait_write);
    if (error) co_return error;
  }
}

void SocketStream::shutdown_send() noexcept {
  if (send_closed_) return;
  send_closed_ = true;
  if (ssl_) {
    // close_notify is one small record: with a non-blocking socket it is
    // either written now or not at all; the FIN follows regardless.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void SocketStream::close() noexcept {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace postern::kernel
