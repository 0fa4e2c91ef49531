// What configuration loading needs to know about the loaded plugins: who
// serves a protocol or a mapping source, and who claims a config table.
// Implemented by the plugin registry and by in-process fakes in tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <postern/sdk/mapping.hpp>
#include <postern/sdk/protocol.hpp>

namespace postern::kernel {

class PluginCatalog {
 public:
  virtual ~PluginCatalog() = default;
  virtual sdk::ProtocolPlugin* protocol_plugin(std::string_view protocol) const = 0;
  virtual sdk::MappingPlugin* mapping_plugin(std::string_view source) const = 0;
  // The tag of the plugin claiming a dotted table ("imap 0.1.0"), if any.
  virtual std::optional<std::string> table_owner(std::string_view table) const = 0;
};

// The plugin a deployment would need for a protocol, a mapping source or a
// plugin-owned table nobody claims, for actionable error messages.
std::string plugin_needed_for_protocol(std::string_view protocol);
std::string plugin_needed_for_source(std::string_view source);

}  // namespace postern::kernel
