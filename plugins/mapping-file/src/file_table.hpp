// The in-memory form of a mapping file and its on-disk format.
//
// A Table is immutable once built: every key lives in one arena string and a
// sorted vector of 12-byte entries points into it, so a million mappings cost
// roughly the size of their keys plus 12 MB and lookups are a binary search.
// Destinations are interned (a file names only a handful of distinct ones).
// Changes made through the admin API go to a small Overlay kept next to the
// table (see file_source.hpp), and the file is rewritten from the merge of
// both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <postern/sdk/mapping.hpp>

namespace postern::mapping_file {

class Table {
 public:
  // Keys sorted byte-wise, unique.
  std::size_t size() const noexcept { return entries_.size(); }
  std::string_view key(std::size_t index) const noexcept {
    const Entry& e = entries_[index];
    return std::string_view(keys_.data() + e.offset, e.length);
  }
  std::string_view destination(std::size_t index) const noexcept {
    return destinations_[entries_[index].destination];
  }
  std::optional<std::string_view> find(std::string_view key) const noexcept;
  // Index of the first key not less than `key`, searching from `from` on.
  std::size_t lower_bound(std::string_view key, std::size_t from) const noexcept;
  // Heap bytes in use (for the benchmark and the README figures).
  std::size_t memory_bytes() const noexcept;

 private:
  friend class TableBuilder;
  struct Entry {
    std::uint32_t offset;
    std::uint32_t length;
    std::uint32_t destination;
  };
  std::string keys_;
  std::vector<Entry> entries_;
  std::vector<std::string> destinations_;
};

// Collects (key, destination) pairs, then sorts them; for equal keys the one
// added last wins (the file's "duplicates: last wins" rule).
class TableBuilder {
 public:
  // `expected_key_bytes` pre-sizes the arena (a file's size bounds it; the
  // untouched part of a large reservation is never paged in).
  explicit TableBuilder(std::size_t expected_key_bytes = 0);
  // False when the arena would exceed 4 GiB (offsets are 32-bit).
  bool add(std::string_view key, std::string_view destination);
  std::shared_ptr<const Table> finish(bool already_sorted_unique);

 private:
  std::uint32_t intern(std::string_view destination);

  std::unique_ptr<Table> table_;
  std::map<std::string, std::uint32_t, std::less<>> destination_index_;
  std::uint32_t last_destination_ = UINT32_MAX;
};

// Admin changes not yet folded into the table: a value replaces or adds a
// key, nullopt removes a key of the table (a tombstone).
using Overlay = std::map<std::string, std::optional<std::string>, std::less<>>;

// One pending change, applied on top of table and overlay while writing.
struct Change {
  std::string_view key;
  std::optional<std::string_view> destination;  // nullopt = remove
};

// Calls `emit` for every live mapping of table + overlay (+ change), in key
// order.
void merge_entries(const Table& table, const Overlay& overlay, const Change* change,
                   const std::function<void(std::string_view, std::string_view)>& emit);

// A problem on one line of the file (1-based line and column; the column
// counts characters, not bytes).
struct LoadIssue {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
};

struct LoadOutcome {
  std::shared_ptr<const Table> table;  // null when anything went wrong
  std::string failure;                 // the file could not be read (no position)
  std::vector<LoadIssue> issues;       // at most max_reported_issues, in file order
  std::size_t issue_count = 0;         // all issues found, reported or not
};

inline constexpr std::size_t max_reported_issues = 100;
inline constexpr std::size_t max_line_length = 64 * 1024;

// Reads and validates a whole mapping file (format: behavior.md 7.3). Keys
// are normalized with context.normalize; destinations are checked once each
// with context.check_destination. Every line is examined, so one run reports
// all the file's problems.
LoadOutcome load_table(const std::string& path, const sdk::MappingContext& context);

// Rewrites the file as sorted "<identifier>\t<destination>\n" lines: written
// to "<path>.tmp", flushed to disk, then renamed over `path`, so readers see
// either the old or the new file. Returns why it failed, or nullopt.
std::optional<std::string> write_table_file(const std::string& path, const Table& table,
                                            const Overlay& overlay, const Change* change);

// Why `value` (an identifier or a destination, named by `what` in the
// message) cannot be written as a field of the file and read back unchanged;
// nullopt when it can.
std::optional<std::string> check_field_format(std::string_view what, std::string_view value);

}  // namespace postern::mapping_file
