// The routing cache (behavior.md 7.1): normalized identifier -> what the
// mapping store said about it, with an expiry. Sessions on every thread read
// and fill it, so it is split into shards, each with its own lock and its own
// least-recently-used order; eviction is therefore approximately LRU overall.
// The caller passes the current time, so tests run on simulated time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace postern::kernel {

class RouteCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  enum class Kind {
    mapped,     // the store named a declared destination: `value` is its id
    unmapped,   // no entry: the default destination applies
    transient   // the store failed (error, timeout, undeclared): `value` says why
  };

  struct Entry {
    std::string value;
    Kind kind = Kind::unmapped;
  };

  static constexpr std::size_t default_shards = 16;

  // `capacity` bounds the total number of entries (0 disables caching). It is
  // divided evenly between the shards, so with a small capacity there are
  // fewer shards (never more shards than entries).
  explicit RouteCache(std::uint64_t capacity, std::size_t shards = default_shards);

  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;

  // A live entry counts as a hit and becomes the most recently used of its
  // shard; an absent or expired one counts as a miss (expired ones are
  // dropped on the way).
  std::optional<Entry> get(std::string_view key, TimePoint now);
  // Inserts or replaces; a full shard first evicts its least recently used
  // entry. A non-positive `ttl` stores nothing.
  void put(std::string_view key, std::string value, Kind kind, Duration ttl, TimePoint now);
  // Whether a live entry exists; neither a hit nor a miss, and the LRU order
  // is left alone (for the admin API's "cached" flag).
  bool contains(std::string_view key, TimePoint now) const;
  // Whether an entry (live or expired) was removed.
  bool erase(std::string_view key);
  void clear();

  std::size_t size() const noexcept { return entries_.load(std::memory_order_relaxed); }
  std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const noexcept { return misses_.load(std::memory_order_relaxed); }
  std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  struct Node {
    std::string key;
    Entry entry;
    TimePoint expires;
  };

  struct Shard {
    std::mutex mutex;
    // Front = most recently used. The index keys view the node's own key
    // string, which does not move while the node is in the list.
    std::list<Node> order;
    std::unordered_map<std::string_view, std::list<Node>::iterator> index;
  };

  Shard& shard_for(std::string_view key) const noexcept;
  void remove_locked(Shard& shard, std::list<Node>::iterator it) noexcept;

  std::uint64_t capacity_;
  std::size_t per_shard_capacity_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::size_t> entries_{0};
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace postern::kernel
