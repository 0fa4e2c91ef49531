#include "proc_sampler.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace postern::bench {
namespace {

// Reads a small /proc file into buffer; returns the bytes read or empty.
std::optional<std::string_view> read_small(const std::string& path, std::vector<char>& buffer) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::size_t used = 0;
  for (;;) {
    if (used == buffer.size()) buffer.resize(buffer.size() * 2);
    const ssize_t n = ::read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
    if (buffer.size() > (1u << 20)) break;  // /proc files of interest are far smaller
  }
  ::close(fd);
  return std::string_view(buffer.data(), used);
}

std::optional<std::uint64_t> read_pss_kib(pid_t pid, std::vector<char>& buffer) {
  const auto text = read_small("/proc/" + std::to_string(pid) + "/smaps_rollup", buffer);
  if (!text) return std::nullopt;
  return parse_pss_kib(*text);
}

}  // namespace

// proc(5) /proc/PID/stat: the command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'. After it come state
// (3), ppid (4), ... utime (14), stime (15), cutime (16), cstime (17).
std::optional<StatLine> parse_stat(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  StatLine line;
  for (int field = 3; field <= 17; ++field) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return std::nullopt;
    rest = rest.substr(start);
    const auto end = std::min(rest.find(' '), rest.size());
    const std::string_view token = rest.substr(0, end);
    rest = rest.substr(end);
    if (field == 4 || field >= 14) {
      std::int64_t value = 0;
      const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec != std::errc() || value < 0) return std::nullopt;
      if (field == 4) {
        line.ppid = static_cast<pid_t>(value);
      } else {
        line.ticks += static_cast<std::uint64_t>(value);
      }
    }
  }
  return line;
}

std::optional<std::uint64_t> parse_pss_kib(std::string_view text) {
  // The first line is the address range; "Pss:" (not "Pss_Anon:" and the
  // like) starts a line of its own.
  const auto at = text.find("\nPss:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + 5);
  rest = rest.substr(std::min(rest.find_first_not_of(' '), rest.size()));
  std::uint64_t kib = 0;
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (ec != std::errc()) return std::nullopt;
  return kib;
}


std::optional<ProcSample> sample_tree(pid_t root, bool with_pss) {
  std::vector<char> buffer(4096);
  std::unordered_map<pid_t, StatLine> processes;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return std::nullopt;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    pid_t pid = 0;
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || ptr != name.data() + name.size()) continue;
    const auto text = read_small("/proc/" + std::string(name) + "/stat", buffer);
    if (!text) continue;  // exited meanwhile
    if (auto line = parse_stat(*text)) processes.emplace(pid, *line);
  }
  ::closedir(dir);
  if (!processes.contains(root)) return std::nullopt;

  std::unordered_multimap<pid_t, pid_t> children;
  for (const auto& [pid, line] : processes) children.emplace(line.ppid, pid);
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    const auto [first, last] = children.equal_range(tree[i]);
    for (auto it = first; it != last; ++it) tree.push_back(it->second);
  }

  static const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  ProcSample sample;
  sample.processes = tree.size();
  std::uint64_t ticks = 0;
  std::uint64_t pss = 0;
  bool pss_ok = with_pss;
  for (const pid_t pid : tree) {
    ticks += processes[pid].ticks;
    if (!pss_ok) continue;
    if (const auto kib = read_pss_kib(pid, buffer)) {
      pss += *kib;
    } else if (pid == root) {
      pss_ok = false;  // not readable (permissions): report no figure rather than a wrong one
    }
  }
  sample.cpu_ms = static_cast<double>(ticks) * ms_per_tick;
  if (pss_ok) sample.pss_kib = pss;
  return sample;
}

}  // namespace postern::bench
