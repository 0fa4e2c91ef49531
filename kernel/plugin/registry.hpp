// Loads plugin files with Boost.DLL, checks their descriptors, creates the
// plugin objects and keeps everything loaded until the process ends (plugins
// are never unloaded: coroutine frames and v-tables point into their code).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include <postern/sdk/abi.h>
#include <postern/sdk/host.hpp>

#include "plugin/catalog.hpp"

namespace postern::kernel {

// Per-plugin services (the logger is named after the plugin).
class PluginHostFactory {
 public:
  virtual ~PluginHostFactory() = default;
  virtual std::unique_ptr<sdk::Host> make_host(const std::string& plugin_name) = 0;
};

struct LoadedPlugin {
  boost::dll::shared_library library;  // declared first: destroyed last
  std::unique_ptr<sdk::Host> host;
  std::string file;
  std::string name;
  std::string version;
  postern_plugin_kind kind = POSTERN_KIND_PROTOCOL;
  std::vector<std::string> claims;
  std::vector<std::string> tables;
  std::unique_ptr<sdk::ProtocolPlugin> protocol;
  std::unique_ptr<sdk::MappingPlugin> mapping;

  std::string tag() const { return name + " " + version; }
};

class PluginRegistry final : public PluginCatalog {
 public:
  explicit PluginRegistry(PluginHostFactory& hosts) : hosts_(hosts) {}
  ~PluginRegistry() override;

  // Loads one plugin file. Returns the refusal message, empty on success.
  std::string load_file(const std::filesystem::path& file);
  // Loads every libpostern-*.so of `directory` in name order. Returns every
  // refusal message (a missing directory is one message).
  std::vector<std::string> load_directory(const std::filesystem::path& directory);

  const std::vector<std::unique_ptr<LoadedPlugin>>& plugins() const noexcept { return plugins_; }

  sdk::ProtocolPlugin* protocol_plugin(std::string_view protocol) const override;
  sdk::MappingPlugin* mapping_plugin(std::string_view source) const override;
  std::optional<std::string> table_owner(std::string_view table) const override;

 private:
  const LoadedPlugin* claimant(postern_plugin_kind kind, std::string_view claim) const;

  PluginHostFactory& hosts_;
  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
};

// The ';'-separated fields of two fingerprints that differ, as
// "compiler=gcc-11 (postern: gcc-12)"; used in refusal messages.
std::string describe_fingerprint_difference(std::string_view plugin, std::string_view kernel);

}  // namespace postern::kernel
