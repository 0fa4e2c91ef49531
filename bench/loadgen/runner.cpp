#include "runner.hpp"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <exception>

namespace postern::bench {
namespace {

// Connection buffers: lines and 4 KiB literals pass through the small one;
// bulk reads take large bites so a 10 MiB body costs few reads.
constexpr std::size_t small_buffer = 16 * 1024;
constexpr std::size_t session_buffer = 64 * 1024;
constexpr std::size_t bulk_buffer = 256 * 1024;
constexpr std::size_t max_distinct_errors = 20;
constexpr std::size_t session_messages = 20;

double process_cpu_ms() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

}  // namespace

Runner::Runner(asio::io_context& io, asio::ssl::context& tls, const Options& options, std::vector<User> users,
               tcp::endpoint endpoint)
    : io_(io),
      tls_(tls),
      options_(options),
      users_(std::move(users)),
      endpoint_(std::move(endpoint)),
      watchdog_(io.get_executor()) {}

std::unique_ptr<ImapConnection> Runner::make_connection(std::size_t buffer_size) {
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_s));
  return std::make_unique<ImapConnection>(io_.get_executor(), tls_, watchdog_, buffer_size, timeout);
}

void Runner::spawn(Task task, std::size_t& counter) {
  ++counter;
  asio::co_spawn(io_, std::move(task), [this, &counter](std::exception_ptr error) {
    --counter;
    if (&counter == &active_) last_finish_ = Clock::now();
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      ++result_.errors;
      note_error(std::string("unexpected: ") + e.what());
    }
  });
}

Runner::Task Runner::wait_for(const std::size_t& counter) {
  asio::steady_timer timer(io_);
  while (counter > 0) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

Runner::Task Runner::pause(std::chrono::milliseconds delay) {
  asio::steady_timer timer(io_, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

void Runner::note_error(const std::string& message) {
  if (auto it = result_.error_counts.find(message); it != result_.error_counts.end()) {
    ++it->second;
  } else if (result_.error_counts.size() < max_distinct_errors) {
    result_.error_counts.emplace(message, 1);
  }
}

void Runner::sample_processes(std::optional<ProcSample> ProcessFigures::*slot, bool with_pss) {
  for (ProcessFigures& figures : result_.processes) {
    figures.*slot = sample_tree(figures.pid, with_pss);
    if (!(figures.*slot)) std::fprintf(stderr, "postern-loadgen: process %d not found in /proc\n", figures.pid);
  }
}

Runner::Task Runner::log_in(ImapConnection& connection) {
  const User& user = users_[next_user_++ % users_.size()];
  co_await connection.command("LOGIN", "LOGIN " + imap_quoted(user.name) + " " + imap_quoted(user.password));
  co_await connection.command("SELECT", "SELECT INBOX");
}

Runner::Task Runner::run() {
  for (const pid_t pid : options_.pids) result_.processes.push_back({pid, {}, {}, {}});
  asio::co_spawn(io_, watchdog_.run(), asio::detached);
  sample_processes(&ProcessFigures::before, true);
  const double cpu_before = process_cpu_ms();

  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.duration_s));
  switch (options_.workload) {
    case Workload::imap_session:
    case Workload::imap_latency:
      co_await run_sessions(Clock::now() + duration);
      break;
    case Workload::imap_bulk:
      co_await run_bulk(Clock::now() + duration);
      break;
    case Workload::imap_idle:
      co_await run_idle();
      break;
  }

  result_.loadgen_cpu_ms = process_cpu_ms() - cpu_before;
  sample_processes(&ProcessFigures::after, true);
  watchdog_.stop();
}

// ---- imap-session and imap-latency ----------------------------------------

Runner::Task Runner::run_sessions(Clock::time_point end) {
  const auto start = Clock::now();
  for (std::size_t i = 0; i < options_.concurrency; ++i) spawn(session_worker(end), active_);
  co_await wait_for(active_);
  result_.elapsed_s = std::chrono::duration<double>(last_finish_ - start).count();
}

Runner::Task Runner::session_worker(Clock::time_point end) {
  while (Clock::now() < end) {
    const auto start = Clock::now();
    std::string error;
    try {
      co_await one_session();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      result_.latency.record(Clock::now() - start);
      ++result_.ops;
    } else {
      ++result_.errors;
      note_error(error);
      // A server that refuses at once would otherwise be hammered in a loop.
      co_await pause(std::chrono::milliseconds(10));
    }
  }
}

Runner::Task Runner::one_session() {
  auto connection = make_connection(session_buffer);
  co_await connection->open(endpoint_, options_.tls);
  co_await log_in(*connection);
  const CommandResult fetched = co_await connection->command("FETCH", "FETCH 1:20 (BODY.PEEK[])");
  if (fetched.literals != session_messages) {
    throw SessionError("FETCH: " + std::to_string(fetched.literals) + " bodies instead of 20");
  }
  result_.payload_bytes += fetched.literal_bytes;
  co_await connection->command("LOGOUT", "LOGOUT");
}

// ---- imap-bulk -------------------------------------------------------------

Runner::Task Runner::run_bulk(Clock::time_point end) {
  const auto start = Clock::now();
  for (std::size_t i = 0; i < options_.concurrency; ++i) spawn(bulk_worker(end), active_);
  co_await wait_for(active_);
  result_.elapsed_s = std::chrono::duration<double>(last_finish_ - start).count();
}

Runner::Task Runner::bulk_worker(Clock::time_point end) {
  while (Clock::now() < end) {
    std::string error;
    try {
      co_await bulk_connection(end);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      ++result_.errors;
      note_error(error);
      co_await pause(std::chrono::milliseconds(10));
    }
  }
}

Runner::Task Runner::bulk_connection(Clock::time_point end) {
  auto connection = make_connection(bulk_buffer);
  co_await connection->open(endpoint_, options_.tls);
  co_await log_in(*connection);
  // The largest message of the INBOX is the one fetched again and again.
  std::uint64_t sequence = 0;
  std::uint64_t size = 0;
  const LineHandler sizes = [&](std::string_view line) {
    std::uint64_t seq = 0;
    std::uint64_t bytes = 0;
    if (parse_rfc822_size(line, seq, bytes) && bytes > size) {
      sequence = seq;
      size = bytes;
    }
  };
  co_await connection->command("FETCH", "FETCH 1:* (RFC822.SIZE)", &sizes);
  if (sequence == 0) throw SessionError("FETCH: no message sizes in the INBOX");
  const std::string fetch = "FETCH " + std::to_string(sequence) + " (BODY.PEEK[])";
  while (Clock::now() < end) {
    const auto start = Clock::now();
    const CommandResult fetched = co_await connection->command("FETCH", fetch);
    if (fetched.literals != 1 || fetched.literal_bytes != size) {
      throw SessionError("FETCH: " + std::to_string(fetched.literal_bytes) + " body bytes, RFC822.SIZE is " +
                         std::to_string(size));
    }
    result_.latency.record(Clock::now() - start);
    ++result_.ops;
    result_.payload_bytes += fetched.literal_bytes;
  }
  co_await connection->command("LOGOUT", "LOGOUT");
}

// ---- imap-idle -------------------------------------------------------------

Runner::Task Runner::run_idle() {
  result_.held = 0;
  result_.dropped = 0;
  idle_connections_.reserve(options_.idle_sessions);
  const auto start = Clock::now();
  const std::size_t openers = std::min(options_.concurrency, options_.idle_sessions);
  for (std::size_t i = 0; i < openers; ++i) spawn(idle_opener(), active_);
  co_await wait_for(active_);
  result_.elapsed_s = std::chrono::duration<double>(last_finish_ - start).count();

  if (idle_connections_.empty()) co_return;  // nothing to hold

  const auto hold_start = Clock::now();
  co_await pause(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(options_.duration_s)));
  // Sampled at the end of the hold, when idle sessions have settled.
  sample_processes(&ProcessFigures::holding, true);
  result_.held_for_s = std::chrono::duration<double>(Clock::now() - hold_start).count();
  result_.held = holders_;

  stopping_ = true;
  for (auto& connection : idle_connections_) connection->close();
  co_await wait_for(holders_);
  idle_connections_.clear();
  // Let the servers finish closing before the final CPU sample.
  co_await pause(std::chrono::milliseconds(200));
}

Runner::Task Runner::idle_opener() {
  while (idle_started_ < options_.idle_sessions) {
    ++idle_started_;
    auto connection = make_connection(small_buffer);
    const auto start = Clock::now();
    std::string error;
    try {
      co_await open_idle(*connection);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      ++result_.errors;
      note_error(error);
      continue;
    }
    result_.latency.record(Clock::now() - start);
    ++result_.ops;
    ImapConnection& held = *connection;
    idle_connections_.push_back(std::move(connection));
    spawn(idle_holder(held), holders_);
  }
}

Runner::Task Runner::open_idle(ImapConnection& connection) {
  co_await connection.open(endpoint_, options_.tls);
  co_await log_in(connection);
  co_await connection.start_idle();
}

Runner::Task Runner::idle_holder(ImapConnection& connection) {
  std::string error;
  try {
    co_await connection.hold();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty() && !stopping_) {
    ++*result_.dropped;
    note_error("held session dropped: " + error);
  }
}

}  // namespace postern::bench
