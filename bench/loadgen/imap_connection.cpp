#include "imap_connection.hpp"

#include <algorithm>
#include <charconv>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

namespace postern::bench {
namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);
// A literal larger than this is treated as a broken response, not read.
constexpr std::uint64_t max_literal = std::uint64_t{1} << 32;

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a = text[i] >= 'a' && text[i] <= 'z' ? static_cast<char>(text[i] - 32) : text[i];
    if (a != prefix[i]) return false;
  }
  return true;
}

// Server text quoted into an error message: bounded and printable.
std::string excerpt(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 160)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > 160) out += "...";
  return out;
}

}  // namespace

asio::awaitable<void> Watchdog::run() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::milliseconds(100));
    co_await timer_.async_wait(as_tuple_awaitable);
    if (stopped_) break;
    const auto now = Clock::now();
    for (ImapConnection* connection : members_) {
      if (connection->deadline() <= now) connection->expire();
    }
  }
}

void Watchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

ImapConnection::ImapConnection(asio::any_io_executor executor, asio::ssl::context& tls, Watchdog& watchdog,
                               std::size_t buffer_size, Clock::duration step_timeout)
    : socket_(std::move(executor)),
      tls_context_(tls),
      // Not value-initialised: an idle connection touches only the pages it reads into.
      buffer_(std::make_unique_for_overwrite<char[]>(buffer_size)),
      capacity_(buffer_size),
      watchdog_(watchdog),
      handle_(watchdog.add(this)),
      step_timeout_(step_timeout) {}

ImapConnection::~ImapConnection() {
  watchdog_.remove(handle_);
  close();
}

void ImapConnection::close() noexcept {
  closed_by_us_ = true;
  boost::system::error_code ignored;
  tcp_socket().close(ignored);
}

void ImapConnection::expire() noexcept {
  if (timed_out_ || closed_by_us_) return;
  timed_out_ = true;
  boost::system::error_code ignored;
  tcp_socket().close(ignored);
}

void ImapConnection::fail_io(std::string_view operation, const boost::system::error_code& ec) const {
  std::string message = step_ + " " + std::string(operation);
  if (timed_out_) {
    message += ": timed out";
  } else if (closed_by_us_) {
    message += ": closed";
  } else if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    message += ": connection closed by the server";
  } else {
    message += ": " + ec.message();
  }
  throw SessionError(message);
}

asio::awaitable<std::size_t> ImapConnection::read_some(char* data, std::size_t size) {
  const auto buffer = asio::buffer(data, size);
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buffer, as_tuple_awaitable);
    if (ec) fail_io("read", ec);
    co_return n;
  }
  auto [ec, n] = co_await socket_.async_read_some(buffer, as_tuple_awaitable);
  if (ec) fail_io("read", ec);
  co_return n;
}

asio::awaitable<void> ImapConnection::write_all(std::string_view data) {
  const auto buffer = asio::buffer(data.data(), data.size());
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buffer, as_tuple_awaitable);
    if (ec) fail_io("write", ec);
  } else {
    auto [ec, n] = co_await asio::async_write(socket_, buffer, as_tuple_awaitable);
    if (ec) fail_io("write", ec);
  }
}

asio::awaitable<std::string_view> ImapConnection::read_line() {
  std::size_t scanned = begin_;
  for (;;) {
    const auto* start = buffer_.get();
    if (const void* lf = std::memchr(start + scanned, '\n', end_ - scanned)) {
      const auto line_end = static_cast<std::size_t>(static_cast<const char*>(lf) - start);
      std::string_view line(start + begin_, line_end - begin_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      begin_ = line_end + 1;
      co_return line;
    }
    if (begin_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == capacity_) throw SessionError("response line longer than " + std::to_string(capacity_) + " bytes");
    scanned = end_;
    const std::size_t n = co_await read_some(buffer_.get() + end_, capacity_ - end_);
    end_ += n;
  }
}

asio::awaitable<void> ImapConnection::skip(std::uint64_t bytes) {
  // The literal is consumed through the one connection buffer: a 10 MiB body
  // is never held in memory, only counted.
  const auto buffered = static_cast<std::uint64_t>(end_ - begin_);
  const auto taken = std::min(buffered, bytes);
  begin_ += static_cast<std::size_t>(taken);
  std::uint64_t remaining = bytes - taken;
  while (remaining > 0) {
    begin_ = end_ = 0;
    const std::size_t n = co_await read_some(buffer_.get(), capacity_);
    if (n <= remaining) {
      remaining -= n;
    } else {
      begin_ = static_cast<std::size_t>(remaining);
      end_ = n;
      remaining = 0;
    }
  }
}

asio::awaitable<void> ImapConnection::handshake() {
  step_ = "TLS";
  tls_.emplace(std::move(socket_), tls_context_);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, as_tuple_awaitable);
  if (ec) fail_io("handshake", ec);
}

asio::awaitable<void> ImapConnection::open(const tcp::endpoint& endpoint, TlsMode mode) {
  arm();
  step_ = "TCP";
  {
    auto [ec] = co_await socket_.async_connect(endpoint, as_tuple_awaitable);
    if (ec) fail_io("connect", ec);
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  if (mode == TlsMode::implicit) co_await handshake();
  step_ = "greeting";
  const std::string_view greeting = co_await read_line();
  if (!greeting.starts_with("* OK")) throw SessionError("greeting: " + excerpt(greeting));
  if (mode == TlsMode::starttls) {
    co_await command("STARTTLS", "STARTTLS");
    // RFC 3501 section 6.2.1: nothing may follow the OK in plaintext; bytes
    // already buffered would be an injection, so they are refused.
    if (begin_ != end_) throw SessionError("STARTTLS: data after the tagged OK");
    begin_ = end_ = 0;
    arm();
    co_await handshake();
  }
  disarm();
}

asio::awaitable<CommandResult> ImapConnection::command(std::string_view what, std::string_view text,
                                                       const LineHandler* untagged) {
  arm();
  step_ = what;
  const std::string tag = "a" + std::to_string(next_tag_++);
  out_.clear();
  out_.append(tag).append(" ").append(text).append("\r\n");
  co_await write_all(out_);
  CommandResult result;
  for (;;) {
    std::string_view line = co_await read_line();
    if (line.size() > tag.size() && line.starts_with(tag) && line[tag.size()] == ' ') {
      const std::string_view status = line.substr(tag.size() + 1);
      if (!starts_with_ci(status, "OK")) throw SessionError(std::string(what) + ": " + excerpt(status));
      disarm();
      co_return result;
    }
    if (line.starts_with("+")) throw SessionError(std::string(what) + ": unexpected continuation request");
    if (untagged != nullptr && line.starts_with("* ")) (*untagged)(line);
    for (auto size = literal_size(line); size; size = literal_size(line)) {
      if (*size > max_literal) throw SessionError(std::string(what) + ": literal of " + std::to_string(*size) + " bytes");
      co_await skip(*size);
      result.literal_bytes += *size;
      ++result.literals;
      line = co_await read_line();
    }
  }
}

asio::awaitable<void> ImapConnection::start_idle() {
  arm();
  step_ = "IDLE";
  const std::string tag = "a" + std::to_string(next_tag_++);
  out_.clear();
  out_.append(tag).append(" IDLE\r\n");
  co_await write_all(out_);
  for (;;) {
    const std::string_view line = co_await read_line();
    if (line.starts_with("+")) break;
    if (line.starts_with(tag)) throw SessionError("IDLE: " + excerpt(line.substr(tag.size())));
  }
  disarm();
}

asio::awaitable<void> ImapConnection::hold() {
  disarm();
  step_ = "idling";
  try {
    for (;;) {
      std::string_view line = co_await read_line();
      for (auto size = literal_size(line); size; size = literal_size(line)) {
        if (*size > max_literal) throw SessionError("IDLE: oversized literal");
        co_await skip(*size);
        line = co_await read_line();
      }
    }
  } catch (const SessionError&) {
    if (!closed_by_us_) throw;
  }
}

std::optional<std::uint64_t> literal_size(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  // 19 digits always fit in 64 bits; longer is no size this client accepts.
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

bool parse_rfc822_size(std::string_view line, std::uint64_t& sequence, std::uint64_t& size) {
  if (!line.starts_with("* ")) return false;
  line.remove_prefix(2);
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), seq);
  if (ec != std::errc() || seq == 0) return false;
  line.remove_prefix(static_cast<std::size_t>(end - line.data()));
  if (!line.starts_with(" FETCH (")) return false;
  const auto at = line.find("RFC822.SIZE ");
  if (at == std::string_view::npos) return false;
  const std::string_view digits = line.substr(at + 12);
  std::uint64_t bytes = 0;
  const auto [end2, ec2] = std::from_chars(digits.data(), digits.data() + digits.size(), bytes);
  if (ec2 != std::errc()) return false;
  sequence = seq;
  size = bytes;
  return true;
}

std::string imap_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace postern::bench
