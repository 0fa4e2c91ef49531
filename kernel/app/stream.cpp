#include "app/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace postern::kernel {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

std::error_code timed_out() { return std::make_error_code(std::errc::timed_out); }

}  // namespace

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

sdk::Task<sdk::IoResult> SocketStream::read_some(std::span<char> buffer) {
  if (!replay_.empty()) {
    const std::size_t n = std::min(buffer.size(), replay_.size());
    std::copy_n(replay_.data(), n, buffer.data());
    replay_.erase(0, n);
    co_return sdk::IoResult{{}, n};
  }
  auto target = asio::buffer(buffer.data(), buffer.size());
  if (tls_) co_return co_await with_deadline([&] { return tls_->async_read_some(target, as_result); });
  co_return co_await with_deadline([&] { return socket_.async_read_some(target, as_result); });
}

sdk::Task<sdk::IoResult> SocketStream::write(std::string_view data) {
  auto source = asio::buffer(data.data(), data.size());
  if (tls_) co_return co_await with_deadline([&] { return asio::async_write(*tls_, source, as_result); });
  co_return co_await with_deadline([&] { return asio::async_write(socket_, source, as_result); });
}

sdk::Task<std::error_code> SocketStream::handshake(asio::ssl::context& context, bool server,
                                                   const std::function<bool(SSL*)>& prepare) {
  tls_.emplace(socket_, context);
  if (prepare && !prepare(tls_->native_handle())) {
    co_return std::make_error_code(std::errc::invalid_argument);
  }
  const auto role = server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
  // The handshake's completion has no byte count; adapt it to with_deadline.
  auto result = co_await with_deadline([&]() -> sdk::Task<std::tuple<boost::system::error_code, std::size_t>> {
    auto [ec] = co_await tls_->async_handshake(role, as_result);
    co_return std::tuple{ec, std::size_t{0}};
  });
  co_return result.error;
}

void SocketStream::shutdown_send() noexcept {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void SocketStream::close() noexcept {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace postern::kernel
