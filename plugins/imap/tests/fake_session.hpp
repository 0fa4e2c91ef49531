// In-memory stand-ins for what the kernel hands a protocol handler: a
// scripted client stream, scripted backends, a recording session and a
// capturing logger. No sockets, no threads: serve() runs to completion on an
// io_context. Every stream operation and TLS handshake goes through one
// shared fault counter, so a test can make the Nth operation fail.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <postern/sdk/log.hpp>
#include <postern/sdk/protocol.hpp>

namespace postern::imap::testing {

// Fails the operation whose 1-based number is fail_at (0: never).
struct Faults {
  unsigned fail_at = 0;
  unsigned count = 0;
  bool hit() { return ++count == fail_at; }
};

struct LogLine {
  sdk::LogLevel level;
  std::string text;
};

class FakeLogger final : public sdk::Logger {
 public:
  bool enabled(sdk::LogLevel) const noexcept override { return true; }
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    lines.push_back({level, std::string(message)});
  }
  bool contains(std::string_view needle) const {
    return std::any_of(lines.begin(), lines.end(), [needle](const LogLine& line) {
      return line.text.find(needle) != std::string::npos;
    });
  }
  std::vector<LogLine> lines;
};

// Hands out the scripted chunks in order (a chunk larger than the reader's
// buffer is handed out in parts), then fails reads with `end` (end of stream
// by default); records every write. Once closed, every operation fails.
class FakeStream final : public sdk::Stream {
 public:
  FakeStream(std::deque<std::string> script, std::string& written, Faults& faults, bool secure,
             std::errc end = std::errc::connection_aborted)
      : script_(std::move(script)),
        written_(written),
        faults_(faults),
        secure_(secure),
        end_(end) {}

  sdk::Task<sdk::IoResult> read_some(std::span<char> buffer) override {
    if (closed_) co_return sdk::IoResult{std::make_error_code(std::errc::bad_file_descriptor), 0};
    if (faults_.hit()) {
      co_return sdk::IoResult{std::make_error_code(std::errc::connection_reset), 0};
    }
    if (script_.empty()) co_return sdk::IoResult{std::make_error_code(end_), 0};
    std::string& chunk = script_.front();
    const std::size_t n = std::min(chunk.size(), buffer.size());
    std::memcpy(buffer.data(), chunk.data(), n);
    chunk.erase(0, n);
    if (chunk.empty()) script_.pop_front();
    co_return sdk::IoResult{{}, n};
  }

  sdk::Task<sdk::IoResult> write(std::string_view data) override {
    if (closed_) co_return sdk::IoResult{std::make_error_code(std::errc::bad_file_descriptor), 0};
    if (faults_.hit()) co_return sdk::IoResult{std::make_error_code(std::errc::broken_pipe), 0};
    written_.append(data);
    co_return sdk::IoResult{{}, data.size()};
  }

  bool secure() const noexcept override { return secure_; }
  void set_secure() noexcept { secure_ = true; }
  void close() noexcept { closed_ = true; }
  bool closed() const noexcept { return closed_; }

 private:
  std::deque<std::string> script_;
  std::string& written_;
  Faults& faults_;
  bool secure_;
  std::errc end_;
  bool closed_ = false;
};

// What one backend connection will say, and what it was told.
struct BackendScript {
  std::deque<std::string> replies;
  sdk::BackendInfo info{"default", "backend.test", 993, sdk::TlsMode::implicit, false};
  bool may_send_credentials = true;
  // How reads fail once the replies are used up (timed_out: the kernel's
  // backend deadline).
  std::errc end = std::errc::connection_aborted;
  // Filled in while the session runs.
  std::string written;
  bool tls_started = false;
  unsigned deadline_restarts = 0;
};

class FakeBackend final : public sdk::Backend {
 public:
  FakeBackend(BackendScript& script, Faults& faults)
      : script_(script),
        faults_(faults),
        stream_(script.replies, script.written, faults, script.info.tls == sdk::TlsMode::implicit,
                script.end) {}

  sdk::Stream& stream() noexcept override { return stream_; }
  const sdk::BackendInfo& info() const noexcept override { return script_.info; }
  sdk::Task<sdk::Outcome> start_tls() override {
    if (faults_.hit()) co_return sdk::Outcome::fail(sdk::Failure::tls, "handshake failed", true);
    stream_.set_secure();
    script_.tls_started = true;
    co_return sdk::Outcome::ok();
  }
  bool may_send_credentials() const noexcept override {
    return script_.may_send_credentials &&
           (stream_.secure() || script_.info.tls == sdk::TlsMode::plain);
  }
  void restart_deadline() noexcept override { ++script_.deadline_restarts; }

 private:
  BackendScript& script_;
  Faults& faults_;
  FakeStream stream_;
};

class FakeSession final : public sdk::Session {
 public:
  FakeSession(sdk::SessionInfo info, std::deque<std::string> client_script, bool client_secure,
              std::deque<BackendScript> backends)
      : info_(std::move(info)),
        backends_(std::move(backends)),
        client_(std::move(client_script), client_written, faults, client_secure) {}

  // postern::sdk::Session
  const sdk::SessionInfo& info() const noexcept override { return info_; }
  sdk::Logger& log() noexcept override { return logger; }
  void set_phase(sdk::Phase phase) noexcept override { phases.push_back(phase); }
  sdk::Stream& client() noexcept override { return client_; }
  bool starttls_offered() const noexcept override {
    return info_.listener_tls == sdk::TlsMode::starttls && !client_.secure();
  }
  sdk::Task<sdk::Outcome> start_client_tls() override {
    if (faults.hit()) co_return sdk::Outcome::fail(sdk::Failure::tls, "handshake failed");
    client_.set_secure();
    ++client_tls_handshakes;
    co_return sdk::Outcome::ok();
  }
  sdk::Task<sdk::Route> route(std::string_view identifier) override {
    routed.emplace_back(identifier);
    sdk::Route route;
    route.outcome = route_outcome;
    route.destination = "default";
    route.identifier = std::string(identifier);
    co_return route;
  }
  sdk::Task<sdk::BackendConnection> connect_backend(std::string_view destination,
                                                    sdk::BackendHandshake handshake) override {
    destinations.emplace_back(destination);
    sdk::BackendConnection connection;
    if (next_backend_ >= backends_.size()) {
      connection.outcome = sdk::Outcome::fail(sdk::Failure::connect, "connection refused", true);
      co_return connection;
    }
    auto backend = std::make_unique<FakeBackend>(backends_[next_backend_++], faults);
    connection.outcome = co_await handshake(*backend);
    handshakes.push_back(connection.outcome);
    if (connection.outcome) connection.backend = std::move(backend);
    co_return connection;
  }
  void authenticated(std::string_view identifier) override {
    authenticated_as.emplace_back(identifier);
  }
  sdk::ForwardInfo forward_info() const override { return forward; }
  void received_ttl(unsigned hops) noexcept override { received_ttls.push_back(hops); }
  // Like the kernel's: the reply, then the client leg is closed.
  sdk::Task<void> fail_unavailable(const sdk::Outcome& why, std::string_view reply) override {
    unavailable.push_back(why);
    const sdk::IoResult sent = co_await client_.write(reply);
    (void)sent;
    client_.close();
  }
  sdk::Task<void> bridge(std::unique_ptr<sdk::Backend> backend, std::string client_residual,
                         std::string backend_residual) override {
    bridged = backend != nullptr;
    bridged_destination = backend ? backend->info().destination : "";
    bridge_client_residual = std::move(client_residual);
    bridge_backend_residual = std::move(backend_residual);
    co_return;
  }

  BackendScript& backend(std::size_t i) { return backends_.at(i); }
  bool client_closed() const noexcept { return client_.closed(); }
  std::size_t backends_used() const { return next_backend_; }

  // Recorded while serve() runs.
  Faults faults;
  FakeLogger logger;
  std::string client_written;
  std::vector<sdk::Phase> phases;
  std::vector<std::string> routed;
  std::vector<std::string> destinations;
  std::vector<std::string> authenticated_as;
  std::vector<unsigned> received_ttls;
  // Every fail_unavailable() call, and the outcome of every handshake run.
  std::vector<sdk::Outcome> unavailable;
  std::vector<sdk::Outcome> handshakes;
  sdk::ForwardInfo forward{{"203.0.113.7", 51234}, {"192.0.2.1", 143}, "P1", 6, false};
  unsigned client_tls_handshakes = 0;
  bool bridged = false;
  std::string bridged_destination;
  std::string bridge_client_residual;
  std::string bridge_backend_residual;
  sdk::Outcome route_outcome;

 private:
  sdk::SessionInfo info_;
  std::deque<BackendScript> backends_;
  std::size_t next_backend_ = 0;
  FakeStream client_;
};

// Runs `handler.serve(session)` to completion; false if the coroutine did
// not finish (it would have waited for ever) or let an exception out.
inline bool run_to_completion(sdk::ProtocolHandler& handler, sdk::Session& session) {
  boost::asio::io_context io;
  bool finished = false;
  bool threw = false;
  boost::asio::co_spawn(io, handler.serve(session), [&](std::exception_ptr error) {
    finished = true;
    threw = error != nullptr;
  });
  io.run();
  return finished && !threw;
}

}  // namespace postern::imap::testing
