#include "routing/route_cache.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace postern::kernel {

RouteCache::RouteCache(std::uint64_t capacity, std::size_t shards) : capacity_(capacity) {
  const std::uint64_t shard_count =
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(std::max<std::size_t>(shards, 1), capacity));
  // Rounded down: the shards together never hold more than `capacity`.
  per_shard_capacity_ = static_cast<std::size_t>(capacity / shard_count);
  shards_.reserve(static_cast<std::size_t>(shard_count));
  for (std::uint64_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<Shard>());
}

RouteCache::Shard& RouteCache::shard_for(std::string_view key) const noexcept {
  const std::size_t h = std::hash<std::string_view>{}(key);
  // The unordered_map inside the shard uses the low bits of the same hash;
  // picking the shard from the high bits keeps the two choices independent.
  const std::size_t mixed = h ^ (h >> (sizeof(std::size_t) * 4)) ^ (h >> 17);
  return *shards_[mixed % shards_.size()];
}

void RouteCache::remove_locked(Shard& shard, std::list<Node>::iterator it) noexcept {
  shard.index.erase(std::string_view(it->key));
  shard.order.erase(it);
  entries_.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<RouteCache::Entry> RouteCache::get(std::string_view key, TimePoint now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  const auto it = found->second;
  if (it->expires <= now) {
    remove_locked(shard, it);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  shard.order.splice(shard.order.begin(), shard.order, it);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->entry;
}

void RouteCache::put(std::string_view key, std::string value, Kind kind, Duration ttl,
                     TimePoint now) {
  if (per_shard_capacity_ == 0 || ttl <= Duration::zero()) return;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found != shard.index.end()) {
    const auto it = found->second;
    it->entry = Entry{std::move(value), kind};
    it->expires = now + ttl;
    shard.order.splice(shard.order.begin(), shard.order, it);
    return;
  }
  if (shard.order.size() >= per_shard_capacity_) remove_locked(shard, std::prev(shard.order.end()));
  shard.order.push_front(Node{std::string(key), Entry{std::move(value), kind}, now + ttl});
  const auto it = shard.order.begin();
  shard.index.emplace(std::string_view(it->key), it);
  entries_.fetch_add(1, std::memory_order_relaxed);
}

bool RouteCache::contains(std::string_view key, TimePoint now) const {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  return found != shard.index.end() && found->second->expires > now;
}

bool RouteCache::erase(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found == shard.index.end()) return false;
  remove_locked(shard, found->second);
  return true;
}

void RouteCache::clear() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    entries_.fetch_sub(shard->order.size(), std::memory_order_relaxed);
    shard->index.clear();
    shard->order.clear();
  }
}

}  // namespace postern::kernel
