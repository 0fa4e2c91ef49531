#include "imap_config.hpp"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace postern::imap {
namespace {

namespace sasl = sdk::sasl;

// A configuration table held in memory; getters check the type the way the
// kernel's table does and every reported problem is recorded.
class FakeTable final : public sdk::ConfigTable {
 public:
  using Value = std::variant<std::string, bool, std::int64_t, std::vector<std::string>>;

  explicit FakeTable(std::map<std::string, Value> values, bool present = true)
      : values_(std::move(values)), present_(present) {}

  std::string_view path() const noexcept override { return "capabilities.imap"; }
  bool present() const noexcept override { return present_; }
  bool has(std::string_view key) const override { return values_.count(std::string(key)) > 0; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [key, value] : values_) out.push_back(key);
    return out;
  }
  std::optional<std::string> get_string(std::string_view key) override {
    return get<std::string>(key, "a string");
  }
  std::optional<bool> get_bool(std::string_view key) override {
    return get<bool>(key, "a boolean");
  }
  std::optional<std::int64_t> get_integer(std::string_view key, std::int64_t,
                                          std::int64_t) override {
    return get<std::int64_t>(key, "an integer");
  }
  std::optional<std::vector<std::string>> get_string_list(std::string_view key) override {
    return get<std::vector<std::string>>(key, "an array of strings");
  }
  std::optional<std::chrono::milliseconds> get_duration(std::string_view key) override {
    error(key, "unexpected duration read");
    return std::nullopt;
  }
  std::unique_ptr<sdk::ConfigTable> get_table(std::string_view) override {
    return std::make_unique<FakeTable>(std::map<std::string, Value>{}, false);
  }
  sdk::SourcePosition position(std::string_view) const override { return {}; }
  std::string_view base_directory() const noexcept override { return "."; }
  void error(std::string_view key, std::string_view message) override {
    errors.push_back(std::string(key) + ": " + std::string(message));
  }
  void error_at(const sdk::SourcePosition&, std::string_view key,
                std::string_view message) override {
    error(key, message);
  }
  void warning(std::string_view key, std::string_view message) override {
    warnings.push_back(std::string(key) + ": " + std::string(message));
  }

  std::vector<std::string> errors;
  std::vector<std::string> warnings;

 private:
  template <class T>
  std::optional<T> get(std::string_view key, std::string_view what) {
    const auto it = values_.find(std::string(key));
    if (it == values_.end()) return std::nullopt;
    if (const T* value = std::get_if<T>(&it->second)) return *value;
    error(key, "expected " + std::string(what));
    return std::nullopt;
  }

  std::map<std::string, Value> values_;
  bool present_;
};

std::vector<std::string> list(std::initializer_list<const char*> items) {
  return std::vector<std::string>(items.begin(), items.end());
}

TEST(ImapConfig, AbsentTableGivesDefaults) {
  FakeTable table({}, false);
  const std::optional<ImapSettings> settings = parse_settings(table);
  ASSERT_TRUE(settings);
  EXPECT_TRUE(table.errors.empty());
  EXPECT_EQ(settings->advertise, list({"IMAP4rev2", "IMAP4rev1", "ENABLE", "SASL-IR", "LITERAL+",
                                       "ID", "UTF8=ACCEPT", "JMAPACCESS"}));
  EXPECT_EQ(settings->sasl,
            (std::vector<sasl::Mechanism>{sasl::Mechanism::plain, sasl::Mechanism::login,
                                          sasl::Mechanism::oauthbearer, sasl::Mechanism::xoauth2}));
  EXPECT_FALSE(settings->allow_plain_auth_without_tls);
  EXPECT_EQ(settings->banner, "Postern IMAP4rev2 at your service.");
}

TEST(ImapConfig, ReadsEveryKey) {
  FakeTable table({{"advertise", list({"IMAP4rev1", "IDLE"})},
                   {"sasl", list({"xoauth2", "Plain"})},
                   {"allow_plain_auth_without_tls", true},
                   {"banner", std::string("Mail proxy ready \xE2\x9C\x93")}});
  const std::optional<ImapSettings> settings = parse_settings(table);
  ASSERT_TRUE(settings) << (table.errors.empty() ? "" : table.errors.front());
  EXPECT_EQ(settings->advertise, list({"IMAP4rev1", "IDLE"}));
  EXPECT_EQ(settings->sasl,
            (std::vector<sasl::Mechanism>{sasl::Mechanism::xoauth2, sasl::Mechanism::plain}));
  EXPECT_TRUE(settings->allow_plain_auth_without_tls);
  EXPECT_EQ(settings->banner, "Mail proxy ready \xE2\x9C\x93");
}

TEST(ImapConfig, EmptySaslListIsAllowed) {
  FakeTable table({{"sasl", std::vector<std::string>{}}});
  const std::optional<ImapSettings> settings = parse_settings(table);
  ASSERT_TRUE(settings);
  EXPECT_TRUE(settings->sasl.empty());
  const ImapConfig config(*settings);
  EXPECT_EQ(config.capabilities(true, false),
            "IMAP4rev2 IMAP4rev1 ENABLE SASL-IR LITERAL+ ID UTF8=ACCEPT JMAPACCESS");
}

TEST(ImapConfig, UnknownMechanismSuggestsTheClosest) {
  FakeTable table({{"sasl", list({"PLAN", "CRAM-MD5"})}});
  EXPECT_FALSE(parse_settings(table));
  ASSERT_EQ(table.errors.size(), 2u);
  EXPECT_EQ(table.errors[0],
            "sasl: unknown SASL mechanism \"PLAN\" (accepted: PLAIN, LOGIN, OAUTHBEARER, "
            "XOAUTH2); did you mean \"PLAIN\"?");
  EXPECT_EQ(table.errors[1].find("did you mean"), std::string::npos);
}

TEST(ImapConfig, DuplicateMechanismIsAnError) {
  FakeTable table({{"sasl", list({"plain", "XOAUTH2", "PLAIN"})}});
  EXPECT_FALSE(parse_settings(table));
  ASSERT_EQ(table.errors.size(), 1u);
  EXPECT_EQ(table.errors[0], "sasl: duplicate SASL mechanism \"PLAIN\"");
}

TEST(ImapConfig, RejectsCapabilitiesThatWouldBreakTheProtocol) {
  const std::vector<std::vector<std::string>> bad = {list({"IMAP4rev1", "TWO WORDS"}),
                                                     list({"IMAP4rev1", "X]"}),
                                                     list({"IMAP4rev1", ""}),
                                                     list({"IMAP4rev1", "AUTH=PLAIN"}),
                                                     list({"IMAP4rev1", "starttls"}),
                                                     list({"IMAP4rev1", "LOGINDISABLED"}),
                                                     list({"IMAP4rev1", "IDLE", "idle"}),
                                                     list({"IDLE"})};
  for (const std::vector<std::string>& advertise : bad) {
    FakeTable table({{"advertise", advertise}});
    EXPECT_FALSE(parse_settings(table)) << advertise.back();
    EXPECT_EQ(table.errors.size(), 1u) << advertise.back();
  }
}

TEST(ImapConfig, RejectsUnusableBanners) {
  for (const std::string banner : {"", "two\r\nlines", "tab\tinside"}) {
    FakeTable table({{"banner", banner}});
    EXPECT_FALSE(parse_settings(table)) << banner;
    EXPECT_EQ(table.errors.size(), 1u);
  }
}

TEST(ImapConfig, WrongTypesAreReportedOnce) {
  FakeTable table({{"allow_plain_auth_without_tls", std::string("yes")},
                   {"sasl", std::string("PLAIN")},
                   {"advertise", true},
                   {"banner", std::int64_t{1}}});
  EXPECT_FALSE(parse_settings(table));
  EXPECT_EQ(table.errors.size(), 4u);
}

TEST(ImapConfig, PrecomputesCapabilitiesForEveryConnectionState) {
  ImapSettings settings;
  settings.advertise = {"IMAP4rev1"};
  const ImapConfig config(settings);
  EXPECT_EQ(config.capabilities(false, false),
            "IMAP4rev1 AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED");
  EXPECT_EQ(config.capabilities(false, true),
            "IMAP4rev1 AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED STARTTLS");
  EXPECT_EQ(config.capabilities(true, false),
            "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN AUTH=OAUTHBEARER AUTH=XOAUTH2");
  EXPECT_EQ(config.greeting(false, true),
            "* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED STARTTLS] "
            "Postern IMAP4rev2 at your service.\r\n");
  EXPECT_FALSE(config.cleartext_allowed(false));
  EXPECT_TRUE(config.cleartext_allowed(true));

  settings.allow_plain_auth_without_tls = true;
  const ImapConfig relaxed(settings);
  EXPECT_TRUE(relaxed.cleartext_allowed(false));
  EXPECT_EQ(relaxed.capabilities(false, true),
            "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN AUTH=OAUTHBEARER AUTH=XOAUTH2 STARTTLS");
}

TEST(ImapConfig, AuthTokensFollowTheSaslListOrder) {
  ImapSettings settings;
  settings.advertise = {"IMAP4rev2"};
  settings.sasl = {sasl::Mechanism::xoauth2, sasl::Mechanism::login, sasl::Mechanism::oauthbearer};
  const ImapConfig config(settings);
  EXPECT_EQ(config.capabilities(true, false), "IMAP4rev2 AUTH=XOAUTH2 AUTH=LOGIN AUTH=OAUTHBEARER");
  EXPECT_EQ(config.capabilities(false, false),
            "IMAP4rev2 AUTH=XOAUTH2 AUTH=OAUTHBEARER LOGINDISABLED");
}

}  // namespace
}  // namespace postern::imap
