#include "app/stream.hpp"

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>

namespace postern::kernel {

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

SocketStream::~SocketStream() {
  if (deadline_state_) deadline_state_->stream = nullptr;
}

void SocketStream::set_deadline(std::optional<Clock::time_point> deadline) {
  deadline_ = deadline;
  deadline_fired_ = false;
  if (!deadline) {
    // A bridged session may last for hours: no timer is kept for it.
    deadline_timer_.reset();
    if (deadline_state_) deadline_state_->stream = nullptr;
    deadline_state_.reset();
    return;
  }
  arm_deadline();
}

void SocketStream::arm_deadline() {
  if (!deadline_timer_) {
    deadline_timer_.emplace(socket_.get_executor());
    deadline_state_ = std::make_shared<DeadlineState>(DeadlineState{this});
  }
  deadline_timer_->expires_at(*deadline_);  // cancels the previous wait
  deadline_timer_->async_wait([state = deadline_state_](const boost::system::error_code& ec) {
    if (ec || state->stream == nullptr) return;
    SocketStream& stream = *state->stream;
    stream.deadline_fired_ = true;
    boost::system::error_code ignored;
    stream.socket_.cancel(ignored);
  });
}

bool SocketStream::expired() const noexcept {
  return deadline_fired_ || (deadline_ && Clock::now() >= *deadline_);
}

std::error_code SocketStream::finish(const boost::system::error_code& ec) const {
  if (ec == asio::error::operation_aborted && deadline_fired_) return timed_out();
  return ec;
}

sdk::Task<std::error_code> SocketStream::wait(tcp::socket::wait_type type) {
  if (expired()) co_return timed_out();
  auto [ec] = co_await socket_.async_wait(type, as_result);
  co_return finish(ec);
}

sdk::Task<std::error_code> SocketStream::connect(const tcp::endpoint& target) {
  if (expired()) co_return timed_out();
  auto [ec] = co_await socket_.async_connect(target, as_result);
  co_return finish(ec);
}

bool SocketStream::has_buffered_input() const noexcept {
  return !replay_.empty() || (ssl_ && SSL_has_pending(ssl_.get()) == 1);
}

SocketStream::Progress SocketStream::read_now(std::span<char> buffer) {
  if (!replay_.empty()) {
    const std::size_t n = std::min(buffer.size(), replay_.size());
    std::copy_n(replay_.data(), n, buffer.data());
    replay_.erase(0, n);
    return {{}, n};
  }
  if (!ssl_) {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return {{}, 0, tcp::socket::wait_read};
    return {ec, n};
  }
  ERR_clear_error();
  std::size_t n = 0;
  const int result = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
  return tls_progress(result, n);
}

SocketStream::Progress SocketStream::write_now(std::string_view data) {
  if (!ssl_) {
    boost::system::error_code ec;
    const std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return {{}, 0, tcp::socket::wait_write};
    return {ec, n};
  }
  ERR_clear_error();
  std::size_t n = 0;
  const int result = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
  return tls_progress(result, n);
}

SocketStream::Progress SocketStream::tls_progress(int result, std::size_t bytes) const {
  if (result == 1) return {{}, bytes};
  std::error_code error;
  switch (classify(ssl_.get(), result, error)) {
    case SslStep::want_read: return {{}, 0, tcp::socket::wait_read};
    case SslStep::want_write: return {{}, 0, tcp::socket::wait_write};
    case SslStep::closed:
    case SslStep::failed: break;
  }
  return {error, 0};
}

sdk::Task<sdk::IoResult> SocketStream::read_some(std::span<char> buffer) {
  if (!replay_.empty()) {
    const Progress replayed = read_now(buffer);
    co_return sdk::IoResult{replayed.error, replayed.bytes};
  }
  if (expired()) co_return sdk::IoResult{timed_out(), 0};
  if (ssl_) co_return co_await tls_read(buffer);
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), as_result);
  co_return sdk::IoResult{finish(ec), n};
}

sdk::Task<sdk::IoResult> SocketStream::write(std::string_view data) {
  if (expired()) co_return sdk::IoResult{timed_out(), 0};
  if (ssl_) co_return co_await tls_write(data);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), as_result);
  co_return sdk::IoResult{finish(ec), n};
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
  // close(2) alone ends the connection; a shutdown first would only cost a
  // system call per leg and session.
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace postern::kernel
