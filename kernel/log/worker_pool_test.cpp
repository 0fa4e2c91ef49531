#include "log/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include "log/logging.hpp"

namespace postern::kernel {
namespace {

using namespace std::chrono_literals;

// A count the test can wait for without hanging when the pool is broken.
class Counter {
 public:
  void add() {
    {
      std::lock_guard lock(mutex_);
      ++value_;
    }
    changed_.notify_all();
  }
  bool wait_for(int target, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return value_ >= target; });
  }
  int value() {
    std::lock_guard lock(mutex_);
    return value_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int value_ = 0;
};

// A gate jobs block on until the test opens it.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

TEST(WorkerPool, RunsEveryPostedJob) {
  Counter done;
  WorkerPool pool;
  EXPECT_EQ(pool.threads(), WorkerPool::default_threads);
  for (int i = 0; i < 200; ++i) pool.post([&done] { done.add(); });
  EXPECT_TRUE(done.wait_for(200));
}

TEST(WorkerPool, JobsRunConcurrentlyOnEveryThread) {
  constexpr int threads = 3;
  WorkerPool pool(threads);
  Counter started;
  Gate gate;
  for (int i = 0; i < threads; ++i) {
    pool.post([&] {
      started.add();
      gate.pass();
    });
  }
  // All three are inside their job at once: three threads are working.
  EXPECT_TRUE(started.wait_for(threads));
  gate.open();
}

TEST(WorkerPool, QueueIsFifo) {
  WorkerPool pool(1);
  Gate gate;
  Counter started;
  pool.post([&] {
    started.add();
    gate.pass();
  });
  ASSERT_TRUE(started.wait_for(1));
  std::mutex mutex;
  std::vector<int> order;
  Counter done;
  for (int i = 0; i < 20; ++i) {
    pool.post([&, i] {
      {
        std::lock_guard lock(mutex);
        order.push_back(i);
      }
      done.add();
    });
  }
  EXPECT_EQ(pool.queued(), 20u);
  gate.open();
  ASSERT_TRUE(done.wait_for(20));
  std::lock_guard lock(mutex);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
}

TEST(WorkerPool, ThrowingJobIsLoggedAndTheWorkerCarriesOn) {
  std::ostringstream out;
  init_logging(*parse_log_filter("info").filter,
               std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  Counter done;
  {
    WorkerPool pool(1);
    pool.post([] { throw std::runtime_error("ldap went away"); });
    pool.post([] { throw 7; });
    pool.post([&done] { done.add(); });
    EXPECT_TRUE(done.wait_for(1));
  }
  init_logging(LogFilter{}, std::make_shared<spdlog::sinks::null_sink_mt>());
  EXPECT_NE(out.str().find("ERROR postern: blocking job failed: ldap went away"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("blocking job failed with an unknown exception"), std::string::npos);
}

// Counts destruction of a job's captures, to tell "dropped" from "ran".
struct Tracker {
  std::atomic<int>* destroyed;
  ~Tracker() { destroyed->fetch_add(1); }
};

TEST(WorkerPool, ShutdownFinishesRunningJobsAndDropsQueuedOnes) {
  auto pool = std::make_unique<WorkerPool>(1);
  Gate gate;
  Counter started;
  Counter ran;
  std::atomic<int> destroyed{0};
  pool->post([&] {
    started.add();
    gate.pass();
    ran.add();
  });
  ASSERT_TRUE(started.wait_for(1));
  for (int i = 0; i < 10; ++i) {
    auto tracker = std::make_shared<Tracker>(&destroyed);
    pool->post([&ran, tracker] { ran.add(); });
  }
  std::thread stopper([&] { pool->shutdown(); });
  // shutdown() takes the queue away before it joins the busy worker.
  while (pool->queued() != 0) std::this_thread::sleep_for(1ms);
  gate.open();
  stopper.join();
  EXPECT_EQ(ran.value(), 1);  // only the job that was already running
  EXPECT_EQ(destroyed.load(), 10);
  // A job posted after shutdown is dropped, not run.
  pool->post([&ran] { ran.add(); });
  pool.reset();
  EXPECT_EQ(ran.value(), 1);
}

}  // namespace
}  // namespace postern::kernel
