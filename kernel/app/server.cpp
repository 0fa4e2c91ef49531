#include "app/server.hpp"

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

}  // namespace

struct Server::Listening {
  ListenerRuntime runtime;
  std::vector<tcp::acceptor> acceptors;
  std::vector<std::string> addresses;
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
      const tcp::endpoint endpoint(asio::ip::make_address(address.ip, ec), address.port);
      tcp::acceptor acceptor(control_);
      if (!ec) acceptor.open(endpoint.protocol(), ec);
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      // IPV6_V6ONLY so that 0.0.0.0:N and [::]:N can both be listed.
      if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
      if (!ec) acceptor.bind(endpoint, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        errors.push_back(fmt::format("listener.{}: cannot listen on {}: {}", config.id, address.text(), ec.message()));
        continue;
      }
      const tcp::endpoint bound = acceptor.local_endpoint(ec);
      listening->addresses.push_back(bound.address().is_v6()
                                         ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                         : fmt::format("{}:{}", bound.address().to_string(), bound.port()));
      listening->acceptors.push_back(std::move(acceptor));
    }
  }
  return errors;
}

asio::io_context& Server::next_worker() { return *workers_[next_worker_++ % workers_.size()]; }

asio::awaitable<void> Server::accept_loop(Listening& listening, std::size_t acceptor_index) {
  tcp::acceptor& acceptor = listening.acceptors[acceptor_index];
  const ListenerConfig& config = *listening.runtime.config;
  for (;;) {
    // The socket is created on a worker's executor: the whole connection
    // then runs on that worker's thread.
    asio::any_io_executor worker = next_worker().get_executor();
    auto [ec, socket] = co_await acceptor.async_accept(worker, as_result);
    if (stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      log::kernel().warn("accept failed on listener {}: {}", config.id, ec.message());
      asio::steady_timer pause(control_, accept_error_pause);
      co_await pause.async_wait(as_result);
      continue;
    }
    if (listening.runtime.active.load() >= config.max_connections) {
      log::kernel().warn("max_connections reached on listener {}; dropping connection", config.id);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    const std::uint64_t id = next_session_id_++;
    auto cancel = std::make_shared<asio::cancellation_signal>();
    // Kick: terminal cancellation, emitted on the session's own thread
    // (cancellation slots are not thread-safe).
    SessionDirectory::Closer close = [worker, weak = std::weak_ptr(cancel)] {
      asio::post(worker, [weak] {
        if (auto signal = weak.lock()) signal->emit(asio::cancellation_type::terminal);
      });
    };
    auto session = std::make_shared<ClientSession>(context_, listening.runtime, tcp::socket(std::move(socket)), id,
                                                   directory_, std::move(close));
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.emplace(id, LiveSession{worker, cancel});
    }
    // The completion handler keeps the cancellation signal alive until the
    // session coroutine is gone (a signal must outlive its slot's user).
    asio::co_spawn(worker, run_session(std::move(session)),
                   asio::bind_cancellation_slot(cancel->slot(), [this, id, cancel](std::exception_ptr) {
                     std::lock_guard lock(sessions_mutex_);
                     sessions_.erase(id);
                   }));
  }
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

asio::awaitable<void> Server::drain_and_stop() {
  stopping_ = true;
  for (auto& listening : listeners_) {
    for (tcp::acceptor& acceptor : listening->acceptors) {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    }
  }
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
    for (std::size_t i = 0; i < listening->acceptors.size(); ++i) {
      asio::co_spawn(control_, accept_loop(*listening, i), asio::detached);
      log::kernel().info("listening on {} (listener {}, protocol {})", listening->addresses[i],
                         listening->runtime.config->id, listening->runtime.config->protocol);
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
