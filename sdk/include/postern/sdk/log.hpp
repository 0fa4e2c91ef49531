// Logging through the kernel. Plugins never own a logging backend; the kernel
// decides format, level and sinks, and adds the session context (session id,
// listener, protocol, peer, phase) to every line written through a session's
// logger. Never pass passwords, tokens or SASL responses to a logger.
#pragma once

#include <string_view>

namespace postern::sdk {

enum class LogLevel { trace, debug, info, warn, error };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const noexcept = 0;
  virtual void log(LogLevel level, std::string_view message) noexcept = 0;

  void trace(std::string_view m) noexcept { log(LogLevel::trace, m); }
  void debug(std::string_view m) noexcept { log(LogLevel::debug, m); }
  void info(std::string_view m) noexcept { log(LogLevel::info, m); }
  void warn(std::string_view m) noexcept { log(LogLevel::warn, m); }
  void error(std::string_view m) noexcept { log(LogLevel::error, m); }
};

}  // namespace postern::sdk
