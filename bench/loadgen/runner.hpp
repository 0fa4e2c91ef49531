// The four workloads of postern-loadgen and the figures of one run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "imap_connection.hpp"
#include "options.hpp"
#include "proc_sampler.hpp"

namespace postern::bench {

// What one sampled process tree did during the run.
struct ProcessFigures {
  pid_t pid = 0;
  std::optional<ProcSample> before;
  std::optional<ProcSample> after;
  std::optional<ProcSample> holding;  // imap-idle: while every session is held
};

struct RunResult {
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  Histogram latency;
  std::uint64_t payload_bytes = 0;
  double elapsed_s = 0;        // the measured phase (for imap-idle: opening the sessions)
  double held_for_s = 0;       // imap-idle: how long the sessions were held
  std::optional<std::uint64_t> held;
  std::optional<std::uint64_t> dropped;
  double loadgen_cpu_ms = 0;
  std::vector<ProcessFigures> processes;
  std::map<std::string, std::uint64_t> error_counts;  // first distinct messages only
};

class Runner {
 public:
  Runner(asio::io_context& io, asio::ssl::context& tls, const Options& options, std::vector<User> users,
         tcp::endpoint endpoint);
  asio::awaitable<void> run();
  const RunResult& result() const { return result_; }

 private:
  using Task = asio::awaitable<void>;

  Task run_sessions(Clock::time_point end);
  Task run_bulk(Clock::time_point end);
  Task run_idle();

  Task session_worker(Clock::time_point end);
  Task one_session();
  Task bulk_worker(Clock::time_point end);
  Task bulk_connection(Clock::time_point end);
  Task idle_opener();
  Task open_idle(ImapConnection& connection);
  Task idle_holder(ImapConnection& connection);

  Task log_in(ImapConnection& connection);
  std::unique_ptr<ImapConnection> make_connection(std::size_t buffer_size);
  // Starts a task counted in `counter` until it ends; the end time is kept.
  void spawn(Task task, std::size_t& counter);
  Task wait_for(const std::size_t& counter);
  Task pause(std::chrono::milliseconds delay);
  void note_error(const std::string& message);
  void sample_processes(std::optional<ProcSample> ProcessFigures::*slot, bool with_pss);

  asio::io_context& io_;
  asio::ssl::context& tls_;
  const Options& options_;
  std::vector<User> users_;
  tcp::endpoint endpoint_;
  Watchdog watchdog_;
  RunResult result_;
  std::size_t next_user_ = 0;
  std::size_t active_ = 0;
  Clock::time_point last_finish_{};

  // imap-idle state
  std::size_t idle_started_ = 0;
  std::size_t holders_ = 0;
  bool stopping_ = false;
  std::vector<std::unique_ptr<ImapConnection>> idle_connections_;
};

}  // namespace postern::bench
