// CPU time and proportional set size of a process and its descendants, read
// from /proc (proc(5)).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace postern::bench {

struct ProcSample {
  // utime + stime of every live process of the tree, plus cutime + cstime
  // (the time of children they have already reaped). A process that exits
  // between two samples moves from the first term into its parent's second,
  // so differences stay right while Dovecot forks and reaps workers.
  double cpu_ms = 0;
  // Sum of the Pss lines of /proc/PID/smaps_rollup; PSS divides shared pages
  // among their users, so the sum over processes counts every page once.
  std::optional<std::uint64_t> pss_kib;
  std::size_t processes = 0;
};

// Empty when the root process does not exist (any more).
std::optional<ProcSample> sample_tree(pid_t root, bool with_pss);

struct StatLine {
  pid_t ppid = 0;
  std::uint64_t ticks = 0;  // utime + stime + cutime + cstime
};

// One /proc/PID/stat line; empty when it is malformed.
std::optional<StatLine> parse_stat(std::string_view text);

// The Pss figure of a /proc/PID/smaps_rollup text, in KiB.
std::optional<std::uint64_t> parse_pss_kib(std::string_view text);

}  // namespace postern::bench
