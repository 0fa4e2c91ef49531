#include "log/session_logger.hpp"

namespace postern::kernel {

SessionLogger::SessionLogger() : SessionLogger(log::kernel_target) {}

SessionLogger::SessionLogger(std::string_view target) : logger_(log::target(target)) {
  set_context(sdk::SessionInfo{});
}

void SessionLogger::set_context(const sdk::SessionInfo& info) noexcept {
  try {
    const std::string& ip = info.peer.ip;
    // An IPv6 literal is bracketed so the port stays unambiguous.
    const bool v6 = ip.find(':') != std::string::npos;
    std::string context = "[session=" + std::to_string(info.id);
    context += " listener=" + log::escape_control(info.listener);
    context += " protocol=" + log::escape_control(info.protocol);
    context += " peer=";
    context += v6 ? "[" + ip + "]" : ip;
    context += ":" + std::to_string(info.peer.port);
    context += " phase=";
    context_ = std::move(context);
  } catch (...) {
    // Out of memory: the previous context stays.
  }
}

void SessionLogger::set_phase(sdk::Phase phase) noexcept { phase_ = phase; }

bool SessionLogger::enabled(sdk::LogLevel level) const noexcept {
  return logger_->should_log(log::to_level(level));
}

void SessionLogger::log(sdk::LogLevel level, std::string_view message) noexcept {
  const LevelFilter spd_level = log::to_level(level);
  if (!logger_->should_log(spd_level)) return;
  try {
    // The phase changes often and lines are rare: it is added here rather
    // than on every phase change.
    const std::string_view phase = sdk::to_string(phase_);
    std::string line;
    line.reserve(context_.size() + phase.size() + 2 + message.size());
    line += context_;
    line += phase;
    line += "] ";
    log::append_escaped(line, message);
    logger_->log(spd_level, spdlog::string_view_t(line.data(), line.size()));
  } catch (...) {
    // A line that cannot be built (out of memory) is lost, never fatal.
  }
}

}  // namespace postern::kernel
