// Read-only view of one configuration table, handed by the kernel to the code
// that owns the table (kernel areas and plugins alike).
//
// Every typed getter records the key as known. After validation the kernel
// reports each key of the file that no owner asked for as an unknown key, with
// a "did you mean" among the keys that were asked for in the same table; so a
// plugin's schema is simply the set of keys it reads. Getters report type and
// range errors themselves, at the key's position, and then return nullopt.
// Validation must be free of side effects: reading files is fine, network
// access and writing files are not.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::sdk {

struct SourcePosition {
  std::string file;
  std::uint32_t line = 0;    // 1-based; 0 = unknown
  std::uint32_t column = 0;  // 1-based; 0 = unknown
};

class ConfigTable {
 public:
  virtual ~ConfigTable() = default;

  // Dotted path of this table ("capabilities.imap"); empty for the root.
  virtual std::string_view path() const noexcept = 0;
  // False when the table is absent from the file (getters then return nullopt).
  virtual bool present() const noexcept = 0;
  // Whether the key exists, without marking it as read.
  virtual bool has(std::string_view key) const = 0;
  // Keys present in this table, in file order (for tables of named entries).
  virtual std::vector<std::string> keys() const = 0;

  virtual std::optional<std::string> get_string(std::string_view key) = 0;
  virtual std::optional<bool> get_bool(std::string_view key) = 0;
  // Integers outside [min, max] are reported and yield nullopt.
  virtual std::optional<std::int64_t> get_integer(std::string_view key, std::int64_t min,
                                                  std::int64_t max) = 0;
  virtual std::optional<std::vector<std::string>> get_string_list(std::string_view key) = 0;
  // Durations are strings: a non-negative integer and one unit of ms, s, m, h, d.
  virtual std::optional<std::chrono::milliseconds> get_duration(std::string_view key) = 0;
  // A sub-table; absent keys yield a table whose present() is false. A key of
  // another type is reported and also yields an absent table. Never null.
  virtual std::unique_ptr<ConfigTable> get_table(std::string_view key) = 0;

  // Where a key (or the table itself, for an empty key) is written.
  virtual SourcePosition position(std::string_view key) const = 0;
  // Directory of the configuration file, for resolving relative paths.
  virtual std::string_view base_directory() const noexcept = 0;

  // An error about `key` of this table, reported at the key's position (or the
  // table's when the key is absent). Printed as FILE:LINE:COL: error: path.key: message.
  virtual void error(std::string_view key, std::string_view message) = 0;
  // An error found in another file the key refers to (a mapping file line).
  virtual void error_at(const SourcePosition& where, std::string_view key,
                        std::string_view message) = 0;
  virtual void warning(std::string_view key, std::string_view message) = 0;
};

// Closest candidate by edit distance, for "did you mean" hints; empty when
// nothing is close enough.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace postern::sdk
