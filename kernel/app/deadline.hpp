// Bounding an asynchronous operation by a deadline: the operation races a
// timer and the loser is cancelled (Asio's awaitable || operator).
#pragma once

#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/stream.hpp"

namespace postern::kernel {

inline constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// nullopt when the deadline passed first.
template <class T>
asio::awaitable<std::optional<T>> until(Clock::time_point deadline, asio::awaitable<T> operation) {
  using namespace asio::experimental::awaitable_operators;
  if (Clock::now() >= deadline) co_return std::nullopt;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(deadline);
  auto outcome = co_await (std::move(operation) || timer.async_wait(as_result));
  if (outcome.index() == 1) co_return std::nullopt;
  co_return std::get<0>(std::move(outcome));
}

}  // namespace postern::kernel
