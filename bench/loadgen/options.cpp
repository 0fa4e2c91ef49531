#include "options.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

namespace postern::bench {
namespace {

// Bounds that keep a typo from asking for absurd resources.
constexpr std::size_t max_concurrency = 100'000;
constexpr std::size_t max_idle_sessions = 1'000'000;
constexpr std::size_t max_users = 1'000'000;
constexpr std::size_t max_users_line = 4096;
constexpr std::size_t max_pids = 2;

template <typename T>
bool parse_integer(std::string_view text, T& out, T min, T max) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
  out = value;
  return true;
}

bool parse_seconds(std::string_view text, double& out) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0 ||
      value > 86'400.0) {
    return false;
  }
  out = value;
  return true;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Applies one "--name value"; returns an error message or "".
std::string apply(Options& options, std::string_view name, std::string_view value) {
  const auto invalid = [&] { return "invalid value for --" + std::string(name) + ": '" + std::string(value) + "'"; };
  if (name == "host") {
    if (value.empty()) return invalid();
    options.host = std::string(value);
  } else if (name == "port") {
    if (!parse_integer<std::uint16_t>(value, options.port, 1, 65535)) return invalid();
  } else if (name == "tls") {
    if (value == "none") {
      options.tls = TlsMode::none;
    } else if (value == "implicit") {
      options.tls = TlsMode::implicit;
    } else if (value == "starttls") {
      options.tls = TlsMode::starttls;
    } else {
      return invalid();
    }
  } else if (name == "concurrency") {
    if (!parse_integer<std::size_t>(value, options.concurrency, 1, max_concurrency)) return invalid();
  } else if (name == "duration") {
    if (!parse_seconds(value, options.duration_s)) return invalid();
  } else if (name == "timeout") {
    if (!parse_seconds(value, options.timeout_s) || options.timeout_s <= 0) return invalid();
  } else if (name == "users") {
    options.users_file = std::string(value);
  } else if (name == "workload") {
    if (value == "imap-session") {
      options.workload = Workload::imap_session;
    } else if (value == "imap-latency") {
      options.workload = Workload::imap_latency;
    } else if (value == "imap-bulk") {
      options.workload = Workload::imap_bulk;
    } else if (value == "imap-idle") {
      options.workload = Workload::imap_idle;
    } else {
      return invalid();
    }
  } else if (name == "pid") {
    pid_t pid = 0;
    if (!parse_integer<pid_t>(value, pid, 1, 1 << 30)) return invalid();
    if (options.pids.size() == max_pids) return "--pid may be given at most twice";
    options.pids.push_back(pid);
  } else if (name == "idle-sessions") {
    if (!parse_integer<std::size_t>(value, options.idle_sessions, 1, max_idle_sessions)) return invalid();
  } else if (name == "label") {
    options.label = std::string(value);
  } else {
    return "unknown option --" + std::string(name);
  }
  return {};
}

}  // namespace

const char* to_string(TlsMode mode) {
  switch (mode) {
    case TlsMode::none:
      return "none";
    case TlsMode::implicit:
      return "implicit";
    case TlsMode::starttls:
      return "starttls";
  }
  return "?";
}

const char* to_string(Workload workload) {
  switch (workload) {
    case Workload::imap_session:
      return "imap-session";
    case Workload::imap_latency:
      return "imap-latency";
    case Workload::imap_bulk:
      return "imap-bulk";
    case Workload::imap_idle:
      return "imap-idle";
  }
  return "?";
}

std::string usage() {
  return "usage: postern-loadgen --port N --users FILE [options]\n"
         "  --host ADDR             server address (default 127.0.0.1)\n"
         "  --port N                server port\n"
         "  --tls none|implicit|starttls   client leg (default none)\n"
         "  --workload imap-session|imap-latency|imap-bulk|imap-idle (default imap-session)\n"
         "  --concurrency N         parallel sessions; for imap-idle, parallel set-ups (default 1)\n"
         "  --duration SECONDS      run time; for imap-idle, how long the sessions are held (default 10)\n"
         "  --users FILE            one \"user password\" per line, used round-robin\n"
         "  --idle-sessions N       sessions opened by imap-idle (default 100)\n"
         "  --pid PID               process (and its descendants) to sample; at most twice\n"
         "  --label TEXT            copied into the JSON line\n"
         "  --timeout SECONDS       limit per connect, handshake or command (default 30)\n"
         "Prints one JSON line on stdout; diagnostics go to stderr.\n";
}

ParsedOptions parse_options(std::span<char* const> args) {
  ParsedOptions result;
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
    if (!arg.starts_with("--")) {
      result.error = "unexpected argument '" + std::string(arg) + "'";
      return result;
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    if (const auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 == args.size()) {
        result.error = "--" + std::string(name) + " needs a value";
        return result;
      }
      value = args[++i];
    }
    if (std::string error = apply(options, name, value); !error.empty()) {
      result.error = std::move(error);
      return result;
    }
  }
  if (options.port == 0) {
    result.error = "--port is required";
  } else if (options.users_file.empty()) {
    result.error = "--users is required";
  } else {
    if (options.workload == Workload::imap_latency) options.concurrency = 1;
    result.options = std::move(options);
  }
  return result;
}

ParsedUsers read_users(const std::string& path) {
  ParsedUsers result;
  std::ifstream in(path);
  if (!in) {
    result.error = "cannot open users file " + path;
    return result;
  }
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.size() > max_users_line) {
      result.error = path + ":" + std::to_string(number) + ": line too long";
      return result;
    }
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const auto space = text.find_first_of(" \t");
    const std::string_view password = space == std::string_view::npos ? std::string_view{} : trim(text.substr(space));
    if (password.empty()) {
      result.error = path + ":" + std::to_string(number) + ": expected \"user password\"";
      return result;
    }
    if (result.users.size() == max_users) {
      result.error = path + ": more than " + std::to_string(max_users) + " users";
      return result;
    }
    result.users.push_back({std::string(text.substr(0, space)), std::string(password)});
  }
  if (result.users.empty()) result.error = path + ": no users";
  return result;
}

}  // namespace postern::bench
