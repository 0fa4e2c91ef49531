#include "routing/route_cache.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace postern::kernel {
namespace {

using namespace std::chrono_literals;
using Kind = RouteCache::Kind;

const RouteCache::TimePoint t0{};

TEST(RouteCache, MissThenHitCountsBoth) {
  RouteCache cache(100);
  EXPECT_FALSE(cache.get("alice", t0));
  cache.put("alice", "alpha", Kind::mapped, 10s, t0);
  const auto entry = cache.get("alice", t0 + 1s);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value, "alpha");
  EXPECT_EQ(entry->kind, Kind::mapped);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RouteCache, EntryExpiresAtItsTtlOnSimulatedTime) {
  RouteCache cache(100);
  cache.put("alice", "", Kind::unmapped, 30s, t0);
  EXPECT_TRUE(cache.get("alice", t0 + 29s));
  EXPECT_FALSE(cache.get("alice", t0 + 30s));
  EXPECT_EQ(cache.size(), 0u);  // the expired entry was dropped on the way
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(RouteCache, NonPositiveTtlStoresNothing) {
  RouteCache cache(100);
  cache.put("alice", "alpha", Kind::mapped, 0s, t0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.get("alice", t0));
}

TEST(RouteCache, ZeroCapacityDisablesCaching) {
  RouteCache cache(0);
  cache.put("alice", "alpha", Kind::mapped, 10s, t0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.get("alice", t0));
}

TEST(RouteCache, ReplacingAnEntryKeepsTheSizeAndRenewsIt) {
  RouteCache cache(100);
  cache.put("alice", "because", Kind::transient, 5s, t0);
  cache.put("alice", "beta", Kind::mapped, 60s, t0 + 4s);
  EXPECT_EQ(cache.size(), 1u);
  const auto entry = cache.get("alice", t0 + 30s);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value, "beta");
  EXPECT_EQ(entry->kind, Kind::mapped);
}

TEST(RouteCache, TotalSizeNeverExceedsCapacity) {
  for (const std::uint64_t capacity : {1u, 5u, 16u, 100u, 1000u}) {
    RouteCache cache(capacity);
    for (int i = 0; i < 5000; ++i) {
      cache.put("user" + std::to_string(i), "alpha", Kind::mapped, 1h, t0);
      ASSERT_LE(cache.size(), capacity);
    }
    // Evenly spread keys fill (almost) every shard.
    EXPECT_GE(cache.size(), capacity / 2) << "capacity " << capacity;
  }
}

TEST(RouteCache, EvictsTheLeastRecentlyUsedEntry) {
  RouteCache cache(3, 1);
  cache.put("a", "1", Kind::mapped, 1h, t0);
  cache.put("b", "2", Kind::mapped, 1h, t0);
  cache.put("c", "3", Kind::mapped, 1h, t0);
  ASSERT_TRUE(cache.get("a", t0));  // a is now the most recent; b the oldest
  cache.put("d", "4", Kind::mapped, 1h, t0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.contains("b", t0));
  EXPECT_TRUE(cache.contains("a", t0));
  EXPECT_TRUE(cache.contains("c", t0));
  EXPECT_TRUE(cache.contains("d", t0));
}

TEST(RouteCache, ContainsNeitherCountsNorReordersNorSeesExpired) {
  RouteCache cache(2, 1);
  cache.put("a", "1", Kind::mapped, 10s, t0);
  cache.put("b", "2", Kind::mapped, 1h, t0);
  EXPECT_TRUE(cache.contains("a", t0));
  EXPECT_FALSE(cache.contains("a", t0 + 10s));
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.misses(), 0u);
  // "a" was not made recent by contains(), so it is the one evicted.
  cache.put("c", "3", Kind::mapped, 1h, t0);
  EXPECT_FALSE(cache.contains("a", t0));
  EXPECT_TRUE(cache.contains("b", t0));
}

TEST(RouteCache, EraseAndClear) {
  RouteCache cache(100);
  cache.put("a", "1", Kind::mapped, 1h, t0);
  cache.put("b", "2", Kind::mapped, 1h, t0);
  cache.put("c", "3", Kind::mapped, 1h, t0);
  EXPECT_TRUE(cache.erase("a"));
  EXPECT_FALSE(cache.erase("a"));
  EXPECT_EQ(cache.size(), 2u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.get("b", t0));
}

TEST(RouteCache, ConcurrentUseKeepsCountersAndBoundConsistent) {
  constexpr int threads = 4;
  constexpr int rounds = 5000;
  RouteCache cache(64);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&cache, t] {
      for (int i = 0; i < rounds; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 200);
        if (!cache.get(key, t0)) cache.put(key, "v", Kind::mapped, 1h, t0);
        if (i % 97 == 0) cache.erase(key);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(cache.hits() + cache.misses(), std::uint64_t{threads} * rounds);
  EXPECT_LE(cache.size(), 64u);
}

}  // namespace
}  // namespace postern::kernel
