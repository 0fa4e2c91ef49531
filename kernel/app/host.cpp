#include "app/host.hpp"

#include "log/logging.hpp"

namespace postern::kernel {
namespace {

class KernelHost final : public sdk::Host {
 public:
  KernelHost(const std::string& plugin_name, WorkerPool& pool) : logger_(plugin_name), pool_(pool) {}
  sdk::Logger& logger() noexcept override { return logger_; }
  void run_blocking(std::function<void()> job) override { pool_.post(std::move(job)); }

 private:
  PluginLogger logger_;
  WorkerPool& pool_;
};

}  // namespace

std::unique_ptr<sdk::Host> KernelHostFactory::make_host(const std::string& plugin_name) {
  return std::make_unique<KernelHost>(plugin_name, pool_);
}

}  // namespace postern::kernel
