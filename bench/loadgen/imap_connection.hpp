// One IMAP client connection of the load generator: plain or TLS, tagged
// commands, responses read line by line with literals skipped in place.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "options.hpp"

namespace postern::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// A failed session step; the message names the step and never a password.
class SessionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ImapConnection;

// Enforces per-step time limits for every open connection with one timer
// that ticks every 100 ms, instead of one timer operation per step.
class Watchdog {
 public:
  using Handle = std::list<ImapConnection*>::iterator;

  explicit Watchdog(asio::any_io_executor executor) : timer_(std::move(executor)) {}
  Handle add(ImapConnection* connection) { return members_.insert(members_.end(), connection); }
  void remove(Handle handle) { members_.erase(handle); }
  asio::awaitable<void> run();
  void stop();

 private:
  asio::steady_timer timer_;
  std::list<ImapConnection*> members_;
  bool stopped_ = false;
};

struct CommandResult {
  std::uint64_t literal_bytes = 0;  // payload of every {n} literal in the response
  std::uint32_t literals = 0;
};

// Called with every untagged response line (its first segment, before any
// literal); the view is valid only during the call.
using LineHandler = std::function<void(std::string_view)>;

class ImapConnection {
 public:
  ImapConnection(asio::any_io_executor executor, asio::ssl::context& tls, Watchdog& watchdog,
                 std::size_t buffer_size, Clock::duration step_timeout);
  ~ImapConnection();
  ImapConnection(const ImapConnection&) = delete;
  ImapConnection& operator=(const ImapConnection&) = delete;

  // Connects, performs the TLS handshake the mode asks for (before the
  // greeting for implicit TLS, after STARTTLS otherwise) and reads the greeting.
  asio::awaitable<void> open(const tcp::endpoint& endpoint, TlsMode mode);
  // Sends "<tag> <text>" and reads the response up to its tagged completion;
  // anything but OK is a SessionError naming `what`.
  asio::awaitable<CommandResult> command(std::string_view what, std::string_view text,
                                         const LineHandler* untagged = nullptr);
  // RFC 2177: sends IDLE and waits for the continuation request.
  asio::awaitable<void> start_idle();
  // Reads (and ignores) whatever the server sends while idling, without a
  // time limit, until the connection ends. Returns normally when close()
  // ended it, throws SessionError when the server or the network did.
  asio::awaitable<void> hold();
  void close() noexcept;

  Clock::time_point deadline() const { return deadline_; }
  void expire() noexcept;  // called by the watchdog once the deadline passed

 private:
  asio::awaitable<std::size_t> read_some(char* data, std::size_t size);
  asio::awaitable<void> write_all(std::string_view data);
  asio::awaitable<std::string_view> read_line();
  asio::awaitable<void> skip(std::uint64_t bytes);
  asio::awaitable<void> handshake();
  [[noreturn]] void fail_io(std::string_view operation, const boost::system::error_code& ec) const;
  void arm() { deadline_ = Clock::now() + step_timeout_; }
  void disarm() { deadline_ = Clock::time_point::max(); }
  tcp::socket& tcp_socket() { return tls_ ? tls_->next_layer() : socket_; }

  tcp::socket socket_;
  asio::ssl::context& tls_context_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t next_tag_ = 1;
  std::string out_;
  Watchdog& watchdog_;
  Watchdog::Handle handle_;
  Clock::duration step_timeout_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string step_;  // what the connection is doing, for error messages
  bool timed_out_ = false;
  bool closed_by_us_ = false;
};

// An IMAP quoted string (RFC 3501 section 4.3) for LOGIN arguments.
std::string imap_quoted(std::string_view text);

// The size of a literal announced at the end of a response line, "{n}" or
// the non-synchronizing "{n+}" (RFC 3501 section 4.3, RFC 7888); empty when
// the line announces none.
std::optional<std::uint64_t> literal_size(std::string_view line);

// Sequence number and size from "* <seq> FETCH (RFC822.SIZE <n>)" (RFC 3501
// section 7.4.2); false for any other line.
bool parse_rfc822_size(std::string_view line, std::uint64_t& sequence, std::uint64_t& size);

}  // namespace postern::bench
