// The "file" mapping source: a mapping file held in memory, answered
// synchronously, writable through the admin API.
//
// Concurrency: lookups run on many threads while the admin API may upsert,
// remove or reload. The state is an immutable Table (shared_ptr) plus a small
// Overlay of changes made since the table was built. Lookups take a shared
// lock for a map probe and a binary search; a writer builds everything slow
// (the file rewrite, a freshly loaded or compacted table) without blocking
// lookups and holds the exclusive lock only to insert one overlay entry or
// swap a pointer. Writers are serialized by a second mutex, which also makes
// it safe for the writer to read the state without the shared lock.
//
// Memory: an upsert adds one overlay entry and never copies the table; once
// the overlay outgrows max(compaction_floor, table size / 8) it is folded
// into a new table (one copy per thousands of writes, while every write
// already rewrites the whole file).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <postern/sdk/config.hpp>
#include <postern/sdk/mapping.hpp>

#include "file_table.hpp"

namespace postern::mapping_file {

class FileSource final : public sdk::MappingSource {
 public:
  FileSource(std::string path, sdk::MappingContext context, std::shared_ptr<const Table> table);

  // postern::sdk::MappingSource
  void lookup(std::string_view key, sdk::LookupCallback done) override;
  bool writable() const noexcept override { return true; }
  sdk::WriteResult upsert(std::string_view key, std::string_view destination) override;
  sdk::WriteResult remove(std::string_view key) override;
  sdk::WriteResult reload() override;
  std::string describe() const override;

  // Live mappings (table + overlay).
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  const std::string& path() const noexcept { return path_; }

  void set_compaction_floor_for_test(std::size_t entries);
  std::size_t overlay_size_for_test() const;

 private:
  // Reads the state; callers hold state_mutex_ (shared) or write_mutex_.
  std::optional<std::string_view> find(std::string_view key) const;
  sdk::WriteResult apply(std::string_view key, std::optional<std::string_view> destination);
  void compact_if_needed();

  const std::string path_;
  const sdk::MappingContext context_;
  std::mutex write_mutex_;                 // serializes upsert, remove, reload
  mutable std::shared_mutex state_mutex_;  // guards table_ and overlay_
  std::shared_ptr<const Table> table_;
  Overlay overlay_;
  std::atomic<std::size_t> size_;
  std::size_t compaction_floor_ = 4096;
};

// Validates [mapping.file] (key `path`, resolved against the configuration
// file's directory) and loads the file. Every problem is reported through
// `table`, those inside the mapping file at their line and column; nullptr
// when there was any.
std::unique_ptr<FileSource> configure_file_source(sdk::ConfigTable& table,
                                                  const sdk::MappingContext& context);

// "FILE:LINE:COL: message" lines for a failed load (admin reload replies).
std::string describe_load_failure(const std::string& path, const LoadOutcome& outcome);

}  // namespace postern::mapping_file
