// Declaring a plugin. A plugin file exports exactly one C symbol,
// postern_plugin_entry, returning its descriptor; POSTERN_DECLARE_PLUGIN
// writes it. The factory class is constructed with the kernel's Host and must
// derive from ProtocolPlugin (protocol kind) or MappingPlugin (mapping kind).
//
//   POSTERN_DECLARE_PLUGIN(POSTERN_KIND_MAPPING, "mapping-static", "1.0.0",
//                          (("static")), (("mapping.static")), StaticPlugin)
#pragma once

#include <cstdio>
#include <exception>
#include <new>
#include <type_traits>

#include <postern/sdk/abi.h>
#include <postern/sdk/fingerprint.hpp>
#include <postern/sdk/host.hpp>

namespace postern::sdk {
class ProtocolPlugin;
class MappingPlugin;
}  // namespace postern::sdk

namespace postern::sdk::detail {

inline void write_error(char* buffer, size_t size, const char* text) noexcept {
  if (buffer != nullptr && size > 0) std::snprintf(buffer, size, "%s", text);
}

// Exceptions never cross the boundary: they become an error string.
template <class Factory, class Interface>
void* create_plugin(const postern_host* host, char* error, size_t error_size) noexcept {
  if (host == nullptr || host->services == nullptr) {
    write_error(error, error_size, "no host services");
    return nullptr;
  }
  try {
    Interface* plugin = new Factory(*static_cast<Host*>(host->services));
    return plugin;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
  } catch (...) {
    write_error(error, error_size, "unknown exception");
  }
  return nullptr;
}

}  // namespace postern::sdk::detail

#define POSTERN_UNPAREN(...) __VA_ARGS__

// kind: POSTERN_KIND_PROTOCOL or POSTERN_KIND_MAPPING; claims and tables are
// parenthesised, comma-separated string lists.
#define POSTERN_DECLARE_PLUGIN(kind, plugin_name, plugin_version, claim_list, table_list,   \
                               Factory)                                                     \
  namespace {                                                                               \
  const char* const postern_plugin_claims[] = {POSTERN_UNPAREN claim_list, nullptr};        \
  const char* const postern_plugin_tables[] = {POSTERN_UNPAREN table_list, nullptr};        \
  }                                                                                         \
  extern "C" __attribute__((visibility("default"))) const postern_plugin_descriptor*       \
  postern_plugin_entry(void) {                                                              \
    using Interface = std::conditional_t<(kind) == POSTERN_KIND_PROTOCOL,                   \
                                         ::postern::sdk::ProtocolPlugin,                    \
                                         ::postern::sdk::MappingPlugin>;                    \
    static const postern_plugin_descriptor descriptor = {                                   \
        POSTERN_PLUGIN_MAGIC,                                                               \
        sizeof(postern_plugin_descriptor),                                                  \
        POSTERN_ABI_MAJOR,                                                                  \
        POSTERN_ABI_MINOR,                                                                  \
        POSTERN_BUILD_FINGERPRINT,                                                          \
        plugin_name,                                                                        \
        plugin_version,                                                                     \
        static_cast<uint32_t>(kind),                                                        \
        postern_plugin_claims,                                                              \
        postern_plugin_tables,                                                              \
        &::postern::sdk::detail::create_plugin<Factory, Interface>};                        \
    return &descriptor;                                                                     \
  }
