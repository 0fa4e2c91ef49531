// A protocol plugin whose session starts its own coroutine with a timer and
// reports, through the session logger, where that coroutine ran: proves that
// plugin coroutines run on the kernel's executor and that timers created in a
// plugin fire (one Asio runtime in the process).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <postern/sdk/plugin.hpp>
#include <postern/sdk/protocol.hpp>

namespace {

namespace asio = boost::asio;
using postern::sdk::Task;

Task<std::string> timer_probe() {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, std::chrono::milliseconds(20));
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  const auto* io = executor.target<asio::io_context::executor_type>();
  co_return fmt::format("timer fired={} on_kernel_thread={} context={}", !ec,
                        io != nullptr && io->running_in_this_thread(),
                        io != nullptr ? static_cast<const void*>(&io->context()) : nullptr);
}

class ProbeHandler final : public postern::sdk::ProtocolHandler {
 public:
  Task<void> serve(postern::sdk::Session& session) override {
    auto executor = co_await asio::this_coro::executor;
    const std::string report = co_await asio::co_spawn(executor, timer_probe(), asio::use_awaitable);
    session.log().info(report);
  }
};

class ProbePlugin final : public postern::sdk::ProtocolPlugin {
 public:
  explicit ProbePlugin(postern::sdk::Host&) {}
  postern::sdk::ProtocolTraits traits(std::string_view) const override { return {false}; }
  std::unique_ptr<postern::sdk::ProtocolHandler> configure(std::string_view, postern::sdk::ConfigTable&) override {
    return std::make_unique<ProbeHandler>();
  }
};

}  // namespace

POSTERN_DECLARE_PLUGIN(POSTERN_KIND_PROTOCOL, "abi-probe", "0.0.1", ("abi-probe"), ("capabilities.abi-probe"),
                       ProbePlugin)
