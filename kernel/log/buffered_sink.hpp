// The log sink of the daemon: lines go into a memory buffer and a writer
// thread of its own writes them out, so an event loop never waits on its log
// output (journald's pipe, a slow disk, a terminal on hold) and a busy
// process turns hundreds of lines into one write(2).
//
// Lines of warning level and above are written at once; quieter lines wait
// at most `gather` for company. In write-through mode (the daemon turns it
// on when debug or trace lines are enabled) every line is written by the
// thread that logs it, before the call returns: someone diagnosing sees each
// line at the moment, and in the order, things happen. While the output is stuck, at most
// `max_pending` bytes wait; later lines are dropped and counted, and the
// count is written as soon as the output moves again. flush() (also run at
// process exit) writes everything that is waiting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/sinks/base_sink.h>

namespace postern::kernel {

class BufferedFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Limits {
    std::chrono::milliseconds gather{20};
    std::size_t max_pending = 1024 * 1024;
  };

  // Writes to `fd`, which stays open and owned by the caller.
  explicit BufferedFdSink(int fd) : BufferedFdSink(fd, Limits{}) {}
  BufferedFdSink(int fd, Limits limits);
  ~BufferedFdSink() override;
  BufferedFdSink(const BufferedFdSink&) = delete;
  BufferedFdSink& operator=(const BufferedFdSink&) = delete;

  void set_write_through(bool enabled);

 private:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override;
  void run();
  // Takes what waits (and the drop notice) out of the buffer; the caller
  // holds mutex_.
  std::string take_pending();
  // Writes `text` completely, waiting when the descriptor is non-blocking
  // and full. write_out takes write_mutex_ (one write at a time; always
  // after mutex_ when both are held); write_all expects it held.
  void write_out(const std::string& text);
  void write_all(const std::string& text);

  const int fd_;
  const Limits limits_;
  std::string pending_;
  std::uint64_t dropped_ = 0;
  bool write_through_ = false;
  bool urgent_ = false;
  bool writer_idle_ = false;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::mutex write_mutex_;
  std::thread writer_;
};

}  // namespace postern::kernel
