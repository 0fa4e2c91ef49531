// The routing core (behavior.md 7.1, 7.2 and item 16 of its first section):
// identifier -> master-user cut -> normalization -> cache -> mapping source
// (bounded by lookup_timeout, concurrent lookups of one key coalesced) ->
// destination. One Router per configuration snapshot; a reload builds a new
// one (empty cache, counters reset).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <postern/sdk/io.hpp>
#include <postern/sdk/log.hpp>
#include <postern/sdk/mapping.hpp>
#include <postern/sdk/protocol.hpp>

#include "config/config.hpp"
#include "routing/route_cache.hpp"

namespace postern::kernel {

// Cuts `identifier` at the earliest occurrence of any non-empty separator
// (behavior.md 7.2): "a%b*c" with {"%", "*"} gives "a".
std::string_view cut_master_user(std::string_view identifier,
                                 const std::vector<std::string>& separators) noexcept;

struct ResolveOptions {
  // Where warnings about this resolution go (a store that failed, timed out
  // or named an undeclared destination): the session's logger, so the line
  // carries the session context. Null: not logged.
  sdk::Logger* log = nullptr;
  // Mail protocols cut master-user suffixes (7.2) and refuse identifiers with
  // forbidden characters (8.4); HTTP and the admin API do neither.
  bool mail = true;
};

class Router {
 public:
  // Whether a destination id is declared in the configuration. Called from
  // the mapping source's callback thread as well: must be thread-safe.
  using IsDeclared = std::function<bool(std::string_view destination)>;
  // mapping.normalize applied to a key (the configuration provides it).
  using NormalizeFn = std::function<std::string(std::string_view)>;
  // The time used for cache expiry (steady_clock::now unless a test injects a
  // simulated one). lookup_timeout always runs on the real steady clock,
  // because it is an Asio timer.
  using Clock = std::function<RouteCache::TimePoint()>;

  Router(RoutingConfig routing, MappingConfig mapping, std::shared_ptr<sdk::MappingSource> source,
         IsDeclared is_declared, NormalizeFn normalize, Clock clock = {});
  ~Router();

  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Resolves a routing identifier to a destination. Never throws; failures
  // come back in Route::outcome (Failure::identifier, Failure::lookup).
  // Suspends on the caller's executor, which must serialize its handlers (a
  // strand or a single-threaded io_context, as every session's is). The
  // Router must outlive the call; the mapping source's callback may come
  // later, from any thread, or never.
  sdk::Task<sdk::Route> resolve(std::string_view identifier, ResolveOptions options = {});

  // The cache key for an identifier (normalization only, no master-user cut).
  std::string normalize(std::string_view identifier) const;
  // Whether the (normalized) identifier has a live cache entry; does not
  // count as a hit or miss.
  bool cached(std::string_view identifier) const;
  // Drops the cache entry of the (normalized) identifier; whether one existed.
  bool invalidate(std::string_view identifier);
  void clear();

  std::uint64_t hits() const noexcept;
  std::uint64_t misses() const noexcept;
  std::size_t entries() const noexcept;
  const std::string& default_destination() const noexcept;
  const std::shared_ptr<sdk::MappingSource>& source() const noexcept;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  NormalizeFn normalize_;
};

}  // namespace postern::kernel
