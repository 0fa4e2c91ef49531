#include "imap_session.hpp"

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <postern/sdk/forwarding.hpp>
#include <postern/sdk/sasl.hpp>

#include "imap_backend.hpp"
#include "imap_parser.hpp"
#include "imap_text.hpp"

namespace postern::imap {
namespace {

namespace sasl = sdk::sasl;
using sdk::Phase;

// Behaviour contract 6.1: pre-authentication input is buffered up to 64 KiB
// per line or command.
constexpr std::size_t max_preauth_line = 64 * 1024;

struct Login {
  std::string tag;
  sasl::Credentials credentials;
};

// A decoded SASL response (secret), overwritten when it goes out of scope.
struct SaslResponse {
  enum class Kind { decoded, cancelled, invalid, closed };
  Kind kind = Kind::closed;
  std::string bytes;

  SaslResponse() = default;
  SaslResponse(const SaslResponse&) = delete;
  SaslResponse& operator=(const SaslResponse&) = delete;
  SaslResponse(SaslResponse&& other) noexcept : kind(other.kind), bytes(std::move(other.bytes)) {}
  SaslResponse& operator=(SaslResponse&&) = delete;
  ~SaslResponse() { sasl::wipe(bytes); }
};

SaslResponse decode_response(std::string_view text) {
  SaslResponse response;
  std::optional<std::string> decoded = sasl::decode_base64_lenient(text);
  if (decoded) {
    response.kind = SaslResponse::Kind::decoded;
    response.bytes = std::move(*decoded);
  } else {
    response.kind = SaslResponse::Kind::invalid;
  }
  return response;
}

void wipe(sasl::Credentials& credentials) noexcept {
  sasl::wipe(credentials.response);
  sasl::wipe(credentials.password);
}

class ImapSession {
 public:
  ImapSession(const ImapConfig& config, sdk::Session& session)
      : config_(config), session_(session), log_(session.log()) {}

  sdk::Task<void> run();

 private:
  // What a command leads to.
  enum class Verdict { next, close, login };

  sdk::Task<std::optional<Login>> pre_auth();
  sdk::Task<Verdict> dispatch(Command& command, std::optional<Login>& login);
  sdk::Task<Verdict> starttls(const Command& command);
  sdk::Task<Verdict> login_command(Command& command, std::optional<Login>& login);
  sdk::Task<Verdict> authenticate(Command& command, std::optional<Login>& login);
  sdk::Task<SaslResponse> challenge(std::string_view prompt);
  sdk::Task<Verdict> reject_response(const std::string& tag, const SaslResponse& response);
  // Routes, connects and replays; true when the pre-auth dialogue resumes.
  sdk::Task<bool> log_in(Login& login);

  sdk::Task<bool> send(std::string_view data);
  sdk::Task<Verdict> reply_and_continue(std::string reply);
  // Sends a rejection; a counted one may end the session (RFC 9051 leaves
  // the limit to the server; here it is the listener's max_auth_attempts).
  sdk::Task<Verdict> reject(std::string reply, bool counted);
  // Postern difference 7: an upstream proxy in proxy_trusted tells the hop
  // count it left with IMAP ID; anyone else's ID data is not kept.
  void received_id(const Command& command);
  // Tells the client no backend can serve it now (behaviour contract 6.1);
  // the session ends after it.
  sdk::Task<void> unavailable(std::string_view tag, const sdk::Outcome& why);
  void log_read_end(const std::error_code& error);

  bool secure() const noexcept { return session_.client().secure(); }
  bool cleartext_allowed() const noexcept { return config_.cleartext_allowed(secure()); }

  const ImapConfig& config_;
  sdk::Session& session_;
  sdk::Logger& log_;
  sdk::InputBuffer client_in_{max_preauth_line};
  CommandParser parser_;
  unsigned failures_ = 0;
};

sdk::Task<void> ImapSession::run() {
  session_.set_phase(Phase::greeting);
  // RFC 9051 section 7.1.1: the server speaks first; no second greeting
  // follows STARTTLS.
  const bool greeted = co_await send(config_.greeting(secure(), session_.starttls_offered()));
  if (!greeted) co_return;
  session_.set_phase(Phase::pre_auth);
  for (;;) {
    std::optional<Login> login = co_await pre_auth();
    if (!login) co_return;
    const bool resume = co_await log_in(*login);
    if (!resume) co_return;
    // Postern difference 3: a refused login returns the client to the
    // proxy's own pre-authentication state, with a fresh pre-auth budget.
    session_.set_phase(Phase::pre_auth);
  }
}

sdk::Task<std::optional<Login>> ImapSession::pre_auth() {
  for (;;) {
    const ParseEvent event = parser_.feed(client_in_.view());
    client_in_.consume(event.consumed);
    switch (event.kind) {
      case ParseEvent::Kind::need_more: {
        const sdk::IoResult read = co_await client_in_.fill(session_.client());
        if (read.error) {
          log_read_end(read.error);
          co_return std::nullopt;
        }
        break;
      }
      case ParseEvent::Kind::continuation: {
        const std::string ready =
            "+ Ready for " + std::to_string(event.literal_size) + " bytes.\r\n";
        const bool sent = co_await send(ready);
        if (!sent) co_return std::nullopt;
        break;
      }
      case ParseEvent::Kind::error: {
        log_.write(sdk::LogLevel::debug, "command rejected: ", event.message);
        if (event.fatal) {
          // A size limit: the rest of the command cannot be read safely.
          co_await send("* BAD " + event.message + "\r\n");
          co_return std::nullopt;
        }
        const Verdict verdict = co_await reject("* BAD " + event.message + "\r\n", true);
        if (verdict == Verdict::close) co_return std::nullopt;
        break;
      }
      case ParseEvent::Kind::command: {
        Command command = parser_.take_command();
        std::optional<Login> login;
        const Verdict verdict = co_await dispatch(command, login);
        command.wipe();
        if (verdict == Verdict::close) co_return std::nullopt;
        if (verdict == Verdict::login) co_return login;
        break;
      }
    }
  }
}

sdk::Task<ImapSession::Verdict> ImapSession::dispatch(Command& command,
                                                      std::optional<Login>& login) {
  const std::string& tag = command.tag;
  const std::string& name = command.name;
  if (name == "LOGIN") {
    log_.write(sdk::LogLevel::debug, "C: ", tag, " LOGIN <redacted>");
    co_return co_await login_command(command, login);
  }
  if (name == "AUTHENTICATE") {
    // The mechanism is logged only when it is one (a confused client might
    // put its response there).
    std::string shown = "<redacted>";
    if (!command.arguments.empty()) {
      if (const auto m = sasl::parse_mechanism(command.arguments.front().value)) {
        shown = std::string(sasl::mechanism_name(*m)) + " <redacted>";
      }
    }
    log_.write(sdk::LogLevel::debug, "C: ", tag, " AUTHENTICATE ", shown);
    co_return co_await authenticate(command, login);
  }
  log_.write(sdk::LogLevel::debug, "C: ", tag, " ", name);
  if (name == "CAPABILITY") {
    const std::string reply = "* CAPABILITY " +
                              config_.capabilities(secure(), session_.starttls_offered()) + "\r\n" +
                              tag + " OK CAPABILITY completed.\r\n";
    co_return co_await reply_and_continue(reply);
  }
  if (name == "NOOP") co_return co_await reply_and_continue(tag + " OK NOOP completed.\r\n");
  if (name == "ID") {
    received_id(command);
    // RFC 2971 section 3.1: the server may answer NIL.
    const std::string reply = "* ID NIL\r\n" + tag + " OK ID completed.\r\n";
    co_return co_await reply_and_continue(reply);
  }
  if (name == "LOGOUT") {
    co_await send("* BYE Logging out\r\n" + tag + " OK LOGOUT completed.\r\n");
    co_return Verdict::close;
  }
  if (name == "STARTTLS") co_return co_await starttls(command);
  // ENABLE, UNAUTHENTICATE and everything else belong to a backend session.
  co_return co_await reject(tag + " BAD Command not allowed in this state.\r\n", false);
}

sdk::Task<ImapSession::Verdict> ImapSession::starttls(const Command& command) {
  if (!session_.starttls_offered()) {
    co_return co_await reject(command.tag + " BAD STARTTLS not available.\r\n", false);
  }
  const bool sent = co_await send(command.tag + " OK Begin TLS negotiation now.\r\n");
  if (!sent) co_return Verdict::close;
  // RFC 9051 section 6.2.1 (RFC 3501 section 6.2.1): whatever the client sent
  // after STARTTLS, before the handshake, is plaintext that could have been
  // injected; it is thrown away together with any partial command.
  client_in_.discard();
  parser_.reset();
  const sdk::Outcome tls = co_await session_.start_client_tls();
  if (!tls) {
    log_.info("client TLS handshake failed: " + tls.detail);
    co_return Verdict::close;
  }
  log_.debug("client leg upgraded to TLS");
  co_return Verdict::next;
}

sdk::Task<ImapSession::Verdict> ImapSession::login_command(Command& command,
                                                           std::optional<Login>& login) {
  // RFC 9051 section 6.2.3: LOGIN is refused while LOGINDISABLED is
  // advertised (no TLS yet and no operator exception).
  if (!cleartext_allowed()) {
    command.wipe();
    co_return co_await reject(
        command.tag + " NO [PRIVACYREQUIRED] Cleartext login requires TLS.\r\n", false);
  }
  std::vector<const Argument*> strings;
  for (const Argument& argument : command.arguments) {
    if (argument.is_string()) strings.push_back(&argument);
  }
  if (strings.size() < 2) {
    command.wipe();
    co_return co_await reject(command.tag + " NO LOGIN requires a username and password.\r\n",
                              true);
  }
  std::optional<sasl::Credentials> credentials =
      sasl::from_login(strings[0]->value, strings[1]->value);
  command.wipe();
  if (!credentials) {
    co_return co_await reject(command.tag + " NO Malformed credentials.\r\n", true);
  }
  login.emplace(Login{command.tag, std::move(*credentials)});
  co_return Verdict::login;
}

sdk::Task<ImapSession::Verdict> ImapSession::authenticate(Command& command,
                                                          std::optional<Login>& login) {
  const std::string& tag = command.tag;
  if (command.arguments.empty() || !command.arguments[0].is_string() ||
      command.arguments[0].value.empty()) {
    command.wipe();
    co_return co_await reject(tag + " BAD Missing mechanism.\r\n", false);
  }
  const std::optional<sasl::Mechanism> mechanism =
      sasl::parse_mechanism(command.arguments[0].value);
  if (!mechanism) {
    command.wipe();
    co_return co_await reject(tag + " NO Unsupported authentication mechanism.\r\n", true);
  }
  if (sasl::is_cleartext(*mechanism) && !cleartext_allowed()) {
    command.wipe();
    co_return co_await reject(
        tag + " NO [PRIVACYREQUIRED] Cleartext authentication requires TLS.\r\n", false);
  }
  // RFC 4959: the initial response may come with the command; "=" is an
  // empty one (the lenient decoder turns it into nothing).
  std::optional<SaslResponse> initial;
  if (command.arguments.size() >= 2 && command.arguments[1].is_string()) {
    initial.emplace(decode_response(command.arguments[1].value));
  }
  command.wipe();

  std::optional<sasl::Credentials> credentials;
  if (*mechanism == sasl::Mechanism::login) {
    // The de-facto LOGIN mechanism: two prompts, "Username:" and
    // "Password:" in base64; an initial response is the username.
    if (!initial) {
      SaslResponse asked = co_await challenge("VXNlcm5hbWU6");
      initial.emplace(std::move(asked));
    }
    const SaslResponse& username = *initial;
    if (username.kind != SaslResponse::Kind::decoded) {
      co_return co_await reject_response(tag, username);
    }
    SaslResponse password = co_await challenge("UGFzc3dvcmQ6");
    if (password.kind != SaslResponse::Kind::decoded) {
      co_return co_await reject_response(tag, password);
    }
    credentials = sasl::from_login(username.bytes, password.bytes);
  } else {
    // RFC 9051 section 6.2.2: without an initial response the server sends
    // an empty continuation request.
    if (!initial) {
      SaslResponse asked = co_await challenge("");
      initial.emplace(std::move(asked));
    }
    const SaslResponse& response = *initial;
    if (response.kind != SaslResponse::Kind::decoded) {
      co_return co_await reject_response(tag, response);
    }
    credentials =
        *mechanism == sasl::Mechanism::plain
            ? sasl::parse_plain(response.bytes)
            : sasl::parse_oauth(*mechanism, response.bytes, session_.info().jwt_username_claim);
  }
  if (!credentials) co_return co_await reject(tag + " NO Malformed credentials.\r\n", true);
  login.emplace(Login{tag, std::move(*credentials)});
  co_return Verdict::login;
}

sdk::Task<SaslResponse> ImapSession::challenge(std::string_view prompt) {
  SaslResponse response;
  const bool sent = co_await send("+ " + std::string(prompt) + "\r\n");
  if (!sent) co_return response;
  std::error_code error;
  std::optional<std::string> line = co_await client_in_.read_line(session_.client(), error);
  if (!line) {
    if (error == std::errc::no_buffer_space) {
      co_await send("* BAD Line too long.\r\n");
    } else {
      log_read_end(error);
    }
    co_return response;
  }
  std::string_view text = *line;
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  // RFC 9051 section 6.2.2: a line of a single "*" cancels the exchange.
  if (text == "*") {
    response.kind = SaslResponse::Kind::cancelled;
    co_return response;
  }
  SaslResponse decoded = decode_response(text);
  sasl::wipe(*line);
  co_return std::move(decoded);
}

sdk::Task<ImapSession::Verdict> ImapSession::reject_response(const std::string& tag,
                                                             const SaslResponse& response) {
  switch (response.kind) {
    case SaslResponse::Kind::cancelled:
      // RFC 9051 section 6.2.2: a cancelled exchange is rejected with BAD.
      co_return co_await reject(tag + " BAD AUTHENTICATE cancelled.\r\n", true);
    case SaslResponse::Kind::invalid:
      co_return co_await reject(tag + " NO Invalid base64 in SASL response.\r\n", true);
    case SaslResponse::Kind::decoded:
    case SaslResponse::Kind::closed:
      break;
  }
  co_return Verdict::close;
}

sdk::Task<bool> ImapSession::log_in(Login& login) {
  session_.set_phase(Phase::route);
  const sdk::Route route = co_await session_.route(login.credentials.identifier);
  // Routing and connection failures are logged by the kernel, with their
  // category; only what the kernel cannot see is logged here.
  if (!route.outcome) {
    co_await unavailable(login.tag, route.outcome);
    co_return false;
  }

  session_.set_phase(Phase::backend_connect);
  BackendLogin backend_login(log_, session_.forward_info());
  sdk::BackendHandshake handshake = [&backend_login](sdk::Backend& backend) {
    return backend_login.handshake(backend);
  };
  sdk::BackendConnection connection =
      co_await session_.connect_backend(route.destination, std::move(handshake));
  if (!connection.backend) {
    co_await unavailable(login.tag, connection.outcome);
    co_return false;
  }
  sdk::Backend& backend = *connection.backend;
  // Behaviour contract 5.7: the last check before a password is written.
  if (!backend.may_send_credentials()) {
    const sdk::Outcome refused = sdk::Outcome::fail(
        sdk::Failure::plaintext, "refusing to send credentials over an unencrypted backend leg");
    log_.warn("backend unavailable [plaintext]: " + refused.detail);
    co_await unavailable(login.tag, refused);
    co_return false;
  }

  session_.set_phase(Phase::backend_login);
  backend.restart_deadline();
  BackendLogin::Result result =
      co_await backend_login.replay(backend, login.tag, login.credentials);
  wipe(login.credentials);
  switch (result.status) {
    case BackendLogin::Result::Status::accepted: {
      const bool sent = co_await send(result.reply);
      if (!sent) co_return false;
      session_.authenticated(route.identifier);
      session_.set_phase(Phase::bridge);
      // A bridged session may stay idle for hours (IDLE): the parser's
      // buffers are not needed any more.
      parser_ = CommandParser{};
      co_await session_.bridge(std::move(connection.backend), client_in_.take_residual(),
                               backend_login.take_residual());
      co_return false;
    }
    case BackendLogin::Result::Status::refused: {
      connection.backend.reset();
      const Verdict verdict = co_await reject(std::move(result.reply), true);
      co_return verdict == Verdict::next;
    }
    case BackendLogin::Result::Status::failed:
      break;
  }
  connection.backend.reset();
  log_.warn("backend login failed [" + std::string(sdk::to_string(result.outcome.failure)) +
            "]: " + result.outcome.detail);
  co_await unavailable(login.tag, result.outcome);
  co_return false;
}

sdk::Task<bool> ImapSession::send(std::string_view data) {
  const sdk::IoResult written = co_await session_.client().write(data);
  if (written.error) {
    if (log_.enabled(sdk::LogLevel::debug)) log_.debug("client write failed: " + written.error.message());
    co_return false;
  }
  co_return true;
}

sdk::Task<ImapSession::Verdict> ImapSession::reply_and_continue(std::string reply) {
  const bool sent = co_await send(reply);
  co_return sent ? Verdict::next : Verdict::close;
}

sdk::Task<ImapSession::Verdict> ImapSession::reject(std::string reply, bool counted) {
  const bool sent = co_await send(reply);
  if (!sent) co_return Verdict::close;
  if (!counted) co_return Verdict::next;
  ++failures_;
  if (failures_ < session_.info().max_auth_attempts) co_return Verdict::next;
  log_.info("closing after " + std::to_string(failures_) + " authentication failures");
  co_await send("* BYE Too many authentication failures.\r\n");
  co_return Verdict::close;
}

sdk::Task<void> ImapSession::unavailable(std::string_view tag, const sdk::Outcome& why) {
  const std::string reply = std::string(tag) + " NO [UNAVAILABLE] backend unavailable\r\n";
  co_await session_.fail_unavailable(why, reply);
}

void ImapSession::received_id(const Command& command) {
  if (!session_.info().trusted_peer) return;
  const std::optional<IdFields> fields = id_fields(command.arguments);
  if (!fields) {
    log_.debug("ignoring a malformed ID parameter list from a trusted peer");
    return;
  }
  if (const std::optional<unsigned> ttl = sdk::ttl_from_imap_id(*fields)) {
    session_.received_ttl(*ttl);
  }
}

void ImapSession::log_read_end(const std::error_code& error) {
  if (error == std::errc::timed_out) {
    log_.debug("pre-authentication timeout");
  } else {
    if (log_.enabled(sdk::LogLevel::debug)) log_.debug("client read ended: " + error.message());
  }
}

}  // namespace

sdk::Task<void> ImapHandler::serve(sdk::Session& session) {
  // Nothing may escape to the kernel; a cancelled session (shutdown) ends
  // with operation_aborted, which is no error worth a warning.
  std::string failure;
  bool aborted = false;
  try {
    ImapSession imap(*config_, session);
    co_await imap.run();
  } catch (const boost::system::system_error& e) {
    aborted = e.code() == boost::asio::error::operation_aborted;
    failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (aborted) {
    session.log().debug("session cancelled");
  } else if (!failure.empty()) {
    session.log().warn("session ended by an exception: " + failure);
  }
}

}  // namespace postern::imap
