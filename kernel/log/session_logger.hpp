// A session's logger (sdk::Session::log()): every line carries the session
// context, recomputed when the phase or the peer changes, as
//   [session=42 listener=imaps protocol=imap peer=192.0.2.7:51234 phase=pre_auth] message
// Used from the session's own executor only (not thread-safe).
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <string_view>

#include <postern/sdk/log.hpp>
#include <postern/sdk/protocol.hpp>

#include "log/logging.hpp"

namespace postern::kernel {

class SessionLogger final : public sdk::Logger {
 public:
  // Logs under the kernel's target.
  SessionLogger();
  explicit SessionLogger(std::string_view target);

  // Takes id, listener, protocol and peer from `info` (again after a PROXY
  // header replaced the peer); keeps the phase.
  void set_context(const sdk::SessionInfo& info) noexcept;
  void set_phase(sdk::Phase phase) noexcept;
  // The bracketed context, without the trailing space.
  std::string context() const { return context_ + std::string(sdk::to_string(phase_)) + "]"; }

  // Formats only when the level is enabled (most debug lines never are).
  template <class... Args>
  void logf(sdk::LogLevel level, fmt::format_string<Args...> format, Args&&... args) noexcept {
    if (!enabled(level)) return;
    try {
      log(level, fmt::format(format, std::forward<Args>(args)...));
    } catch (...) {
      // A line that cannot be formatted is lost, never fatal.
    }
  }

  // postern::sdk::Logger
  bool enabled(sdk::LogLevel level) const noexcept override;
  void log(sdk::LogLevel level, std::string_view message) noexcept override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  sdk::Phase phase_ = sdk::Phase::accept;
  std::string context_;  // everything up to "phase=", built once per context change
};

}  // namespace postern::kernel
