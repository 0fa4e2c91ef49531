// The pre-authentication IMAP command parser: pure (no I/O), incremental
// (bytes may arrive in any split, one at a time included) and bounded (every
// token and the whole command have a size limit, so hostile input costs at
// most a fixed amount of memory).
//
// The caller owns the bytes. feed() consumes a prefix of its input and stops
// at the first event: a complete command, a synchronizing literal that needs
// a "+" continuation, or an error. Bytes after the event are left for the
// next call (or, once authentication succeeds, for the bridge).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::imap {

enum class ArgumentKind {
  atom,        // 1*ATOM-CHAR (lenient: any byte but SP, controls, "(" and ")")
  quoted,      // "..." with \ escapes removed
  literal,     // {n} or {n+} followed by n bytes
  nil,         // the empty quoted string "" (the reference tokenizer's NIL)
  list_begin,  // "("
  list_end     // ")"
};

struct Argument {
  ArgumentKind kind = ArgumentKind::atom;
  std::string value;

  // A string-like argument (astring / nstring position): atom, quoted,
  // literal or the empty string.
  bool is_string() const noexcept {
    return kind != ArgumentKind::list_begin && kind != ArgumentKind::list_end;
  }
};

struct Command {
  std::string tag;
  std::string name;  // upper-case ASCII; a "UID" prefix is dropped
  std::vector<Argument> arguments;

  // Overwrites every argument value (LOGIN and AUTHENTICATE carry secrets).
  void wipe() noexcept;
};

struct ParserLimits {
  std::size_t max_tag = 128;
  std::size_t max_name = 15;
  std::size_t max_atom = 8000;  // also bounds a quoted string
  std::size_t max_arguments = 256;
  std::size_t max_command = 64 * 1024;  // every byte, literal data included
};

struct ParseEvent {
  enum class Kind {
    need_more,     // all of the input was consumed, no event yet
    continuation,  // a synchronizing literal was announced: send "+ ..."
    command,       // take_command() returns it
    error          // reply "* BAD <message>"
  };
  Kind kind = Kind::need_more;
  std::size_t consumed = 0;        // bytes of the input used up
  std::uint64_t literal_size = 0;  // continuation: the announced size
  // error: a size limit was exceeded; the connection must be closed (the
  // parser then discards everything it is fed). Other errors skip to the end
  // of the offending line and parsing resumes with the next one.
  bool fatal = false;
  std::string message;  // error: text after "* BAD "
};

class CommandParser {
 public:
  explicit CommandParser(ParserLimits limits = {}) : limits_(limits) {}

  ParseEvent feed(std::string_view input);
  // The command completed by the last `command` event (moved out).
  Command take_command();
  // Forgets any partial command, e.g. with the plaintext discarded at
  // STARTTLS (RFC 9051 section 6.2.1), and clears a fatal state.
  void reset();

 private:
  enum class State {
    line_start,  // before a tag; blank lines are skipped
    tag,
    before_name,  // spaces after the tag
    name,
    arguments,  // between arguments
    atom,
    quoted,
    quoted_escape,
    literal_size,
    literal_plus,  // after "{n+": expects "}"
    literal_cr,    // after "}": expects CRLF
    literal_lf,
    literal_data,
    line_cr,    // after a CR ending the command: expects LF
    skip_line,  // after an error: discard through the next LF
    failed      // after a fatal error
  };

  // Outcome of one byte: keep going, or stop with an event.
  enum class Step { next, stop };

  Step step(char c, ParseEvent& event);
  Step fail(ParseEvent& event, char c, std::string message);
  Step fail_fatal(ParseEvent& event, std::string message);
  Step finish_command(ParseEvent& event);
  // `c` is the byte being handled (for the line-skipping decision on error).
  Step push_argument(ArgumentKind kind, char c, ParseEvent& event);
  Step announce_literal(char c, ParseEvent& event);
  void start_command();

  ParserLimits limits_;
  State state_ = State::line_start;
  std::size_t used_ = 0;  // bytes of the current command so far
  Command current_;
  Command completed_;
  std::string token_;
  bool uid_prefix_seen_ = false;
  bool literal_sync_ = true;
  std::uint64_t literal_size_ = 0;
  bool literal_digits_ = false;
  std::uint64_t literal_remaining_ = 0;
};

// The field-value pairs of an ID command (RFC 2971 section 4):
//   id = "ID" SP id_params_list
//   id_params_list = "(" #(string SP nstring) ")" / nil
// "NIL" (or an empty list) gives no pairs; a pair whose value is NIL is left
// out. nullopt for anything else: a missing or unbalanced list, an odd
// count, a non-string, or more than RFC 2971 section 3.3 allows (30 pairs,
// 30-octet field names, 1024-octet values). The caller ignores such data.
using IdFields = std::vector<std::pair<std::string, std::string>>;
std::optional<IdFields> id_fields(const std::vector<Argument>& arguments);

}  // namespace postern::imap
