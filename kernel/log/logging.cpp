#include "log/logging.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include <unistd.h>

#include <spdlog/pattern_formatter.h>

#include "log/buffered_sink.hpp"

namespace postern::kernel {

namespace {

constexpr std::string_view whitespace = " \t\r\n";
constexpr std::string_view level_choices = "trace, debug, info, warn, error or off";

std::string_view trim(std::string_view text) noexcept {
  const std::size_t first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(whitespace);
  return text.substr(first, last - first + 1);
}

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

std::optional<LevelFilter> parse_level(std::string_view text) noexcept {
  static constexpr std::array<std::pair<std::string_view, LevelFilter>, 6> names{{
      {"trace", LevelFilter::trace},
      {"debug", LevelFilter::debug},
      {"info", LevelFilter::info},
      {"warn", LevelFilter::warn},
      {"error", LevelFilter::err},
      {"off", LevelFilter::off},
  }};
  for (const auto& [name, level] : names) {
    if (equals_ignore_case(text, name)) return level;
  }
  return std::nullopt;
}

// Targets are "postern" and plugin names; allowing '.' and ':' keeps room
// for module-style names without accepting RUST_LOG span filters ("a[b]").
bool valid_target(std::string_view target) noexcept {
  if (target.empty()) return false;
  for (const char c : target) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string_view upper_level_name(LevelFilter level) noexcept {
  switch (level) {
    case LevelFilter::trace: return "TRACE";
    case LevelFilter::debug: return "DEBUG";
    case LevelFilter::info: return "INFO";
    case LevelFilter::warn: return "WARN";
    case LevelFilter::err: return "ERROR";
    case LevelFilter::critical: return "CRITICAL";
    case LevelFilter::off:
    case LevelFilter::n_levels: break;
  }
  return "OFF";
}

// %* in the pattern: the level as the reference prints it (INFO, WARN...),
// where spdlog's own %l would give "info", "warning".
class UpperLevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view name = upper_level_name(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<UpperLevelFlag>();
  }
};

std::unique_ptr<spdlog::formatter> make_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<UpperLevelFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %* %n: %v");
  return formatter;
}

// Never destroyed: threads and static destructors may still log while the
// process exits.
struct Registry {
  std::mutex mutex;
  LogFilter filter;
  spdlog::sink_ptr sink;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;

  Registry() : sink(std::make_shared<BufferedFdSink>(STDERR_FILENO)) {
    sink->set_formatter(make_formatter());
  }
};

Registry& registry() {
  static Registry* const instance = [] {
    auto* created = new Registry;
    // Whatever still waits in the buffer reaches stderr when the process exits.
    std::atexit([] { registry().sink->flush(); });
    return created;
  }();
  return *instance;
}

}  // namespace

LevelFilter LogFilter::level_for(std::string_view target) const {
  const auto it = targets.find(target);
  return it != targets.end() ? it->second : default_level;
}

LogFilterParse parse_log_filter(std::string_view text) {
  LogFilter filter;
  std::optional<LevelFilter> bare;
  bool any = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view directive = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (directive.empty()) continue;
    any = true;
    const std::size_t equals = directive.find('=');
    if (equals == std::string_view::npos) {
      const auto level = parse_level(directive);
      if (!level) {
        return {std::nullopt, "invalid log filter directive '" + std::string(directive) +
                                  "': expected " + std::string(level_choices) +
                                  ", or target=level"};
      }
      bare = *level;
      continue;
    }
    const std::string_view target = trim(directive.substr(0, equals));
    const std::string_view level_text = trim(directive.substr(equals + 1));
    if (!valid_target(target)) {
      return {std::nullopt, "invalid log filter directive '" + std::string(directive) +
                                "': the target must be a plugin name or postern"};
    }
    const auto level = parse_level(level_text);
    if (!level) {
      return {std::nullopt, "invalid log filter directive '" + std::string(directive) +
                                "': unknown level '" + std::string(level_text) + "' (expected " +
                                std::string(level_choices) + ")"};
    }
    filter.targets.insert_or_assign(std::string(target), *level);
  }
  if (!any) return {std::nullopt, "empty log filter"};
  filter.default_level = bare.value_or(LevelFilter::off);
  return {std::move(filter), {}};
}

namespace {

bool usable_env(const char* rust_log) noexcept {
  return rust_log != nullptr && !trim(rust_log).empty();
}

}  // namespace

std::string_view effective_filter_text(const char* rust_log, std::string_view configured) {
  return usable_env(rust_log) ? std::string_view(rust_log) : configured;
}

void init_logging(const LogFilter& filter, spdlog::sink_ptr sink) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.filter = filter;
  if (sink) {
    sink->set_formatter(make_formatter());
    r.sink = std::move(sink);
  }
  for (auto& [name, logger] : r.loggers) {
    logger->sinks().assign(1, r.sink);
    logger->set_level(r.filter.level_for(name));
  }
  if (auto* buffered = dynamic_cast<BufferedFdSink*>(r.sink.get())) {
    LevelFilter lowest = r.filter.default_level;
    for (const auto& [name, level] : r.filter.targets) lowest = std::min(lowest, level);
    buffered->set_write_through(lowest <= LevelFilter::debug);
  }
}

bool init_logging(std::string_view configured, std::string& error) {
  const char* rust_log = std::getenv("RUST_LOG");
  const std::string_view text = effective_filter_text(rust_log, configured);
  const bool from_env = usable_env(rust_log);
  LogFilterParse parsed = parse_log_filter(text);
  if (!parsed.filter) {
    error = (from_env ? "RUST_LOG: " : "server.log_level: ") + parsed.error;
    return false;
  }
  init_logging(*parsed.filter);
  return true;
}

namespace log {

std::shared_ptr<spdlog::logger> target(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto it = r.loggers.find(name);
  if (it != r.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(name), r.sink);
  logger->set_level(r.filter.level_for(name));
  r.loggers.emplace(std::string(name), logger);
  return logger;
}

spdlog::logger& kernel() {
  static const std::shared_ptr<spdlog::logger> logger = target(kernel_target);
  return *logger;
}

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto is_control = [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  };
  // Almost every line is clean: copy runs of printable bytes at once.
  for (auto run = text.begin(); run != text.end();) {
    const auto control = std::find_if(run, text.end(), is_control);
    out.append(run, control);
    if (control == text.end()) break;
    const auto byte = static_cast<unsigned char>(*control);
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 0x0f];
    run = control + 1;
  }
}

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped(out, text);
  return out;
}

LevelFilter to_level(sdk::LogLevel level) noexcept {
  switch (level) {
    case sdk::LogLevel::trace: return LevelFilter::trace;
    case sdk::LogLevel::debug: return LevelFilter::debug;
    case sdk::LogLevel::info: return LevelFilter::info;
    case sdk::LogLevel::warn: return LevelFilter::warn;
    case sdk::LogLevel::error: return LevelFilter::err;
  }
  return LevelFilter::err;
}

}  // namespace log

PluginLogger::PluginLogger(std::string_view plugin_name) : logger_(log::target(plugin_name)) {}

bool PluginLogger::enabled(sdk::LogLevel level) const noexcept {
  return logger_->should_log(log::to_level(level));
}

void PluginLogger::log(sdk::LogLevel level, std::string_view message) noexcept {
  const LevelFilter spd_level = log::to_level(level);
  if (!logger_->should_log(spd_level)) return;
  try {
    const std::string line = log::escape_control(message);
    logger_->log(spd_level, spdlog::string_view_t(line.data(), line.size()));
  } catch (...) {
    // A line that cannot be built (out of memory) is lost, never fatal.
  }
}

}  // namespace postern::kernel
