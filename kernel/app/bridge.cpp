#include "app/bridge.hpp"

#include <memory>

#include "app/deadline.hpp"

namespace postern::kernel {
namespace {

// 16 KiB holds a full TLS record (RFC 8446 section 5.1: 2^14 bytes of
// plaintext), so one read never splits a decrypted record across two writes.
constexpr std::size_t bridge_buffer_size = 16 * 1024;

struct Activity {
  Clock::time_point last = Clock::now();
};

asio::awaitable<void> pump(SocketStream& from, SocketStream& to, std::uint64_t& counter, Activity& activity) {
  // Allocated once per direction and session, never per chunk.
  auto buffer = std::make_unique<char[]>(bridge_buffer_size);
  for (;;) {
    const sdk::IoResult read = co_await from.read_some(std::span<char>(buffer.get(), bridge_buffer_size));
    if (read.error) break;
    activity.last = Clock::now();
    const sdk::IoResult written = co_await to.write(std::string_view(buffer.get(), read.bytes));
    if (written.error) co_return;
    counter += read.bytes;
    activity.last = Clock::now();
  }
  // The reading side ended: pass the end on as a FIN so the other party sees
  // end-of-stream, and keep relaying the opposite direction until it ends.
  to.shutdown_send();
}

asio::awaitable<void> watchdog(Duration idle_limit, Activity& activity) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_at(activity.last + idle_limit);
    auto [ec] = co_await timer.async_wait(as_result);
    if (ec) co_return;
    if (Clock::now() - activity.last >= idle_limit) co_return;
  }
}

}  // namespace

asio::awaitable<BridgeStats> run_bridge(SocketStream& client, SocketStream& backend, std::string client_residual,
                                        std::string backend_residual, Duration idle_limit) {
  using namespace asio::experimental::awaitable_operators;
  BridgeStats stats;
  client.set_deadline(std::nullopt);
  backend.set_deadline(std::nullopt);
  // g++ 12 miscompiles co_await inside an if condition (toolchain.md P18):
  // the results are bound to variables first.
  if (!client_residual.empty()) {
    const sdk::IoResult sent = co_await backend.write(client_residual);
    if (sent.error) co_return stats;
    stats.bytes_to_backend += client_residual.size();
  }
  if (!backend_residual.empty()) {
    const sdk::IoResult sent = co_await client.write(backend_residual);
    if (sent.error) co_return stats;
    stats.bytes_to_client += backend_residual.size();
  }
  Activity activity;
  auto finished = co_await ((pump(client, backend, stats.bytes_to_backend, activity) &&
                             pump(backend, client, stats.bytes_to_client, activity)) ||
                            watchdog(idle_limit, activity));
  stats.idle_timeout = finished.index() == 1;
  co_return stats;
}

}  // namespace postern::kernel
