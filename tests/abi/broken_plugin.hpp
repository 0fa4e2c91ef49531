// Building blocks for deliberately broken plugins: each test plugin writes its
// descriptor by hand, changing exactly one field, to prove the kernel refuses
// it with the message that names that field.
#pragma once

#include <postern/sdk/mapping.hpp>
#include <postern/sdk/plugin.hpp>

namespace postern::abi_test {

// A well-formed mapping plugin that the broken descriptors point at.
class NullMappingPlugin final : public sdk::MappingPlugin {
 public:
  explicit NullMappingPlugin(sdk::Host&) {}
  std::unique_ptr<sdk::MappingSource> configure(std::string_view, sdk::ConfigTable&,
                                                const sdk::MappingContext&) override {
    return nullptr;
  }
};

inline const char* const test_claims[] = {"abi-test", nullptr};
inline const char* const no_tables[] = {nullptr};

inline postern_plugin_descriptor valid_descriptor(const char* name) {
  return {POSTERN_PLUGIN_MAGIC,
          sizeof(postern_plugin_descriptor),
          POSTERN_ABI_MAJOR,
          POSTERN_ABI_MINOR,
          POSTERN_BUILD_FINGERPRINT,
          name,
          "0.0.1",
          POSTERN_KIND_MAPPING,
          test_claims,
          no_tables,
          &sdk::detail::create_plugin<NullMappingPlugin, sdk::MappingPlugin>};
}

}  // namespace postern::abi_test

// Exports a descriptor made by `expression` (a postern_plugin_descriptor).
#define POSTERN_TEST_DESCRIPTOR(expression)                                                 \
  extern "C" __attribute__((visibility("default"))) const postern_plugin_descriptor*       \
  postern_plugin_entry(void) {                                                              \
    static const postern_plugin_descriptor descriptor = (expression);                      \
    return &descriptor;                                                                     \
  }
