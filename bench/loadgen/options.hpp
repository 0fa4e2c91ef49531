// Command line and users file of postern-loadgen.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace postern::bench {

enum class TlsMode { none, implicit, starttls };
enum class Workload { imap_session, imap_latency, imap_bulk, imap_idle };

const char* to_string(TlsMode mode);
const char* to_string(Workload workload);

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  TlsMode tls = TlsMode::none;
  std::size_t concurrency = 1;
  double duration_s = 10.0;
  std::string users_file;
  Workload workload = Workload::imap_session;
  std::vector<pid_t> pids;
  std::size_t idle_sessions = 100;
  std::string label;
  // Limit for each step of a session (connect, handshake, one command); a
  // server that stops answering costs one error, never a hung run.
  double timeout_s = 30.0;
};

struct ParsedOptions {
  std::optional<Options> options;
  std::string error;  // set when options is empty and help is false
  bool help = false;
};

ParsedOptions parse_options(std::span<char* const> args);
std::string usage();

struct User {
  std::string name;
  std::string password;
};

struct ParsedUsers {
  std::vector<User> users;
  std::string error;
};

// One account per line: "user password" (the password is the rest of the
// line, trimmed). Blank lines and lines starting with '#' are skipped.
ParsedUsers read_users(const std::string& path);

}  // namespace postern::bench
