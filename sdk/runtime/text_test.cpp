#include <postern/sdk/text.hpp>

#include <gtest/gtest.h>

namespace postern::sdk {
namespace {

constexpr auto npos = std::string_view::npos;

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_EQ(invalid_utf8_offset(""), npos);
  EXPECT_EQ(invalid_utf8_offset("alice@example.test"), npos);
  EXPECT_EQ(invalid_utf8_offset("j\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7"), npos);
}

TEST(Utf8, PointsAtTheFirstBadByte) {
  EXPECT_EQ(invalid_utf8_offset("ab\xff"), 2u);
  EXPECT_EQ(invalid_utf8_offset("a\xc0\xaf"), 1u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("x\xed\xa0\x80"), 1u);      // UTF-16 surrogate
  EXPECT_EQ(invalid_utf8_offset("\xf4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ok\xe2\x82"), 2u);         // truncated sequence
}

}  // namespace
}  // namespace postern::sdk
