#include "plugin/registry.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include <postern/sdk/fingerprint.hpp>
#include <postern/sdk/mapping.hpp>
#include <postern/sdk/protocol.hpp>

namespace postern::kernel {
namespace {

constexpr std::string_view plugin_prefix = "libpostern-";
constexpr std::string_view plugin_suffix = ".so";

std::vector<std::string> to_strings(const char* const* list) {
  std::vector<std::string> out;
  for (std::size_t i = 0; list != nullptr && list[i] != nullptr && i < 64; ++i) out.emplace_back(list[i]);
  return out;
}

std::map<std::string, std::string> fingerprint_fields(std::string_view fingerprint) {
  std::map<std::string, std::string> fields;
  while (!fingerprint.empty()) {
    const std::size_t end = std::min(fingerprint.find(';'), fingerprint.size());
    const std::string_view field = fingerprint.substr(0, end);
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      fields[std::string(field)] = "";
    } else {
      fields[std::string(field.substr(0, eq))] = std::string(field.substr(eq + 1));
    }
    fingerprint.remove_prefix(std::min(end + 1, fingerprint.size()));
  }
  return fields;
}

std::string_view kind_name(postern_plugin_kind kind) {
  return kind == POSTERN_KIND_PROTOCOL ? "protocol" : "mapping source";
}

}  // namespace

std::string describe_fingerprint_difference(std::string_view plugin, std::string_view kernel) {
  const auto theirs = fingerprint_fields(plugin);
  const auto ours = fingerprint_fields(kernel);
  std::string out;
  auto add = [&](const std::string& key, const std::string& their_value, const std::string& our_value) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}={} (postern: {})", key, their_value.empty() ? "?" : their_value,
                       our_value.empty() ? "?" : our_value);
  };
  for (const auto& [key, value] : ours) {
    auto it = theirs.find(key);
    const std::string their_value = it == theirs.end() ? "" : it->second;
    if (their_value != value) add(key, their_value, value);
  }
  for (const auto& [key, value] : theirs) {
    if (!ours.contains(key)) add(key, value, "");
  }
  return out.empty() ? std::string(plugin) : out;
}

PluginRegistry::~PluginRegistry() {
  // Plugin objects go before their hosts and libraries (member order of
  // LoadedPlugin handles each entry; this keeps later plugins' objects from
  // outliving earlier libraries they might reference).
  for (auto& plugin : plugins_) {
    plugin->protocol.reset();
    plugin->mapping.reset();
  }
}

std::string PluginRegistry::load_file(const std::filesystem::path& file) {
  const std::string shown = file.string();
  auto loaded = std::make_unique<LoadedPlugin>();
  loaded->file = shown;
  try {
    // rtld_now: a missing symbol fails here, at startup, not mid-session.
    loaded->library.load(file, boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    return fmt::format("{}: not a Postern plugin: cannot load it ({})", shown, e.what());
  }
  if (!loaded->library.has(POSTERN_PLUGIN_ENTRY_SYMBOL)) {
    return fmt::format("{}: not a Postern plugin: it has no '{}' entry point", shown,
                       POSTERN_PLUGIN_ENTRY_SYMBOL);
  }
  const auto entry = loaded->library.get<const postern_plugin_descriptor*()>(POSTERN_PLUGIN_ENTRY_SYMBOL);
  const postern_plugin_descriptor* d = entry();
  if (d == nullptr) return fmt::format("{}: not a Postern plugin: its entry point returned no descriptor", shown);
  if (d->magic != POSTERN_PLUGIN_MAGIC) {
    return fmt::format("{}: not a Postern plugin: bad magic number 0x{:08x} (expected 0x{:08x})", shown,
                       d->magic, POSTERN_PLUGIN_MAGIC);
  }
  if (d->struct_size < sizeof(postern_plugin_descriptor)) {
    return fmt::format("{}: plugin descriptor is {} bytes, this postern needs at least {}: rebuild the "
                       "plugin against this SDK",
                       shown, d->struct_size, sizeof(postern_plugin_descriptor));
  }
  const std::string name = d->name != nullptr ? d->name : "";
  if (d->abi_major != POSTERN_ABI_MAJOR) {
    return fmt::format("{}: plugin '{}' was built for SDK ABI {}.{}, this postern provides ABI {}.{} "
                       "(major versions differ): rebuild the plugin against SDK {}.x",
                       shown, name, d->abi_major, d->abi_minor, POSTERN_ABI_MAJOR, POSTERN_ABI_MINOR,
                       POSTERN_ABI_MAJOR);
  }
  if (d->abi_minor > POSTERN_ABI_MINOR) {
    return fmt::format("{}: plugin '{}' needs SDK ABI {}.{}, newer than this postern's {}.{}: upgrade "
                       "postern or rebuild the plugin against SDK {}.{}",
                       shown, name, d->abi_major, d->abi_minor, POSTERN_ABI_MAJOR, POSTERN_ABI_MINOR,
                       POSTERN_ABI_MAJOR, POSTERN_ABI_MINOR);
  }
  const std::string_view fingerprint = d->build_fingerprint != nullptr ? d->build_fingerprint : "";
  if (fingerprint != POSTERN_BUILD_FINGERPRINT) {
    return fmt::format("{}: plugin '{}' was built with a different toolchain ({}): rebuild it with the "
                       "compiler, libraries and sanitizer flags of this postern",
                       shown, name, describe_fingerprint_difference(fingerprint, POSTERN_BUILD_FINGERPRINT));
  }
  if (name.empty()) return fmt::format("{}: plugin descriptor has no name", shown);
  if (d->kind != POSTERN_KIND_PROTOCOL && d->kind != POSTERN_KIND_MAPPING) {
    return fmt::format("{}: plugin '{}' has unknown kind {} (expected 1 = protocol or 2 = mapping source)",
                       shown, name, d->kind);
  }
  loaded->name = name;
  loaded->version = d->version != nullptr ? d->version : "";
  loaded->kind = static_cast<postern_plugin_kind>(d->kind);
  loaded->claims = to_strings(d->claims);
  loaded->tables = to_strings(d->config_tables);
  for (const auto& other : plugins_) {
    if (other->name == loaded->name) {
      return fmt::format("{}: plugin name '{}' is already taken by {}", shown, name, other->file);
    }
    for (const std::string& claim : loaded->claims) {
      if (other->kind == loaded->kind && std::ranges::count(other->claims, claim) > 0) {
        return fmt::format("{}: plugin '{}' claims {} '{}', already claimed by plugin '{}' ({})", shown, name,
                           kind_name(loaded->kind), claim, other->name, other->file);
      }
    }
    for (const std::string& table : loaded->tables) {
      if (std::ranges::count(other->tables, table) > 0) {
        return fmt::format("{}: plugin '{}' claims table [{}], already claimed by plugin '{}' ({})", shown,
                           name, table, other->name, other->file);
      }
    }
  }

  loaded->host = hosts_.make_host(loaded->name);
  const postern_host host{sizeof(postern_host), POSTERN_ABI_MAJOR, POSTERN_ABI_MINOR, loaded->host.get()};
  char error[512] = {};
  void* object = nullptr;
  try {
    object = d->create(&host, error, sizeof error);
  } catch (const std::exception& e) {
    // A hand-written factory may still throw; it must not take postern down.
    std::snprintf(error, sizeof error, "%s", e.what());
  } catch (...) {
    std::snprintf(error, sizeof error, "unknown exception");
  }
  if (object == nullptr) {
    error[sizeof error - 1] = '\0';
    return fmt::format("{}: plugin '{}' failed to initialise: {}", shown, name,
                       error[0] != '\0' ? error : "its factory returned nothing");
  }
  if (loaded->kind == POSTERN_KIND_PROTOCOL) {
    loaded->protocol.reset(static_cast<sdk::ProtocolPlugin*>(object));
  } else {
    loaded->mapping.reset(static_cast<sdk::MappingPlugin*>(object));
  }
  plugins_.push_back(std::move(loaded));
  return {};
}

std::vector<std::string> PluginRegistry::load_directory(const std::filesystem::path& directory) {
  std::vector<std::string> errors;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    const std::string filename = entry.path().filename().string();
    if (filename.starts_with(plugin_prefix) && filename.ends_with(plugin_suffix)) files.push_back(entry.path());
  }
  if (ec) {
    errors.push_back(fmt::format("{}: cannot read the plugin directory: {}", directory.string(), ec.message()));
    return errors;
  }
  std::ranges::sort(files);
  for (const auto& file : files) {
    if (std::string error = load_file(file); !error.empty()) errors.push_back(std::move(error));
  }
  return errors;
}

const LoadedPlugin* PluginRegistry::claimant(postern_plugin_kind kind, std::string_view claim) const {
  for (const auto& plugin : plugins_) {
    if (plugin->kind == kind && std::ranges::count(plugin->claims, claim) > 0) return plugin.get();
  }
  return nullptr;
}

sdk::ProtocolPlugin* PluginRegistry::protocol_plugin(std::string_view protocol) const {
  const LoadedPlugin* p = claimant(POSTERN_KIND_PROTOCOL, protocol);
  return p != nullptr ? p->protocol.get() : nullptr;
}

sdk::MappingPlugin* PluginRegistry::mapping_plugin(std::string_view source) const {
  const LoadedPlugin* p = claimant(POSTERN_KIND_MAPPING, source);
  return p != nullptr ? p->mapping.get() : nullptr;
}

std::optional<std::string> PluginRegistry::table_owner(std::string_view table) const {
  for (const auto& plugin : plugins_) {
    if (std::ranges::count(plugin->tables, table) > 0) return plugin->tag();
  }
  return std::nullopt;
}

}  // namespace postern::kernel
