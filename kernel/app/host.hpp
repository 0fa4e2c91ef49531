// The kernel's implementation of sdk::Host: one per plugin, with a logger
// named after the plugin and access to the shared blocking-work pool.
#pragma once

#include <memory>
#include <string>

#include <postern/sdk/host.hpp>

#include "log/worker_pool.hpp"
#include "plugin/registry.hpp"

namespace postern::kernel {

class KernelHostFactory final : public PluginHostFactory {
 public:
  explicit KernelHostFactory(WorkerPool& pool) : pool_(pool) {}
  std::unique_ptr<sdk::Host> make_host(const std::string& plugin_name) override;

 private:
  WorkerPool& pool_;
};

}  // namespace postern::kernel
