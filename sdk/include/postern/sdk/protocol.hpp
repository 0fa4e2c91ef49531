// Protocol plugins: the per-protocol part of a session (greeting,
// capabilities, STARTTLS, authentication, the backend's greeting and login).
// Everything else (sockets, TLS, PROXY headers, routing, outbound
// connections, the bridge, logging context, timeouts) is a kernel service
// reached through Session and Backend.
//
// Threading: serve() runs as a coroutine on the connection's executor (one
// thread per connection). Every Session/Backend call must be made from that
// coroutine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <postern/sdk/config.hpp>
#include <postern/sdk/forwarding.hpp>
#include <postern/sdk/host.hpp>
#include <postern/sdk/io.hpp>
#include <postern/sdk/log.hpp>

namespace postern::sdk {

enum class TlsMode { implicit, starttls, plain };

// Session phases, for observability only (every log line carries the phase).
enum class Phase { accept, proxy_header, tls, greeting, pre_auth, route, backend_connect, backend_login, bridge, end };
std::string_view to_string(Phase phase) noexcept;

// Why something failed, as a stable category that appears in logs and metrics.
enum class Failure {
  none,
  config,        // a destination lacks the protocol, undeclared destination...
  lookup,        // the mapping store could not answer
  connect,       // DNS, TCP connect, source address
  tls,           // TLS handshake or certificate verification
  greeting,      // the backend's greeting was missing or unacceptable
  protocol,      // the backend answered something unexpected (e.g. no STARTTLS)
  plaintext,     // credentials would cross an unencrypted backend leg
  timeout,       // backend_timeout elapsed
  breaker_open,  // the destination is marked down
  loop,          // the destination is one of our own listeners / TTL exhausted
  auth,          // the backend refused the credentials
  identifier,    // the routing identifier has forbidden characters
  internal
};
std::string_view to_string(Failure failure) noexcept;

struct Outcome {
  Failure failure = Failure::none;
  std::string detail;       // for the log; never a secret
  bool retryable = false;   // may a new establishment attempt succeed?

  explicit operator bool() const noexcept { return failure == Failure::none; }
  static Outcome ok() { return {}; }
  static Outcome fail(Failure f, std::string d, bool retry = false) {
    return {f, std::move(d), retry};
  }
};

struct SessionInfo {
  std::uint64_t id = 0;
  std::string listener;
  std::string protocol;
  Address peer;            // the client, after any PROXY header
  Address local;           // where the client connected, after any PROXY header
  TlsMode listener_tls = TlsMode::plain;
  unsigned max_auth_attempts = 3;
  std::string jwt_username_claim;  // [oauth] jwt_username_claim
  // The TCP peer is in the listener's proxy_trusted: an upstream proxy whose
  // forwarded metadata (IMAP ID, XCLIENT) may be believed.
  bool trusted_peer = false;
};

struct BackendInfo {
  std::string destination;
  std::string host;
  std::uint16_t port = 0;
  TlsMode tls = TlsMode::plain;
  bool hide_auth_errors = false;
  // Forwarding::xclient: the plugin sends IMAP ID / XCLIENT (when the backend
  // advertises it) with Session::forward_info(). Forwarding::proxy: the kernel
  // already sent a PROXY v2 header.
  Forwarding forwarding = Forwarding::none;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Stream& stream() noexcept = 0;
  virtual const BackendInfo& info() const noexcept = 0;
  // TLS client handshake on the backend leg with the destination's
  // verification policy (after the protocol's own STARTTLS exchange). The
  // caller must discard anything it buffered from the plaintext phase.
  virtual Task<Outcome> start_tls() = 0;
  // The check of the last moment before credentials are written: the leg is
  // TLS, or the endpoint is plain and the destination allows plaintext auth.
  virtual bool may_send_credentials() const noexcept = 0;
  // Starts a fresh backend_timeout budget for the next exchange (the
  // authentication exchange has its own, after establishment).
  virtual void restart_deadline() noexcept = 0;
};

struct Route {
  Outcome outcome;          // failure: lookup (store down) or identifier
  std::string destination;  // the destination to connect to
  std::string identifier;   // the routing key after master-user cut and normalization
};

// Called by the kernel right after the backend connection (and implicit TLS)
// is up, inside the establishment budget: the protocol's greeting, STARTTLS and
// capability discovery. A failure marked retryable may be retried on a fresh
// connection.
using BackendHandshake = std::function<Task<Outcome>(Backend&)>;

struct BackendConnection {
  std::unique_ptr<Backend> backend;  // null on failure
  Outcome outcome;
};

class Session {
 public:
  virtual ~Session() = default;

  virtual const SessionInfo& info() const noexcept = 0;
  // A logger that prefixes the session context.
  virtual Logger& log() noexcept = 0;
  // Entering Phase::pre_auth (again) starts a fresh preauth_timeout budget for
  // client reads; route() ends it.
  virtual void set_phase(Phase phase) noexcept = 0;

  virtual Stream& client() noexcept = 0;
  // The listener offers STARTTLS and the client leg is not yet TLS.
  virtual bool starttls_offered() const noexcept = 0;
  // Server-side TLS handshake on the client leg (after the protocol's
  // positive STARTTLS reply). The caller discards its buffered plaintext.
  virtual Task<Outcome> start_client_tls() = 0;

  // Routing: master-user cut, normalization, cache, mapping source, default.
  virtual Task<Route> route(std::string_view identifier) = 0;
  // Connects to `destination`'s endpoint for this session's protocol and runs
  // `handshake` on it, within backend_timeout.
  virtual Task<BackendConnection> connect_backend(std::string_view destination,
                                                  BackendHandshake handshake) = 0;
  // Records an authenticated backend session: logged, and registered under
  // `identifier` (the Route's) so that it can be kicked.
  virtual void authenticated(std::string_view identifier) = 0;

  // What to tell a backend about the client (IMAP ID, XCLIENT).
  virtual ForwardInfo forward_info() const = 0;
  // A hop count received from a trusted upstream proxy (only honoured when
  // info().trusted_peer). The kernel forwards one less and refuses to connect
  // once it is exhausted (Failure::loop).
  virtual void received_ttl(unsigned hops) noexcept = 0;

  // The one way to tell a client that no backend can serve it now: writes
  // `reply` (the protocol's temporary-failure line, e.g. IMAP
  // "<tag> NO [UNAVAILABLE] backend unavailable"), logs `why` once with its
  // category, and closes the client leg.
  virtual Task<void> fail_unavailable(const Outcome& why, std::string_view reply) = 0;
  // Hands the authenticated connection to the kernel's bridge, which relays
  // bytes both ways until either side ends, bridge_idle elapses, or the
  // session is kicked or shut down; `client_residual` goes to the backend
  // first and `backend_residual` to the client. The relay starts once
  // serve() has returned, so that nothing of the plugin's pre-auth state
  // stays in memory for the hours an IMAP IDLE session may last: return from
  // serve() right after this call and do not touch the client stream again.
  virtual Task<void> bridge(std::unique_ptr<Backend> backend, std::string client_residual,
                            std::string backend_residual) = 0;
};

class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;
  // Runs one client connection to its end. Must not throw.
  virtual Task<void> serve(Session& session) = 0;
};

struct ProtocolTraits {
  // Carries credentials (so its backend legs need TLS or allow_plaintext_auth,
  // and listeners need the default destination to offer it).
  bool carries_credentials = true;
};

class ProtocolPlugin {
 public:
  virtual ~ProtocolPlugin() = default;
  virtual ProtocolTraits traits(std::string_view protocol) const = 0;
  // Validates [capabilities.<protocol>] (reporting through `capabilities`,
  // whose present() is false when the table is absent) and builds the
  // handler for one configuration snapshot; nullptr when an error was reported.
  virtual std::unique_ptr<ProtocolHandler> configure(std::string_view protocol,
                                                     ConfigTable& capabilities) = 0;
};

}  // namespace postern::sdk
