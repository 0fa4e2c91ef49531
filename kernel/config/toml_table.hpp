// sdk::ConfigTable over a toml++ document: typed getters that report their
// own type and range errors at the key's position, and read-tracking shared
// by the whole document so that keys nobody asked for can be reported.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include <postern/sdk/config.hpp>

#include "config/diagnostics.hpp"

namespace postern::kernel {

class TomlTable;

// One parsed file. Owns the toml++ tree and remembers, per table, which keys
// were asked for and who owns it; must outlive every TomlTable it hands out.
class TomlDocument {
 public:
  // `file` names the document in diagnostics; relative paths in it resolve
  // against `base_directory`.
  TomlDocument(toml::table root, std::string file, std::string base_directory, Diagnostics& diagnostics);
  TomlDocument(const TomlDocument&) = delete;
  TomlDocument& operator=(const TomlDocument&) = delete;

  // The root table: empty path, no plugin tag.
  std::unique_ptr<TomlTable> root();

  // The backstop: reports every key that no owner asked for, in every table
  // that was opened, as "unknown key" (or "unknown table") with a "did you
  // mean" among the keys asked for in the same table. A key that was asked
  // for but whose table was never opened (handed over, or of the wrong type)
  // is not descended into.
  void report_unread_keys();

 private:
  friend class TomlTable;
  struct TableUse {
    std::string path;
    std::string plugin_tag;
    std::set<std::string, std::less<>> asked;
  };

  TableUse& opened(const toml::table* table, const std::string& path, const std::string& tag);
  void asked(const toml::table* table, std::string_view key);
  void report(Severity severity, sdk::SourcePosition where, std::string key, std::string_view message,
              const std::string& tag);
  void report_unread_keys(const toml::table& table);

  toml::table root_;
  std::string file_;
  std::string base_directory_;
  Diagnostics& diagnostics_;
  std::map<const toml::table*, TableUse> uses_;
};

class TomlTable final : public sdk::ConfigTable {
 public:
  // `table` null = absent. `where` is the position of the table's own key
  // (or of its parent when absent). `plugin_tag` ("imap 0.1.0") marks the
  // diagnostics reported through this table and the tables opened from it.
  TomlTable(TomlDocument& document, const toml::table* table, std::string path, sdk::SourcePosition where,
            std::string plugin_tag);

  std::string_view path() const noexcept override { return path_; }
  bool present() const noexcept override { return table_ != nullptr; }
  bool has(std::string_view key) const override;
  std::vector<std::string> keys() const override;

  std::optional<std::string> get_string(std::string_view key) override;
  std::optional<bool> get_bool(std::string_view key) override;
  std::optional<std::int64_t> get_integer(std::string_view key, std::int64_t min, std::int64_t max) override;
  std::optional<std::vector<std::string>> get_string_list(std::string_view key) override;
  std::optional<std::chrono::milliseconds> get_duration(std::string_view key) override;
  std::unique_ptr<sdk::ConfigTable> get_table(std::string_view key) override;

  sdk::SourcePosition position(std::string_view key) const override;
  std::string_view base_directory() const noexcept override;

  void error(std::string_view key, std::string_view message) override;
  void error_at(const sdk::SourcePosition& where, std::string_view key, std::string_view message) override;
  void warning(std::string_view key, std::string_view message) override;

  // Kernel-only additions.
  // get_table() with the concrete type; a non-empty `plugin_tag` replaces the
  // inherited one (a table handed to a plugin).
  std::unique_ptr<TomlTable> table(std::string_view key, std::string plugin_tag = {});
  // Marks a key as known without reading it: its value, table or not, is
  // left alone by the backstop.
  void mark_read(std::string_view key);
  // Whether the key holds a table.
  bool has_table(std::string_view key) const;
  // "path.key" as diagnostics print it (keys that are not bare TOML keys are quoted).
  std::string dotted(std::string_view key) const;
  const std::string& plugin_tag() const noexcept { return plugin_tag_; }

 private:
  // The value of `key`, marking the key as asked for; null when absent.
  const toml::node* lookup(std::string_view key);

  TomlDocument& document_;
  const toml::table* table_;
  std::string path_;
  sdk::SourcePosition where_;
  std::string plugin_tag_;
};

// "a string", "an integer", ... for type errors.
std::string_view describe_toml_type(toml::node_type type);

}  // namespace postern::kernel
