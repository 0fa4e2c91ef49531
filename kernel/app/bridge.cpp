#include "app/bridge.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include <boost/asio/post.hpp>

namespace postern::kernel {
namespace {

// 16 KiB holds a full TLS record (RFC 8446 section 5.1: 2^14 bytes of
// plaintext), so one read never splits a decrypted record across writes.
constexpr std::size_t chunk_size = 16 * 1024;
// Pipes carry up to this much per splice round; larger pipes mean fewer
// system calls for bulk transfers (F_SETPIPE_SZ may refuse: 64 KiB works).
constexpr int pipe_capacity = 1024 * 1024;
// Idle resources kept per worker thread for the next burst.
constexpr std::size_t pool_limit = 64;
// Steps one direction may take before yielding to the other connections on
// its thread (a bulk FETCH must not starve everyone else).
constexpr int steps_per_turn = 16;
// A read this large means a bulk transfer: the direction then asks to be
// woken only once this much has arrived (SO_RCVLOWAT), not for every
// segment. Each wake-up of the bridge was also a wake-up the sender paid
// for; with fewer of them Dovecot serves a 10 MiB FETCH through Postern
// with the CPU it spends on a direct one.
constexpr int bulk_batch = 256 * 1024;
// How long the end of a bulk transfer, smaller than bulk_batch, may wait
// before the direction takes it anyway.
constexpr auto bulk_tail_wait = std::chrono::microseconds(300);

// Per-thread pools: a direction borrows a buffer or a pipe only while bytes
// are in flight. Each connection stays on one thread.
class BufferPool {
 public:
  std::unique_ptr<char[]> take() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(chunk_size);
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }
  void give(std::unique_ptr<char[]> buffer) {
    if (buffer && free_.size() < pool_limit) free_.push_back(std::move(buffer));
  }

 private:
  std::vector<std::unique_ptr<char[]>> free_;
};

class PipePool {
 public:
  ~PipePool() {
    for (const auto& [read_end, write_end] : free_) {
      ::close(read_end);
      ::close(write_end);
    }
  }
  // false when no pipe can be made (descriptor limit).
  bool take(int& read_end, int& write_end) {
    if (!free_.empty()) {
      std::tie(read_end, write_end) = free_.back();
      free_.pop_back();
      return true;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    fcntl(fds[1], F_SETPIPE_SZ, pipe_capacity);
    read_end = fds[0];
    write_end = fds[1];
    return true;
  }
  // Only empty pipes are kept; one with bytes stuck in it is closed.
  void give(int read_end, int write_end, bool empty) {
    if (read_end < 0) return;
    if (empty && free_.size() < pool_limit) {
      free_.emplace_back(read_end, write_end);
      return;
    }
    ::close(read_end);
    ::close(write_end);
  }

 private:
  std::vector<std::pair<int, int>> free_;
};

thread_local BufferPool buffers;
thread_local PipePool pipes;

bool would_block() noexcept { return errno == EAGAIN || errno == EWOULDBLOCK; }

}  // namespace

Bridge::Bridge(SocketStream& client, SocketStream& backend, Duration idle_limit, std::function<void()> done)
    : idle_timer_(client.socket().get_executor()), idle_limit_(idle_limit), done_(std::move(done)) {
  const bool zero_copy = !client.secure() && !backend.secure();
  to_backend_.from = to_client_.to = &client;
  to_backend_.to = to_client_.from = &backend;
  to_backend_.counter = &stats_.bytes_to_backend;
  to_client_.counter = &stats_.bytes_to_client;
  to_backend_.zero_copy = to_client_.zero_copy = zero_copy;
}

void Bridge::start() {
  to_backend_.from->ensure_non_blocking();
  to_client_.from->ensure_non_blocking();
  watch_idle();
  await_input(to_backend_);
  await_input(to_client_);
}

void Bridge::stop() noexcept {
  if (stopped_) return;
  stopped_ = true;
  try {
    idle_timer_.cancel();
    for (Direction* direction : {&to_backend_, &to_client_}) {
      if (direction->tail_timer) direction->tail_timer->cancel();
    }
  } catch (const boost::system::system_error&) {
    // The pending waits then simply see the bridge stopped.
  }
  boost::system::error_code ignored;
  for (Direction* direction : {&to_backend_, &to_client_}) {
    buffers.give(std::move(direction->buffer));
    pipes.give(direction->pipe_read, direction->pipe_write, direction->in_pipe == 0);
    direction->pipe_read = direction->pipe_write = -1;
    direction->from->socket().cancel(ignored);
  }
}

void Bridge::touch() noexcept { last_activity_ = Clock::now(); }

void Bridge::watch_idle() {
  idle_timer_.expires_at(last_activity_ + idle_limit_);
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    if (Clock::now() - self->last_activity_ < self->idle_limit_) {
      self->watch_idle();
      return;
    }
    self->stats_.idle_timeout = true;
    auto done = std::move(self->done_);
    self->stop();
    if (done) done();
  });
}

void Bridge::await_input(Direction& direction) {
  // Decrypted bytes OpenSSL already holds never show up as socket readiness.
  if (direction.from->has_buffered_input()) {
    relay(direction);
    return;
  }
  await_ready(direction, *direction.from, tcp::socket::wait_read);
}

void Bridge::await_ready(Direction& direction, SocketStream& stream, tcp::socket::wait_type wait) {
  stream.socket().async_wait(wait, [self = shared_from_this(), &direction](const boost::system::error_code& ec) {
    if (self->stopped_) return;
    if (ec) {
      self->finish(direction);
      return;
    }
    self->relay(direction);
  });
}

void Bridge::relay(Direction& direction) {
  for (int step = 0; step < steps_per_turn; ++step) {
    if (stopped_ || direction.done) return;
    const bool go_on = direction.zero_copy ? splice_step(direction) : copy_step(direction);
    if (!go_on) return;
  }
  asio::post(idle_timer_.get_executor(), [self = shared_from_this(), &direction] {
    if (!self->stopped_) self->relay(direction);
  });
}

bool Bridge::splice_step(Direction& d) {
  if (d.in_pipe > 0) {
    const ssize_t out = ::splice(d.pipe_read, nullptr, d.to->socket().native_handle(), nullptr, d.in_pipe,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (out > 0) {
      d.in_pipe -= static_cast<std::size_t>(out);
      *d.counter += static_cast<std::uint64_t>(out);
      touch();
      if (d.in_pipe > 0 || !d.source_drained) return true;
      pipes.give(d.pipe_read, d.pipe_write, true);
      d.pipe_read = d.pipe_write = -1;
      await_ready(d, *d.from, tcp::socket::wait_read);
      if (d.batching) wait_for_tail(d);
      return false;
    }
    if (out < 0 && would_block()) {
      await_ready(d, *d.to, tcp::socket::wait_write);
    } else {
      finish(d);
    }
    return false;
  }
  if (d.pipe_read < 0 && !pipes.take(d.pipe_read, d.pipe_write)) {
    finish(d);
    return false;
  }
  const ssize_t in = ::splice(d.from->socket().native_handle(), nullptr, d.pipe_write, nullptr, pipe_capacity,
                              SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (in > 0) {
    d.in_pipe = static_cast<std::size_t>(in);
    d.source_drained = d.in_pipe < pipe_capacity;
    const bool bulk = in >= bulk_batch;
    if (bulk != d.batching) set_batching(d, bulk);
    touch();
    return true;
  }
  // Drained (or ended): the pipe goes back before the direction waits.
  pipes.give(d.pipe_read, d.pipe_write, true);
  d.pipe_read = d.pipe_write = -1;
  if (in < 0 && would_block()) {
    await_ready(d, *d.from, tcp::socket::wait_read);
  } else {
    finish(d);  // 0: end of stream; otherwise an error
  }
  return false;
}

void Bridge::set_batching(Direction& d, bool on) noexcept {
  const int low_water = on ? bulk_batch : 1;
  ::setsockopt(d.from->socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &low_water, sizeof low_water);
  d.batching = on;
}

void Bridge::wait_for_tail(Direction& d) {
  if (!d.tail_timer) d.tail_timer = std::make_unique<asio::steady_timer>(idle_timer_.get_executor());
  d.tail_timer->expires_after(bulk_tail_wait);
  d.tail_timer->async_wait([self = shared_from_this(), &d](const boost::system::error_code& ec) {
    if (ec || self->stopped_ || !d.batching) return;
    // Lowering the mark wakes the pending readiness wait when anything at
    // all is queued (tcp_set_rcvlowat checks at once).
    self->set_batching(d, false);
  });
}

bool Bridge::copy_step(Direction& d) {
  if (d.begin < d.end) {
    const SocketStream::Progress written =
        d.to->write_now(std::string_view(d.buffer.get() + d.begin, d.end - d.begin));
    if (written.bytes > 0) {
      d.begin += written.bytes;
      *d.counter += written.bytes;
      touch();
      if (d.begin < d.end || !d.source_drained) return true;
      buffers.give(std::move(d.buffer));
      await_input(d);
      return false;
    }
    if (written.error) {
      finish(d);
    } else {
      await_ready(d, *d.to, written.wait);
    }
    return false;
  }
  if (!d.buffer) d.buffer = buffers.take();
  const SocketStream::Progress read = d.from->read_now(std::span<char>(d.buffer.get(), chunk_size));
  if (read.bytes > 0) {
    d.begin = 0;
    d.end = read.bytes;
    // A TLS read returns one record at a time: only a plain short read
    // says the socket is empty.
    d.source_drained = !d.from->secure() && read.bytes < chunk_size;
    touch();
    return true;
  }
  buffers.give(std::move(d.buffer));
  if (read.error) {
    finish(d);
  } else {
    // Straight to the socket: OpenSSL may hold part of a record (so it has
    // "pending" input) and still need more bytes, or need to write first.
    await_ready(d, *d.from, read.wait);
  }
  return false;
}

void Bridge::finish(Direction& direction) {
  if (direction.done || stopped_) return;
  direction.done = true;
  buffers.give(std::move(direction.buffer));
  pipes.give(direction.pipe_read, direction.pipe_write, direction.in_pipe == 0);
  direction.pipe_read = direction.pipe_write = -1;
  const bool both_done = to_backend_.done && to_client_.done;
  // Pass the end on (close_notify and FIN) while the other direction keeps
  // going. When both have ended, the session's close(2) sends the FIN of a
  // plain leg (its input is read to the end, so no RST); a TLS leg still
  // gets its close_notify (RFC 8446 section 6.1).
  if (!both_done || direction.to->secure()) direction.to->shutdown_send();
  if (both_done) {
    auto done = std::move(done_);
    stop();
    if (done) done();
  }
}

}  // namespace postern::kernel
