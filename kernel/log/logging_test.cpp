#include "log/logging.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include "log/session_logger.hpp"

namespace postern::kernel {
namespace {

LogFilter parse_ok(std::string_view text) {
  LogFilterParse parsed = parse_log_filter(text);
  EXPECT_TRUE(parsed.filter) << text << ": " << parsed.error;
  return parsed.filter.value_or(LogFilter{});
}

std::string parse_error(std::string_view text) {
  const LogFilterParse parsed = parse_log_filter(text);
  EXPECT_FALSE(parsed.filter) << text;
  return parsed.error;
}

// Routes every target to a string stream for the duration of a test.
class Capture {
 public:
  explicit Capture(std::string_view filter)
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    init_logging(parse_ok(filter), sink_);
  }
  // The sink refers to out_: nothing may write to it once the test is over.
  ~Capture() { init_logging(LogFilter{}, std::make_shared<spdlog::sinks::null_sink_mt>()); }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(LogFilter, BareLevel) {
  const LogFilter filter = parse_ok("debug");
  EXPECT_EQ(filter.default_level, LevelFilter::debug);
  EXPECT_TRUE(filter.targets.empty());
}

TEST(LogFilter, LevelsAreCaseInsensitive) {
  EXPECT_EQ(parse_ok("TRACE").default_level, LevelFilter::trace);
  EXPECT_EQ(parse_ok("Warn").default_level, LevelFilter::warn);
  EXPECT_EQ(parse_ok("ERROR").default_level, LevelFilter::err);
  EXPECT_EQ(parse_ok("off").default_level, LevelFilter::off);
  EXPECT_EQ(parse_ok("imap=DEBUG").level_for("imap"), LevelFilter::debug);
}

TEST(LogFilter, DefaultWithTargetOverrides) {
  const LogFilter filter = parse_ok("debug,imap=trace");
  EXPECT_EQ(filter.level_for("imap"), LevelFilter::trace);
  EXPECT_EQ(filter.level_for("postern"), LevelFilter::debug);
  EXPECT_EQ(filter.level_for("mapping-file"), LevelFilter::debug);
}

TEST(LogFilter, TargetsOnlyTurnOtherTargetsOff) {
  const LogFilter filter = parse_ok("postern=warn");
  EXPECT_EQ(filter.level_for("postern"), LevelFilter::warn);
  EXPECT_EQ(filter.level_for("imap"), LevelFilter::off);
}

TEST(LogFilter, WhitespaceOrderAndRepetition) {
  const LogFilter filter = parse_ok(" imap = debug , info ,mapping-file=error,, imap=warn ");
  EXPECT_EQ(filter.default_level, LevelFilter::info);
  EXPECT_EQ(filter.level_for("imap"), LevelFilter::warn);  // the last directive for a target wins
  EXPECT_EQ(filter.level_for("mapping-file"), LevelFilter::err);
  EXPECT_EQ(parse_ok("info,warn").default_level, LevelFilter::warn);
}

TEST(LogFilter, InvalidDirectivesAreReported) {
  EXPECT_NE(parse_error("loud").find("'loud'"), std::string::npos);
  EXPECT_NE(parse_error("info,imap=loud").find("unknown level 'loud'"), std::string::npos);
  EXPECT_NE(parse_error("imap=").find("unknown level ''"), std::string::npos);
  EXPECT_NE(parse_error("=debug").find("target"), std::string::npos);
  EXPECT_NE(parse_error("imap[conn]=debug").find("target"), std::string::npos);
  EXPECT_NE(parse_error("warning").find("'warning'"), std::string::npos);
  EXPECT_EQ(parse_error(""), "empty log filter");
  EXPECT_EQ(parse_error(" , "), "empty log filter");
}

TEST(LogFilter, EnvironmentOverridesTheConfiguredLevel) {
  EXPECT_EQ(effective_filter_text(nullptr, "info"), "info");
  EXPECT_EQ(effective_filter_text("", "info"), "info");
  EXPECT_EQ(effective_filter_text("  ", "info"), "info");
  EXPECT_EQ(effective_filter_text("debug,imap=trace", "info"), "debug,imap=trace");
}

TEST(InitLogging, ErrorNamesWhereTheFilterCameFrom) {
  std::string error;
  ASSERT_EQ(::setenv("RUST_LOG", "imap=shout", 1), 0);
  EXPECT_FALSE(init_logging("info", error));
  EXPECT_EQ(error.rfind("RUST_LOG: ", 0), 0u) << error;
  ASSERT_EQ(::unsetenv("RUST_LOG"), 0);
  EXPECT_FALSE(init_logging("verbose", error));
  EXPECT_EQ(error.rfind("server.log_level: ", 0), 0u) << error;
  EXPECT_TRUE(init_logging("info", error));
}

TEST(InitLogging, RustLogWins) {
  Capture capture("info");
  ASSERT_EQ(::setenv("RUST_LOG", "postern=error", 1), 0);
  std::string error;
  ASSERT_TRUE(init_logging("debug", error)) << error;
  ::unsetenv("RUST_LOG");
  EXPECT_FALSE(log::kernel().should_log(LevelFilter::warn));
  EXPECT_TRUE(log::kernel().should_log(LevelFilter::err));
}

TEST(Logging, LineFormatIsIsoUtcLevelTarget) {
  Capture capture("info");
  log::kernel().info("proxy started");
  log::kernel().warn("it is {} o'clock", 5);
  const std::regex line(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO postern: proxy started\n)"
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z WARN postern: it is 5 o'clock\n)");
  EXPECT_TRUE(std::regex_match(capture.text(), line)) << capture.text();
}

TEST(Logging, EachTargetGetsItsOwnLevel) {
  Capture capture("warn,imap=debug");
  PluginLogger imap("imap");
  PluginLogger pop3("pop3");
  EXPECT_TRUE(imap.enabled(sdk::LogLevel::debug));
  EXPECT_FALSE(imap.enabled(sdk::LogLevel::trace));
  EXPECT_FALSE(pop3.enabled(sdk::LogLevel::info));
  imap.debug("imap detail");
  pop3.info("pop3 chatter");
  pop3.warn("pop3 warning");
  log::kernel().info("kernel chatter");
  const std::string text = capture.text();
  EXPECT_NE(text.find("DEBUG imap: imap detail"), std::string::npos);
  EXPECT_NE(text.find("WARN pop3: pop3 warning"), std::string::npos);
  EXPECT_EQ(text.find("chatter"), std::string::npos);
}

TEST(Logging, ReinitAppliesToExistingLoggers) {
  PluginLogger early("mapping-file");
  Capture quiet("error");
  EXPECT_FALSE(early.enabled(sdk::LogLevel::info));
  Capture loud("trace");
  EXPECT_TRUE(early.enabled(sdk::LogLevel::trace));
  early.trace("now visible");
  EXPECT_NE(loud.text().find("TRACE mapping-file: now visible"), std::string::npos);
  EXPECT_EQ(quiet.text().find("now visible"), std::string::npos);
}

TEST(Logging, ControlBytesCannotForgeLines) {
  Capture capture("info");
  PluginLogger imap("imap");
  imap.info("user said\r\n2026-01-01T00:00:00.000Z ERROR postern: forged");
  const std::string text = capture.text();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_NE(text.find("user said\\x0d\\x0a2026"), std::string::npos);
}

sdk::SessionInfo session_info() {
  sdk::SessionInfo info;
  info.id = 42;
  info.listener = "imaps";
  info.protocol = "imap";
  info.peer = {"192.0.2.7", 51234};
  return info;
}

TEST(SessionLogger, EveryLineCarriesTheSessionContext) {
  Capture capture("debug");
  SessionLogger logger;
  logger.set_context(session_info());
  logger.set_phase(sdk::Phase::pre_auth);
  logger.info("greeting sent");
  logger.set_phase(sdk::Phase::route);
  logger.debug("routing");
  const std::string text = capture.text();
  EXPECT_NE(text.find("INFO postern: [session=42 listener=imaps protocol=imap "
                      "peer=192.0.2.7:51234 phase=pre_auth] greeting sent\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("DEBUG postern: [session=42 listener=imaps protocol=imap "
                      "peer=192.0.2.7:51234 phase=route] routing\n"),
            std::string::npos)
      << text;
}

TEST(SessionLogger, PeerChangeKeepsThePhaseAndBracketsIpv6) {
  Capture capture("info");
  SessionLogger logger("imap");
  sdk::SessionInfo info = session_info();
  logger.set_context(info);
  logger.set_phase(sdk::Phase::proxy_header);
  info.peer = {"2001:db8::1", 993};
  logger.set_context(info);
  EXPECT_EQ(logger.context(),
            "[session=42 listener=imaps protocol=imap peer=[2001:db8::1]:993 phase=proxy_header]");
  logger.warn("x");
  EXPECT_NE(capture.text().find("WARN imap: [session=42"), std::string::npos);
}

TEST(SessionLogger, HonoursTheTargetLevel) {
  Capture capture("info,postern=warn");
  SessionLogger logger;
  logger.set_context(session_info());
  EXPECT_FALSE(logger.enabled(sdk::LogLevel::info));
  logger.info("hidden");
  logger.error("shown");
  EXPECT_EQ(capture.text().find("hidden"), std::string::npos);
  EXPECT_NE(capture.text().find("ERROR postern: [session=42"), std::string::npos);
}

}  // namespace
}  // namespace postern::kernel
