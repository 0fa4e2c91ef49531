#include "app/breaker.hpp"

namespace postern::kernel {

CircuitBreaker::State CircuitBreaker::state_locked(Clock::time_point now) const {
  if (!open_) return State::closed;
  return now < open_until_ ? State::open : State::half_open;
}

CircuitBreaker::Admission CircuitBreaker::admit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_locked(now)) {
    case State::closed:
      return {true, false};
    case State::open:
      return {false, false};
    case State::half_open:
      if (probe_in_flight_) return {false, false};
      probe_in_flight_ = true;
      return {true, true};
  }
  return {true, false};
}

CircuitBreaker::State CircuitBreaker::record_success(bool probe) {
  std::lock_guard lock(mutex_);
  if (probe) probe_in_flight_ = false;
  consecutive_failures_ = 0;
  connect_failures_ = 0;
  clients_.clear();
  open_ = false;
  return State::closed;
}

CircuitBreaker::State CircuitBreaker::record_failure(bool probe, Stage stage, const std::string& client,
                                                     Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (probe) probe_in_flight_ = false;
  if (threshold_ == 0) return State::closed;
  ++consecutive_failures_;
  if (stage == Stage::connect) {
    ++connect_failures_;
  } else {
    // The host answered at the TCP level: the connect streak is broken.
    connect_failures_ = 0;
  }
  // Only min_clients distinct addresses matter; keep the set that small.
  if (clients_.size() < std::max(1u, min_clients_)) clients_.insert(client);
  const bool host_level = connect_failures_ >= threshold_;
  const bool many_clients = consecutive_failures_ >= threshold_ && clients_.size() >= min_clients_;
  if (probe || host_level || many_clients) {
    open_ = true;
    open_until_ = now + cooldown_;
  }
  return state_locked(now);
}

void CircuitBreaker::release_probe(bool probe) {
  if (!probe) return;
  std::lock_guard lock(mutex_);
  probe_in_flight_ = false;
}

CircuitBreaker::Snapshot CircuitBreaker::snapshot(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return {state_locked(now), consecutive_failures_, clients_.size(),
          consecutive_failures_ > 0 && connect_failures_ == consecutive_failures_};
}

void CircuitBreaker::reset() {
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
  connect_failures_ = 0;
  clients_.clear();
  open_ = false;
  probe_in_flight_ = false;
}

std::string_view to_string(CircuitBreaker::State state) noexcept {
  switch (state) {
    case CircuitBreaker::State::closed: return "closed";
    case CircuitBreaker::State::open: return "open";
    case CircuitBreaker::State::half_open: return "half-open";
  }
  return "unknown";
}

}  // namespace postern::kernel
