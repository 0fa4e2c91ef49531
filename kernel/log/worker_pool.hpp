// The bounded pool behind sdk::Host::run_blocking: a fixed number of threads
// taking jobs from one FIFO queue, for client libraries that block (LDAP, SQL).
// Jobs queue when every worker is busy. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace postern::kernel {

class WorkerPool {
 public:
  static constexpr unsigned default_threads = 4;

  // At least one thread.
  explicit WorkerPool(unsigned threads = default_threads);
  // shutdown().
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`. A job that throws is logged and the worker carries on.
  // After shutdown() has begun, the job is dropped.
  void post(std::function<void()> job);

  // Stops taking jobs, drops the queued ones that have not started (they are
  // destroyed uncalled: at shutdown nobody waits for them) and joins the
  // workers, which first finish the job they are running. Idempotent; not to
  // be called from a job.
  void shutdown();

  std::size_t threads() const noexcept { return workers_.size(); }
  // Jobs waiting for a worker (not those running).
  std::size_t queued() const;

 private:
  void work();

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace postern::kernel
