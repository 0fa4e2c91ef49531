#include "app/stream.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
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
    timer_expiry_.reset();
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
  if (timer_expiry_ && *timer_expiry_ <= *deadline_) return;
  timer_expiry_ = *deadline_;
  deadline_timer_->expires_at(*deadline_);  // cancels the previous wait
  deadline_timer_->async_wait([state = deadline_state_](const boost::system::error_code& ec) {
    if (ec || state->stream == nullptr) return;
    state->stream->deadline_passed();
  });
}

void SocketStream::deadline_passed() noexcept {
  timer_expiry_.reset();
  if (deadline_ && Clock::now() < *deadline_) {
    arm_deadline();  // the deadline moved later while the timer waited
    return;
  }
  deadline_fired_ = true;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
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

std::error_code SocketStream::open(const tcp& protocol) {
  boost::system::error_code ec;
  socket_.close(ec);
  socket_.open(protocol, ec);
  if (!ec) ensure_non_blocking();
  return ec;
}

void SocketStream::ensure_non_blocking() noexcept {
  // Asio remembers the mode it set: one ioctl per socket at most, shared
  // with Asio's own first wait.
  boost::system::error_code ignored;
  if (!socket_.native_non_blocking()) socket_.native_non_blocking(true, ignored);
}

sdk::Task<std::error_code> SocketStream::connect(const tcp::endpoint& target) {
  if (expired()) co_return timed_out();
  if (::connect(socket_.native_handle(), target.data(), static_cast<socklen_t>(target.size())) == 0) {
    co_return std::error_code{};
  }
  if (errno != EINPROGRESS) co_return std::error_code(errno, std::system_category());
  const std::error_code waited = co_await wait(tcp::socket::wait_write);
  if (waited) co_return waited;
  int failure = 0;
  socklen_t length = sizeof failure;
  if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &failure, &length) != 0) failure = errno;
  co_return failure == 0 ? std::error_code{} : std::error_code(failure, std::system_category());
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
  if (!ssl_) return receive_now(buffer);
  ERR_clear_error();
  std::size_t n = 0;
  const int result = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
  return tls_progress(result, n);
}

SocketStream::Progress SocketStream::write_now(std::string_view data) {
  if (!ssl_) return send_now(data);
  ERR_clear_error();
  std::size_t n = 0;
  const int result = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
  return tls_progress(result, n);
}

SocketStream::Progress SocketStream::receive_now(std::span<char> buffer) {
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) return {{}, static_cast<std::size_t>(n)};
    if (n == 0) return {end_of_stream(), 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {{}, 0, tcp::socket::wait_read};
    return {std::error_code(errno, std::system_category()), 0};
  }
}

SocketStream::Progress SocketStream::send_now(std::string_view data) {
  for (;;) {
    const ssize_t n = ::send(socket_.native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return {{}, static_cast<std::size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {{}, 0, tcp::socket::wait_write};
    return {std::error_code(errno, std::system_category()), 0};
  }
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
  for (;;) {
    const Progress read = receive_now(buffer);
    if (read.bytes > 0 || read.error) co_return sdk::IoResult{read.error, read.bytes};
    const std::error_code waited = co_await wait(tcp::socket::wait_read);
    if (waited) co_return sdk::IoResult{waited, 0};
  }
}

sdk::Task<sdk::IoResult> SocketStream::write(std::string_view data) {
  if (expired()) co_return sdk::IoResult{timed_out(), 0};
  if (ssl_) co_return co_await tls_write(data);
  std::size_t done = 0;
  while (done < data.size()) {
    const Progress sent = send_now(data.substr(done));
    done += sent.bytes;
    if (sent.error) co_return sdk::IoResult{sent.error, done};
    if (sent.bytes > 0) continue;
    const std::error_code waited = co_await wait(tcp::socket::wait_write);
    if (waited) co_return sdk::IoResult{waited, done};
  }
  co_return sdk::IoResult{{}, done};
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
  ensure_non_blocking();  // the socket BIO's read(2) and write(2) must not block
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
  // One read(2) takes whatever the socket holds, not a record header and
  // then its body: half the reads per record. What is read ahead counts as
  // buffered input (SSL_has_pending), which every wait checks first.
  SSL_set_read_ahead(ssl_.get(), 1);
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
