// Logging through the kernel. Plugins never own a logging backend; the kernel
// decides format, level and sinks, and adds the session context (session id,
// listener, protocol, peer, phase) to every line written through a session's
// logger. Never pass passwords, tokens or SASL responses to a logger.
#pragma once

#include <string>
#include <string_view>

namespace postern::sdk {

enum class LogLevel { trace, debug, info, warn, error };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const noexcept = 0;
  virtual void log(LogLevel level, std::string_view message) noexcept = 0;

  // Builds the line only when `level` is enabled (most debug and trace lines
  // never are): the pieces, anything convertible to std::string_view, are
  // concatenated.
  template <class... Pieces>
  void write(LogLevel level, const Pieces&... pieces) noexcept {
    if (!enabled(level)) return;
    try {
      std::string line;
      (line.append(std::string_view(pieces)), ...);
      log(level, line);
    } catch (...) {
      // A line that cannot be built (out of memory) is lost, never fatal.
    }
  }

  void trace(std::string_view m) noexcept { log(LogLevel::trace, m); }
  void debug(std::string_view m) noexcept { log(LogLevel::debug, m); }
  void info(std::string_view m) noexcept { log(LogLevel::info, m); }
  void warn(std::string_view m) noexcept { log(LogLevel::warn, m); }
  void error(std::string_view m) noexcept { log(LogLevel::error, m); }
};

}  // namespace postern::sdk
