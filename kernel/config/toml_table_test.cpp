#include <gtest/gtest.h>

#include "config/toml_table.hpp"

namespace postern::kernel {
namespace {

using std::chrono::milliseconds;

class TomlTableTest : public ::testing::Test {
 protected:
  TomlTable& load(std::string_view text) {
    document_ = std::make_unique<TomlDocument>(toml::parse(text, std::string_view("t.toml")), "t.toml", "/etc/postern",
                                               diagnostics_);
    root_ = document_->root();
    return *root_;
  }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const Diagnostic& d : diagnostics_.sorted()) out.push_back(d.format());
    return out;
  }

  Diagnostics diagnostics_;
  std::unique_ptr<TomlDocument> document_;
  std::unique_ptr<TomlTable> root_;
};

TEST_F(TomlTableTest, TypedGetters) {
  TomlTable& root = load(
      "name = \"x\"\n"
      "flag = true\n"
      "count = 42\n"
      "list = [\"a\", \"b\"]\n"
      "wait = \"30s\"\n");
  EXPECT_EQ(root.get_string("name"), "x");
  EXPECT_EQ(root.get_bool("flag"), true);
  EXPECT_EQ(root.get_integer("count", 0, 100), 42);
  EXPECT_EQ(root.get_string_list("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(root.get_duration("wait"), milliseconds(30'000));
  document_->report_unread_keys();
  EXPECT_TRUE(messages().empty());
}

TEST_F(TomlTableTest, AbsentKeysAndTables) {
  TomlTable& root = load("a = 1\n");
  EXPECT_FALSE(root.get_string("missing"));
  EXPECT_FALSE(root.get_duration("missing"));
  auto absent = root.get_table("nothing");
  ASSERT_NE(absent, nullptr);
  EXPECT_FALSE(absent->present());
  EXPECT_EQ(absent->path(), "nothing");
  EXPECT_FALSE(absent->get_string("x"));
  EXPECT_FALSE(absent->get_bool("x"));
  EXPECT_FALSE(absent->get_integer("x", 0, 1));
  EXPECT_FALSE(absent->get_string_list("x"));
  EXPECT_FALSE(absent->get_table("deeper")->present());
  EXPECT_TRUE(absent->keys().empty());
  EXPECT_FALSE(absent->has("x"));
  EXPECT_TRUE(messages().empty());
  EXPECT_TRUE(root.get_integer("a", 0, 9));
}

TEST_F(TomlTableTest, WrongTypesAreReportedAtTheKey) {
  TomlTable& root = load(
      "[t]\n"
      "s = 1\n"
      "b = \"yes\"\n"
      "i = 1.5\n"
      "l = \"a\"\n"
      "d = 30\n"
      "sub = [1]\n"
      "m = [\"a\", 2, true]\n");
  auto t = root.get_table("t");
  EXPECT_FALSE(t->get_string("s"));
  EXPECT_FALSE(t->get_bool("b"));
  EXPECT_FALSE(t->get_integer("i", 0, 10));
  EXPECT_FALSE(t->get_string_list("l"));
  EXPECT_FALSE(t->get_duration("d"));
  EXPECT_FALSE(t->get_table("sub")->present());
  EXPECT_FALSE(t->get_string_list("m"));
  EXPECT_EQ(messages(), (std::vector<std::string>{
                            "t.toml:2:1: error: t.s: expected a string, found an integer",
                            "t.toml:3:1: error: t.b: expected a boolean (true or false), found a string",
                            "t.toml:4:1: error: t.i: expected an integer, found a floating-point number",
                            "t.toml:5:1: error: t.l: expected a list of strings, found a string",
                            "t.toml:6:1: error: t.d: expected a duration string such as \"30s\", found an integer",
                            "t.toml:7:1: error: t.sub: expected a table, found a list",
                            "t.toml:8:11: error: t.m: expected a list of strings, but element 2 is an integer",
                            "t.toml:8:14: error: t.m: expected a list of strings, but element 3 is a boolean",
                        }));
}

TEST_F(TomlTableTest, IntegerRange) {
  TomlTable& root = load("low = -1\nhigh = 70000\nok = 65535\n");
  EXPECT_FALSE(root.get_integer("low", 0, 65535));
  EXPECT_FALSE(root.get_integer("high", 0, 65535));
  EXPECT_EQ(root.get_integer("ok", 0, 65535), 65535);
  EXPECT_EQ(messages(), (std::vector<std::string>{
                            "t.toml:1:1: error: low: -1 is below the minimum 0",
                            "t.toml:2:1: error: high: 70000 is above the maximum 65535",
                        }));
}

TEST_F(TomlTableTest, BadDurationString) {
  TomlTable& root = load("a = \"1h30m\"\n");
  EXPECT_FALSE(root.get_duration("a"));
  EXPECT_EQ(messages(), (std::vector<std::string>{
                            "t.toml:1:1: error: a: unknown duration unit 'h30m' in \"1h30m\"; use ms, s, m, h or d"}));
}

TEST_F(TomlTableTest, KeysInFileOrderAndPositions) {
  TomlTable& root = load(
      "[listener.zeta]\n"
      "x = 1\n"
      "[listener.alpha]\n"
      "  y = 2\n"
      "[listener.mid]\n");
  auto listeners = root.get_table("listener");
  EXPECT_EQ(listeners->keys(), (std::vector<std::string>{"zeta", "alpha", "mid"}));
  auto alpha = listeners->get_table("alpha");
  EXPECT_EQ(alpha->path(), "listener.alpha");
  EXPECT_EQ(alpha->position("y").line, 4u);
  EXPECT_EQ(alpha->position("y").column, 3u);
  // The table itself (and its absent keys) are located at its header.
  EXPECT_EQ(alpha->position("").line, 3u);
  EXPECT_EQ(alpha->position("absent").line, 3u);
  EXPECT_EQ(alpha->position("absent").file, "t.toml");
  EXPECT_EQ(alpha->base_directory(), "/etc/postern");
  EXPECT_TRUE(alpha->has("y"));
}

TEST_F(TomlTableTest, BackstopReportsUnreadKeysWithHints) {
  TomlTable& root = load(
      "[server]\n"
      "threads = 2\n"
      "thread = 3\n"
      "zzz = 1\n"
      "[unknown]\n"
      "a = 1\n");
  auto server = root.get_table("server");
  server->get_integer("threads", 0, 8);
  server->get_string("hostname");
  document_->report_unread_keys();
  EXPECT_EQ(messages(), (std::vector<std::string>{
                            "t.toml:3:1: error: server.thread: unknown key; did you mean 'threads'?",
                            "t.toml:4:1: error: server.zzz: unknown key",
                            "t.toml:5:2: error: unknown: unknown table",
                        }));
}

TEST_F(TomlTableTest, HasDoesNotMarkButMarkReadDoes) {
  TomlTable& root = load("alpha = 1\nbravo = 2\n[charlie]\nd = 1\n");
  EXPECT_TRUE(root.has("alpha"));
  root.mark_read("bravo");
  root.mark_read("charlie");  // handed over: its contents are not the backstop's concern
  document_->report_unread_keys();
  EXPECT_EQ(messages(), (std::vector<std::string>{"t.toml:1:1: error: alpha: unknown key"}));
}

TEST_F(TomlTableTest, PluginTagIsInheritedAndPrinted) {
  TomlTable& root = load("[capabilities.imap]\nbanner = 1\nbaner = \"x\"\n[capabilities.imap.deep]\nq = 1\n");
  auto capabilities = root.table("capabilities");
  auto imap = capabilities->table("imap", "imap 0.1.0");
  EXPECT_EQ(imap->plugin_tag(), "imap 0.1.0");
  EXPECT_FALSE(imap->get_string("banner"));
  auto deep = imap->get_table("deep");
  deep->error("q", "bad");
  deep->warning("", "odd");
  imap->error_at(sdk::SourcePosition{"map.txt", 7, 1}, "path", "line 7: too few fields");
  document_->report_unread_keys();
  EXPECT_EQ(messages(), (std::vector<std::string>{
                            "map.txt:7:1: error: capabilities.imap.path: line 7: too few fields [plugin imap 0.1.0]",
                            "t.toml:2:1: error: capabilities.imap.banner: expected a string, found an integer "
                            "[plugin imap 0.1.0]",
                            "t.toml:3:1: error: capabilities.imap.baner: unknown key; did you mean 'banner'? "
                            "[plugin imap 0.1.0]",
                            "t.toml:4:20: warning: capabilities.imap.deep: odd [plugin imap 0.1.0]",
                            "t.toml:5:1: error: capabilities.imap.deep.q: bad [plugin imap 0.1.0]",
                            // Reporting about a key does not make it known.
                            "t.toml:5:1: error: capabilities.imap.deep.q: unknown key [plugin imap 0.1.0]",
                        }));
}

TEST_F(TomlTableTest, QuotedKeysInPaths) {
  TomlTable& root = load("[listener.\"my imap\"]\nx = 1\n");
  auto listener = root.get_table("listener")->get_table("my imap");
  listener->error("x", "bad");
  EXPECT_EQ(messages(), (std::vector<std::string>{"t.toml:2:1: error: listener.\"my imap\".x: bad"}));
}

TEST(Diagnostics, FormatAndSort) {
  Diagnostics diagnostics;
  diagnostics.add({{"b.toml", 1, 1}, Severity::error, "k", "later file", {}});
  diagnostics.add({{"a.toml", 9, 2}, Severity::warning, "x.y", "warned", "mapping-file 1.0.0"});
  diagnostics.add({{"a.toml", 9, 1}, Severity::error, "", "no key", {}});
  diagnostics.add({{"a.toml", 0, 0}, Severity::error, "", "cannot read", {}});
  diagnostics.add({{"a.toml", 9, 1}, Severity::error, "second", "same position, added later", {}});
  EXPECT_TRUE(diagnostics.has_errors());
  std::vector<std::string> lines;
  for (const Diagnostic& d : diagnostics.sorted()) lines.push_back(d.format());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "a.toml: error: cannot read",
                       "a.toml:9:1: error: no key",
                       "a.toml:9:1: error: second: same position, added later",
                       "a.toml:9:2: warning: x.y: warned [plugin mapping-file 1.0.0]",
                       "b.toml:1:1: error: k: later file",
                   }));
  Diagnostics warnings_only;
  warnings_only.add({{"a.toml", 1, 1}, Severity::warning, "k", "w", {}});
  EXPECT_FALSE(warnings_only.has_errors());
}

}  // namespace
}  // namespace postern::kernel
