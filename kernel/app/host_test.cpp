// A third party's blocking mapping source (sdk::BlockingMappingSource) runs
// on the kernel's worker pool, never on the session's event loop, and its
// answer comes back to the session through the router.
#include "app/host.hpp"

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "routing/router.hpp"

namespace postern::kernel {
namespace {

class DirectorySource final : public sdk::BlockingMappingSource {
 public:
  explicit DirectorySource(sdk::Host& host) : BlockingMappingSource(host) {}
  std::string describe() const override { return "test directory"; }
  std::thread::id lookup_thread;

 protected:
  sdk::LookupResult blocking_lookup(const std::string& key) override {
    lookup_thread = std::this_thread::get_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow directory server
    return key == "alice" ? sdk::LookupResult::found("new") : sdk::LookupResult::not_found();
  }
};

TEST(KernelHost, BlockingLookupsRunOnTheWorkerPool) {
  WorkerPool pool(2);
  KernelHostFactory hosts(pool);
  const std::unique_ptr<sdk::Host> host = hosts.make_host("mapping-test");
  auto source = std::make_shared<DirectorySource>(*host);

  RoutingConfig routing;
  routing.default_destination = "old";
  Router router(routing, MappingConfig{}, source,
                [](std::string_view d) { return d == "old" || d == "new"; },
                [](std::string_view key) { return std::string(key); });

  boost::asio::io_context loop;
  std::thread::id loop_thread;
  std::vector<std::string> destinations;
  auto resolve_both = [&]() -> sdk::Task<void> {
    loop_thread = std::this_thread::get_id();
    const sdk::Route alice = co_await router.resolve("alice");
    destinations.push_back(alice.destination);
    const sdk::Route bob = co_await router.resolve("bob");
    destinations.push_back(bob.destination);
  };
  boost::asio::co_spawn(loop, resolve_both(), [](std::exception_ptr e) { EXPECT_FALSE(e); });
  loop.run();
  pool.shutdown();

  EXPECT_EQ(destinations, (std::vector<std::string>{"new", "old"}));
  EXPECT_NE(source->lookup_thread, std::thread::id());
  EXPECT_NE(source->lookup_thread, loop_thread);
}

}  // namespace
}  // namespace postern::kernel
