// The per-destination circuit breaker (closed -> open -> half-open).
//
// A streak of consecutive failed establishments opens the breaker for
// host_down_cooldown once it reaches host_down_threshold failures, either
// all at the connect stage (DNS, TCP: evidence against the host itself), or
// spanning at least host_down_min_clients distinct client addresses (TLS,
// greeting, a backend that closes: these may be one client the backend has
// banned, since it sees the real client address). After the cooldown exactly
// one establishment is let through as a probe: success closes the breaker,
// failure re-opens it. Configuration errors never reach the breaker.
// Thread-safe: sessions on every worker share one breaker per destination.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

namespace postern::kernel {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { closed, open, half_open };
  enum class Stage { connect, after_connect };

  CircuitBreaker(unsigned threshold, unsigned min_clients, Clock::duration cooldown)
      : threshold_(threshold), min_clients_(min_clients), cooldown_(cooldown) {}

  struct Admission {
    bool allowed = true;
    bool probe = false;  // the one attempt let through after the cooldown
  };
  Admission admit(Clock::time_point now);
  // Outcome of an admitted establishment. `probe` as returned by admit().
  // Returns the state after the call, for logging transitions.
  State record_success(bool probe);
  State record_failure(bool probe, Stage stage, const std::string& client, Clock::time_point now);
  // A probe that ended without a verdict (cancelled, configuration error):
  // lets the next attempt probe instead.
  void release_probe(bool probe);

  struct Snapshot {
    State state = State::closed;
    unsigned consecutive_failures = 0;
    std::size_t failure_sources = 0;  // distinct clients in the current streak
    bool host_level_failure = false;  // the streak is all connect-stage
  };
  Snapshot snapshot(Clock::time_point now) const;
  void reset();

 private:
  State state_locked(Clock::time_point now) const;

  const unsigned threshold_;
  const unsigned min_clients_;
  const Clock::duration cooldown_;
  mutable std::mutex mutex_;
  unsigned consecutive_failures_ = 0;
  unsigned connect_failures_ = 0;   // consecutive connect-stage failures
  std::set<std::string> clients_;   // distinct clients in the streak (bounded)
  bool open_ = false;
  Clock::time_point open_until_{};
  bool probe_in_flight_ = false;
};

std::string_view to_string(CircuitBreaker::State state) noexcept;

}  // namespace postern::kernel
