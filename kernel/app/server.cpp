#include "app/server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "app/deadline.hpp"
#include "log/logging.hpp"
#include "log/worker_pool.hpp"

namespace postern::kernel {
namespace {

constexpr auto drain_poll = std::chrono::milliseconds(100);
constexpr auto accept_error_pause = std::chrono::milliseconds(100);
constexpr auto cancel_wait = std::chrono::seconds(5);

asio::awaitable<void> run_session(std::shared_ptr<ClientSession> session) { co_await session->run(); }

// Asio has no option type for SO_REUSEPORT.
void set_reuse_port(tcp::acceptor& socket, boost::system::error_code& ec) {
  const int on = 1;
  if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    ec.assign(errno, boost::system::system_category());
  }
}

}  // namespace

struct Server::Acceptor {
  explicit Acceptor(asio::io_context& context) : worker(context), socket(context) {}
  asio::io_context& worker;
  tcp::acceptor socket;
  tcp::endpoint bound;
};

struct Server::Listening {
  ListenerRuntime runtime;
  std::vector<std::unique_ptr<Acceptor>> acceptors;  // per bound address, one per worker
  std::vector<std::string> addresses;                // per bound address
};

Server::Server(std::shared_ptr<Context> context, unsigned threads, WorkerPool& blocking_pool)
    : context_(std::move(context)), blocking_pool_(blocking_pool) {
  const unsigned count = threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) workers_.push_back(std::make_unique<asio::io_context>(1));
  for (const ListenerConfig& listener : context_->config->listeners) {
    auto listening = std::make_unique<Listening>();
    listening->runtime.config = &listener;
    listeners_.push_back(std::move(listening));
  }
}

Server::~Server() = default;

std::vector<std::string> Server::bind() {
  std::vector<std::string> errors;
  for (auto& listening : listeners_) {
    const ListenerConfig& config = *listening->runtime.config;
    for (const SocketAddress& address : config.bind) {
      boost::system::error_code ec;
      tcp::endpoint endpoint(asio::ip::make_address(address.ip, ec), address.port);
      std::vector<std::unique_ptr<Acceptor>> group;
      for (auto& worker : workers_) {
        auto acceptor = std::make_unique<Acceptor>(*worker);
        tcp::acceptor& socket = acceptor->socket;
        const bool first = group.empty();
        if (!ec) socket.open(endpoint.protocol(), ec);
        if (!ec) socket.set_option(tcp::acceptor::reuse_address(true), ec);
        // Accepted connections inherit TCP_NODELAY from the listening socket
        // on Linux: no setsockopt per connection.
        if (!ec) socket.set_option(tcp::no_delay(true), ec);
        // IPV6_V6ONLY so that 0.0.0.0:N and [::]:N can both be listed.
        if (!ec && endpoint.address().is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
        // The first socket binds without SO_REUSEPORT, so a port that
        // anything else holds (another Postern included) fails here; the
        // option is set after its bind so the other workers' sockets join it.
        if (!ec && !first) set_reuse_port(socket, ec);
        if (!ec) socket.bind(endpoint, ec);
        if (!ec && first) endpoint = socket.local_endpoint(ec);  // the port, when 0 was asked for
        if (!ec && first && workers_.size() > 1) set_reuse_port(socket, ec);
        if (!ec) socket.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) break;
        acceptor->bound = endpoint;
        group.push_back(std::move(acceptor));
      }
      if (ec) {
        errors.push_back(fmt::format("listener.{}: cannot listen on {}: {}", config.id, address.text(), ec.message()));
        continue;
      }
      listening->addresses.push_back(endpoint.address().is_v6()
                                         ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                                         : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port()));
      for (auto& acceptor : group) listening->acceptors.push_back(std::move(acceptor));
    }
  }
  return errors;
}

asio::awaitable<void> Server::accept_loop(Listening& listening, Acceptor& acceptor) {
  const ListenerConfig& config = *listening.runtime.config;
  for (;;) {
    // accept(2) returns the peer's address with the connection.
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor.socket.async_accept(peer, as_result);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (!ec) {
      start_session(listening, std::move(socket), peer, acceptor.bound);
      continue;
    }
    // A connection that went away before it was taken is not a failure.
    if (ec == asio::error::connection_aborted || ec == asio::error::interrupted) continue;
    // Out of descriptors or memory: pause rather than spin on a listener
    // that stays readable.
    log::kernel().warn("accept failed on listener {}: {}", config.id, ec.message());
    asio::steady_timer pause(acceptor.worker, accept_error_pause);
    co_await pause.async_wait(as_result);
  }
}

void Server::start_session(Listening& listening, tcp::socket socket, const tcp::endpoint& peer,
                           const tcp::endpoint& bound) {
  const ListenerConfig& config = *listening.runtime.config;
  boost::system::error_code ec;
  // The slot is taken before the check: workers accept at the same time,
  // and a load-then-increment would let each of them pass the last slot.
  if (listening.runtime.active.fetch_add(1) >= config.max_connections) {
    --listening.runtime.active;
    log::kernel().warn("max_connections reached on listener {}; dropping connection", config.id);
    socket.close(ec);
    return;
  }
  // A wildcard listener learns the address the client reached from the socket.
  const tcp::endpoint local = bound.address().is_unspecified() ? socket.local_endpoint(ec) : bound;
  const std::uint64_t id = next_session_id_++;
  const asio::any_io_executor executor = socket.get_executor();
  auto cancel = std::make_shared<asio::cancellation_signal>();
  // Kick: terminal cancellation, emitted on the session's own thread
  // (cancellation slots are not thread-safe).
  SessionDirectory::Closer close = [executor, weak = std::weak_ptr(cancel)] {
    asio::post(executor, [weak] {
      if (auto signal = weak.lock()) signal->emit(asio::cancellation_type::terminal);
    });
  };
  std::shared_ptr<ClientSession> session;
  try {
    session = std::make_shared<ClientSession>(context_, listening.runtime, std::move(socket), peer, local, id,
                                              directory_, std::move(close));
  } catch (const std::exception& e) {
    // Out of memory: this connection is lost, the accept loop goes on.
    --listening.runtime.active;
    log::kernel().error("cannot start a session on listener {}: {}", config.id, e.what());
    return;
  }
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.emplace(id, LiveSession{executor, cancel});
  }
  // The completion handler keeps the cancellation signal alive until the
  // session coroutine is gone (a signal must outlive its slot's user).
  asio::co_spawn(executor, run_session(std::move(session)),
                 asio::bind_cancellation_slot(cancel->slot(), [this, id, cancel](std::exception_ptr) {
                   std::lock_guard lock(sessions_mutex_);
                   sessions_.erase(id);
                 }));
}

void Server::cancel_all_sessions() {
  std::lock_guard lock(sessions_mutex_);
  for (auto& [id, session] : sessions_) {
    // Emitted on the session's own thread: cancellation slots are not thread-safe.
    asio::post(session.executor, [cancel = session.cancel] { cancel->emit(asio::cancellation_type::terminal); });
  }
}

std::size_t Server::live_sessions() {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

void Server::reload_mapping() {
  // Re-reading a large mapping file takes a while: keep it off the event loops.
  blocking_pool_.post([context = context_] {
    const sdk::WriteResult result = context->config->mapping_source->reload();
    if (!result.ok) {
      log::kernel().error("mapping reload failed, keeping the previous mappings: {}", result.message);
      return;
    }
    context->router->clear();
    log::kernel().info("mapping source reloaded ({}); routing cache cleared",
                       context->config->mapping_source->describe());
  });
}

asio::awaitable<void> Server::handle_signals() {
  asio::signal_set signals(control_, SIGINT, SIGTERM, SIGHUP);
  for (;;) {
    auto [ec, number] = co_await signals.async_wait(as_result);
    if (ec) co_return;
    if (number == SIGHUP) {
      log::kernel().info("SIGHUP: reloading the mapping source");
      reload_mapping();
      continue;
    }
    log::kernel().info("{}: shutting down", number == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  co_await drain_and_stop();
}

void Server::close_acceptors() {
  for (auto& listening : listeners_) {
    for (auto& acceptor : listening->acceptors) {
      // On the acceptor's own thread: Asio objects are not thread-safe.
      asio::post(acceptor->worker, [&socket = acceptor->socket] {
        boost::system::error_code ignored;
        socket.close(ignored);
      });
    }
  }
}

asio::awaitable<void> Server::drain_and_stop() {
  stopping_ = true;
  close_acceptors();
  const auto grace_end = Clock::now() + context_->config->server.shutdown_grace;
  asio::steady_timer timer(control_);
  while (live_sessions() > 0 && Clock::now() < grace_end) {
    timer.expires_after(drain_poll);
    co_await timer.async_wait(as_result);
  }
  if (const std::size_t left = live_sessions(); left > 0) {
    log::kernel().warn("{} connection(s) still active after shutdown_grace; closing them", left);
    cancel_all_sessions();
    const auto cancel_end = Clock::now() + cancel_wait;
    while (live_sessions() > 0 && Clock::now() < cancel_end) {
      timer.expires_after(drain_poll);
      co_await timer.async_wait(as_result);
    }
  } else {
    log::kernel().info("all connections drained");
  }
  control_.stop();
}

int Server::run() {
  for (auto& listening : listeners_) {
    for (auto& acceptor : listening->acceptors) {
      asio::co_spawn(acceptor->worker, accept_loop(*listening, *acceptor), asio::detached);
    }
    for (const std::string& address : listening->addresses) {
      log::kernel().info("listening on {} (listener {}, protocol {})", address, listening->runtime.config->id,
                         listening->runtime.config->protocol);
    }
  }
  asio::co_spawn(control_, handle_signals(), asio::detached);

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& worker : workers_) {
    guards.push_back(asio::make_work_guard(*worker));
    threads.emplace_back([&context = *worker] { context.run(); });
  }
  log::kernel().info("postern started with {} worker thread(s)", workers_.size());
  control_.run();
  for (auto& worker : workers_) worker->stop();
  for (auto& thread : threads) thread.join();
  log::kernel().info("postern stopped");
  return 0;
}

}  // namespace postern::kernel
