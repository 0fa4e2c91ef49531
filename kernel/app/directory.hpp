// Sessions by routing identifier, for the operator's kick and login-delay
// hooks (the admin API calls them): kick closes every bridged session of an
// identifier; delay holds new logins of an identifier for a while (during a
// cutover, so in-flight work can settle on the old backend). Outlives
// configuration reloads. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace postern::kernel {

class SessionDirectory {
 public:
  using Clock = std::chrono::steady_clock;
  // Ends one session; called from any thread (it must post to the session's
  // own executor itself).
  using Closer = std::function<void()>;

  // A session authenticated under `identifier` (the routing key).
  void add(const std::string& identifier, std::uint64_t session, Closer closer);
  void remove(const std::string& identifier, std::uint64_t session);
  // Closes every session registered under `identifier`; returns how many.
  std::size_t kick(const std::string& identifier);
  std::size_t sessions(const std::string& identifier) const;

  // Holds new logins of `identifier` until now + duration (zero clears).
  void delay(const std::string& identifier, Clock::duration duration, Clock::time_point now);
  // How long a login of `identifier` must wait from `now` (zero: not held).
  Clock::duration hold_remaining(const std::string& identifier, Clock::time_point now);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::map<std::uint64_t, Closer>> sessions_;
  std::unordered_map<std::string, Clock::time_point> holds_;
};

}  // namespace postern::kernel
