#include "file_source.hpp"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace postern::mapping_file {
namespace {

// Exceptions (in practice std::bad_alloc) must not cross into the kernel.
template <class Operation>
sdk::WriteResult guarded(Operation&& operation) {
  try {
    return operation();
  } catch (const std::exception& e) {
    return {false, false, std::string("mapping file update failed: ") + e.what()};
  } catch (...) {
    return {false, false, "mapping file update failed"};
  }
}

}  // namespace

FileSource::FileSource(std::string path, sdk::MappingContext context,
                       std::shared_ptr<const Table> table)
    : path_(std::move(path)),
      context_(std::move(context)),
      table_(std::move(table)),
      size_(table_->size()) {}

std::optional<std::string_view> FileSource::find(std::string_view key) const {
  if (auto it = overlay_.find(key); it != overlay_.end()) {
    if (!it->second) return std::nullopt;  // removed since the table was built
    return std::string_view(*it->second);
  }
  return table_->find(key);
}

void FileSource::lookup(std::string_view key, sdk::LookupCallback done) {
  auto result = sdk::LookupResult::not_found();
  try {
    std::shared_lock lock(state_mutex_);
    if (auto destination = find(key)) result = sdk::LookupResult::found(std::string(*destination));
  } catch (const std::exception& e) {
    result = sdk::LookupResult::error(std::string("mapping file lookup failed: ") + e.what());
  }
  // Outside the lock: the callback may do anything, including a write.
  done(std::move(result));
}

sdk::WriteResult FileSource::upsert(std::string_view key, std::string_view destination) {
  return guarded([&]() -> sdk::WriteResult {
    if (auto problem = check_field_format("identifier", key)) return {false, false, *problem};
    if (auto problem = check_field_format("destination", destination)) {
      return {false, false, *problem};
    }
    if (auto problem = context_.check_destination(destination)) return {false, false, *problem};
    return apply(key, destination);
  });
}

sdk::WriteResult FileSource::remove(std::string_view key) {
  return guarded([&] { return apply(key, std::nullopt); });
}

sdk::WriteResult FileSource::apply(std::string_view key,
                                   std::optional<std::string_view> destination) {
  std::lock_guard write_lock(write_mutex_);
  const std::optional<std::string_view> current = find(key);
  const bool existed = current.has_value();
  if (current == destination) return {true, existed, {}};  // nothing to change

  // The file first: memory changes only once the new file is in place, so
  // lookups never see a mapping that a restart would lose.
  const Change change{key, destination};
  if (auto error = write_table_file(path_, *table_, overlay_, &change)) {
    return {false, existed, std::move(*error)};
  }
  {
    std::unique_lock lock(state_mutex_);
    if (destination) {
      overlay_.insert_or_assign(std::string(key), std::string(*destination));
    } else if (table_->find(key)) {
      overlay_.insert_or_assign(std::string(key), std::nullopt);
    } else {
      overlay_.erase(overlay_.find(key));  // existed, so it is in the overlay
    }
  }
  if (!existed) size_.fetch_add(1, std::memory_order_relaxed);
  if (!destination) size_.fetch_sub(1, std::memory_order_relaxed);
  compact_if_needed();
  return {true, existed, {}};
}

void FileSource::compact_if_needed() {
  if (overlay_.size() < std::max(compaction_floor_, table_->size() / 8)) return;
  TableBuilder builder;
  bool ok = true;
  merge_entries(*table_, overlay_, nullptr, [&](std::string_view key, std::string_view value) {
    ok = ok && builder.add(key, value);
  });
  if (!ok) return;  // too large to fold: keep serving from table + overlay
  std::shared_ptr<const Table> table = builder.finish(true);
  Overlay folded;
  {
    std::unique_lock lock(state_mutex_);
    table_.swap(table);
    overlay_.swap(folded);
  }
  // The old table and overlay are released here, outside the lock.
}

sdk::WriteResult FileSource::reload() {
  return guarded([this]() -> sdk::WriteResult {
    std::lock_guard write_lock(write_mutex_);
    LoadOutcome outcome = load_table(path_, context_);
    if (!outcome.table) return {false, false, describe_load_failure(path_, outcome)};
    std::shared_ptr<const Table> table = std::move(outcome.table);
    const std::size_t entries = table->size();
    Overlay previous;
    {
      std::unique_lock lock(state_mutex_);
      table_.swap(table);
      overlay_.swap(previous);
    }
    size_.store(entries, std::memory_order_relaxed);
    return {true, false, {}};
  });
}

std::string FileSource::describe() const {
  return "file " + path_ + " (" + std::to_string(size()) + " entries)";
}

void FileSource::set_compaction_floor_for_test(std::size_t entries) {
  std::lock_guard write_lock(write_mutex_);
  compaction_floor_ = entries;
}

std::size_t FileSource::overlay_size_for_test() const {
  std::shared_lock lock(state_mutex_);
  return overlay_.size();
}

std::string describe_load_failure(const std::string& path, const LoadOutcome& outcome) {
  if (!outcome.failure.empty()) return outcome.failure;
  std::string text;
  for (const LoadIssue& issue : outcome.issues) {
    if (!text.empty()) text += '\n';
    text += path + ":" + std::to_string(issue.line) + ":" + std::to_string(issue.column) + ": " +
            issue.message;
  }
  if (outcome.issue_count > outcome.issues.size()) {
    text += "\n" + path + ": " + std::to_string(outcome.issue_count - outcome.issues.size()) +
            " more problems not shown";
  }
  return text;
}

std::unique_ptr<FileSource> configure_file_source(sdk::ConfigTable& table,
                                                  const sdk::MappingContext& context) {
  const std::optional<std::string> configured = table.get_string("path");
  if (!configured) {
    // A present key of the wrong type was already reported by the getter.
    if (!table.has("path")) table.error("path", "missing required key");
    return nullptr;
  }
  if (configured->empty()) {
    table.error("path", "must not be empty");
    return nullptr;
  }
  std::filesystem::path resolved(*configured);
  if (resolved.is_relative() && !table.base_directory().empty()) {
    resolved = std::filesystem::path(table.base_directory()) / resolved;
  }
  const std::string path = resolved.lexically_normal().string();

  LoadOutcome outcome = load_table(path, context);
  if (!outcome.failure.empty()) {
    table.error("path", outcome.failure);
    return nullptr;
  }
  for (const LoadIssue& issue : outcome.issues) {
    table.error_at(sdk::SourcePosition{path, issue.line, issue.column}, "path", issue.message);
  }
  if (outcome.issue_count > outcome.issues.size()) {
    table.error("path", std::to_string(outcome.issue_count - outcome.issues.size()) +
                            " more problems in " + path + " not shown");
  }
  if (!outcome.table) return nullptr;
  return std::make_unique<FileSource>(path, context, std::move(outcome.table));
}

}  // namespace postern::mapping_file
