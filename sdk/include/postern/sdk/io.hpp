// Byte streams as the kernel hands them to protocol plugins: the client leg
// and backend legs, plain TCP or TLS, with the session's deadlines applied by
// the kernel (a read past the pre-auth or backend deadline fails with
// std::errc::timed_out). All operations run on the session's executor.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/awaitable.hpp>

namespace postern::sdk {

template <class T>
using Task = boost::asio::awaitable<T>;

struct IoResult {
  std::error_code error;  // eof, timed_out, operation_aborted, TLS errors...
  std::size_t bytes = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Reads at least one byte, or fails (end of stream is an error: eof).
  virtual Task<IoResult> read_some(std::span<char> buffer) = 0;
  // Writes everything or fails.
  virtual Task<IoResult> write(std::string_view data) = 0;
  virtual bool secure() const noexcept = 0;
};

// Bounded, incremental input buffer over a Stream, for line protocols: the
// complete lines are handed out one by one; bytes after the last complete line
// stay buffered (pipelined input, handed to the bridge as residual).
class InputBuffer {
 public:
  explicit InputBuffer(std::size_t max_buffered) : max_buffered_(max_buffered) {}

  enum class LineStatus { line, need_more, too_long };
  // Next line ending in LF, without the LF and an optional preceding CR.
  // `too_long` once max_buffered bytes hold no LF: the caller must give up on
  // the stream (the protocol's error reply, then close).
  LineStatus next_line(std::string& line) {
    const std::string_view pending = view();
    const std::size_t lf = pending.find('\n');
    if (lf == std::string_view::npos) {
      return pending.size() >= max_buffered_ ? LineStatus::too_long : LineStatus::need_more;
    }
    std::size_t end = lf;
    if (end > 0 && pending[end - 1] == '\r') --end;
    line.assign(pending.data(), end);
    consume(lf + 1);
    return LineStatus::line;
  }

  // Reads once from `stream`, appending at most the remaining capacity.
  Task<IoResult> fill(Stream& stream) {
    compact();
    const std::size_t room = max_buffered_ > data_.size() ? max_buffered_ - data_.size() : 0;
    if (room == 0) co_return IoResult{std::make_error_code(std::errc::no_buffer_space), 0};
    const std::size_t old_size = data_.size();
    data_.resize(old_size + std::min<std::size_t>(room, read_chunk));
    IoResult r = co_await stream.read_some(std::span<char>(data_.data() + old_size,
                                                           data_.size() - old_size));
    data_.resize(old_size + r.bytes);
    co_return r;
  }

  // Reads a whole line, filling as needed. nullopt on I/O error or overflow
  // (`error` says which: no_buffer_space for overflow).
  Task<std::optional<std::string>> read_line(Stream& stream, std::error_code& error) {
    std::string line;
    for (;;) {
      switch (next_line(line)) {
        case LineStatus::line:
          co_return line;
        case LineStatus::too_long:
          error = std::make_error_code(std::errc::no_buffer_space);
          co_return std::nullopt;
        case LineStatus::need_more:
          break;
      }
      IoResult r = co_await fill(stream);
      if (r.error) {
        error = r.error;
        co_return std::nullopt;
      }
    }
  }

  std::string_view view() const noexcept {
    return std::string_view(data_).substr(start_);
  }
  void consume(std::size_t n) noexcept { start_ += std::min(n, data_.size() - start_); }
  // Forgets everything buffered, e.g. plaintext received before a STARTTLS
  // handshake (RFC 3207 section 4.2, RFC 2595 section 3.1: no injected commands).
  void discard() noexcept {
    data_.clear();
    start_ = 0;
  }
  // Moves out the unconsumed bytes (the residual for the bridge) and gives
  // the buffer's memory back: a bridged session may stay idle for hours.
  std::string take_residual() {
    std::string rest(view());
    std::string().swap(data_);
    start_ = 0;
    return rest;
  }
  std::size_t capacity_limit() const noexcept { return max_buffered_; }

 private:
  static constexpr std::size_t read_chunk = 4096;

  void compact() {
    if (start_ == 0) return;
    data_.erase(0, start_);
    start_ = 0;
  }

  std::string data_;
  std::size_t start_ = 0;
  std::size_t max_buffered_;
};

}  // namespace postern::sdk
