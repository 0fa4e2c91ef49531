// Unit tests of the load generator's parsers, histogram and report, and of
// ImapConnection against a scripted server on loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "histogram.hpp"
#include "imap_connection.hpp"
#include "options.hpp"
#include "proc_sampler.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace postern::bench {
namespace {

using namespace std::chrono_literals;

// ---- histogram ---------------------------------------------------------------

TEST(LoadgenHistogram, EmptyHasNoQuantiles) {
  Histogram histogram;
  EXPECT_FALSE(histogram.quantile_ms(0.5).has_value());
}

TEST(LoadgenHistogram, QuantilesOfAUniformSpreadStayWithinTwoPercent) {
  Histogram histogram;
  for (int us = 1; us <= 1000; ++us) histogram.record(std::chrono::microseconds(us));
  EXPECT_EQ(histogram.count(), 1000u);
  EXPECT_NEAR(*histogram.quantile_ms(0.50), 0.500, 0.010);
  EXPECT_NEAR(*histogram.quantile_ms(0.99), 0.990, 0.020);
  EXPECT_NEAR(*histogram.quantile_ms(1.00), 1.000, 0.020);
}

TEST(LoadgenHistogram, SmallValuesAreExactAndHugeOnesFit) {
  Histogram histogram;
  histogram.record(std::chrono::nanoseconds(100));
  EXPECT_DOUBLE_EQ(*histogram.quantile_ms(0.5), 100e-6);
  histogram.record(std::chrono::hours(24 * 365));
  EXPECT_NEAR(*histogram.quantile_ms(1.0), 365.0 * 24 * 3600 * 1000, 365.0 * 24 * 3600 * 1000 * 0.02);
}

// ---- IMAP lines --------------------------------------------------------------

TEST(LoadgenLiteralSize, ReadsSynchronizingAndNonSynchronizingLiterals) {
  EXPECT_EQ(literal_size("* 1 FETCH (BODY[] {4096}"), 4096u);
  EXPECT_EQ(literal_size("* 1 FETCH (BODY[] {12+}"), 12u);
  EXPECT_EQ(literal_size("{0}"), 0u);
}

TEST(LoadgenLiteralSize, RejectsWhatIsNoLiteral) {
  EXPECT_FALSE(literal_size("a1 OK done").has_value());
  EXPECT_FALSE(literal_size("* 1 FETCH (BODY[] {12})").has_value());
  EXPECT_FALSE(literal_size("{}").has_value());
  EXPECT_FALSE(literal_size("{+}").has_value());
  EXPECT_FALSE(literal_size("{1a}").has_value());
  EXPECT_FALSE(literal_size("{12345678901234567890}").has_value());
}

TEST(LoadgenRfc822Size, ParsesFetchSizeLines) {
  std::uint64_t sequence = 0;
  std::uint64_t size = 0;
  ASSERT_TRUE(parse_rfc822_size("* 21 FETCH (RFC822.SIZE 10485760)", sequence, size));
  EXPECT_EQ(sequence, 21u);
  EXPECT_EQ(size, 10485760u);
  EXPECT_FALSE(parse_rfc822_size("* 21 EXISTS", sequence, size));
  EXPECT_FALSE(parse_rfc822_size("* OK [RFC822.SIZE 5]", sequence, size));
  EXPECT_FALSE(parse_rfc822_size("* 3 FETCH (FLAGS ())", sequence, size));
  EXPECT_EQ(sequence, 21u);
}

TEST(LoadgenImapQuoted, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(imap_quoted("user001"), "\"user001\"");
  EXPECT_EQ(imap_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

// ---- /proc parsing -------------------------------------------------------------

TEST(LoadgenParseStat, CountsFieldsFromTheLastParenthesis) {
  const auto line = parse_stat(
      "4242 (evil) (name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 100 1000 200\n");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->ppid, 17);
  EXPECT_EQ(line->ticks, 250u + 50u + 7u + 3u);
}

TEST(LoadgenParseStat, RejectsTruncatedLines) {
  EXPECT_FALSE(parse_stat("4242 (x) S 17 4242").has_value());
  EXPECT_FALSE(parse_stat("no parenthesis").has_value());
}

TEST(LoadgenParseStat, ReadsTheRealFileOfThisProcess) {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto line = parse_stat(text);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->ppid, ::getppid());
}

TEST(LoadgenParsePss, TakesThePssLineNotItsRelatives) {
  EXPECT_EQ(parse_pss_kib("55-77 ---p 0 00:00 0 [rollup]\nRss: 1764 kB\nPss_Anon: 9 kB\nPss:   220 kB\n"), 220u);
  EXPECT_FALSE(parse_pss_kib("55-77 ---p [rollup]\nRss: 1764 kB\nPss_Anon: 9 kB\n").has_value());
}

TEST(LoadgenSampleTree, SeesThisProcessAndNotAMissingOne) {
  const auto sample = sample_tree(::getpid(), true);
  ASSERT_TRUE(sample.has_value());
  EXPECT_GE(sample->processes, 1u);
  ASSERT_TRUE(sample->pss_kib.has_value());
  EXPECT_GT(*sample->pss_kib, 0u);
  EXPECT_FALSE(sample_tree(0x3fffffff, false).has_value());
}

// ---- options and users -------------------------------------------------------

ParsedOptions parse(std::vector<std::string> args) {
  std::vector<char*> pointers;
  for (auto& arg : args) pointers.push_back(arg.data());
  return parse_options(std::span<char* const>(pointers.data(), pointers.size()));
}

TEST(LoadgenOptions, ParsesAFullCommandLine) {
  const auto parsed = parse({"--host", "127.0.0.2", "--port=1143", "--tls", "starttls", "--workload", "imap-idle",
                             "--concurrency", "8", "--duration", "2.5", "--users", "u.txt", "--pid", "10", "--pid",
                             "11", "--idle-sessions", "500", "--label", "x y", "--timeout", "3"});
  ASSERT_TRUE(parsed.options.has_value()) << parsed.error;
  const Options& o = *parsed.options;
  EXPECT_EQ(o.host, "127.0.0.2");
  EXPECT_EQ(o.port, 1143);
  EXPECT_EQ(o.tls, TlsMode::starttls);
  EXPECT_EQ(o.workload, Workload::imap_idle);
  EXPECT_EQ(o.concurrency, 8u);
  EXPECT_DOUBLE_EQ(o.duration_s, 2.5);
  EXPECT_EQ(o.pids, (std::vector<pid_t>{10, 11}));
  EXPECT_EQ(o.idle_sessions, 500u);
  EXPECT_EQ(o.label, "x y");
  EXPECT_DOUBLE_EQ(o.timeout_s, 3.0);
}

TEST(LoadgenOptions, LatencyRunsOneSessionAtATime) {
  const auto parsed = parse({"--port", "1", "--users", "u", "--workload", "imap-latency", "--concurrency", "9"});
  ASSERT_TRUE(parsed.options.has_value());
  EXPECT_EQ(parsed.options->concurrency, 1u);
}

TEST(LoadgenOptions, RefusesBadInput) {
  EXPECT_NE(parse({"--users", "u"}).error, "");
  EXPECT_NE(parse({"--port", "1"}).error, "");
  EXPECT_NE(parse({"--port", "70000", "--users", "u"}).error, "");
  EXPECT_NE(parse({"--port", "1", "--users", "u", "--tls", "ssl"}).error, "");
  EXPECT_NE(parse({"--port", "1", "--users", "u", "--concurrency", "0"}).error, "");
  EXPECT_NE(parse({"--port", "1", "--users", "u", "--duration", "-1"}).error, "");
  EXPECT_NE(parse({"--port", "1", "--users", "u", "--pid", "1", "--pid", "2", "--pid", "3"}).error, "");
  EXPECT_NE(parse({"--port", "1", "--users", "u", "--bogus", "1"}).error, "");
  EXPECT_NE(parse({"--port"}).error, "");
  EXPECT_TRUE(parse({"--help"}).help);
}

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/loadgen-test-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  return path;
}

TEST(LoadgenUsers, ReadsUsersAndPasswordsWithSpaces) {
  const std::string path = temp_file("# accounts\n\nuser001 secret\n  user002\tpass with spaces  \r\n");
  const ParsedUsers parsed = read_users(path);
  std::remove(path.c_str());
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.users.size(), 2u);
  EXPECT_EQ(parsed.users[0].name, "user001");
  EXPECT_EQ(parsed.users[0].password, "secret");
  EXPECT_EQ(parsed.users[1].name, "user002");
  EXPECT_EQ(parsed.users[1].password, "pass with spaces");
}

TEST(LoadgenUsers, RefusesALineWithoutPasswordAndAnEmptyFile) {
  const std::string no_password = temp_file("user001 secret\nuser002\n");
  EXPECT_NE(read_users(no_password).error.find(":2:"), std::string::npos);
  std::remove(no_password.c_str());
  const std::string empty = temp_file("# nothing\n");
  EXPECT_NE(read_users(empty).error, "");
  std::remove(empty.c_str());
  EXPECT_NE(read_users("/nonexistent/users").error, "");
}

// ---- report ------------------------------------------------------------------

TEST(LoadgenReport, SessionRunLeavesIdleFieldsNull) {
  Options options;
  options.label = "a \"quoted\"\nlabel";
  RunResult result;
  result.ops = 100;
  result.elapsed_s = 2.0;
  for (int i = 0; i < 100; ++i) result.latency.record(2ms);
  ProcessFigures figures;
  figures.pid = 7;
  figures.before = ProcSample{1000.0, 5000, 1};
  figures.after = ProcSample{1050.0, 5200, 1};
  result.processes.push_back(figures);
  const std::string line = render(options, result);
  EXPECT_NE(line.find("\"label\":\"a \\\"quoted\\\"\\u000alabel\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"ops_per_s\":50.00"), std::string::npos) << line;
  EXPECT_NE(line.find("\"cpu_ms_per_op\":0.5000"), std::string::npos) << line;
  EXPECT_NE(line.find("\"pss_kib\":5200"), std::string::npos) << line;
  EXPECT_NE(line.find("\"mb_per_s\":null"), std::string::npos) << line;
  EXPECT_NE(line.find("\"held\":null"), std::string::npos) << line;
  EXPECT_NE(line.find("\"pss_kib_per_session\":null"), std::string::npos) << line;
  EXPECT_NE(line.find("\"p50_ms\":2.0"), std::string::npos) << line;
}

TEST(LoadgenReport, IdleRunGivesPssPerHeldSession) {
  Options options;
  options.workload = Workload::imap_idle;
  RunResult result;
  result.ops = 10;
  result.held = 8;
  result.dropped = 2;
  result.held_for_s = 1.5;
  ProcessFigures figures;
  figures.pid = 7;
  figures.before = ProcSample{0.0, 1000, 1};
  figures.holding = ProcSample{0.0, 1800, 1};
  figures.after = ProcSample{20.0, 1100, 1};
  result.processes.push_back(figures);
  const std::string line = render(options, result);
  EXPECT_NE(line.find("\"pss_kib_per_session\":100.00"), std::string::npos) << line;
  EXPECT_NE(line.find("\"pss_kib\":1800"), std::string::npos) << line;
  EXPECT_NE(line.find("\"held\":8,\"dropped\":2"), std::string::npos) << line;
  EXPECT_NE(line.find("\"duration_s\":1.500"), std::string::npos) << line;
  EXPECT_NE(line.find("\"cpu_ms_per_op\":2.0000"), std::string::npos) << line;
}

// ---- ImapConnection against a scripted server --------------------------------

// Sends the greeting, then answers each command line with the next reply,
// written in small pieces so the client sees responses split anywhere.
asio::awaitable<void> scripted_server(tcp::acceptor& acceptor, std::string greeting, std::vector<std::string> replies) {
  auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  if (greeting.empty()) {
    // Never greets: waits until the client gives up and closes.
    char byte = 0;
    co_await socket.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  co_await asio::async_write(socket, asio::buffer(greeting), asio::as_tuple(asio::use_awaitable));
  std::string input;
  for (const std::string& reply : replies) {
    auto [read_ec, n] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(input), "\r\n", asio::as_tuple(asio::use_awaitable));
    if (read_ec) co_return;
    input.erase(0, n);
    for (std::size_t at = 0; at < reply.size(); at += 997) {
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(reply.data() + at, std::min<std::size_t>(997, reply.size() - at)),
                                                            asio::as_tuple(asio::use_awaitable));
      if (write_ec) co_return;
    }
  }
}

struct ClientOutcome {
  CommandResult result;
  std::string error;
};

asio::awaitable<void> run_client(ImapConnection& connection, tcp::endpoint endpoint, std::string command,
                                 ClientOutcome& outcome, Watchdog& watchdog) {
  try {
    co_await connection.open(endpoint, TlsMode::none);
    outcome.result = co_await connection.command("FETCH", command);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  connection.close();
  watchdog.stop();
}

ClientOutcome exchange(std::string greeting, std::vector<std::string> replies, Clock::duration timeout = 5s) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, scripted_server(acceptor, std::move(greeting), std::move(replies)), asio::detached);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  Watchdog watchdog(io.get_executor());
  asio::co_spawn(io, watchdog.run(), asio::detached);
  ClientOutcome outcome;
  {
    ImapConnection connection(io.get_executor(), tls, watchdog, 16 * 1024, timeout);
    asio::co_spawn(io, run_client(connection, acceptor.local_endpoint(), "FETCH 1:2 (BODY.PEEK[])", outcome, watchdog),
                   asio::detached);
    io.run();
  }
  return outcome;
}

TEST(LoadgenImapConnection, SkipsLiteralsLargerThanItsBufferAndCountsThem) {
  // The first literal holds what looks like the tagged completion: it must
  // be skipped as data, not read as a response line.
  std::string body(300'000, 'x');
  body.replace(1000, 16, "\r\na1 NO fake\r\n\r\n");
  const std::string reply = "* 1 FETCH (BODY[] {300000}\r\n" + body + ")\r\n* 2 FETCH (BODY[] {5+}\r\nhello)\r\n" +
                            "* 2 FETCH (FLAGS ())\r\na1 OK FETCH done\r\n";
  const ClientOutcome outcome = exchange("* OK ready\r\n", {reply});
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.result.literals, 2u);
  EXPECT_EQ(outcome.result.literal_bytes, 300'005u);
}

TEST(LoadgenImapConnection, ATaggedNoIsAnErrorNamingTheCommand) {
  const ClientOutcome outcome = exchange("* OK ready\r\n", {"* 1 EXISTS\r\na1 NO [SERVERBUG] broken\r\n"});
  EXPECT_EQ(outcome.error, "FETCH: NO [SERVERBUG] broken");
}

TEST(LoadgenImapConnection, ABadGreetingIsAnError) {
  const ClientOutcome outcome = exchange("* BYE go away\r\n", {});
  EXPECT_EQ(outcome.error, "greeting: * BYE go away");
}

TEST(LoadgenImapConnection, ALineLongerThanTheBufferIsAnError) {
  const ClientOutcome outcome = exchange("* OK ready\r\n", {"* " + std::string(20'000, 'y') + "\r\na1 OK\r\n"});
  EXPECT_NE(outcome.error.find("longer than"), std::string::npos) << outcome.error;
}

TEST(LoadgenImapConnection, AnOversizedLiteralIsRefusedUnread) {
  const ClientOutcome outcome = exchange("* OK ready\r\n", {"* 1 FETCH (BODY[] {99999999999999}\r\n"});
  EXPECT_EQ(outcome.error, "FETCH: literal of 99999999999999 bytes");
}

TEST(LoadgenImapConnection, ASilentServerTimesOut) {
  const auto start = Clock::now();
  const ClientOutcome outcome = exchange("", {}, 300ms);
  EXPECT_EQ(outcome.error, "greeting read: timed out");
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(LoadgenImapConnection, AServerClosingMidResponseIsAnError) {
  const ClientOutcome outcome = exchange("* OK ready\r\n", {"* 1 FETCH (BODY[] {100}\r\nshort"});
  EXPECT_EQ(outcome.error, "FETCH read: connection closed by the server");
}

}  // namespace
}  // namespace postern::bench
