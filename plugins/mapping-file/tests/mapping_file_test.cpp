#include "file_source.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "file_table.hpp"

namespace postern::mapping_file {
namespace {

namespace fs = std::filesystem;

// Records what the plugin reports; answers `path` from a map.
class FakeTable final : public sdk::ConfigTable {
 public:
  struct Report {
    sdk::SourcePosition where;
    std::string key;
    std::string message;
  };

  std::map<std::string, std::string> strings;
  std::string base;
  std::vector<Report> errors;

  std::string_view path() const noexcept override { return "mapping.file"; }
  bool present() const noexcept override { return true; }
  bool has(std::string_view key) const override { return strings.count(std::string(key)) != 0; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : strings) out.push_back(k);
    return out;
  }
  std::optional<std::string> get_string(std::string_view key) override {
    auto it = strings.find(std::string(key));
    if (it == strings.end()) return std::nullopt;
    return it->second;
  }
  std::optional<bool> get_bool(std::string_view) override { return std::nullopt; }
  std::optional<std::int64_t> get_integer(std::string_view, std::int64_t, std::int64_t) override {
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> get_string_list(std::string_view) override {
    return std::nullopt;
  }
  std::optional<std::chrono::milliseconds> get_duration(std::string_view) override {
    return std::nullopt;
  }
  std::unique_ptr<sdk::ConfigTable> get_table(std::string_view) override { return nullptr; }
  sdk::SourcePosition position(std::string_view) const override { return {"postern.toml", 7, 1}; }
  std::string_view base_directory() const noexcept override { return base; }
  void error(std::string_view key, std::string_view message) override {
    errors.push_back({position(key), std::string(key), std::string(message)});
  }
  void error_at(const sdk::SourcePosition& where, std::string_view key,
                std::string_view message) override {
    errors.push_back({where, std::string(key), std::string(message)});
  }
  void warning(std::string_view, std::string_view) override {}
};

const std::vector<std::string> declared = {"old", "new", "eu-west"};

sdk::MappingContext lowercase_context() {
  sdk::MappingContext context;
  context.normalize = [](std::string_view key) {
    std::string out(key);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  context.check_destination = [](std::string_view destination) -> std::optional<std::string> {
    if (std::find(declared.begin(), declared.end(), destination) != declared.end()) {
      return std::nullopt;
    }
    std::string message = "destination '" + std::string(destination) + "' is not declared";
    const std::string hint = sdk::closest_match(destination, declared);
    if (!hint.empty()) message += "; did you mean '" + hint + "'?";
    return message;
  };
  return context;
}

sdk::MappingContext identity_context() {
  sdk::MappingContext context = lowercase_context();
  context.normalize = [](std::string_view key) { return std::string(key); };
  return context;
}

class MappingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("POSTERN_TEST_TMP");
    fs::path base = root != nullptr ? fs::path(root) : fs::temp_directory_path();
    fs::create_directories(base);
    std::string pattern = (base / "mapping-file-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    table_.base = dir_.string();
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path write(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::unique_ptr<FileSource> configure(const std::string& content,
                                        const sdk::MappingContext& context = lowercase_context()) {
    write("map.txt", content);
    table_.strings["path"] = "map.txt";
    return configure_file_source(table_, context);
  }

  static std::optional<std::string> lookup(sdk::MappingSource& source, std::string_view key) {
    std::optional<sdk::LookupResult> answer;
    source.lookup(key, [&answer](sdk::LookupResult r) { answer = std::move(r); });
    EXPECT_TRUE(answer) << "the file source answers synchronously";
    if (!answer || answer->status != sdk::LookupResult::Status::found) return std::nullopt;
    return answer->destination;
  }

  // Every mapping, through the merge the file writer uses.
  static std::vector<std::pair<std::string, std::string>> contents(const Table& table) {
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < table.size(); ++i) {
      out.emplace_back(table.key(i), table.destination(i));
    }
    return out;
  }

  fs::path dir_;
  FakeTable table_;
};

// --- parsing ---

TEST_F(MappingFileTest, ParsesCommentsBlankLinesTabsAndCrlf) {
  auto source = configure(
      "# migration wave 1\r\n"
      "\r\n"
      "alice@example.com new\r\n"
      "   bob@example.com\t\t old   trailing fields are ignored\r\n"
      "\t# indented comment\n"
      "carol@example.com\teu-west\n"
      "   \t  \n"
      "dave@example.com new");  // no final newline
  ASSERT_TRUE(source) << (table_.errors.empty() ? "" : table_.errors[0].message);
  EXPECT_TRUE(table_.errors.empty());
  EXPECT_EQ(source->size(), 4u);
  EXPECT_EQ(lookup(*source, "alice@example.com"), "new");
  EXPECT_EQ(lookup(*source, "bob@example.com"), "old");
  EXPECT_EQ(lookup(*source, "carol@example.com"), "eu-west");
  EXPECT_EQ(lookup(*source, "dave@example.com"), "new");
  EXPECT_EQ(lookup(*source, "#"), std::nullopt);
}

TEST_F(MappingFileTest, UnicodeWhitespaceSeparatesFieldsAndBomIsSkipped) {
  auto source = configure("\xEF\xBB\xBF" "alice@example.com\xC2\xA0new\n"
                          "j\xC3\xBCrgen@example.com\xE2\x80\x83old\n");
  ASSERT_TRUE(source);
  EXPECT_EQ(lookup(*source, "alice@example.com"), "new");
  EXPECT_EQ(lookup(*source, "j\xC3\xBCrgen@example.com"), "old");
}

TEST_F(MappingFileTest, ByteOrderMarkOnlyAtTheStartOfTheFile) {
  auto source = configure("a@x new\n \xEF\xBB\xBF" "b@x old\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 1u);
  EXPECT_EQ(table_.errors[0].where.line, 2u);
  EXPECT_EQ(table_.errors[0].where.column, 2u);

  table_.errors.clear();
  auto valid = configure("a@x new\n");
  ASSERT_TRUE(valid);
  EXPECT_FALSE(valid->upsert("\xEF\xBB\xBF" "b@x", "new").ok);
}

TEST_F(MappingFileTest, ShortLineIsAnErrorWithLineAndColumn) {
  auto source = configure("alice@example.com new\n# comment\n   lonely@example.com\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 1u);
  const auto& e = table_.errors[0];
  EXPECT_EQ(e.where.file, (dir_ / "map.txt").string());
  EXPECT_EQ(e.where.line, 3u);
  EXPECT_EQ(e.where.column, 4u);
  EXPECT_EQ(e.key, "path");
  EXPECT_NE(e.message.find("lonely@example.com"), std::string::npos) << e.message;
}

TEST_F(MappingFileTest, UndeclaredDestinationUsesTheContextsMessage) {
  auto source = configure("alice@example.com new\nbob@example.com  nwe\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 1u);
  const auto& e = table_.errors[0];
  EXPECT_EQ(e.where.line, 2u);
  EXPECT_EQ(e.where.column, 18u);
  EXPECT_EQ(e.message, "destination 'nwe' is not declared; did you mean 'new'?");
}

TEST_F(MappingFileTest, ColumnsCountCharacters) {
  auto source = configure("j\xC3\xBCrgen@example.com nowhere\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 1u);
  EXPECT_EQ(table_.errors[0].where.column, 20u);
}

TEST_F(MappingFileTest, ReportsEveryErrorOfTheFile) {
  auto source = configure(
      "a@x new\n"
      "short\n"
      "b@x bogus\n"
      "c@x old\n"
      "d@x bogus\n"
      "bad\xFF@x new\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 4u);
  EXPECT_EQ(table_.errors[0].where.line, 2u);
  EXPECT_EQ(table_.errors[1].where.line, 3u);
  EXPECT_EQ(table_.errors[2].where.line, 5u);
  EXPECT_EQ(table_.errors[3].where.line, 6u);
  EXPECT_EQ(table_.errors[3].where.column, 4u);
  EXPECT_NE(table_.errors[3].message.find("UTF-8"), std::string::npos);
}

TEST_F(MappingFileTest, ErrorsAreCappedWithASummary) {
  std::string content;
  for (int i = 0; i < 250; ++i) content += "user" + std::to_string(i) + "@x\n";
  auto source = configure(content);
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), max_reported_issues + 1);
  EXPECT_EQ(table_.errors[99].where.line, 100u);
  EXPECT_NE(table_.errors.back().message.find("150 more problems"), std::string::npos)
      << table_.errors.back().message;
}

TEST_F(MappingFileTest, OverlongLineIsReportedAndSkipped) {
  auto source = configure("a@x new\n" + std::string(max_line_length + 10, 'x') + " new\nb@x\n");
  EXPECT_FALSE(source);
  ASSERT_EQ(table_.errors.size(), 2u);
  EXPECT_EQ(table_.errors[0].where.line, 2u);
  EXPECT_NE(table_.errors[0].message.find("longer than"), std::string::npos);
  EXPECT_EQ(table_.errors[1].where.line, 3u);
}

TEST_F(MappingFileTest, DuplicatesLastWins) {
  auto source = configure("a@x old\nb@x old\na@x new\nA@X eu-west\nb@x new\n");
  ASSERT_TRUE(source);
  EXPECT_EQ(source->size(), 2u);
  EXPECT_EQ(lookup(*source, "a@x"), "eu-west");
  EXPECT_EQ(lookup(*source, "b@x"), "new");
}

TEST_F(MappingFileTest, KeysAreNormalizedAtLoad) {
  auto lower = configure("Alice@Example.COM new\n");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lookup(*lower, "alice@example.com"), "new");
  EXPECT_EQ(lookup(*lower, "Alice@Example.COM"), std::nullopt);  // the kernel normalizes keys

  auto exact = configure("Alice@Example.COM new\n", identity_context());
  ASSERT_TRUE(exact);
  EXPECT_EQ(lookup(*exact, "Alice@Example.COM"), "new");
  EXPECT_EQ(lookup(*exact, "alice@example.com"), std::nullopt);
}

TEST_F(MappingFileTest, PathResolution) {
  fs::create_directories(dir_ / "sub");
  write("sub/abs.txt", "a@x new\n");
  table_.strings["path"] = (dir_ / "sub" / "abs.txt").string();
  table_.base = "/nonexistent";
  auto absolute = configure_file_source(table_, lowercase_context());
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->path(), (dir_ / "sub" / "abs.txt").string());

  table_.base = dir_.string();
  table_.strings["path"] = "sub/../sub/abs.txt";
  auto relative = configure_file_source(table_, lowercase_context());
  ASSERT_TRUE(relative);
  EXPECT_EQ(relative->path(), (dir_ / "sub" / "abs.txt").string());
  EXPECT_EQ(relative->describe(), "file " + (dir_ / "sub" / "abs.txt").string() + " (1 entries)");
}

TEST_F(MappingFileTest, MissingKeyOrFileIsReported) {
  EXPECT_FALSE(configure_file_source(table_, lowercase_context()));
  ASSERT_EQ(table_.errors.size(), 1u);
  EXPECT_EQ(table_.errors[0].key, "path");
  EXPECT_EQ(table_.errors[0].message, "missing required key");

  table_.errors.clear();
  table_.strings["path"] = "absent.txt";
  EXPECT_FALSE(configure_file_source(table_, lowercase_context()));
  ASSERT_EQ(table_.errors.size(), 1u);
  EXPECT_NE(table_.errors[0].message.find("absent.txt"), std::string::npos);

  table_.errors.clear();
  table_.strings["path"] = "";
  EXPECT_FALSE(configure_file_source(table_, lowercase_context()));
  EXPECT_EQ(table_.errors.size(), 1u);

  table_.errors.clear();
  table_.strings["path"] = ".";
  EXPECT_FALSE(configure_file_source(table_, lowercase_context()));
  EXPECT_EQ(table_.errors.size(), 1u);
}

TEST_F(MappingFileTest, EmptyFileIsAnEmptyTable) {
  auto source = configure("");
  ASSERT_TRUE(source);
  EXPECT_EQ(source->size(), 0u);
  EXPECT_EQ(lookup(*source, "a@x"), std::nullopt);
}

// --- writes ---

TEST_F(MappingFileTest, UpsertAndRemoveRewriteTheFileSortedAndAtomically) {
  auto source = configure("# header comment\nzed@x old\nalice@x new\n");
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->writable());

  auto added = source->upsert("mike@x", "eu-west");
  EXPECT_TRUE(added.ok) << added.message;
  EXPECT_FALSE(added.existed);
  auto changed = source->upsert("zed@x", "new");
  EXPECT_TRUE(changed.ok);
  EXPECT_TRUE(changed.existed);
  auto removed = source->remove("alice@x");
  EXPECT_TRUE(removed.ok);
  EXPECT_TRUE(removed.existed);
  auto absent = source->remove("nobody@x");
  EXPECT_TRUE(absent.ok);
  EXPECT_FALSE(absent.existed);

  const fs::path path = dir_ / "map.txt";
  EXPECT_EQ(read(path), "mike@x\teu-west\nzed@x\tnew\n");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  EXPECT_EQ(source->size(), 2u);
  EXPECT_EQ(lookup(*source, "mike@x"), "eu-west");
  EXPECT_EQ(lookup(*source, "zed@x"), "new");
  EXPECT_EQ(lookup(*source, "alice@x"), std::nullopt);
}

TEST_F(MappingFileTest, ReloadAfterWritesGivesTheSameTable) {
  auto source = configure("b@x old\nd@x old\nf@x old\n");
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->upsert("a@x", "new").ok);
  ASSERT_TRUE(source->upsert("d@x", "eu-west").ok);
  ASSERT_TRUE(source->remove("f@x").ok);
  ASSERT_TRUE(source->upsert("f@x", "new").ok);
  ASSERT_TRUE(source->remove("b@x").ok);
  ASSERT_TRUE(source->upsert("g@x", "old").ok);
  ASSERT_TRUE(source->remove("g@x").ok);

  const std::vector<std::string> keys = {"a@x", "b@x", "d@x", "f@x", "g@x"};
  std::vector<std::optional<std::string>> before;
  for (const auto& k : keys) before.push_back(lookup(*source, k));
  const std::size_t size_before = source->size();

  auto reloaded = source->reload();
  ASSERT_TRUE(reloaded.ok) << reloaded.message;
  EXPECT_EQ(source->overlay_size_for_test(), 0u);
  EXPECT_EQ(source->size(), size_before);
  EXPECT_EQ(size_before, 3u);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(lookup(*source, keys[i]), before[i]);

  // A second source loaded from the same file agrees.
  auto fresh = load_table((dir_ / "map.txt").string(), lowercase_context());
  ASSERT_TRUE(fresh.table);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"a@x", "new"}, {"d@x", "eu-west"}, {"f@x", "new"}};
  EXPECT_EQ(contents(*fresh.table), expected);
}

TEST_F(MappingFileTest, UpsertChecksTheDestinationAndTheKeyFormat) {
  auto source = configure("a@x old\n");
  ASSERT_TRUE(source);
  const std::string before = read(dir_ / "map.txt");

  auto undeclared = source->upsert("b@x", "nwe");
  EXPECT_FALSE(undeclared.ok);
  EXPECT_EQ(undeclared.message, "destination 'nwe' is not declared; did you mean 'new'?");
  EXPECT_FALSE(source->upsert("b c@x", "new").ok);
  EXPECT_FALSE(source->upsert("b\n@x", "new").ok);
  EXPECT_FALSE(source->upsert("#b@x", "new").ok);
  EXPECT_FALSE(source->upsert("", "new").ok);
  EXPECT_FALSE(source->upsert("b\xFF@x", "new").ok);

  EXPECT_EQ(read(dir_ / "map.txt"), before);
  EXPECT_EQ(lookup(*source, "b@x"), std::nullopt);
  EXPECT_EQ(source->size(), 1u);
}

TEST_F(MappingFileTest, FailedRewriteLeavesMemoryUnchanged) {
  auto source = configure("a@x old\n");
  ASSERT_TRUE(source);
  // A directory where the temporary file should go makes the rewrite fail.
  fs::create_directories(dir_ / "map.txt.tmp");
  auto result = source->upsert("b@x", "new");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.message.find("map.txt.tmp"), std::string::npos) << result.message;
  EXPECT_EQ(lookup(*source, "b@x"), std::nullopt);
  EXPECT_EQ(source->size(), 1u);
  EXPECT_EQ(read(dir_ / "map.txt"), "a@x old\n");
}

TEST_F(MappingFileTest, RewriteKeepsFilePermissions) {
  auto source = configure("a@x old\n");
  ASSERT_TRUE(source);
  const fs::path path = dir_ / "map.txt";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_TRUE(source->upsert("b@x", "new").ok);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST_F(MappingFileTest, ReloadKeepsTheOldTableWhenTheFileIsInvalid) {
  auto source = configure("a@x old\n");
  ASSERT_TRUE(source);
  write("map.txt", "a@x new\nbroken\nb@x nowhere\n");
  auto result = source->reload();
  EXPECT_FALSE(result.ok);
  const std::string file = (dir_ / "map.txt").string();
  EXPECT_NE(result.message.find(file + ":2:1: "), std::string::npos) << result.message;
  EXPECT_NE(result.message.find(file + ":3:5: destination 'nowhere' is not declared"),
            std::string::npos)
      << result.message;
  EXPECT_EQ(lookup(*source, "a@x"), "old");

  fs::remove(dir_ / "map.txt");
  result = source->reload();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.message.find("cannot open"), std::string::npos);
  EXPECT_EQ(lookup(*source, "a@x"), "old");

  write("map.txt", "a@x new\nB@X eu-west\n");
  result = source->reload();
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(lookup(*source, "a@x"), "new");
  EXPECT_EQ(lookup(*source, "b@x"), "eu-west");
  EXPECT_EQ(source->size(), 2u);
}

TEST_F(MappingFileTest, OverlayIsFoldedIntoTheTable) {
  auto source = configure("k00@x old\nk01@x old\nk02@x old\n");
  ASSERT_TRUE(source);
  source->set_compaction_floor_for_test(4);
  ASSERT_TRUE(source->upsert("k10@x", "new").ok);
  ASSERT_TRUE(source->remove("k01@x").ok);
  ASSERT_TRUE(source->upsert("k02@x", "eu-west").ok);
  EXPECT_EQ(source->overlay_size_for_test(), 3u);
  ASSERT_TRUE(source->upsert("k11@x", "new").ok);
  EXPECT_EQ(source->overlay_size_for_test(), 0u);
  EXPECT_EQ(source->size(), 4u);
  EXPECT_EQ(lookup(*source, "k00@x"), "old");
  EXPECT_EQ(lookup(*source, "k01@x"), std::nullopt);
  EXPECT_EQ(lookup(*source, "k02@x"), "eu-west");
  EXPECT_EQ(lookup(*source, "k10@x"), "new");
  EXPECT_EQ(lookup(*source, "k11@x"), "new");
  // Writes after the fold still merge correctly.
  ASSERT_TRUE(source->remove("k00@x").ok);
  EXPECT_EQ(read(dir_ / "map.txt"), "k02@x\teu-west\nk10@x\tnew\nk11@x\tnew\n");
}

TEST_F(MappingFileTest, LookupsRunWhileWritesHappen) {
  std::string content;
  for (int i = 0; i < 100; ++i) content += "user" + std::to_string(i) + "@x old\n";
  auto source = configure(content);
  ASSERT_TRUE(source);
  source->set_compaction_floor_for_test(8);  // 40 writes fold the overlay several times

  std::atomic<bool> stop = false;
  std::atomic<int> wrong = 0;
  std::atomic<long> done = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int i = t;
      while (!stop.load()) {
        // Keys below 50 are never written; their answer must never change.
        if (lookup(*source, "user" + std::to_string(i % 50) + "@x") != "old") ++wrong;
        lookup(*source, "user" + std::to_string(50 + i % 50) + "@x");
        ++i;
        ++done;
      }
    });
  }
  for (int i = 50; i < 90; ++i) {
    const std::string key = "user" + std::to_string(i) + "@x";
    ASSERT_TRUE((i % 2 == 0 ? source->upsert(key, "new") : source->remove(key)).ok);
  }
  ASSERT_TRUE(source->reload().ok);
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(done.load(), 0);
  EXPECT_EQ(lookup(*source, "user50@x"), "new");
  EXPECT_EQ(lookup(*source, "user51@x"), std::nullopt);
  EXPECT_EQ(lookup(*source, "user90@x"), "old");
  EXPECT_EQ(source->size(), 100u - 20u);
}

// --- the table itself ---

TEST(MappingFileTable, MergePrefersChangeThenOverlayThenTable) {
  TableBuilder builder;
  builder.add("b", "t-b");
  builder.add("d", "t-d");
  builder.add("a", "t-a");
  auto table = builder.finish(false);
  Overlay overlay;
  overlay.emplace("b", std::nullopt);
  overlay.emplace("c", "o-c");
  overlay.emplace("d", "o-d");
  const Change change{"c", std::string_view("ch-c")};
  std::vector<std::string> out;
  merge_entries(*table, overlay, &change, [&](std::string_view k, std::string_view v) {
    out.push_back(std::string(k) + "=" + std::string(v));
  });
  EXPECT_EQ(out, (std::vector<std::string>{"a=t-a", "c=ch-c", "d=o-d"}));

  const Change removal{"a", std::nullopt};
  out.clear();
  merge_entries(*table, overlay, &removal, [&](std::string_view k, std::string_view v) {
    out.push_back(std::string(k) + "=" + std::string(v));
  });
  EXPECT_EQ(out, (std::vector<std::string>{"c=o-c", "d=o-d"}));
}

TEST(MappingFileTable, FindOnEmptyAndBoundaries) {
  TableBuilder empty_builder;
  auto empty = empty_builder.finish(false);
  EXPECT_EQ(empty->find(""), std::nullopt);
  EXPECT_EQ(empty->find("a"), std::nullopt);

  TableBuilder builder;
  builder.add("m", "1");
  builder.add("a", "2");
  builder.add("z", "3");
  auto table = builder.finish(false);
  EXPECT_EQ(table->find("a"), "2");
  EXPECT_EQ(table->find("m"), "1");
  EXPECT_EQ(table->find("z"), "3");
  EXPECT_EQ(table->find("0"), std::nullopt);
  EXPECT_EQ(table->find("zz"), std::nullopt);
  EXPECT_EQ(table->find("b"), std::nullopt);
}

}  // namespace
}  // namespace postern::mapping_file
