#include <gtest/gtest.h>

#include "config/load.hpp"

namespace postern::kernel {
namespace {

using std::chrono::milliseconds;

Duration ok(std::string_view text) {
  const DurationParse parsed = parse_duration(text);
  EXPECT_TRUE(parsed.value.has_value()) << text << ": " << parsed.error;
  EXPECT_TRUE(parsed.error.empty());
  return parsed.value.value_or(Duration(-1));
}

std::string fails(std::string_view text) {
  const DurationParse parsed = parse_duration(text);
  EXPECT_FALSE(parsed.value.has_value()) << text;
  EXPECT_FALSE(parsed.error.empty()) << text;
  return parsed.error;
}

TEST(ParseDuration, EveryUnit) {
  EXPECT_EQ(ok("250ms"), milliseconds(250));
  EXPECT_EQ(ok("30s"), milliseconds(30'000));
  EXPECT_EQ(ok("10m"), milliseconds(600'000));
  EXPECT_EQ(ok("2h"), milliseconds(7'200'000));
  EXPECT_EQ(ok("1d"), milliseconds(86'400'000));
}

TEST(ParseDuration, ZeroAndWhitespace) {
  EXPECT_EQ(ok("0s"), milliseconds(0));
  EXPECT_EQ(ok("  30s "), milliseconds(30'000));
  EXPECT_EQ(ok("5 m"), milliseconds(300'000));
  EXPECT_EQ(ok("\t7d\n"), milliseconds(7 * 86'400'000LL));
}

TEST(ParseDuration, Empty) {
  EXPECT_EQ(fails(""), "empty duration; expected a number and a unit such as \"30s\"");
  EXPECT_EQ(fails("   "), "empty duration; expected a number and a unit such as \"30s\"");
}

TEST(ParseDuration, MissingUnit) { EXPECT_EQ(fails("30"), "missing duration unit in \"30\"; use ms, s, m, h or d"); }

TEST(ParseDuration, CompoundValuesAreAnUnknownUnit) {
  EXPECT_EQ(fails("1h30m"), "unknown duration unit 'h30m' in \"1h30m\"; use ms, s, m, h or d");
}

TEST(ParseDuration, UnitsAreCaseSensitive) {
  EXPECT_EQ(fails("30S"), "unknown duration unit 'S' in \"30S\"; use ms, s, m, h or d");
  fails("1sec");
  fails("1 s s");
}

TEST(ParseDuration, NonNumeric) {
  const std::string expected = "expected a non-negative whole number before the unit";
  EXPECT_NE(fails("s").find(expected), std::string::npos);
  EXPECT_NE(fails("1.5s").find(expected), std::string::npos);
  EXPECT_NE(fails("-5s").find(expected), std::string::npos);
  EXPECT_NE(fails("+5s").find(expected), std::string::npos);
  EXPECT_NE(fails("1 2s").find(expected), std::string::npos);
  // Larger than a u64: not a number at all.
  EXPECT_NE(fails("99999999999999999999s").find(expected), std::string::npos);
}

TEST(ParseDuration, Overflow) {
  EXPECT_EQ(fails("18446744073709551615d"), "duration \"18446744073709551615d\" is too large");
  EXPECT_EQ(fails("9223372036854776s"), "duration \"9223372036854776s\" is too large");
  // The largest value that fits in milliseconds is accepted.
  EXPECT_EQ(ok("9223372036854775s"), milliseconds(9223372036854775000LL));
  EXPECT_EQ(ok("9223372036854775807ms"), milliseconds(9223372036854775807LL));
  fails("9223372036854775808ms");
}

}  // namespace
}  // namespace postern::kernel
