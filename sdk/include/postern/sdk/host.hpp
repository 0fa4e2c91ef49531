// Process-wide services the kernel offers to every plugin. The object is owned
// by the kernel and outlives every plugin object. Thread-safe.
#pragma once

#include <functional>

#include <postern/sdk/log.hpp>

namespace postern::sdk {

class Host {
 public:
  virtual ~Host() = default;
  // A logger named after the plugin (usable as a RUST_LOG-style target).
  virtual Logger& logger() noexcept = 0;
  // Runs `job` on the kernel's bounded worker pool, for blocking client
  // libraries. Jobs queue when every worker is busy. `job` must not throw.
  virtual void run_blocking(std::function<void()> job) = 0;
};

}  // namespace postern::sdk
