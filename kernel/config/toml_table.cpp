#include "config/toml_table.hpp"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include <fmt/format.h>

#include "config/load.hpp"

namespace postern::kernel {
namespace {

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::ranges::all_of(key, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string quote_key(std::string_view key) {
  if (is_bare_key(key)) return std::string(key);
  std::string out = "\"";
  for (const char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

sdk::SourcePosition to_position(const std::string& file, const toml::source_region& region) {
  return {file, region.begin.line, region.begin.column};
}

}  // namespace

std::string_view describe_toml_type(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "a list";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// --- TomlDocument ---

TomlDocument::TomlDocument(toml::table root, std::string file, std::string base_directory,
                           Diagnostics& diagnostics)
    : root_(std::move(root)),
      file_(std::move(file)),
      base_directory_(std::move(base_directory)),
      diagnostics_(diagnostics) {}

std::unique_ptr<TomlTable> TomlDocument::root() {
  // The root's own position is the top of the file (an empty file has none).
  return std::make_unique<TomlTable>(*this, &root_, std::string(), sdk::SourcePosition{file_, 1, 1},
                                     std::string());
}

TomlDocument::TableUse& TomlDocument::opened(const toml::table* table, const std::string& path,
                                             const std::string& tag) {
  TableUse& use = uses_[table];
  use.path = path;
  if (!tag.empty()) use.plugin_tag = tag;
  return use;
}

void TomlDocument::asked(const toml::table* table, std::string_view key) {
  if (table == nullptr) return;
  auto& asked = uses_[table].asked;
  if (asked.find(key) == asked.end()) asked.emplace(key);
}

void TomlDocument::report(Severity severity, sdk::SourcePosition where, std::string key,
                          std::string_view message, const std::string& tag) {
  if (where.file.empty()) where.file = file_;
  diagnostics_.add(Diagnostic{std::move(where), severity, std::move(key), std::string(message), tag});
}

void TomlDocument::report_unread_keys() { report_unread_keys(root_); }

void TomlDocument::report_unread_keys(const toml::table& table) {
  const auto use = uses_.find(&table);
  if (use == uses_.end()) return;
  const std::vector<std::string> candidates(use->second.asked.begin(), use->second.asked.end());
  for (const auto& [key, node] : table) {
    if (use->second.asked.contains(key.str())) {
      if (const toml::table* child = node.as_table(); child != nullptr) report_unread_keys(*child);
      continue;
    }
    const bool is_table = node.is_table() || node.is_array_of_tables();
    std::string message = is_table ? "unknown table" : "unknown key";
    if (const std::string hint = sdk::closest_match(key.str(), candidates); !hint.empty()) {
      message += fmt::format("; did you mean '{}'?", hint);
    }
    const std::string& path = use->second.path;
    std::string dotted = path.empty() ? quote_key(key.str()) : path + "." + quote_key(key.str());
    report(Severity::error, to_position(file_, key.source()), std::move(dotted), message,
           use->second.plugin_tag);
  }
}

// --- TomlTable ---

TomlTable::TomlTable(TomlDocument& document, const toml::table* table, std::string path,
                     sdk::SourcePosition where, std::string plugin_tag)
    : document_(document),
      table_(table),
      path_(std::move(path)),
      where_(std::move(where)),
      plugin_tag_(std::move(plugin_tag)) {
  if (table_ != nullptr) plugin_tag_ = document_.opened(table_, path_, plugin_tag_).plugin_tag;
}

bool TomlTable::has(std::string_view key) const { return table_ != nullptr && table_->contains(key); }

bool TomlTable::has_table(std::string_view key) const {
  return table_ != nullptr && table_->get_as<toml::table>(key) != nullptr;
}

std::vector<std::string> TomlTable::keys() const {
  std::vector<std::string> out;
  if (table_ == nullptr) return out;
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::string>> ordered;
  for (const auto& [key, node] : *table_) {
    ordered.emplace_back(key.source().begin.line, key.source().begin.column, std::string(key.str()));
  }
  std::ranges::sort(ordered);
  for (auto& entry : ordered) out.push_back(std::move(std::get<2>(entry)));
  return out;
}

const toml::node* TomlTable::lookup(std::string_view key) {
  if (table_ == nullptr) return nullptr;
  document_.asked(table_, key);
  return table_->get(key);
}

void TomlTable::mark_read(std::string_view key) { document_.asked(table_, key); }

std::string TomlTable::dotted(std::string_view key) const {
  if (key.empty()) return path_;
  if (path_.empty()) return quote_key(key);
  return path_ + "." + quote_key(key);
}

std::optional<std::string> TomlTable::get_string(std::string_view key) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* value = node->as_string(); value != nullptr) return value->get();
  error(key, fmt::format("expected a string, found {}", describe_toml_type(node->type())));
  return std::nullopt;
}

std::optional<bool> TomlTable::get_bool(std::string_view key) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* value = node->as_boolean(); value != nullptr) return value->get();
  error(key, fmt::format("expected a boolean (true or false), found {}", describe_toml_type(node->type())));
  return std::nullopt;
}

std::optional<std::int64_t> TomlTable::get_integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_integer();
  if (value == nullptr) {
    error(key, fmt::format("expected an integer, found {}", describe_toml_type(node->type())));
    return std::nullopt;
  }
  const std::int64_t number = value->get();
  if (number < min) {
    error(key, fmt::format("{} is below the minimum {}", number, min));
    return std::nullopt;
  }
  if (number > max) {
    error(key, fmt::format("{} is above the maximum {}", number, max));
    return std::nullopt;
  }
  return number;
}

std::optional<std::vector<std::string>> TomlTable::get_string_list(std::string_view key) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) {
    error(key, fmt::format("expected a list of strings, found {}", describe_toml_type(node->type())));
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(array->size());
  bool ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (const auto* text = element.as_string(); text != nullptr) {
      out.push_back(text->get());
      continue;
    }
    error_at(to_position(document_.file_, element.source()), key,
             fmt::format("expected a list of strings, but element {} is {}", i + 1,
                         describe_toml_type(element.type())));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::chrono::milliseconds> TomlTable::get_duration(std::string_view key) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return std::nullopt;
  const auto* text = node->as_string();
  if (text == nullptr) {
    error(key, fmt::format("expected a duration string such as \"30s\", found {}",
                           describe_toml_type(node->type())));
    return std::nullopt;
  }
  DurationParse parsed = parse_duration(text->get());
  if (!parsed.value) error(key, parsed.error);
  return parsed.value;
}

std::unique_ptr<sdk::ConfigTable> TomlTable::get_table(std::string_view key) { return table(key); }

std::unique_ptr<TomlTable> TomlTable::table(std::string_view key, std::string plugin_tag) {
  std::string tag = plugin_tag.empty() ? plugin_tag_ : std::move(plugin_tag);
  const toml::node* node = lookup(key);
  const toml::table* child = node != nullptr ? node->as_table() : nullptr;
  if (node != nullptr && child == nullptr) {
    error(key, fmt::format("expected a table, found {}", describe_toml_type(node->type())));
  }
  return std::make_unique<TomlTable>(document_, child, dotted(key), position(key), std::move(tag));
}

sdk::SourcePosition TomlTable::position(std::string_view key) const {
  if (table_ == nullptr || key.empty()) return where_;
  const auto it = table_->find(key);
  if (it == table_->end()) return where_;
  return to_position(document_.file_, it->first.source());
}

std::string_view TomlTable::base_directory() const noexcept { return document_.base_directory_; }

void TomlTable::error(std::string_view key, std::string_view message) {
  document_.report(Severity::error, position(key), dotted(key), message, plugin_tag_);
}

void TomlTable::error_at(const sdk::SourcePosition& where, std::string_view key, std::string_view message) {
  document_.report(Severity::error, where, dotted(key), message, plugin_tag_);
}

void TomlTable::warning(std::string_view key, std::string_view message) {
  document_.report(Severity::warning, position(key), dotted(key), message, plugin_tag_);
}

}  // namespace postern::kernel
