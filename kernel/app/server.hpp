// The running daemon: worker threads (one io_context each, so a connection
// stays on one thread), listeners and their accept loops, the registry of live
// sessions, signals, and the drain on shutdown.
//
// Every worker accepts on its own listening socket, one per bound address,
// joined in a SO_REUSEPORT group so the kernel spreads new connections over
// the workers: an accepted connection starts on the thread that accepted it,
// with no hand-off between threads and no wake-up of a separate accept
// thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include "app/context.hpp"
#include "app/session.hpp"

namespace postern::kernel {

class WorkerPool;

class Server {
 public:
  Server(std::shared_ptr<Context> context, unsigned threads, WorkerPool& blocking_pool);
  ~Server();

  // Binds every listener address. Any failure is fatal: the messages say
  // which address and why.
  std::vector<std::string> bind();
  // Serves until SIGINT/SIGTERM, drains up to shutdown_grace, cancels the
  // rest; returns the process exit status.
  int run();

 private:
  struct Listening;
  struct LiveSession {
    asio::any_io_executor executor;
    std::shared_ptr<asio::cancellation_signal> cancel;
  };

  struct Acceptor;
  asio::awaitable<void> accept_loop(Listening& listening, Acceptor& acceptor);
  void start_session(Listening& listening, tcp::socket socket, const tcp::endpoint& peer,
                     const tcp::endpoint& bound);
  asio::awaitable<void> handle_signals();
  asio::awaitable<void> drain_and_stop();
  void cancel_all_sessions();
  void reload_mapping();
  std::size_t live_sessions();
  void close_acceptors();

  std::shared_ptr<Context> context_;
  WorkerPool& blocking_pool_;
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  asio::io_context control_;  // signals and the drain
  std::vector<std::unique_ptr<Listening>> listeners_;

  std::mutex sessions_mutex_;
  std::unordered_map<std::uint64_t, LiveSession> sessions_;
  std::atomic<std::uint64_t> next_session_id_{1};
  SessionDirectory directory_;
  std::atomic<bool> stopping_{false};
};

}  // namespace postern::kernel
