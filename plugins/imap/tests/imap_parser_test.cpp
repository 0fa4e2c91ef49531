#include "imap_parser.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace postern::imap {
namespace {

using namespace std::string_literals;

// Every event as one comparable string:
//   command:      "tag NAME|kind:value|kind:value"
//   continuation: "+<size>"
//   error:        "BAD <message>" (fatal ones end with " [fatal]")
std::string describe(const ParseEvent& event, CommandParser& parser) {
  switch (event.kind) {
    case ParseEvent::Kind::need_more:
      return "need_more";
    case ParseEvent::Kind::continuation:
      return "+" + std::to_string(event.literal_size);
    case ParseEvent::Kind::error:
      return "BAD " + event.message + (event.fatal ? " [fatal]" : "");
    case ParseEvent::Kind::command:
      break;
  }
  const Command command = parser.take_command();
  std::string text = command.tag + " " + command.name;
  for (const Argument& argument : command.arguments) {
    switch (argument.kind) {
      case ArgumentKind::atom:
        text += "|atom:";
        break;
      case ArgumentKind::quoted:
        text += "|quoted:";
        break;
      case ArgumentKind::literal:
        text += "|literal:";
        break;
      case ArgumentKind::nil:
        text += "|nil:";
        break;
      case ArgumentKind::list_begin:
        text += "|(";
        break;
      case ArgumentKind::list_end:
        text += "|)";
        break;
    }
    text += argument.value;
  }
  return text;
}

// Feeds `input` in chunks of `chunk` bytes (0 = all at once), collecting the
// events; stops after a fatal error.
std::vector<std::string> run(std::string_view input, std::size_t chunk, ParserLimits limits = {}) {
  CommandParser parser(limits);
  std::vector<std::string> events;
  std::size_t offset = 0;
  while (offset < input.size()) {
    const std::size_t size =
        chunk == 0 ? input.size() - offset : std::min(chunk, input.size() - offset);
    std::string_view piece = input.substr(offset, size);
    offset += size;
    while (!piece.empty()) {
      const ParseEvent event = parser.feed(piece);
      EXPECT_GT(event.consumed, 0u);
      EXPECT_LE(event.consumed, piece.size());
      piece.remove_prefix(std::min(event.consumed, piece.size()));
      if (event.kind == ParseEvent::Kind::need_more) {
        EXPECT_TRUE(piece.empty());
        continue;
      }
      events.push_back(describe(event, parser));
      if (event.kind == ParseEvent::Kind::error && event.fatal) return events;
    }
  }
  return events;
}

// The same events whether the input arrives whole or one byte at a time.
void expect_events(std::string_view input, const std::vector<std::string>& expected,
                   ParserLimits limits = {}) {
  EXPECT_EQ(run(input, 0, limits), expected) << "fed whole";
  EXPECT_EQ(run(input, 1, limits), expected) << "fed one byte at a time";
  EXPECT_EQ(run(input, 7, limits), expected) << "fed in 7-byte pieces";
}

TEST(ImapParser, ParsesCommandWithoutArguments) {
  expect_events("a1 CAPABILITY\r\n", {"a1 CAPABILITY"});
}

TEST(ImapParser, UppercasesNameAndAcceptsBareLf) { expect_events("x.2 noop\n", {"x.2 NOOP"}); }

TEST(ImapParser, SkipsBlankLinesAndLeadingWhitespace) {
  expect_events("\r\n\r\n  \t a NOOP\r\n", {"a NOOP"});
}

TEST(ImapParser, ToleratesSeveralSpacesBetweenTokens) {
  expect_events("a   LOGIN   user    pass  \r\n", {"a LOGIN|atom:user|atom:pass"});
}

TEST(ImapParser, ParsesAtomsAndQuotedStringsWithEscapes) {
  expect_events("a LOGIN user \"p\\\"a\\\\ss word\"\r\n",
                {"a LOGIN|atom:user|quoted:p\"a\\ss word"});
}

TEST(ImapParser, EmptyQuotedStringIsNil) {
  expect_events("a LOGIN \"\" \"x\"\r\n", {"a LOGIN|nil:|quoted:x"});
}

TEST(ImapParser, KeepsUtf8InAtomsAndQuotedStrings) {
  expect_events("a LOGIN j\xC3\xBCrgen \"p\xC3\xA4ss\"\r\n",
                {"a LOGIN|atom:j\xC3\xBCrgen|quoted:p\xC3\xA4ss"});
}

TEST(ImapParser, SynchronizingLiteralsAskForContinuation) {
  expect_events("a LOGIN {4}\r\nuser {8}\r\npa\r\n\"ss \r\n",
                {"+4", "+8", "a LOGIN|literal:user|literal:pa\r\n\"ss "});
}

TEST(ImapParser, NonSynchronizingLiteralsNeedNoContinuation) {
  // RFC 7888 LITERAL+.
  expect_events("a LOGIN {4+}\r\nuser {4+}\r\npass\r\n", {"a LOGIN|literal:user|literal:pass"});
}

TEST(ImapParser, LiteralFollowedByListEnd) {
  expect_events("a ID (\"name\" {3+}\r\nabc)\r\n", {"a ID|(|quoted:name|literal:abc|)"});
}

TEST(ImapParser, DropsUidPrefixAndParsesParentheses) {
  expect_events("a UID FETCH 1:* (FLAGS BODY[HEADER])\r\n",
                {"a FETCH|atom:1:*|(|atom:FLAGS|atom:BODY[HEADER]|)"});
}

TEST(ImapParser, UidAloneIsACommand) { expect_events("a UID\r\n", {"a UID"}); }

TEST(ImapParser, StopsAfterEachCommandLeavingPipelinedBytes) {
  CommandParser parser;
  const std::string_view input = "a NOOP\r\nb LOGOUT\r\nc";
  ParseEvent event = parser.feed(input);
  ASSERT_EQ(event.kind, ParseEvent::Kind::command);
  EXPECT_EQ(event.consumed, 8u);
  EXPECT_EQ(parser.take_command().name, "NOOP");
  event = parser.feed(input.substr(8));
  ASSERT_EQ(event.kind, ParseEvent::Kind::command);
  EXPECT_EQ(event.consumed, 10u);
  EXPECT_EQ(parser.take_command().tag, "b");
  event = parser.feed(input.substr(18));
  EXPECT_EQ(event.kind, ParseEvent::Kind::need_more);
  EXPECT_EQ(event.consumed, 1u);
}

TEST(ImapParser, ContinuationStopsRightAfterTheAnnouncement) {
  CommandParser parser;
  const std::string_view input = "a LOGIN {4}\r\nuser pass\r\n";
  const ParseEvent event = parser.feed(input);
  ASSERT_EQ(event.kind, ParseEvent::Kind::continuation);
  EXPECT_EQ(event.literal_size, 4u);
  EXPECT_EQ(input.substr(event.consumed), "user pass\r\n");
}

TEST(ImapParser, MissingCommandAfterTag) {
  expect_events("a\r\nb NOOP\r\n", {"BAD Missing command after tag.", "b NOOP"});
  expect_events("a \r\nb NOOP\n", {"BAD Missing command after tag.", "b NOOP"});
}

TEST(ImapParser, SkipsRestOfLineAfterError) {
  // Unlike the reference, nothing of the bad line is parsed again.
  expect_events("a NO-OP x y z\r\nb NOOP\r\n",
                {"BAD Invalid character in command name.", "b NOOP"});
}

TEST(ImapParser, RejectsInvalidTagCharacters) {
  expect_events("a+b NOOP\r\n", {"BAD Invalid character in tag."});
  expect_events("* NOOP\r\n", {"BAD Invalid character in tag."});
  expect_events("a{1} NOOP\r\nb NOOP\r\n", {"BAD Invalid character in tag.", "b NOOP"});
  expect_events("t\xC3\xA4g NOOP\r\n", {"BAD Invalid character in tag."});
}

TEST(ImapParser, TagLimitIs128Bytes) {
  const std::string ok(128, 't');
  expect_events(ok + " NOOP\r\n", {ok + " NOOP"});
  expect_events(std::string(129, 't') + " NOOP\r\nb NOOP\r\n", {"BAD Tag too long.", "b NOOP"});
}

TEST(ImapParser, CommandNameLimitIs15Alphanumerics) {
  expect_events("a ABCDEFGHIJKLMN5\r\n", {"a ABCDEFGHIJKLMN5"});
  expect_events("a ABCDEFGHIJKLMNOP\r\nb NOOP\r\n", {"BAD Command name too long.", "b NOOP"});
}

TEST(ImapParser, AtomLimitIs8000Bytes) {
  const std::string ok(8000, 'x');
  expect_events("a LOGIN " + ok + " y\r\n", {"a LOGIN|atom:" + ok + "|atom:y"});
  expect_events("a LOGIN " + std::string(8001, 'x') + " y\r\nb NOOP\r\n",
                {"BAD Argument too long.", "b NOOP"});
  expect_events("a LOGIN \"" + std::string(8001, 'x') + "\"\r\nb NOOP\r\n",
                {"BAD Argument too long.", "b NOOP"});
}

TEST(ImapParser, ArgumentCountIsBounded) {
  std::string line = "a ID";
  for (int i = 0; i < 256; ++i) line += " x";
  EXPECT_EQ(run(line + "\r\n", 0).size(), 1u);
  expect_events(line + " x\r\nb NOOP\r\n", {"BAD Too many arguments.", "b NOOP"});
}

TEST(ImapParser, UnterminatedQuotedString) {
  expect_events("a LOGIN \"abc\r\nb NOOP\r\n", {"BAD Unterminated quoted argument.", "b NOOP"});
  expect_events("a LOGIN \"abc\\\nb NOOP\r\n", {"BAD Unterminated quoted argument.", "b NOOP"});
}

TEST(ImapParser, RejectsControlCharactersInArguments) {
  expect_events("a LOGIN u\x01x p\r\nb NOOP\r\n", {"BAD Invalid character in argument.", "b NOOP"});
  expect_events("a LOGIN \"u\0\" p\r\nb NOOP\r\n"s,
                {"BAD Invalid character in argument.", "b NOOP"});
}

TEST(ImapParser, RejectsMalformedLiteralAnnouncements) {
  expect_events("a LOGIN {x}\r\nb NOOP\r\n", {"BAD Literal size is not a valid number.", "b NOOP"});
  expect_events("a LOGIN {}\r\n", {"BAD Literal size is not a valid number."});
  expect_events("a LOGIN {+}\r\n", {"BAD Literal size is not a valid number."});
  expect_events("a LOGIN {0}\r\nb NOOP\r\n", {"BAD Invalid empty literal.", "b NOOP"});
  expect_events("a LOGIN {5+x}\r\n", {"BAD Invalid non-sync literal."});
  expect_events("a LOGIN {5}x\r\nb NOOP\r\n",
                {"BAD Expected CRLF after literal, found an invalid char.", "b NOOP"});
  expect_events("a LOGIN {5}\r\r\n", {"BAD Expected CRLF after literal, found an invalid char."});
}

TEST(ImapParser, CrMustBeFollowedByLf) {
  expect_events("a NOOP\rb\nc NOOP\n", {"BAD Expected LF after CR.", "c NOOP"});
}

TEST(ImapParser, LiteralBeyondTheCommandBudgetIsFatal) {
  // No continuation is offered for it: the client is told BAD at once.
  expect_events("a LOGIN {65536}\r\n", {"BAD Literal too long. [fatal]"});
  expect_events("a LOGIN {99999999999999999999999}\r\n", {"BAD Literal too long. [fatal]"});
}

TEST(ImapParser, CommandBudgetCountsEveryByte) {
  ParserLimits limits;
  limits.max_command = 32;
  // "a LOGIN {n+}\r\n" is 14 bytes for one-digit sizes, "\r\n" two more.
  const std::string fits = "a LOGIN {8+}\r\n12345678 xxxxxxx\r\n";  // 32 bytes
  ASSERT_EQ(fits.size(), 32u);
  expect_events(fits, {"a LOGIN|literal:12345678|atom:xxxxxxx"}, limits);
  expect_events("a LOGIN {8+}\r\n12345678 xxxxxxxx\r\n", {"BAD Command too long. [fatal]"}, limits);
  expect_events("a LOGIN {20+}\r\n", {"BAD Literal too long. [fatal]"}, limits);
}

TEST(ImapParser, LineWithoutEndIsFatalAtTheLimit) {
  const std::string endless = "a LOGIN " + std::string(70000, 'x');
  // The atom limit trips first, then the skipped remainder hits the budget.
  expect_events(endless, {"BAD Argument too long.", "BAD Command too long. [fatal]"});
  const std::string spaces = "a LOGIN" + std::string(70000, ' ');
  expect_events(spaces, {"BAD Command too long. [fatal]"});
}

TEST(ImapParser, DiscardsInputAfterFatalErrorUntilReset) {
  ParserLimits limits;
  limits.max_command = 16;
  CommandParser parser(limits);
  ParseEvent event = parser.feed("a LOGIN {100}\r\n");
  ASSERT_EQ(event.kind, ParseEvent::Kind::error);
  EXPECT_TRUE(event.fatal);
  event = parser.feed("b NOOP\r\n");
  EXPECT_EQ(event.kind, ParseEvent::Kind::need_more);
  EXPECT_EQ(event.consumed, 8u);
  parser.reset();
  event = parser.feed("b NOOP\r\n");
  ASSERT_EQ(event.kind, ParseEvent::Kind::command);
  EXPECT_EQ(parser.take_command().name, "NOOP");
}

TEST(ImapParser, ResetForgetsPartialCommand) {
  CommandParser parser;
  EXPECT_EQ(parser.feed("a LOGIN {10}\r\nuse").kind, ParseEvent::Kind::continuation);
  parser.reset();
  const ParseEvent event = parser.feed("b NOOP\r\n");
  ASSERT_EQ(event.kind, ParseEvent::Kind::command);
  const Command command = parser.take_command();
  EXPECT_EQ(command.tag, "b");
  EXPECT_TRUE(command.arguments.empty());
}

TEST(ImapParser, WipeClearsArgumentValues) {
  CommandParser parser;
  ASSERT_EQ(parser.feed("a LOGIN user secret\r\n").kind, ParseEvent::Kind::command);
  Command command = parser.take_command();
  command.wipe();
  ASSERT_EQ(command.arguments.size(), 2u);
  EXPECT_TRUE(command.arguments[0].value.empty());
  EXPECT_TRUE(command.arguments[1].value.empty());
}

TEST(ImapParser, HandlesEveryByteValueWithoutCrashing) {
  // A crude robustness sweep: every byte in every position of a short
  // command; the parser must always make progress and stay bounded.
  for (int b = 0; b < 256; ++b) {
    for (std::size_t pos = 0; pos < 12; ++pos) {
      std::string input = "a LOGIN {3}\r\nabc x\r\n";
      input[pos] = static_cast<char>(b);
      const std::vector<std::string> whole = run(input, 0);
      EXPECT_EQ(whole, run(input, 1)) << "byte " << b << " at " << pos;
    }
  }
}

// --- ID parameter lists (RFC 2971) ---

// The ID fields of one complete command line, or nullopt.
std::optional<IdFields> fields_of(std::string_view line) {
  CommandParser parser;
  const ParseEvent event = parser.feed(line);
  EXPECT_EQ(event.kind, ParseEvent::Kind::command) << line;
  return id_fields(parser.take_command().arguments);
}

TEST(ImapIdFields, ReadsPairsOfStrings) {
  const auto fields = fields_of("a ID (\"name\" \"upstream\" \"x-proxy-ttl\" {1+}\r\n4)\r\n");
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(*fields, (IdFields{{"name", "upstream"}, {"x-proxy-ttl", "4"}}));
}

TEST(ImapIdFields, NilListAndNilValues) {
  EXPECT_EQ(fields_of("a ID NIL\r\n"), IdFields{});
  EXPECT_EQ(fields_of("a ID nil\r\n"), IdFields{});
  EXPECT_EQ(fields_of("a ID ()\r\n"), IdFields{});
  // A NIL value leaves its field out; "" is an empty string.
  EXPECT_EQ(fields_of("a ID (\"name\" NIL \"version\" \"\")\r\n"), (IdFields{{"version", ""}}));
}

TEST(ImapIdFields, MalformedListsAreRefused) {
  for (const std::string_view line :
       {"a ID\r\n", "a ID \"name\" \"x\"\r\n", "a ID (\"name\")\r\n",
        "a ID (\"name\" \"x\" \"version\")\r\n", "a ID (name \"x\")\r\n",
        "a ID (\"name\" x)\r\n", "a ID (\"name\" \"x\"\r\n", "a ID \"name\" \"x\")\r\n",
        "a ID (\"name\" (\"x\"))\r\n", "a ID (\"name\" \"x\") extra\r\n", "a ID NIL NIL\r\n",
        "a ID (NIL \"x\")\r\n"}) {
    EXPECT_FALSE(fields_of(line).has_value()) << line;
  }
}

TEST(ImapIdFields, Rfc2971LimitsAreEnforced) {
  std::string thirty = "a ID (";
  for (int i = 0; i < 30; ++i) thirty += "\"f" + std::to_string(i) + "\" \"v\" ";
  EXPECT_EQ(fields_of(thirty + ")\r\n")->size(), 30u);
  EXPECT_FALSE(fields_of(thirty + "\"f30\" \"v\")\r\n").has_value());

  const std::string field30(30, 'f');
  EXPECT_TRUE(fields_of("a ID (\"" + field30 + "\" \"v\")\r\n").has_value());
  EXPECT_FALSE(fields_of("a ID (\"" + field30 + "f\" \"v\")\r\n").has_value());

  const std::string value1024(1024, 'v');
  EXPECT_TRUE(fields_of("a ID (\"name\" \"" + value1024 + "\")\r\n").has_value());
  EXPECT_FALSE(fields_of("a ID (\"name\" \"" + value1024 + "v\")\r\n").has_value());
}

}  // namespace
}  // namespace postern::imap
