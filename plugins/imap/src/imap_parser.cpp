#include "imap_parser.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include "imap_text.hpp"

namespace postern::imap {
namespace {

// Overwrites a string that may hold a secret before it is reused or freed.
void overwrite(std::string& s) noexcept {
  volatile char* p = s.data();
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool is_alnum(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// RFC 9051 section 9: tag = 1*<any ASTRING-CHAR except "+">, i.e. printable
// ASCII without ( ) { % * " \ +. Strictness matters here: the tag is echoed
// to the backend when the credentials are replayed.
bool is_tag_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("(){%*\"\\+").find(c) == std::string_view::npos;
}

bool is_nil_atom(const Argument& argument) noexcept {
  return argument.kind == ArgumentKind::atom && iequals(argument.value, "NIL");
}

// RFC 9051 section 9: string = quoted / literal (an atom is not a string;
// the parser gives "" its own kind).
bool is_id_string(const Argument& argument) noexcept {
  return argument.kind == ArgumentKind::quoted || argument.kind == ArgumentKind::literal ||
         argument.kind == ArgumentKind::nil;
}

}  // namespace

std::optional<IdFields> id_fields(const std::vector<Argument>& arguments) {
  constexpr std::size_t max_pairs = 30;
  constexpr std::size_t max_field = 30;
  constexpr std::size_t max_value = 1024;
  if (arguments.size() == 1 && is_nil_atom(arguments.front())) return IdFields{};
  if (arguments.size() < 2 || arguments.front().kind != ArgumentKind::list_begin ||
      arguments.back().kind != ArgumentKind::list_end) {
    return std::nullopt;
  }
  const std::size_t inner = arguments.size() - 2;
  if (inner % 2 != 0 || inner / 2 > max_pairs) return std::nullopt;
  IdFields fields;
  for (std::size_t i = 1; i + 1 < arguments.size(); i += 2) {
    const Argument& field = arguments[i];
    const Argument& value = arguments[i + 1];
    if (!is_id_string(field) || field.value.size() > max_field) return std::nullopt;
    if (is_nil_atom(value)) continue;
    if (!is_id_string(value) || value.value.size() > max_value) return std::nullopt;
    fields.emplace_back(field.value, value.value);
  }
  return fields;
}

void Command::wipe() noexcept {
  for (Argument& argument : arguments) overwrite(argument.value);
}

ParseEvent CommandParser::feed(std::string_view input) {
  ParseEvent event;
  std::size_t i = 0;
  while (i < input.size()) {
    if (state_ == State::failed) {
      i = input.size();
      break;
    }
    if (state_ == State::literal_data) {
      // Literal bytes are opaque (RFC 9051 section 4.3): copied in bulk.
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(literal_remaining_, input.size() - i));
      used_ += n;
      if (used_ > limits_.max_command) {
        fail_fatal(event, "Command too long.");
        event.consumed = i + n;
        return event;
      }
      token_.append(input.data() + i, n);
      i += n;
      literal_remaining_ -= n;
      if (literal_remaining_ == 0 &&
          push_argument(ArgumentKind::literal, '\0', event) == Step::stop) {
        event.consumed = i;
        return event;
      }
      continue;
    }
    const char c = input[i++];
    if (step(c, event) == Step::stop) {
      event.consumed = i;
      return event;
    }
  }
  event.kind = ParseEvent::Kind::need_more;
  event.consumed = input.size();
  return event;
}

Command CommandParser::take_command() {
  Command command = std::move(completed_);
  completed_ = Command{};
  return command;
}

void CommandParser::reset() {
  current_.wipe();
  overwrite(token_);
  current_ = Command{};
  state_ = State::line_start;
  used_ = 0;
}

void CommandParser::start_command() {
  current_ = Command{};
  overwrite(token_);
  used_ = 0;
  uid_prefix_seen_ = false;
  literal_sync_ = true;
}

CommandParser::Step CommandParser::fail(ParseEvent& event, char c, std::string message) {
  current_.wipe();
  current_ = Command{};
  overwrite(token_);
  // The byte that caused the error may itself end the line; otherwise the
  // rest of the line is discarded so that it is not parsed as new commands.
  state_ = (c == '\n') ? State::line_start : State::skip_line;
  event.kind = ParseEvent::Kind::error;
  event.fatal = false;
  event.message = std::move(message);
  return Step::stop;
}

CommandParser::Step CommandParser::fail_fatal(ParseEvent& event, std::string message) {
  current_.wipe();
  current_ = Command{};
  overwrite(token_);
  state_ = State::failed;
  event.kind = ParseEvent::Kind::error;
  event.fatal = true;
  event.message = std::move(message);
  return Step::stop;
}

CommandParser::Step CommandParser::finish_command(ParseEvent& event) {
  completed_ = std::move(current_);
  current_ = Command{};
  state_ = State::line_start;
  event.kind = ParseEvent::Kind::command;
  return Step::stop;
}

CommandParser::Step CommandParser::push_argument(ArgumentKind kind, char c, ParseEvent& event) {
  if (current_.arguments.size() >= limits_.max_arguments) {
    return fail(event, c, "Too many arguments.");
  }
  Argument& argument = current_.arguments.emplace_back();
  argument.kind = kind;
  if (kind == ArgumentKind::atom || kind == ArgumentKind::quoted || kind == ArgumentKind::literal) {
    argument.value = std::move(token_);
    token_ = std::string();
  }
  state_ = State::arguments;
  return Step::next;
}

CommandParser::Step CommandParser::announce_literal(char c, ParseEvent& event) {
  if (literal_size_ == 0) return fail(event, c, "Invalid empty literal.");
  // The announced size counts against the command's budget up front: a
  // client cannot make the proxy wait for (or buffer) more than the limit.
  if (literal_size_ > limits_.max_command - used_) return fail_fatal(event, "Literal too long.");
  state_ = State::literal_cr;
  return Step::next;
}

CommandParser::Step CommandParser::step(char c, ParseEvent& event) {
  if (state_ == State::line_start) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return Step::next;
    start_command();
    state_ = State::tag;
  }
  if (++used_ > limits_.max_command) return fail_fatal(event, "Command too long.");

  // Some states hand the byte on to the next state (`continue`).
  for (;;) {
    switch (state_) {
      case State::tag:
        if (c == ' ') {
          state_ = State::before_name;
          return Step::next;
        }
        if (c == '\r' || c == '\n') return fail(event, c, "Missing command after tag.");
        if (!is_tag_char(c)) return fail(event, c, "Invalid character in tag.");
        if (current_.tag.size() >= limits_.max_tag) return fail(event, c, "Tag too long.");
        current_.tag += c;
        return Step::next;

      case State::before_name:
        if (c == ' ') return Step::next;
        state_ = State::name;
        continue;

      case State::name:
        if (is_alnum(c)) {
          if (current_.name.size() >= limits_.max_name) {
            return fail(event, c, "Command name too long.");
          }
          current_.name += ascii_upper(c);
          return Step::next;
        }
        if (c == ' ' || c == '\r' || c == '\n') {
          if (current_.name.empty()) return fail(event, c, "Missing command after tag.");
          // "UID FETCH ..." is dispatched on the command after the prefix.
          if (c == ' ' && !uid_prefix_seen_ && current_.name == "UID") {
            uid_prefix_seen_ = true;
            current_.name.clear();
            state_ = State::before_name;
            return Step::next;
          }
          state_ = State::arguments;
          continue;
        }
        return fail(event, c, "Invalid character in command name.");

      case State::arguments:
        switch (c) {
          case ' ':
            return Step::next;
          case '\r':
            state_ = State::line_cr;
            return Step::next;
          case '\n':
            return finish_command(event);
          case '"':
            overwrite(token_);
            state_ = State::quoted;
            return Step::next;
          case '{':
            literal_size_ = 0;
            literal_digits_ = false;
            literal_sync_ = true;
            state_ = State::literal_size;
            return Step::next;
          case '(':
            return push_argument(ArgumentKind::list_begin, c, event);
          case ')':
            return push_argument(ArgumentKind::list_end, c, event);
          default:
            break;
        }
        if (is_control(c)) return fail(event, c, "Invalid character in argument.");
        overwrite(token_);
        state_ = State::atom;
        continue;

      case State::atom:
        if (c == ' ' || c == '\r' || c == '\n' || c == '(' || c == ')') {
          if (push_argument(ArgumentKind::atom, c, event) == Step::stop) return Step::stop;
          continue;  // the terminator is handled between arguments
        }
        if (is_control(c)) return fail(event, c, "Invalid character in argument.");
        if (token_.size() >= limits_.max_atom) return fail(event, c, "Argument too long.");
        token_ += c;
        return Step::next;

      case State::quoted:
        if (c == '"') {
          return push_argument(token_.empty() ? ArgumentKind::nil : ArgumentKind::quoted, c, event);
        }
        if (c == '\\') {
          state_ = State::quoted_escape;
          return Step::next;
        }
        [[fallthrough]];
      case State::quoted_escape:
        // RFC 9051 section 9: QUOTED-CHAR excludes CR and LF; a quoted
        // string never spans lines.
        if (c == '\r' || c == '\n') return fail(event, c, "Unterminated quoted argument.");
        if (c == '\0') return fail(event, c, "Invalid character in argument.");
        if (token_.size() >= limits_.max_atom) return fail(event, c, "Argument too long.");
        token_ += c;
        state_ = State::quoted;
        return Step::next;

      case State::literal_size:
        if (c >= '0' && c <= '9') {
          literal_digits_ = true;
          // Saturates just above the budget: any larger value is refused alike.
          literal_size_ = std::min<std::uint64_t>(
              literal_size_ * 10 + static_cast<unsigned>(c - '0'), limits_.max_command + 1);
          return Step::next;
        }
        if (literal_digits_ && c == '+') {
          state_ = State::literal_plus;
          return Step::next;
        }
        if (literal_digits_ && c == '}') return announce_literal(c, event);
        return fail(event, c, "Literal size is not a valid number.");

      case State::literal_plus:
        // RFC 7888: "{n+}" is a non-synchronizing literal (no "+" reply).
        if (c != '}') return fail(event, c, "Invalid non-sync literal.");
        literal_sync_ = false;
        return announce_literal(c, event);

      case State::literal_cr:
        if (c == '\r') {
          state_ = State::literal_lf;
          return Step::next;
        }
        [[fallthrough]];
      case State::literal_lf:
        if (c != '\n') return fail(event, c, "Expected CRLF after literal, found an invalid char.");
        literal_remaining_ = literal_size_;
        overwrite(token_);
        state_ = State::literal_data;
        if (literal_sync_) {
          // RFC 9051 section 7.5: the client waits for a continuation
          // request before it sends a synchronizing literal's data.
          event.kind = ParseEvent::Kind::continuation;
          event.literal_size = literal_size_;
          return Step::stop;
        }
        return Step::next;

      case State::line_cr:
        if (c == '\n') return finish_command(event);
        return fail(event, c, "Expected LF after CR.");

      case State::skip_line:
        if (c == '\n') state_ = State::line_start;
        return Step::next;

      case State::line_start:
      case State::literal_data:
      case State::failed:
        // Handled by the caller before any byte reaches this switch.
        return Step::next;
    }
  }
}

}  // namespace postern::imap
