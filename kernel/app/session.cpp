#include "app/session.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "app/backend.hpp"
#include "app/bridge.hpp"
#include "app/deadline.hpp"
#include "proxy/proxy_header.hpp"

namespace postern::kernel {
namespace {

// Server-first protocols send nothing until they see a greeting, so in
// `optional` mode a trusted peer that sends no PROXY header must not stall the
// session (behaviour 4, Postern difference 8): if no byte arrives within this
// window the header is taken to be absent.
constexpr auto optional_header_window = std::chrono::milliseconds(300);
// A PROXY v2 header with TLVs fits easily; anything longer is not a header.
constexpr std::size_t proxy_header_read_limit = 1024 + 16;
constexpr auto retry_pause = std::chrono::milliseconds(200);
// A client that reads nothing must not hold the session open after we have
// decided to turn it away.
constexpr auto farewell_timeout = std::chrono::seconds(5);
// Behaviour 10.4: one login waits at most this long for an operator's hold.
constexpr auto max_login_hold = std::chrono::seconds(120);

sdk::Forwarding forwarding_mode(Forwarding forwarding) {
  switch (forwarding) {
    case Forwarding::proxy: return sdk::Forwarding::proxy;
    case Forwarding::xclient: return sdk::Forwarding::xclient;
    case Forwarding::none: return sdk::Forwarding::none;
  }
  return sdk::Forwarding::none;
}

sdk::Address address_of(const tcp::endpoint& endpoint) {
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return {address.to_string(), endpoint.port()};
}

std::atomic<std::uint64_t> source_ip_cursor{0};

}  // namespace

ClientSession::ClientSession(std::shared_ptr<Context> context, ListenerRuntime& listener, tcp::socket socket,
                             const tcp::endpoint& peer, const tcp::endpoint& local, std::uint64_t id,
                             SessionDirectory& directory, SessionDirectory::Closer close)
    : context_(std::move(context)),
      listener_(listener),
      client_(std::move(socket)),
      directory_(directory),
      close_(std::move(close)) {
  const ListenerConfig& config = *listener_.config;
  info_.id = id;
  info_.listener = config.id;
  info_.protocol = config.protocol;
  info_.listener_tls = config.tls;
  info_.max_auth_attempts = config.max_auth_attempts;
  info_.jwt_username_claim = context_->config->oauth.jwt_username_claim;
  info_.peer = address_of(peer);
  info_.local = address_of(local);
  const auto peer_ip = IpAddress::parse(info_.peer.ip);
  info_.trusted_peer = peer_ip && std::ranges::any_of(config.proxy_trusted, [&](const Cidr& range) {
                         return range.contains(*peer_ip);
                       });
  logger_.set_context(info_);
}

ClientSession::~ClientSession() {
  if (!registered_as_.empty()) directory_.remove(registered_as_, info_.id);
  --listener_.active;
}

void ClientSession::set_phase(sdk::Phase phase) noexcept {
  phase_ = phase;
  logger_.set_phase(phase);
  if (phase == sdk::Phase::pre_auth) arm_preauth_deadline();
}

void ClientSession::arm_preauth_deadline() noexcept {
  client_.set_deadline(Clock::now() + listener_.config->preauth_timeout);
}

bool ClientSession::starttls_offered() const noexcept {
  return listener_.config->tls == sdk::TlsMode::starttls && !client_.secure();
}

sdk::Task<void> ClientSession::run() {
  // One pre-auth budget covers the PROXY header, the TLS handshake and the
  // whole pre-authentication dialogue (behaviour 4).
  arm_preauth_deadline();
  logger_.debug("connection accepted");
  bool proceed = co_await read_proxy_header();
  if (proceed) proceed = co_await accept_implicit_tls();
  if (proceed) {
    const auto handler = context_->config->protocol_handlers.find(info_.protocol);
    if (handler == context_->config->protocol_handlers.end()) {
      logger_.error("no protocol handler for this listener");
    } else {
      set_phase(sdk::Phase::greeting);
      std::exception_ptr failure;
      try {
        co_await handler->second->serve(*this);
        // The plugin's frames are gone: only the kernel's state stays for the
        // hours a bridged session may last.
        if (handed_off_) co_await run_bridge();
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        try {
          std::rethrow_exception(failure);
        } catch (const boost::system::system_error& e) {
          logger_.logf(sdk::LogLevel::debug, "session ended: {}", e.code().message());
        } catch (const std::exception& e) {
          logger_.logf(sdk::LogLevel::error, "protocol handler failed: {}", e.what());
        } catch (...) {
          logger_.error("protocol handler failed with an unknown exception");
        }
      }
    }
  }
  set_phase(sdk::Phase::end);
  client_.close();
  if (!handed_off_) logger_.debug("connection closed");
}

sdk::Task<bool> ClientSession::read_proxy_header() {
  const ListenerConfig& config = *listener_.config;
  if (config.proxy_protocol == ProxyProtocolMode::off) co_return true;
  set_phase(sdk::Phase::proxy_header);
  const bool required = config.proxy_protocol == ProxyProtocolMode::required;
  if (!info_.trusted_peer) {
    if (required) logger_.warn("PROXY header required but the peer is not in proxy_trusted; closing");
    co_return !required;
  }

  ProxyHeaderParser parser;
  std::string received;
  std::array<char, 512> chunk;
  const auto full_deadline = *client_.deadline();
  for (;;) {
    // In optional mode, wait only briefly for the first byte.
    const bool first_read = received.empty();
    client_.set_deadline(!required && first_read ? std::min(full_deadline, Clock::now() + optional_header_window)
                                                 : full_deadline);
    const sdk::IoResult r = co_await client_.read_some(chunk);
    client_.set_deadline(full_deadline);
    if (r.error) {
      if (!required && first_read && r.error == std::errc::timed_out) {
        logger_.debug("no PROXY header within the optional window; using the TCP addresses");
        co_return true;
      }
      logger_.logf(sdk::LogLevel::debug, "connection ended while reading the PROXY header: {}", r.error.message());
      co_return false;
    }
    received.append(chunk.data(), r.bytes);
    const ProxyHeaderParser::Result result = parser.feed(received);
    switch (result.status) {
      case ProxyHeaderParser::Status::need_more:
        if (received.size() > proxy_header_read_limit) {
          logger_.warn("PROXY header too long; closing");
          co_return false;
        }
        continue;
      case ProxyHeaderParser::Status::complete:
        if (result.header.has_addresses) {
          info_.peer = {result.header.source.address.unmapped().to_string(), result.header.source.port};
          info_.local = {result.header.destination.address.unmapped().to_string(), result.header.destination.port};
          logger_.set_context(info_);
        }
        client_.push_back_input(received.substr(result.consumed));
        logger_.debug("PROXY header accepted");
        co_return true;
      case ProxyHeaderParser::Status::not_proxy:
        if (required) {
          logger_.warn("PROXY header required but the peer sent none; closing");
          co_return false;
        }
        client_.push_back_input(std::move(received));
        co_return true;
      case ProxyHeaderParser::Status::malformed:
        logger_.logf(sdk::LogLevel::warn, "malformed PROXY header: {}; closing", result.error);
        co_return false;
    }
  }
}

sdk::Task<bool> ClientSession::accept_implicit_tls() {
  if (listener_.config->tls != sdk::TlsMode::implicit) co_return true;
  set_phase(sdk::Phase::tls);
  const sdk::Outcome outcome = co_await start_client_tls();
  co_return static_cast<bool>(outcome);
}

sdk::Task<sdk::Outcome> ClientSession::start_client_tls() {
  if (client_.secure()) co_return sdk::Outcome::fail(sdk::Failure::internal, "client leg is already TLS");
  const std::error_code ec = co_await client_.handshake(context_->server_tls->front(), /*server=*/true);
  if (ec) {
    logger_.logf(sdk::LogLevel::debug, "client TLS handshake failed: {}", ec.message());
    co_return sdk::Outcome::fail(sdk::Failure::tls, ec.message());
  }
  if (logger_.enabled(sdk::LogLevel::debug)) {
    logger_.logf(sdk::LogLevel::debug, "tls connection {}", tls_session_summary(client_.native_tls()));
  }
  co_return sdk::Outcome::ok();
}

sdk::Task<sdk::Route> ClientSession::route(std::string_view identifier) {
  set_phase(sdk::Phase::route);
  // Credentials are captured: the pre-auth budget no longer applies.
  client_.set_deadline(std::nullopt);
  sdk::Route route = co_await context_->router->resolve(identifier, {&logger_, true});
  if (route.outcome) {
    logger_.logf(sdk::LogLevel::debug, "routing decision: destination {}", route.destination);
    // An operator's hold on this account (cutover in progress).
    const auto hold = std::min<Clock::duration>(directory_.hold_remaining(route.identifier, Clock::now()),
                                                max_login_hold);
    if (hold > Clock::duration::zero()) {
      logger_.logf(sdk::LogLevel::debug, "holding login for {} ms",
                                std::chrono::duration_cast<std::chrono::milliseconds>(hold).count());
      asio::steady_timer timer(co_await asio::this_coro::executor, hold);
      co_await timer.async_wait(as_result);
    }
  } else {
    // Store failures were logged by the router; a forbidden identifier is
    // worth a warning of its own (it never reaches a backend).
    logger_.logf(route.outcome.failure == sdk::Failure::identifier ? sdk::LogLevel::warn : sdk::LogLevel::debug,
                 "routing failed [{}]: {}", sdk::to_string(route.outcome.failure), route.outcome.detail);
  }
  co_return route;
}

sdk::Task<sdk::BackendConnection> ClientSession::connect_backend(std::string_view destination,
                                                                 sdk::BackendHandshake handshake) {
  set_phase(sdk::Phase::backend_connect);
  const Config& config = *context_->config;
  sdk::BackendConnection result;
  const auto found = config.destinations.find(std::string(destination));
  if (found == config.destinations.end()) {
    result.outcome =
        sdk::Outcome::fail(sdk::Failure::config, fmt::format("destination '{}' is not declared", destination));
  } else if (const auto endpoint = found->second.protocols.find(info_.protocol);
             endpoint == found->second.protocols.end()) {
    result.outcome = sdk::Outcome::fail(
        sdk::Failure::config, fmt::format("destination '{}' has no {} endpoint", destination, info_.protocol));
  } else if ((upstream_ttl_ || found->second.forwarding_for(info_.protocol) == Forwarding::xclient) && hops() <= 1) {
    // Behaviour 5.5 and Postern difference 7: a chain of proxies (possibly
    // a loop) has used up its hop budget.
    result.outcome = sdk::Outcome::fail(
        sdk::Failure::loop, fmt::format("forwarded TTL exhausted ({} hop{} left)", hops(), hops() == 1 ? "" : "s"));
  } else {
    result = co_await connect_through_breaker(found->second, endpoint->second, handshake);
  }
  if (!result.outcome) {
    logger_.logf(sdk::LogLevel::warn, "backend unavailable [{}]: destination {}: {}",
                 sdk::to_string(result.outcome.failure), destination, result.outcome.detail);
  }
  co_return result;
}

sdk::Task<sdk::BackendConnection> ClientSession::connect_through_breaker(const DestinationConfig& target,
                                                                         const EndpointConfig& endpoint,
                                                                         const sdk::BackendHandshake& handshake) {
  CircuitBreaker& breaker = *context_->breakers.at(target.id);
  const auto admission = breaker.admit(Clock::now());
  if (!admission.allowed) {
    co_return sdk::BackendConnection{
        nullptr, sdk::Outcome::fail(sdk::Failure::breaker_open,
                                    "destination temporarily marked down after repeated failures")};
  }
  if (admission.probe) logger_.logf(sdk::LogLevel::info, "destination {} half-open: this connection probes it", target.id);
  sdk::BackendConnection result = co_await connect_with_retries(target, endpoint, handshake);
  record_health(breaker, admission.probe, target.id, result.outcome);
  co_return result;
}

void ClientSession::record_health(CircuitBreaker& breaker, bool probe, const std::string& destination,
                                  const sdk::Outcome& outcome) {
  if (outcome) {
    breaker.record_success(probe);
    if (probe) logger_.logf(sdk::LogLevel::info, "destination {} is back: breaker closed", destination);
    return;
  }
  if (outcome.failure == sdk::Failure::config || outcome.failure == sdk::Failure::loop) {
    // Configuration errors say nothing about the destination's health.
    breaker.release_probe(probe);
    return;
  }
  const auto stage = last_attempt_connected_ ? CircuitBreaker::Stage::after_connect : CircuitBreaker::Stage::connect;
  // The client as the backend sees it (after any PROXY header): a backend
  // that bans an address bans this one.
  if (breaker.record_failure(probe, stage, info_.peer.ip, Clock::now()) != CircuitBreaker::State::open) return;
  const auto snapshot = breaker.snapshot(Clock::now());
  logger_.logf(sdk::LogLevel::warn,
               "destination {} marked down for {} ms [breaker_open]: {} consecutive failures from {} client{}{}",
               destination,
               std::chrono::duration_cast<std::chrono::milliseconds>(context_->config->server.host_down_cooldown)
                   .count(),
               snapshot.consecutive_failures, snapshot.failure_sources, snapshot.failure_sources == 1 ? "" : "s",
               snapshot.host_level_failure ? ", all at the connect stage" : "");
}

sdk::Task<sdk::BackendConnection> ClientSession::connect_with_retries(const DestinationConfig& target,
                                                                      const EndpointConfig& endpoint,
                                                                      const sdk::BackendHandshake& handshake) {
  const Config& config = *context_->config;
  sdk::BackendConnection result;
  const unsigned attempts = 1 + config.server.backend_connect_retries;
  const auto executor = co_await asio::this_coro::executor;
  for (unsigned attempt = 1; attempt <= attempts; ++attempt) {
    // backend_timeout bounds each attempt (behaviour 5.6, the backend's
    // deadline starts with it): a backend that never greets must leave time
    // for the retry.
    sdk::BackendInfo backend_info{target.id, target.host, endpoint.port, endpoint.tls, target.hide_auth_errors,
                                  forwarding_mode(target.forwarding_for(info_.protocol))};
    auto backend = std::make_unique<BackendConnectionImpl>(tcp::socket(executor), std::move(backend_info),
                                                           *context_->backend_tls.at(target.id),
                                                           target.allow_plaintext_auth, config.server.backend_timeout);
    const Attempt outcome = co_await establish(target, endpoint, *backend, handshake);
    result.outcome = outcome.outcome;
    last_attempt_connected_ = outcome.tcp_connected;
    if (result.outcome) {
      backend->restart_deadline();
      result.backend = std::move(backend);
      destination_ = target.id;
      co_return result;
    }
    const bool retry = result.outcome.retryable && attempt < attempts;
    if (!retry) break;
    logger_.logf(sdk::LogLevel::debug, "retrying backend {} after [{}]: {}", target.id, sdk::to_string(result.outcome.failure),
                              result.outcome.detail);
    asio::steady_timer pause(executor, retry_pause);
    co_await pause.async_wait(as_result);
  }
  co_return result;
}

sdk::Task<ClientSession::Attempt> ClientSession::establish(const DestinationConfig& destination,
                                                           const EndpointConfig& endpoint,
                                                           BackendConnectionImpl& backend,
                                                           const sdk::BackendHandshake& handshake) {
  set_phase(sdk::Phase::backend_connect);
  SocketStream& stream = backend.socket_stream();
  const Clock::time_point deadline = *stream.deadline();
  auto executor = co_await asio::this_coro::executor;

  // DNS at connect time, so a moved backend is followed without a restart.
  // An IP literal needs no resolver (whose lookups run on a helper thread).
  std::vector<tcp::endpoint> targets;
  boost::system::error_code literal_error;
  const auto literal = asio::ip::make_address(destination.host, literal_error);
  if (!literal_error) {
    targets.emplace_back(literal, endpoint.port);
  } else {
    tcp::resolver resolver(executor);
    auto resolved = co_await until(
        deadline, resolver.async_resolve(destination.host, std::to_string(endpoint.port), as_result));
    if (!resolved) co_return Attempt{sdk::Outcome::fail(sdk::Failure::timeout, "DNS resolution timed out", true), false};
    auto [resolve_error, results] = *resolved;
    if (resolve_error) {
      co_return Attempt{sdk::Outcome::fail(sdk::Failure::connect,
                                           fmt::format("cannot resolve {}: {}", destination.host, resolve_error.message()),
                                           resolve_error != asio::error::host_not_found),
                        false};
    }
    for (const auto& entry : results) targets.push_back(entry.endpoint());
  }

  std::string last_error = "no address to connect to";
  bool connected = false;
  for (const tcp::endpoint& target : targets) {
    if (context_->is_own_listener(target)) {
      co_return Attempt{sdk::Outcome::fail(sdk::Failure::loop,
                                           fmt::format("proxying loop: {}:{} is one of our own listeners",
                                                       target.address().to_string(), target.port())),
                        false};
    }
    if (const std::error_code opened = stream.open(target.protocol())) {
      last_error = opened.message();
      continue;
    }
    boost::system::error_code ec;
    tcp::socket& socket = stream.socket();
    if (!destination.source_ips.empty()) {
      // Round robin over the source addresses of the target's family.
      std::vector<asio::ip::address> candidates;
      for (const std::string& ip : destination.source_ips) {
        const auto address = asio::ip::make_address(ip, ec);
        if (!ec && address.is_v4() == target.address().is_v4()) candidates.push_back(address);
      }
      if (candidates.empty()) {
        last_error = "no usable source IP for backend";
        continue;
      }
      const auto& source = candidates[source_ip_cursor++ % candidates.size()];
      socket.bind(tcp::endpoint(source, 0), ec);
      if (ec) {
        last_error = fmt::format("cannot bind source address {}: {}", source.to_string(), ec.message());
        continue;
      }
    }
    const std::error_code connect_error = co_await stream.connect(target);
    if (connect_error == std::errc::timed_out) {
      co_return Attempt{sdk::Outcome::fail(sdk::Failure::timeout, "connect timed out", true), false};
    }
    if (connect_error) {
      last_error = fmt::format("connect to {}: {}", target.address().to_string(), connect_error.message());
      continue;
    }
    connected = true;
    break;
  }
  if (!connected) co_return Attempt{sdk::Outcome::fail(sdk::Failure::connect, last_error, true), false};

  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  if (destination.forwarding_for(info_.protocol) == Forwarding::proxy) {
    const auto source = IpAddress::parse(info_.peer.ip);
    const auto target = IpAddress::parse(info_.local.ip);
    const std::string header = source && target
                                   ? make_proxy_v2({*source, info_.peer.port}, {*target, info_.local.port})
                                   : std::string("PROXY UNKNOWN\r\n");
    const sdk::IoResult sent = co_await stream.write(header);
    if (sent.error) {
      co_return Attempt{sdk::Outcome::fail(sent.error == std::errc::timed_out ? sdk::Failure::timeout : sdk::Failure::connect,
                                   fmt::format("sending the PROXY header: {}", sent.error.message()), true), true};
    }
  }
  if (endpoint.tls == sdk::TlsMode::implicit) {
    sdk::Outcome tls = co_await backend.start_tls();
    if (!tls) co_return Attempt{std::move(tls), true};
  }
  set_phase(sdk::Phase::backend_login);
  if (!handshake) co_return Attempt{sdk::Outcome::ok(), true};
  sdk::Outcome greeted = co_await handshake(backend);
  co_return Attempt{std::move(greeted), true};
}

void ClientSession::authenticated(std::string_view identifier) {
  // Identifiers are not logged (they are personal data); the directory keeps
  // them for the operator's kick.
  if (!identifier.empty() && registered_as_.empty()) {
    registered_as_ = identifier;
    directory_.add(registered_as_, info_.id, std::move(close_));
  }
  logger_.logf(sdk::LogLevel::info, "authenticated on destination {}", destination_);
}

unsigned ClientSession::hops() const noexcept {
  return upstream_ttl_.value_or(context_->config->server.proxy_ttl);
}

sdk::ForwardInfo ClientSession::forward_info() const {
  const unsigned left = hops();
  return {info_.peer, info_.local, fmt::format("P{:x}", info_.id), left > 0 ? left - 1 : 0, client_.secure()};
}

void ClientSession::received_ttl(unsigned hops) noexcept {
  if (!info_.trusted_peer) return;  // only a trusted upstream's count means anything
  upstream_ttl_ = hops;
  logger_.logf(sdk::LogLevel::debug, "upstream proxy forwarded a TTL of {}", hops);
}

sdk::Task<void> ClientSession::fail_unavailable(const sdk::Outcome& why, std::string_view reply) {
  logger_.logf(sdk::LogLevel::debug, "telling the client the backend is unavailable [{}]", sdk::to_string(why.failure));
  client_.set_deadline(Clock::now() + farewell_timeout);
  const sdk::IoResult sent = co_await client_.write(reply);
  (void)sent;  // the connection closes either way
  client_.close();
}

sdk::Task<void> ClientSession::bridge(std::unique_ptr<sdk::Backend> backend, std::string client_residual,
                                      std::string backend_residual) {
  set_phase(sdk::Phase::bridge);
  // Only the kernel creates backends, so the concrete type is known.
  handed_off_.reset(static_cast<BackendConnectionImpl*>(backend.release()));
  client_residual_ = std::move(client_residual);
  backend_residual_ = std::move(backend_residual);
  co_return;
}

sdk::Task<void> ClientSession::run_bridge() {
  SocketStream& backend = handed_off_->socket_stream();
  const Clock::time_point begin = Clock::now();
  client_.set_deadline(std::nullopt);
  backend.set_deadline(std::nullopt);
  BridgeStats stats;
  // g++ 12 miscompiles co_await inside an if condition: results are bound
  // to variables first.
  bool relaying = true;
  if (!client_residual_.empty()) {
    const sdk::IoResult sent = co_await backend.write(client_residual_);
    relaying = !sent.error;
    stats.bytes_to_backend += sent.bytes;
  }
  if (relaying && !backend_residual_.empty()) {
    const sdk::IoResult sent = co_await client_.write(backend_residual_);
    relaying = !sent.error;
    stats.bytes_to_client += sent.bytes;
  }
  std::string().swap(client_residual_);
  std::string().swap(backend_residual_);
  if (relaying) {
    // The session waits on a timer that the bridge cancels when it is done;
    // kick and shutdown cancel this wait instead, and the bridge is stopped.
    asio::steady_timer finished(co_await asio::this_coro::executor, Clock::time_point::max());
    auto relay = std::make_shared<Bridge>(client_, backend, context_->config->server.bridge_idle,
                                          [&finished] { finished.cancel(); });
    relay->start();
    co_await finished.async_wait(as_result);
    relay->stop();
    stats.bytes_to_backend += relay->stats().bytes_to_backend;
    stats.bytes_to_client += relay->stats().bytes_to_client;
    stats.idle_timeout = relay->stats().idle_timeout;
  }
  backend.close();
  const auto seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  logger_.logf(sdk::LogLevel::info, "session closed destination={} bytes_to_backend={} bytes_to_client={} secs={:.3f}{}",
               destination_, stats.bytes_to_backend, stats.bytes_to_client, seconds,
               stats.idle_timeout ? " reason=bridge_idle" : "");
}

}  // namespace postern::kernel
