#include "routing/router.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace postern::kernel {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A mapping source whose answers the test scripts: inline, from another
// thread, later by hand, or never.
class FakeSource final : public sdk::MappingSource {
 public:
  using Behaviour = std::function<void(const std::string& key, sdk::LookupCallback done)>;

  explicit FakeSource(Behaviour behaviour) : behaviour_(std::move(behaviour)) {}

  void lookup(std::string_view key, sdk::LookupCallback done) override {
    {
      std::lock_guard lock(mutex_);
      keys_.emplace_back(key);
    }
    behaviour_(std::string(key), std::move(done));
  }
  std::string describe() const override { return "fake"; }

  std::size_t lookups() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
  }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  Behaviour behaviour_;
  mutable std::mutex mutex_;
  std::vector<std::string> keys_;
};

// Keeps every callback for the test to call (or not).
struct HeldCallbacks {
  std::mutex mutex;
  std::vector<sdk::LookupCallback> callbacks;

  FakeSource::Behaviour behaviour() {
    return [this](const std::string&, sdk::LookupCallback done) {
      std::lock_guard lock(mutex);
      callbacks.push_back(std::move(done));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return callbacks.size();
  }
  void answer(std::size_t index, sdk::LookupResult result) {
    sdk::LookupCallback done;
    {
      std::lock_guard lock(mutex);
      done = callbacks.at(index);
    }
    done(std::move(result));
  }
};

FakeSource::Behaviour answer_inline(sdk::LookupResult result) {
  return [result](const std::string&, sdk::LookupCallback done) { done(result); };
}

class CapturingLogger final : public sdk::Logger {
 public:
  bool enabled(sdk::LogLevel) const noexcept override { return true; }
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    if (level == sdk::LogLevel::warn) warnings.emplace_back(message);
  }
  std::vector<std::string> warnings;
};

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    routing_.default_destination = "default";
    routing_.master_user_separators = {"%", "*"};
    mapping_.lookup_timeout = std::chrono::milliseconds(5000);
  }

  std::unique_ptr<Router> make_router(std::shared_ptr<sdk::MappingSource> source,
                                      Router::NormalizeFn normalize = {}) {
    return std::make_unique<Router>(
        routing_, mapping_, std::move(source),
        [this](std::string_view d) { return declared_.contains(std::string(d)); },
        std::move(normalize), [this] { return now_; });
  }

  sdk::Route resolve(Router& router, std::string_view identifier, ResolveOptions options = {}) {
    std::optional<sdk::Route> route;
    std::exception_ptr error;
    asio::co_spawn(io_, router.resolve(identifier, options),
                   [&](std::exception_ptr e, sdk::Route r) {
                     error = e;
                     route = std::move(r);
                   });
    io_.restart();
    io_.run();
    if (error) std::rethrow_exception(error);
    EXPECT_TRUE(route.has_value());
    return route.value_or(sdk::Route{});
  }

  asio::io_context io_;
  RoutingConfig routing_;
  MappingConfig mapping_;
  std::set<std::string> declared_{"default", "alpha", "beta"};
  RouteCache::TimePoint now_{};
};

TEST(CutMasterUser, CutsAtTheEarliestSeparator) {
  const std::vector<std::string> separators{"%", "*"};
  EXPECT_EQ(cut_master_user("a%b*c", separators), "a");
  EXPECT_EQ(cut_master_user("a*b%c", separators), "a");
  EXPECT_EQ(cut_master_user("user@example.com%admin", {"%"}), "user@example.com");
  EXPECT_EQ(cut_master_user("plain", separators), "plain");
  EXPECT_EQ(cut_master_user("a::b", {"", "::"}), "a");  // empty separators are ignored
  EXPECT_EQ(cut_master_user("a%b", {}), "a%b");
}

TEST_F(RouterTest, EmptyIdentifierGoesToDefaultWithoutCache) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "");
  EXPECT_TRUE(route.outcome);
  EXPECT_EQ(route.destination, "default");
  EXPECT_EQ(source->lookups(), 0u);
  EXPECT_EQ(router->hits() + router->misses(), 0u);
}

TEST_F(RouterTest, SynchronousAnswerIsRoutedAndCached) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  sdk::Route route = resolve(*router, "alice@example.com");
  EXPECT_TRUE(route.outcome);
  EXPECT_EQ(route.destination, "alpha");
  EXPECT_EQ(route.identifier, "alice@example.com");
  route = resolve(*router, "alice@example.com");
  EXPECT_EQ(route.destination, "alpha");
  EXPECT_EQ(source->lookups(), 1u);
  EXPECT_EQ(router->misses(), 1u);
  EXPECT_EQ(router->hits(), 1u);
  EXPECT_EQ(router->entries(), 1u);
}

TEST_F(RouterTest, MappedEntryLivesForPositiveTtl) {
  mapping_.positive_ttl = std::chrono::milliseconds(600'000);
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  resolve(*router, "alice");
  now_ += 599s;
  resolve(*router, "alice");
  EXPECT_EQ(source->lookups(), 1u);
  now_ += 1s;
  resolve(*router, "alice");
  EXPECT_EQ(source->lookups(), 2u);
}

TEST_F(RouterTest, HugeConfiguredDurationsDoNotOverflow) {
  mapping_.positive_ttl = std::chrono::milliseconds::max();
  mapping_.lookup_timeout = std::chrono::milliseconds::max();
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  EXPECT_EQ(resolve(*router, "alice").destination, "alpha");
  now_ += std::chrono::hours(24 * 1000);
  EXPECT_EQ(resolve(*router, "alice").destination, "alpha");
  EXPECT_EQ(source->lookups(), 1u);
}

TEST_F(RouterTest, NotFoundAndEmptyValueGoToDefaultForNegativeTtl) {
  mapping_.negative_ttl = std::chrono::milliseconds(30'000);
  for (const auto& answer : {sdk::LookupResult::not_found(), sdk::LookupResult::found("")}) {
    auto source = std::make_shared<FakeSource>(answer_inline(answer));
    auto router = make_router(source);
    sdk::Route route = resolve(*router, "bob");
    EXPECT_TRUE(route.outcome);
    EXPECT_EQ(route.destination, "default");
    now_ += 29s;
    route = resolve(*router, "bob");
    EXPECT_EQ(route.destination, "default");
    EXPECT_EQ(source->lookups(), 1u);
    now_ += 1s;
    resolve(*router, "bob");
    EXPECT_EQ(source->lookups(), 2u);
  }
}

TEST_F(RouterTest, AnswerFromAnotherThreadResumesOnTheSessionThread) {
  std::vector<std::thread> answerers;
  auto source = std::make_shared<FakeSource>([&answerers](const std::string&, sdk::LookupCallback done) {
    answerers.emplace_back([done = std::move(done)] {
      std::this_thread::sleep_for(20ms);
      done(sdk::LookupResult::found("beta"));
    });
  });
  auto router = make_router(source);
  std::optional<sdk::Route> route;
  std::thread::id resumed_on;
  auto session = [&]() -> sdk::Task<void> {
    route = co_await router->resolve("carol");
    resumed_on = std::this_thread::get_id();
  };
  asio::co_spawn(io_, session, asio::detached);
  io_.run();
  for (auto& t : answerers) t.join();
  ASSERT_TRUE(route);
  EXPECT_TRUE(route->outcome);
  EXPECT_EQ(route->destination, "beta");
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST_F(RouterTest, StoreTimeoutIsATemporaryFailureAndALateAnswerIsHarmless) {
  mapping_.lookup_timeout = std::chrono::milliseconds(50);
  HeldCallbacks held;
  auto source = std::make_shared<FakeSource>(held.behaviour());
  auto router = make_router(source);
  CapturingLogger log;
  const auto started = std::chrono::steady_clock::now();
  sdk::Route route = resolve(*router, "dave", {.log = &log});
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_NE(route.outcome.detail.find("timed out after 50ms"), std::string::npos);
  EXPECT_TRUE(route.destination.empty());
  ASSERT_EQ(log.warnings.size(), 1u);

  // The store answers after the kernel gave up: dropped, nothing breaks.
  ASSERT_EQ(held.size(), 1u);
  held.answer(0, sdk::LookupResult::found("alpha"));
  io_.restart();
  io_.run();

  // The failure is cached as transient: no second store call within 5 s.
  route = resolve(*router, "dave", {.log = &log});
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_NE(route.outcome.detail.find("(cached)"), std::string::npos);
  EXPECT_EQ(source->lookups(), 1u);
  EXPECT_EQ(log.warnings.size(), 1u);  // cached failures are not logged again
  now_ += 5s;
  resolve(*router, "dave");
  EXPECT_EQ(source->lookups(), 2u);
}

TEST_F(RouterTest, AnswerAfterTheRouterIsGoneIsHarmless) {
  mapping_.lookup_timeout = std::chrono::milliseconds(20);
  HeldCallbacks held;
  auto source = std::make_shared<FakeSource>(held.behaviour());
  auto router = make_router(source);
  EXPECT_EQ(resolve(*router, "erin").outcome.failure, sdk::Failure::lookup);
  router.reset();
  ASSERT_EQ(held.size(), 1u);
  std::thread late([&held] { held.answer(0, sdk::LookupResult::found("alpha")); });
  late.join();
}

TEST_F(RouterTest, NeverAnsweringSourceTimesOut) {
  mapping_.lookup_timeout = std::chrono::milliseconds(30);
  auto source = std::make_shared<FakeSource>([](const std::string&, sdk::LookupCallback) {});
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "frank");
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_NE(route.outcome.detail.find("timed out"), std::string::npos);
}

TEST_F(RouterTest, ConcurrentResolvesOfOneKeyShareOneLookup) {
  HeldCallbacks held;
  auto source = std::make_shared<FakeSource>(held.behaviour());
  auto router = make_router(source);
  std::optional<sdk::Route> first;
  std::optional<sdk::Route> second;
  std::optional<sdk::Route> other;
  asio::co_spawn(io_, router->resolve("grace"), [&](std::exception_ptr, sdk::Route r) { first = r; });
  asio::co_spawn(io_, router->resolve("grace"), [&](std::exception_ptr, sdk::Route r) { second = r; });
  asio::co_spawn(io_, router->resolve("heidi"), [&](std::exception_ptr, sdk::Route r) { other = r; });
  io_.poll();
  EXPECT_FALSE(first || second || other);
  ASSERT_EQ(source->lookups(), 2u);  // one for grace, one for heidi
  EXPECT_EQ(source->keys(), (std::vector<std::string>{"grace", "heidi"}));
  held.answer(0, sdk::LookupResult::found("beta"));
  held.answer(1, sdk::LookupResult::not_found());
  io_.run();
  ASSERT_TRUE(first && second && other);
  EXPECT_EQ(first->destination, "beta");
  EXPECT_EQ(second->destination, "beta");
  EXPECT_EQ(other->destination, "default");
  EXPECT_EQ(router->misses(), 3u);
}

TEST_F(RouterTest, CancelledWaiterLeavesTheSharedLookupToTheOthers) {
  HeldCallbacks held;
  auto source = std::make_shared<FakeSource>(held.behaviour());
  auto router = make_router(source);
  asio::cancellation_signal cancel;
  std::optional<sdk::Route> cancelled;
  std::optional<sdk::Route> patient;
  asio::co_spawn(io_, router->resolve("ivan"),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, sdk::Route r) {
                   cancelled = r;
                 }));
  asio::co_spawn(io_, router->resolve("ivan"), [&](std::exception_ptr, sdk::Route r) { patient = r; });
  io_.poll();
  cancel.emit(asio::cancellation_type::terminal);
  io_.poll();
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->outcome.failure, sdk::Failure::lookup);
  EXPECT_FALSE(patient);
  held.answer(0, sdk::LookupResult::found("alpha"));
  io_.run();
  ASSERT_TRUE(patient);
  EXPECT_EQ(patient->destination, "alpha");
  EXPECT_EQ(source->lookups(), 1u);
}

TEST_F(RouterTest, AbandonedLookupIsTimedOutByTheNextResolve) {
  mapping_.lookup_timeout = std::chrono::milliseconds(20);
  auto source = std::make_shared<FakeSource>([](const std::string&, sdk::LookupCallback) {});
  auto router = make_router(source);
  asio::cancellation_signal cancel;
  std::optional<sdk::Route> cancelled;
  asio::co_spawn(io_, router->resolve("judy"),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, sdk::Route r) {
                   cancelled = r;
                 }));
  io_.poll();
  cancel.emit(asio::cancellation_type::terminal);
  io_.poll();
  ASSERT_TRUE(cancelled);
  std::this_thread::sleep_for(30ms);
  // Nobody waits for the first lookup any more and its deadline has passed:
  // the next resolve ends it as a timeout instead of waiting forever.
  const sdk::Route route = resolve(*router, "judy");
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_NE(route.outcome.detail.find("timed out"), std::string::npos);
  EXPECT_EQ(source->lookups(), 1u);
}

TEST_F(RouterTest, MasterUserSuffixIsCutBeforeLookup) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "a%b*c");
  EXPECT_EQ(route.identifier, "a");
  EXPECT_EQ(source->keys(), std::vector<std::string>{"a"});
  // HTTP identifiers are not cut.
  const sdk::Route http = resolve(*router, "a%b*c", {.mail = false});
  EXPECT_EQ(http.identifier, "a%b*c");
}

TEST_F(RouterTest, OnlySeparatorLeavesNoIdentifier) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "%admin");
  EXPECT_EQ(route.destination, "default");
  EXPECT_EQ(source->lookups(), 0u);
}

TEST_F(RouterTest, NormalizationHookGivesTheKey) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source, lowercase);
  sdk::Route route = resolve(*router, "Judy@Example.COM%Master");
  EXPECT_EQ(route.identifier, "judy@example.com");
  route = resolve(*router, "JUDY@example.com");
  EXPECT_EQ(source->keys(), std::vector<std::string>{"judy@example.com"});
  EXPECT_EQ(router->hits(), 1u);
  EXPECT_EQ(router->normalize("JUDY@example.com"), "judy@example.com");
  EXPECT_TRUE(router->cached("Judy@EXAMPLE.com"));
  EXPECT_TRUE(router->invalidate("JUDY@EXAMPLE.COM"));
  EXPECT_FALSE(router->cached("judy@example.com"));
}

TEST_F(RouterTest, StoreErrorIsATemporaryFailureByDefault) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::error("connection refused")));
  auto router = make_router(source);
  CapturingLogger log;
  const sdk::Route route = resolve(*router, "kim", {.log = &log});
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_EQ(route.outcome.detail, "mapping lookup failed: connection refused");
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_EQ(log.warnings[0], "mapping lookup failed: connection refused");
}

TEST_F(RouterTest, StoreErrorFallsBackToDefaultWhenConfigured) {
  mapping_.on_lookup_error = OnLookupError::default_destination;
  mapping_.negative_ttl = std::chrono::milliseconds(2000);
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::error("connection refused")));
  auto router = make_router(source);
  CapturingLogger log;
  sdk::Route route = resolve(*router, "kim", {.log = &log});
  EXPECT_TRUE(route.outcome);
  EXPECT_EQ(route.destination, "default");
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_NE(log.warnings[0].find("routing to the default destination"), std::string::npos);
  // Transient for min(5 s, negative_ttl) = 2 s.
  now_ += 1999ms;
  route = resolve(*router, "kim");
  EXPECT_EQ(route.destination, "default");
  EXPECT_EQ(source->lookups(), 1u);
  now_ += 1ms;
  resolve(*router, "kim");
  EXPECT_EQ(source->lookups(), 2u);
}

TEST_F(RouterTest, TimeoutFallsBackToDefaultWhenConfigured) {
  mapping_.on_lookup_error = OnLookupError::default_destination;
  mapping_.lookup_timeout = std::chrono::milliseconds(20);
  auto source = std::make_shared<FakeSource>([](const std::string&, sdk::LookupCallback) {});
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "leo");
  EXPECT_TRUE(route.outcome);
  EXPECT_EQ(route.destination, "default");
}

TEST_F(RouterTest, UndeclaredDestinationIsATemporaryFailure) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("zeta")));
  auto router = make_router(source);
  CapturingLogger log;
  sdk::Route route = resolve(*router, "mallory", {.log = &log});
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_EQ(route.outcome.detail, "mapping store returned undeclared destination 'zeta'");
  EXPECT_EQ(log.warnings.size(), 1u);
  // Cached as transient (5 s with the default negative_ttl of 30 s).
  now_ += 4s;
  route = resolve(*router, "mallory");
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_EQ(source->lookups(), 1u);
  now_ += 1s;
  resolve(*router, "mallory");
  EXPECT_EQ(source->lookups(), 2u);
}

TEST_F(RouterTest, UndeclaredDestinationFallsBackToDefaultWhenConfigured) {
  mapping_.on_lookup_error = OnLookupError::default_destination;
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("zeta")));
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "mallory");
  EXPECT_TRUE(route.outcome);
  EXPECT_EQ(route.destination, "default");
}

TEST_F(RouterTest, UndeclaredDestinationIsEscapedInTheDetail) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("x\r\ny'")));
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "nina");
  EXPECT_EQ(route.outcome.detail, "mapping store returned undeclared destination 'x\\x0d\\x0ay\\x27'");
}

TEST_F(RouterTest, ThrowingSourceIsATemporaryFailure) {
  auto source = std::make_shared<FakeSource>([](const std::string&, sdk::LookupCallback) {
    throw std::runtime_error("driver exploded");
  });
  auto router = make_router(source);
  const sdk::Route route = resolve(*router, "oscar");
  EXPECT_EQ(route.outcome.failure, sdk::Failure::lookup);
  EXPECT_EQ(route.outcome.detail, "mapping lookup failed: driver exploded");
}

TEST_F(RouterTest, InvalidIdentifierIsRefusedWithoutLookup) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  const std::vector<std::string_view> bad_identifiers{"bad user", "quo\"te", std::string_view("nul\0x", 5),
                                                      "del\x7f"};
  for (const std::string_view bad : bad_identifiers) {
    const sdk::Route route = resolve(*router, bad);
    EXPECT_EQ(route.outcome.failure, sdk::Failure::identifier) << bad;
  }
  EXPECT_EQ(source->lookups(), 0u);
  EXPECT_EQ(router->hits() + router->misses(), 0u);
  // Not checked for HTTP identifiers (behavior.md 8.4).
  const sdk::Route http = resolve(*router, "bad user", {.mail = false});
  EXPECT_TRUE(http.outcome);
  EXPECT_EQ(http.destination, "alpha");
}

TEST_F(RouterTest, ClearEmptiesTheCache) {
  auto source = std::make_shared<FakeSource>(answer_inline(sdk::LookupResult::found("alpha")));
  auto router = make_router(source);
  resolve(*router, "pat");
  resolve(*router, "quinn");
  EXPECT_EQ(router->entries(), 2u);
  router->clear();
  EXPECT_EQ(router->entries(), 0u);
  resolve(*router, "pat");
  EXPECT_EQ(source->lookups(), 3u);
}

}  // namespace
}  // namespace postern::kernel
