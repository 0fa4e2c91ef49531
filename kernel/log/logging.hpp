// The kernel's logging (behavior.md 11.3): spdlog, one ANSI-free stderr sink
// (buffered, written by a thread of its own: buffered_sink.hpp), one logger
// per target ("postern" for the kernel, the plugin's name for a
// plugin), each at the level the filter gives its target. The filter comes
// from RUST_LOG when it is set, else from server.log_level, with the same
// syntax: "info", "debug,imap=trace", "postern=warn".
//
// Line format: 2026-11-24T04:40:43.123Z INFO postern: message
// (UTC, milliseconds, upper-case level, target).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <postern/sdk/log.hpp>

namespace postern::kernel {

using LevelFilter = spdlog::level::level_enum;

struct LogFilter {
  // Targets without a directive of their own. A filter made only of
  // `target=level` pairs turns every other target off, as RUST_LOG does.
  LevelFilter default_level = LevelFilter::info;
  std::map<std::string, LevelFilter, std::less<>> targets;

  LevelFilter level_for(std::string_view target) const;
};

struct LogFilterParse {
  std::optional<LogFilter> filter;
  std::string error;  // set when `filter` is empty
};

// Comma-separated directives, each a bare level (the default; the last one
// wins) or `target=level` (the last one per target wins). Levels: trace,
// debug, info, warn, error, off, case-insensitive. Whitespace around
// directives and around '=' is ignored, empty directives are skipped; a
// filter with no directive at all is an error.
LogFilterParse parse_log_filter(std::string_view text);

// RUST_LOG when set and not blank, else the configured server.log_level.
std::string_view effective_filter_text(const char* rust_log, std::string_view configured);

// Applies `filter` to every target logger (existing and future) and, when
// `sink` is given, makes it the one sink (tests capture lines this way);
// otherwise the stderr sink stays. Call at startup, before sessions log.
void init_logging(const LogFilter& filter, spdlog::sink_ptr sink = nullptr);
// Reads RUST_LOG, falls back to `configured`, parses and applies. False with
// `error` ("RUST_LOG: ..." or "server.log_level: ...") when the text is invalid.
bool init_logging(std::string_view configured, std::string& error);

namespace log {

inline constexpr std::string_view kernel_target = "postern";

// The logger of a target, created on first use with the current filter's
// level. The same object is returned for the life of the process.
std::shared_ptr<spdlog::logger> target(std::string_view name);
// The kernel's own logger (target "postern").
spdlog::logger& kernel();

// Text from plugins and the network may carry CR, LF or escape sequences:
// control bytes become \xNN so one call is one line in the log.
std::string escape_control(std::string_view text);
// The same, appended to `out`.
void append_escaped(std::string& out, std::string_view text);

LevelFilter to_level(sdk::LogLevel level) noexcept;

}  // namespace log

// sdk::Host::logger(): the plugin's own target.
class PluginLogger final : public sdk::Logger {
 public:
  explicit PluginLogger(std::string_view plugin_name);

  // postern::sdk::Logger
  bool enabled(sdk::LogLevel level) const noexcept override;
  void log(sdk::LogLevel level, std::string_view message) noexcept override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace postern::kernel
