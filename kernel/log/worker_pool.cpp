#include "log/worker_pool.hpp"

#include <exception>
#include <utility>

#include "log/logging.hpp"

namespace postern::kernel {

WorkerPool::WorkerPool(unsigned threads) {
  const unsigned count = threads == 0 ? 1 : threads;
  workers_.reserve(count);
  for (unsigned i = 0; i < count; ++i) workers_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::shutdown() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  ready_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  // `dropped` is destroyed here, outside the lock: a job's captures may run
  // arbitrary destructors.
}

void WorkerPool::post(std::function<void()> job) {
  if (!job) return;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // Jobs come from plugins (sdk::Host::run_blocking says they must not
    // throw); one that does must not take the worker thread down with it.
    try {
      job();
    } catch (const std::exception& e) {
      log::kernel().error("blocking job failed: {}", log::escape_control(e.what()));
    } catch (...) {
      log::kernel().error("blocking job failed with an unknown exception");
    }
  }
}

}  // namespace postern::kernel
