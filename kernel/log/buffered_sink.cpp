#include "log/buffered_sink.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

namespace postern::kernel {

BufferedFdSink::BufferedFdSink(int fd, Limits limits) : fd_(fd), limits_(limits) {
  writer_ = std::thread([this] { run(); });
}

BufferedFdSink::~BufferedFdSink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void BufferedFdSink::set_write_through(bool enabled) {
  std::lock_guard lock(mutex_);
  write_through_ = enabled;
}

void BufferedFdSink::sink_it_(const spdlog::details::log_msg& message) {
  if (!write_through_ && pending_.size() >= limits_.max_pending) {
    ++dropped_;
    return;
  }
  spdlog::memory_buf_t line;
  formatter_->format(message, line);
  pending_.append(line.data(), line.size());
  if (write_through_) {
    write_out(take_pending());
    return;
  }
  const bool urgent = message.level >= spdlog::level::warn;
  urgent_ = urgent_ || urgent;
  // The writer sleeps without a deadline while nothing waits: wake it for
  // the first line; after that it is gathering and needs no call.
  if (writer_idle_ || urgent) {
    writer_idle_ = false;
    wake_.notify_one();
  }
}

void BufferedFdSink::flush_() {
  // Called with mutex_ held (spdlog's flush and the exit path).
  write_out(take_pending());
}

std::string BufferedFdSink::take_pending() {
  std::string text;
  text.swap(pending_);
  if (dropped_ > 0) {
    text += fmt::format("{} log line{} dropped while the log output was blocked\n", dropped_,
                        dropped_ == 1 ? "" : "s");
    dropped_ = 0;
  }
  urgent_ = false;
  return text;
}

void BufferedFdSink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    writer_idle_ = true;
    wake_.wait(lock, [this] { return !pending_.empty() || dropped_ > 0 || stopping_; });
    writer_idle_ = false;
    wake_.wait_for(lock, limits_.gather, [this] { return urgent_ || stopping_; });
    std::string text = take_pending();
    const bool last = stopping_;
    // The write lock is taken before mutex_ is let go: lines leave in the
    // order they came. New lines keep arriving (into pending_) meanwhile.
    std::unique_lock writing(write_mutex_);
    lock.unlock();
    write_all(text);
    writing.unlock();
    lock.lock();
    if (last && pending_.empty() && dropped_ == 0) return;
  }
}

void BufferedFdSink::write_out(const std::string& text) {
  std::lock_guard lock(write_mutex_);
  write_all(text);
}

void BufferedFdSink::write_all(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd_, POLLOUT, 0};
      ::poll(&ready, 1, -1);
      continue;
    }
    return;  // the output is gone: nothing else can be done with the lines
  }
}

}  // namespace postern::kernel
