#include "imap_backend.hpp"

#include <algorithm>
#include <initializer_list>
#include <system_error>
#include <utility>

#include "imap_text.hpp"

namespace postern::imap {
namespace {

namespace sasl = sdk::sasl;
using sdk::Failure;
using sdk::Outcome;

// Secrets built for the wire, overwritten on every way out of the replay.
struct SecretLines {
  std::vector<std::string> lines;
  SecretLines() = default;
  SecretLines(const SecretLines&) = delete;
  SecretLines& operator=(const SecretLines&) = delete;
  ~SecretLines() {
    for (std::string& line : lines) sasl::wipe(line);
  }
};

Outcome io_failure(const std::error_code& error, Failure failure, std::string_view while_doing) {
  if (error == std::errc::timed_out) {
    return Outcome::fail(Failure::timeout, "backend timed out " + std::string(while_doing), true);
  }
  if (error == std::errc::no_buffer_space) {
    return Outcome::fail(Failure::protocol,
                         "backend line longer than 64 KiB " + std::string(while_doing), false);
  }
  // A read error or EOF while waiting for a line may succeed on a new
  // connection (behaviour contract 5.6).
  return Outcome::fail(failure, error.message() + " " + std::string(while_doing), true);
}

// "<tag> ..." with the tag compared case-insensitively; returns the text
// after the tag (status word first) or nullopt for another line.
std::optional<std::string_view> tagged_rest(std::string_view line, std::string_view tag) {
  if (line.size() <= tag.size() || line[tag.size()] != ' ' ||
      !iequals(line.substr(0, tag.size()), tag)) {
    return std::nullopt;
  }
  return line.substr(tag.size() + 1);
}

// Concatenation into one exact allocation, so that no intermediate copy of
// a secret is freed without being overwritten.
std::string joined(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out += part;
  return out;
}

// The text after the first word ("OK [CODE] text" -> " [CODE] text").
std::string_view after_first_word(std::string_view text) {
  const std::size_t start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return {};
  const std::size_t end = text.find(' ', start);
  return end == std::string_view::npos ? std::string_view() : text.substr(end);
}

bool is_ok(std::string_view rest) {
  const std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return false;
  const std::size_t end = std::min(rest.find(' ', start), rest.size());
  return iequals(rest.substr(start, end - start), "OK");
}

// The response code "[CAPABILITY ...]" at the start of resp-text
// (RFC 9051 section 7.1), or nullopt.
std::optional<std::string_view> capability_code(std::string_view resp_text) {
  while (!resp_text.empty() && resp_text.front() == ' ') resp_text.remove_prefix(1);
  if (!istarts_with(resp_text, "[CAPABILITY ")) return std::nullopt;
  resp_text.remove_prefix(std::string_view("[CAPABILITY ").size());
  const std::size_t end = resp_text.find(']');
  if (end == std::string_view::npos) return std::nullopt;
  return resp_text.substr(0, end);
}

}  // namespace

bool BackendLogin::has_capability(std::string_view name) const noexcept {
  return std::any_of(capabilities_.begin(), capabilities_.end(),
                     [name](const std::string& c) { return iequals(c, name); });
}

void BackendLogin::learn_capabilities(std::string_view list) {
  for (std::string_view word : split_words(list)) {
    std::string token(word);
    std::transform(token.begin(), token.end(), token.begin(), ascii_upper);
    if (!has_capability(token)) capabilities_.push_back(std::move(token));
  }
}

sdk::Task<std::optional<std::string>> BackendLogin::read_line(sdk::Backend& backend,
                                                              Failure failure, Outcome& outcome) {
  std::error_code error;
  std::optional<std::string> line = co_await in_.read_line(backend.stream(), error);
  if (!line) outcome = io_failure(error, failure, "while waiting for a line");
  co_return line;
}

sdk::Task<Outcome> BackendLogin::command(sdk::Backend& backend, std::string_view verb) {
  const std::string tag = "P" + std::to_string(next_tag_++);
  const std::string request = tag + " " + std::string(verb) + "\r\n";
  log_.write(sdk::LogLevel::trace, "backend: sending ", tag, " ", verb);
  const sdk::IoResult written = co_await backend.stream().write(request);
  if (written.error) {
    co_return io_failure(written.error, Failure::connect, "while sending a command");
  }
  for (unsigned i = 0; i < max_lines; ++i) {
    Outcome failure;
    const std::optional<std::string> line = co_await read_line(backend, Failure::connect, failure);
    if (!line) co_return failure;
    if (const std::optional<std::string_view> rest = tagged_rest(*line, tag)) {
      if (!is_ok(*rest)) {
        co_return Outcome::fail(Failure::protocol,
                                "backend refused " + std::string(verb) + ": " + printable(*line));
      }
      // Some servers list their capabilities in the tagged OK as well.
      if (const auto code = capability_code(after_first_word(*rest))) {
        learn_capabilities(*code);
      }
      co_return Outcome::ok();
    }
    if (istarts_with(*line, "* CAPABILITY ")) {
      learn_capabilities(std::string_view(*line).substr(std::string_view("* CAPABILITY ").size()));
    }
  }
  co_return Outcome::fail(Failure::protocol,
                          "no tagged reply to " + std::string(verb) + " within 64 lines");
}

sdk::Task<Outcome> BackendLogin::handshake(sdk::Backend& backend) {
  // A fresh state per connection attempt (the kernel may retry).
  in_.discard();
  capabilities_.clear();
  next_tag_ = 1;

  Outcome failure;
  const std::optional<std::string> greeting =
      co_await read_line(backend, Failure::greeting, failure);
  if (!greeting) co_return failure;
  if (log_.enabled(sdk::LogLevel::debug)) log_.debug("backend greeting: " + printable(*greeting));
  // RFC 9051 section 7.1: the greeting is OK (not authenticated), PREAUTH
  // (already authenticated: no place for our login) or BYE (refused).
  const std::vector<std::string_view> words = split_words(*greeting);
  if (words.size() < 2 || words[0] != "*" || !iequals(words[1], "OK")) {
    const bool known = words.size() >= 2 && words[0] == "*";
    const std::string status = known ? std::string(words[1]) : std::string("an unexpected line");
    co_return Outcome::fail(Failure::greeting,
                            "backend greeted with " + status + ": " + printable(*greeting));
  }
  if (const auto code = capability_code(
          after_first_word(std::string_view(*greeting).substr(greeting->find('*') + 1)))) {
    learn_capabilities(*code);
  } else {
    const Outcome learned = co_await command(backend, "CAPABILITY");
    if (!learned) co_return learned;
  }

  if (backend.info().tls == sdk::TlsMode::starttls) {
    // RFC 9051 section 6.2.1: STARTTLS must be advertised before it is used.
    if (!has_capability("STARTTLS")) {
      co_return Outcome::fail(Failure::protocol, "backend did not advertise STARTTLS", false);
    }
    Outcome started = co_await command(backend, "STARTTLS");
    if (!started) co_return started;
    started = co_await backend.start_tls();
    if (!started) co_return started;
    // Bytes that arrived before the handshake are plaintext anyone could
    // have injected; the capabilities may differ once TLS is up (RFC 9051
    // section 6.2.1), so they are asked for again.
    in_.discard();
    capabilities_.clear();
    const Outcome learned = co_await command(backend, "CAPABILITY");
    if (!learned) co_return learned;
  }

  if (backend.info().forwarding == sdk::Forwarding::xclient) {
    // Behaviour contract 5.4: the identity goes only to a backend that
    // advertises ID (RFC 2971 section 3), judged on the capabilities that
    // hold on the leg the credentials will use (after STARTTLS).
    if (!has_capability("ID")) {
      log_.debug("backend does not advertise ID: the client identity is not forwarded");
      co_return Outcome::ok();
    }
    co_return co_await forward_identity(backend);
  }
  co_return Outcome::ok();
}

sdk::Task<Outcome> BackendLogin::forward_identity(sdk::Backend& backend) {
  constexpr std::string_view tag = "F1";
  log_.debug("backend: sending F1 ID with the client identity");
  const sdk::IoResult written =
      co_await backend.stream().write(sdk::imap_id_command(tag, forward_));
  if (written.error) {
    co_return io_failure(written.error, Failure::connect, "while sending ID");
  }
  for (unsigned i = 0; i < max_id_lines; ++i) {
    Outcome failure;
    const std::optional<std::string> line = co_await read_line(backend, Failure::connect, failure);
    if (!line) co_return failure;
    std::string_view text = *line;
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    // Untagged data (the backend's own "* ID ...") is of no use here.
    const std::optional<std::string_view> rest = tagged_rest(text, tag);
    if (!rest) continue;
    // The status does not matter: a backend that does not trust us with
    // the identity still serves the login, with its own view of the peer.
    if (!is_ok(*rest) && log_.enabled(sdk::LogLevel::debug)) log_.debug("backend did not accept ID: " + printable(text));
    co_return Outcome::ok();
  }
  co_return Outcome::fail(
      Failure::protocol, "no tagged reply to ID within " + std::to_string(max_id_lines) + " lines");
}

sdk::Task<BackendLogin::Result> BackendLogin::replay(sdk::Backend& backend, std::string_view tag,
                                                     const sasl::Credentials& credentials) {
  Result result;
  const sasl::Mechanism mechanism = credentials.mechanism;
  const std::string tag_text(tag);
  SecretLines pieces;  // pieces[0] now, one more per "+" continuation
  pieces.lines.reserve(3);

  // RFC 9051 section 6.2.3: LOGIN carries a username and password only; it
  // fits a PLAIN credential without an authorization identity.
  const bool plain_without_authzid =
      mechanism == sasl::Mechanism::plain && !credentials.username.empty() &&
      !credentials.password.empty() && !credentials.response.empty() &&
      credentials.response.front() == '\0';
  const bool use_login =
      plain_without_authzid && !has_capability("AUTH=PLAIN") && !has_capability("LOGINDISABLED");
  if (use_login) {
    // Literals keep every byte of the username and password intact (RFC 9051
    // section 4.3). Non-synchronizing ones save the round trips when the
    // backend allows them: LITERAL+ always, LITERAL- up to 4096 bytes
    // (RFC 7888 sections 4 and 5).
    const bool small = credentials.username.size() <= 4096 && credentials.password.size() <= 4096;
    const bool non_sync = has_capability("LITERAL+") || (has_capability("LITERAL-") && small);
    const std::string_view mark = non_sync ? "+}\r\n" : "}\r\n";
    const std::string user_size = std::to_string(credentials.username.size());
    const std::string password_size = std::to_string(credentials.password.size());
    if (non_sync) {
      pieces.lines.push_back(joined({tag_text, " LOGIN {", user_size, mark, credentials.username,
                                     " {", password_size, mark, credentials.password, "\r\n"}));
    } else {
      pieces.lines.push_back(joined({tag_text, " LOGIN {", user_size, mark}));
      pieces.lines.push_back(joined({credentials.username, " {", password_size, mark}));
      pieces.lines.push_back(joined({credentials.password, "\r\n"}));
    }
    log_.write(sdk::LogLevel::debug, "backend: replaying as LOGIN with ",
               non_sync ? "non-synchronizing" : "synchronizing", " literals");
  } else {
    const std::string_view name = sasl::mechanism_name(mechanism);
    std::string encoded = sasl::encode_base64(credentials.response);
    if (has_capability("SASL-IR")) {
      // RFC 4959 section 3: "=" stands for an empty initial response.
      pieces.lines.push_back(joined({tag_text, " AUTHENTICATE ", name, " ",
                                     encoded.empty() ? std::string_view("=") : encoded, "\r\n"}));
      log_.write(sdk::LogLevel::debug, "backend: replaying as AUTHENTICATE ", name, " with SASL-IR");
    } else {
      pieces.lines.push_back(joined({tag_text, " AUTHENTICATE ", name, "\r\n"}));
      pieces.lines.push_back(joined({encoded, "\r\n"}));
      log_.write(sdk::LogLevel::debug, "backend: replaying as AUTHENTICATE ", name, " with a continuation");
    }
    sasl::wipe(encoded);
  }

  std::size_t next = 0;
  sdk::IoResult written = co_await backend.stream().write(pieces.lines[next++]);
  if (written.error) {
    result.outcome = io_failure(written.error, Failure::connect, "while sending the credentials");
    co_return result;
  }
  for (unsigned i = 0; i < max_lines; ++i) {
    Outcome failure;
    const std::optional<std::string> line = co_await read_line(backend, Failure::connect, failure);
    if (!line) {
      result.outcome = std::move(failure);
      co_return result;
    }
    if (!line->empty() && line->front() == '+') {
      std::string answer;
      if (next < pieces.lines.size()) {
        answer = pieces.lines[next++];
      } else if (use_login) {
        result.outcome = Outcome::fail(Failure::protocol, "backend sent a continuation to LOGIN");
        co_return result;
      } else if (mechanism == sasl::Mechanism::oauthbearer) {
        // RFC 7628 section 3.2.3: an error challenge is acknowledged with a
        // single %x01, after which the server fails the exchange.
        answer = "AQ==\r\n";
      } else if (mechanism == sasl::Mechanism::xoauth2) {
        // Google's XOAUTH2: the client answers the JSON error challenge with
        // an empty response.
        answer = "\r\n";
      } else {
        // PLAIN has a single message: any further challenge is unexpected,
        // so the exchange is cancelled (RFC 9051 section 6.2.2).
        answer = "*\r\n";
      }
      log_.trace("backend: answering a continuation request");
      written = co_await backend.stream().write(answer);
      sasl::wipe(answer);
      if (written.error) {
        result.outcome = io_failure(written.error, Failure::connect, "while answering a challenge");
        co_return result;
      }
      continue;
    }
    if (const std::optional<std::string_view> rest = tagged_rest(*line, tag)) {
      if (is_ok(*rest)) {
        result.status = Result::Status::accepted;
        result.reply += *line + "\r\n";
        log_.debug("backend accepted the credentials");
      } else {
        result.status = Result::Status::refused;
        log_.info("backend refused the credentials: " + printable(*line));
        // The backend's own wording can tell an attacker which accounts
        // exist; destinations may ask for one generic line instead.
        result.reply += backend.info().hide_auth_errors
                            ? tag_text + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                            : *line + "\r\n";
      }
      co_return result;
    }
    // Untagged data (e.g. CAPABILITY) reaches the client with the result
    // (behaviour contract 5.8).
    result.reply += *line + "\r\n";
  }
  result.outcome = Outcome::fail(Failure::protocol, "no tagged reply to the login within 64 lines");
  co_return result;
}

}  // namespace postern::imap
