#include "app/bridge.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "app/deadline.hpp"

namespace postern::kernel {
namespace {

// 16 KiB holds a full TLS record (RFC 8446 section 5.1: 2^14 bytes of
// plaintext), so one read never splits a decrypted record across writes.
constexpr std::size_t chunk_size = 16 * 1024;
// Pipes carry up to this much per splice round; larger pipes mean fewer
// system calls for bulk transfers (bounded by pipe-max-size for non-root).
constexpr int pipe_capacity = 1024 * 1024;
// Idle resources kept per worker thread for the next burst.
constexpr std::size_t pool_limit = 64;

// Per-thread pools: a direction borrows a buffer or a pipe only while bytes
// are in flight, so an idle bridged session holds neither (10,000 idle IMAP
// IDLE sessions must stay small). Each connection stays on one thread.
class BufferPool {
 public:
  std::unique_ptr<char[]> take() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(chunk_size);
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }
  void give(std::unique_ptr<char[]> buffer) {
    if (free_.size() < pool_limit) free_.push_back(std::move(buffer));
  }

 private:
  std::vector<std::unique_ptr<char[]>> free_;
};

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  explicit operator bool() const noexcept { return read_end >= 0; }
};

class PipePool {
 public:
  ~PipePool() {
    for (const Pipe& p : free_) close_pipe(p);
  }
  Pipe take() {
    if (!free_.empty()) {
      const Pipe p = free_.back();
      free_.pop_back();
      return p;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
    fcntl(fds[1], F_SETPIPE_SZ, pipe_capacity);  // best effort: the default 64 KiB also works
    return {fds[0], fds[1]};
  }
  // Only empty pipes come back; a pipe with bytes stuck in it is closed.
  void give(const Pipe& p, bool empty) {
    if (empty && free_.size() < pool_limit) {
      free_.push_back(p);
    } else {
      close_pipe(p);
    }
  }

 private:
  static void close_pipe(const Pipe& p) {
    ::close(p.read_end);
    ::close(p.write_end);
  }
  std::vector<Pipe> free_;
};

thread_local BufferPool buffers;
thread_local PipePool pipes;

struct Activity {
  Clock::time_point last = Clock::now();
};

// Plain TCP to plain TCP: splice(2) moves the bytes through a pipe inside the
// kernel, never copying them into user space. Returns false when the
// direction has ended.
asio::awaitable<bool> splice_burst(SocketStream& from, SocketStream& to, std::uint64_t& counter,
                                   Activity& activity) {
  const Pipe pipe = pipes.take();
  if (!pipe) co_return false;
  const int source = from.socket().native_handle();
  const int target = to.socket().native_handle();
  const ssize_t in = ::splice(source, nullptr, pipe.write_end, nullptr, pipe_capacity, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (in <= 0) {
    pipes.give(pipe, true);
    // 0: end of stream; EAGAIN: a spurious wake-up, wait again.
    co_return in < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  activity.last = Clock::now();
  std::size_t pending = static_cast<std::size_t>(in);
  while (pending > 0) {
    const ssize_t out = ::splice(pipe.read_end, nullptr, target, nullptr, pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (out > 0) {
      pending -= static_cast<std::size_t>(out);
      counter += static_cast<std::uint64_t>(out);
      continue;
    }
    if (out < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const std::error_code waited = co_await to.wait_writable();
      if (!waited) continue;
    }
    pipes.give(pipe, false);
    co_return false;
  }
  activity.last = Clock::now();
  pipes.give(pipe, true);
  co_return true;
}

// Any side TLS: decrypt into a borrowed buffer, write it out, give it back.
asio::awaitable<bool> copy_burst(SocketStream& from, SocketStream& to, std::uint64_t& counter, Activity& activity) {
  auto buffer = buffers.take();
  bool alive = true;
  for (;;) {
    const sdk::IoResult read = from.read_now(std::span<char>(buffer.get(), chunk_size));
    if (read.error) {
      alive = false;
      break;
    }
    if (read.bytes == 0) break;  // drained: wait for the socket again
    activity.last = Clock::now();
    const sdk::IoResult written = co_await to.write(std::string_view(buffer.get(), read.bytes));
    if (written.error) {
      alive = false;
      break;
    }
    counter += read.bytes;
    activity.last = Clock::now();
  }
  buffers.give(std::move(buffer));
  co_return alive;
}

asio::awaitable<void> pump(SocketStream& from, SocketStream& to, std::uint64_t& counter, Activity& activity) {
  const bool zero_copy = !from.secure() && !to.secure();
  for (;;) {
    if (!from.has_buffered_input()) {
      // Wait without holding a buffer: idle sessions cost no buffer memory.
      const std::error_code waited = co_await from.wait_readable();
      if (waited) break;
    }
    bool alive = false;
    if (zero_copy && !from.has_buffered_input()) {
      alive = co_await splice_burst(from, to, counter, activity);
    } else {
      alive = co_await copy_burst(from, to, counter, activity);
    }
    if (!alive) break;
  }
  // The reading side ended: pass the end on (FIN, after close_notify on
  // TLS) and keep relaying the opposite direction until it ends too.
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
  // g++ 12 miscompiles co_await inside an if condition: the results are
  // bound to variables first.
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
  // Non-blocking reads (read_now, splice) need non-blocking sockets; Asio's
  // asynchronous operations are unaffected.
  boost::system::error_code ignored;
  client.socket().non_blocking(true, ignored);
  backend.socket().non_blocking(true, ignored);
  Activity activity;
  auto finished = co_await ((pump(client, backend, stats.bytes_to_backend, activity) &&
                             pump(backend, client, stats.bytes_to_client, activity)) ||
                            watchdog(idle_limit, activity));
  stats.idle_timeout = finished.index() == 1;
  co_return stats;
}

}  // namespace postern::kernel
