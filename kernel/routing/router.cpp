#include "routing/router.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <postern/sdk/sasl.hpp>

namespace postern::kernel {

namespace asio = boost::asio;

namespace {

// Store failures are retried soon, whatever negative_ttl says (7.1).
constexpr std::chrono::seconds transient_ttl_cap{5};
// Configured durations are only bounded by the config parser's u64; keep the
// deadline and expiry arithmetic on the steady clock far from overflow.
constexpr std::chrono::hours longest_duration{24 * 365 * 10};

RouteCache::Duration bounded(std::chrono::milliseconds duration) {
  return std::chrono::duration_cast<RouteCache::Duration>(
      std::clamp<std::chrono::milliseconds>(duration, std::chrono::milliseconds::zero(),
                                            longest_duration));
}

// What the store returns (a destination id, an error message) ends up in log
// lines: bounded and printable.
constexpr std::size_t max_logged_destination = 64;
constexpr std::size_t max_logged_message = 256;

std::string printable(std::string_view text, std::size_t limit) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0x0f];
    } else {
      out += c;
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// What a store lookup decided; also what the cache holds.
struct Decision {
  RouteCache::Kind kind = RouteCache::Kind::unmapped;
  std::string value;  // mapped: the destination; transient: why (for logs)
};

// One session waiting for a flight. The timer doubles as the wake-up: it
// expires at the flight's deadline, and settling the flight cancels it early.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
};

// One store lookup in progress, shared by the sessions waiting for it (7.1:
// concurrent lookups of one key are coalesced) and by the store's callback,
// which may arrive on any thread, inline, after the deadline, or never.
class Flight {
 public:
  Flight(std::string key, std::chrono::steady_clock::time_point deadline)
      : key_(std::move(key)), deadline_(deadline) {}

  const std::string& key() const noexcept { return key_; }
  std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }

  // False when the flight is already settled (the decision is ready).
  bool attach(const std::shared_ptr<Waiter>& waiter) {
    std::lock_guard lock(mutex_);
    if (decision_) return false;
    waiters_.push_back(waiter);
    return true;
  }

  void detach(const Waiter* waiter) noexcept {
    std::lock_guard lock(mutex_);
    std::erase_if(waiters_, [waiter](const auto& w) { return w.get() == waiter; });
  }

  // The first decision wins; later ones (a callback after the timeout, a
  // second callback from a faulty source) are dropped. Wakes every waiter on
  // its own executor. Posting under the lock pairs with detach(): a waiter
  // whose coroutine is gone (and whose executor may be gone) is never posted to.
  bool settle(Decision decision) {
    std::lock_guard lock(mutex_);
    if (decision_) return false;
    decision_ = std::move(decision);
    for (auto& waiter : waiters_) {
      asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
    }
    waiters_.clear();
    return true;
  }

  std::optional<Decision> decision() const {
    std::lock_guard lock(mutex_);
    return decision_;
  }

 private:
  const std::string key_;
  const std::chrono::steady_clock::time_point deadline_;
  mutable std::mutex mutex_;
  std::optional<Decision> decision_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

// Keeps a waiter registered for as long as its coroutine frame lives.
class Attachment {
 public:
  Attachment(std::shared_ptr<Flight> flight, const std::shared_ptr<Waiter>& waiter)
      : flight_(std::move(flight)), waiter_(waiter.get()), attached_(flight_->attach(waiter)) {}
  ~Attachment() {
    if (attached_) flight_->detach(waiter_);
  }
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  bool attached() const noexcept { return attached_; }

 private:
  std::shared_ptr<Flight> flight_;
  const Waiter* waiter_;
  bool attached_;
};

}  // namespace

// Everything the store callback may touch, so that a callback arriving after
// the Router is gone finds nothing (it holds a weak_ptr) and a callback held
// forever by a silent store keeps nothing alive.
struct Router::Shared {
  RoutingConfig routing;
  MappingConfig mapping;
  std::shared_ptr<sdk::MappingSource> source;
  IsDeclared is_declared;
  Clock clock;
  RouteCache cache;
  std::mutex flights_mutex;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights;

  Shared(RoutingConfig r, MappingConfig m, std::shared_ptr<sdk::MappingSource> s, IsDeclared d,
         Clock c)
      : routing(std::move(r)),
        mapping(std::move(m)),
        source(std::move(s)),
        is_declared(std::move(d)),
        clock(std::move(c)),
        cache(mapping.cache_max_entries) {}

  RouteCache::Duration ttl_for(RouteCache::Kind kind) const {
    switch (kind) {
      case RouteCache::Kind::mapped: return bounded(mapping.positive_ttl);
      case RouteCache::Kind::unmapped: return bounded(mapping.negative_ttl);
      case RouteCache::Kind::transient:
        return std::min<RouteCache::Duration>(transient_ttl_cap, bounded(mapping.negative_ttl));
    }
    return RouteCache::Duration::zero();
  }

  // Behavior.md 7.1 table, with item 16: an undeclared destination is a store
  // failure (transient), not an unmapped account.
  Decision decide(const sdk::LookupResult& result) const {
    switch (result.status) {
      case sdk::LookupResult::Status::found:
        if (result.destination.empty()) return {RouteCache::Kind::unmapped, {}};
        if (is_declared(result.destination)) {
          return {RouteCache::Kind::mapped, result.destination};
        }
        return {RouteCache::Kind::transient, "mapping store returned undeclared destination '" +
                                                 printable(result.destination, max_logged_destination) + "'"};
      case sdk::LookupResult::Status::not_found:
        return {RouteCache::Kind::unmapped, {}};
      case sdk::LookupResult::Status::error:
        break;
    }
    if (result.message.empty()) return {RouteCache::Kind::transient, "mapping lookup failed"};
    return {RouteCache::Kind::transient,
            "mapping lookup failed: " + printable(result.message, max_logged_message)};
  }

  Decision timeout_decision() const {
    return {RouteCache::Kind::transient, "mapping lookup timed out after " +
                                             std::to_string(mapping.lookup_timeout.count()) + "ms"};
  }

  // The one place a flight ends: decide once, cache, and let new resolves of
  // the key start afresh.
  void complete(const std::shared_ptr<Flight>& flight, Decision decision) {
    const RouteCache::Kind kind = decision.kind;
    std::string value = decision.value;
    if (!flight->settle(std::move(decision))) return;
    cache.put(flight->key(), std::move(value), kind, ttl_for(kind), clock());
    std::lock_guard lock(flights_mutex);
    const auto it = flights.find(flight->key());
    if (it != flights.end() && it->second == flight) flights.erase(it);
  }

  // The flight for `key`, and whether the caller must start the store lookup.
  std::pair<std::shared_ptr<Flight>, bool> join_or_start(const std::string& key) {
    std::lock_guard lock(flights_mutex);
    auto [it, inserted] = flights.try_emplace(key);
    if (inserted) {
      it->second = std::make_shared<Flight>(
          key, std::chrono::steady_clock::now() + bounded(mapping.lookup_timeout));
    }
    return {it->second, inserted};
  }

  static void start_lookup(const std::shared_ptr<Shared>& self,
                           const std::shared_ptr<Flight>& flight) {
    if (!self->source) {
      self->complete(flight, {RouteCache::Kind::transient, "no mapping source configured"});
      return;
    }
    std::weak_ptr<Shared> weak = self;
    sdk::LookupCallback done = [weak, flight](sdk::LookupResult result) {
      if (const auto shared = weak.lock()) shared->complete(flight, shared->decide(result));
    };
    // The source is plugin code: an exception must not escape into the session.
    try {
      self->source->lookup(flight->key(), std::move(done));
    } catch (const std::exception& e) {
      self->complete(flight, self->decide(sdk::LookupResult::error(e.what())));
    } catch (...) {
      self->complete(flight, self->decide(sdk::LookupResult::error("lookup threw")));
    }
  }

  // Waits for the store's decision on `key`; nullopt when the waiting
  // coroutine was cancelled before the flight ended.
  static sdk::Task<std::optional<Decision>> ask_store(std::shared_ptr<Shared> self,
                                                      std::string key) {
    const auto executor = co_await asio::this_coro::executor;
    auto [flight, leader] = self->join_or_start(key);
    auto waiter = std::make_shared<Waiter>(executor);
    const Attachment attachment(flight, waiter);
    if (leader) start_lookup(self, flight);
    if (attachment.attached() && !flight->decision()) {
      waiter->timer.expires_at(flight->deadline());
      co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (auto decision = flight->decision()) co_return decision;
    // Woken without a decision: either the deadline passed (this waiter
    // times the flight out for everyone) or the session was cancelled.
    if (std::chrono::steady_clock::now() < flight->deadline()) co_return std::nullopt;
    self->complete(flight, self->timeout_decision());
    co_return flight->decision();
  }
};

std::string_view cut_master_user(std::string_view identifier,
                                 const std::vector<std::string>& separators) noexcept {
  std::size_t cut = identifier.size();
  for (const auto& separator : separators) {
    if (separator.empty()) continue;
    cut = std::min(cut, identifier.find(separator));
  }
  return identifier.substr(0, cut);
}

Router::Router(RoutingConfig routing, MappingConfig mapping,
               std::shared_ptr<sdk::MappingSource> source, IsDeclared is_declared,
               NormalizeFn normalize, Clock clock)
    : shared_(std::make_shared<Shared>(
          std::move(routing), std::move(mapping), std::move(source), std::move(is_declared),
          clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); }))),
      normalize_(std::move(normalize)) {}

Router::~Router() = default;

std::string Router::normalize(std::string_view identifier) const {
  return normalize_ ? normalize_(identifier) : std::string(identifier);
}

sdk::Task<sdk::Route> Router::resolve(std::string_view identifier, ResolveOptions options) {
  const Shared& shared = *shared_;
  sdk::Route route;
  const std::string_view cut =
      options.mail ? cut_master_user(identifier, shared.routing.master_user_separators) : identifier;
  // No identifier: the default destination, without touching the cache.
  if (cut.empty()) {
    route.destination = shared.routing.default_destination;
    co_return route;
  }
  route.identifier = normalize(cut);
  if (route.identifier.empty()) {
    route.destination = shared.routing.default_destination;
    co_return route;
  }
  // Behavior.md 8.4: the identifier ends up in forwarded metadata.
  if (options.mail && !sdk::sasl::identifier_is_valid(route.identifier)) {
    route.outcome = sdk::Outcome::fail(sdk::Failure::identifier,
                                       "routing identifier contains forbidden characters");
    co_return route;
  }

  Decision decision;
  bool fresh = false;
  if (auto hit = shared_->cache.get(route.identifier, shared.clock())) {
    decision = {hit->kind, std::move(hit->value)};
  } else {
    auto answer = co_await Shared::ask_store(shared_, route.identifier);
    if (!answer) {
      route.outcome = sdk::Outcome::fail(sdk::Failure::lookup, "mapping lookup cancelled");
      co_return route;
    }
    decision = std::move(*answer);
    fresh = true;
  }

  switch (decision.kind) {
    case RouteCache::Kind::mapped:
      route.destination = std::move(decision.value);
      break;
    case RouteCache::Kind::unmapped:
      route.destination = shared.routing.default_destination;
      break;
    case RouteCache::Kind::transient:
      // Item 16: a store that cannot answer fails the login temporarily unless
      // the operator chose the reference's fall-back to the default.
      if (shared.mapping.on_lookup_error == OnLookupError::default_destination) {
        if (fresh && options.log) {
          options.log->warn(decision.value + "; routing to the default destination");
        }
        route.destination = shared.routing.default_destination;
        break;
      }
      if (fresh && options.log) options.log->warn(decision.value);
      route.outcome = sdk::Outcome::fail(sdk::Failure::lookup,
                                         fresh ? decision.value : decision.value + " (cached)");
      break;
  }
  co_return route;
}

bool Router::cached(std::string_view identifier) const {
  return shared_->cache.contains(normalize(identifier), shared_->clock());
}

bool Router::invalidate(std::string_view identifier) {
  return shared_->cache.erase(normalize(identifier));
}

void Router::clear() { shared_->cache.clear(); }

std::uint64_t Router::hits() const noexcept { return shared_->cache.hits(); }
std::uint64_t Router::misses() const noexcept { return shared_->cache.misses(); }
std::size_t Router::entries() const noexcept { return shared_->cache.size(); }

const std::string& Router::default_destination() const noexcept {
  return shared_->routing.default_destination;
}

const std::shared_ptr<sdk::MappingSource>& Router::source() const noexcept {
  return shared_->source;
}

}  // namespace postern::kernel
