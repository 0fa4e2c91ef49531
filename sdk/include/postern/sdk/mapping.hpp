// Mapping sources: where "account -> destination" mappings live. Usable with
// the SDK headers alone (no Boost, no Asio), so a third party can wrap any
// client library. The kernel owns normalization, caching, timeouts and the
// fall-back to the default destination; a source only answers for one key.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <postern/sdk/config.hpp>
#include <postern/sdk/host.hpp>

namespace postern::sdk {

struct LookupResult {
  enum class Status {
    found,      // `destination` names the destination (maybe undeclared: the kernel checks)
    not_found,  // no entry, or an empty value: the default destination applies
    error       // the store could not answer: `message` says why (never a secret)
  };
  Status status = Status::not_found;
  std::string destination;
  std::string message;

  static LookupResult found(std::string d) { return {Status::found, std::move(d), {}}; }
  static LookupResult not_found() { return {Status::not_found, {}, {}}; }
  static LookupResult error(std::string m) { return {Status::error, {}, std::move(m)}; }
};

// Called exactly once per lookup, from any thread, possibly before lookup()
// returns. The kernel may have given up on the lookup by then (timeout); the
// callback stays valid to call regardless.
using LookupCallback = std::function<void(LookupResult)>;

struct WriteResult {
  bool ok = false;
  bool existed = false;   // remove(): whether the key was present
  std::string message;    // on failure: why (no secrets)
};

class MappingSource {
 public:
  virtual ~MappingSource() = default;

  // `key` is already normalized by the kernel (mapping.normalize).
  virtual void lookup(std::string_view key, LookupCallback done) = 0;

  // Writable sources (used by the admin API) override these four.
  virtual bool writable() const noexcept { return false; }
  virtual WriteResult upsert(std::string_view /*key*/, std::string_view /*destination*/) {
    return {false, false, "mapping store is read-only"};
  }
  virtual WriteResult remove(std::string_view /*key*/) {
    return {false, false, "mapping store is read-only"};
  }
  // Re-reads the backing store. On failure the previous contents stay in use.
  virtual WriteResult reload() { return {true, false, {}}; }

  // One line for the admin API and startup log: kind and target, no secrets.
  virtual std::string describe() const = 0;
  // Whether the store currently answers (for health and metrics).
  virtual bool healthy() const noexcept { return true; }
};

// Convenience base for blocking client libraries: implement blocking_lookup()
// and the kernel runs it on its bounded worker pool.
class BlockingMappingSource : public MappingSource {
 public:
  explicit BlockingMappingSource(Host& host) : host_(host) {}

  void lookup(std::string_view key, LookupCallback done) final {
    host_.run_blocking([this, key = std::string(key), done = std::move(done)]() mutable {
      LookupResult result;
      try {
        result = blocking_lookup(key);
      } catch (const std::exception& e) {
        result = LookupResult::error(e.what());
      } catch (...) {
        result = LookupResult::error("lookup failed");
      }
      done(std::move(result));
    });
  }

 protected:
  // Runs on a worker thread; may block up to the store's own timeout.
  virtual LookupResult blocking_lookup(const std::string& key) = 0;

 private:
  Host& host_;
};

// What the kernel knows that a source may need while it validates and loads.
struct MappingContext {
  // Applies mapping.normalize to a key (identity for "none").
  std::function<std::string(std::string_view)> normalize;
  // nullopt when `destination` may be routed to; otherwise why not (undeclared,
  // with a "did you mean", or lacking a protocol a listener needs).
  std::function<std::optional<std::string>(std::string_view destination)> check_destination;
};

class MappingPlugin {
 public:
  virtual ~MappingPlugin() = default;
  // Validates [mapping.<source>] (reporting through `table`) and builds the
  // source; nullptr when an error was reported. The source copies whatever part
  // of `context` it keeps (reload needs it again).
  virtual std::unique_ptr<MappingSource> configure(std::string_view source, ConfigTable& table,
                                                   const MappingContext& context) = 0;
};

}  // namespace postern::sdk
