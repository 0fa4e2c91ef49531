// The byte bridge between an authenticated client and its backend (behaviour
// 5.9): both directions at once, the end of one direction passed on as a FIN
// while the other keeps flowing, and an idle watchdog (bridge_idle).
//
// It is driven by completion callbacks, not coroutines: a bridged IMAP IDLE
// session may sit idle for hours, and while it does it holds only two socket
// readiness waits and a timer (no coroutine frames, no buffer, no pipe).
// Bytes move between plain TCP sockets with splice(2), never entering user
// space; with TLS on either side through a buffer borrowed per burst. In a
// bulk transfer a direction asks to be woken per 256 KiB, not per segment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "app/stream.hpp"
#include "config/config.hpp"

namespace postern::kernel {

struct BridgeStats {
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_to_client = 0;
  bool idle_timeout = false;
};

class Bridge : public std::enable_shared_from_this<Bridge> {
 public:
  // `done` runs once, when both directions have ended or the idle limit
  // passed; not after stop().
  Bridge(SocketStream& client, SocketStream& backend, Duration idle_limit, std::function<void()> done);

  void start();
  // Ends the bridge now (kick, shutdown, idle). The streams may be destroyed
  // right after: pending callbacks then see the bridge stopped and touch
  // nothing but the bridge itself.
  void stop() noexcept;
  const BridgeStats& stats() const noexcept { return stats_; }

 private:
  struct Direction;
  void await_input(Direction& direction);
  void await_ready(Direction& direction, SocketStream& stream, tcp::socket::wait_type wait);
  void relay(Direction& direction);
  // One step of each relaying method: true to go on, false when the
  // direction now waits for a socket or has finished.
  bool splice_step(Direction& direction);
  bool copy_step(Direction& direction);
  void finish(Direction& direction);
  void set_batching(Direction& direction, bool on) noexcept;
  void wait_for_tail(Direction& direction);
  void watch_idle();
  void touch() noexcept;

  struct Direction {
    SocketStream* from = nullptr;
    SocketStream* to = nullptr;
    std::uint64_t* counter = nullptr;
    bool zero_copy = false;
    bool done = false;
    // The last read returned less than it asked for: the socket had nothing
    // more. Once those bytes are out, the direction waits for readiness
    // instead of reading again only to learn EAGAIN (Asio re-arms the wait
    // with EPOLL_CTL_MOD, which reports bytes that arrived meanwhile).
    bool source_drained = false;
    // In a bulk transfer: the source socket's SO_RCVLOWAT is raised, and a
    // timer bounds how long a smaller tail waits (made at the first bulk
    // transfer: an idle session does not carry it).
    bool batching = false;
    std::unique_ptr<asio::steady_timer> tail_timer;
    // Bytes in flight, only during a burst: a pooled buffer (copy) or pipe (splice).
    std::unique_ptr<char[]> buffer;
    std::size_t begin = 0;
    std::size_t end = 0;
    int pipe_read = -1;
    int pipe_write = -1;
    std::size_t in_pipe = 0;
  };

  Direction to_backend_;
  Direction to_client_;
  asio::steady_timer idle_timer_;
  Duration idle_limit_;
  Clock::time_point last_activity_ = Clock::now();
  std::function<void()> done_;
  BridgeStats stats_;
  bool stopped_ = false;
};

}  // namespace postern::kernel
