#include <stdexcept>

#include "broken_plugin.hpp"

namespace {

class ThrowingPlugin final : public postern::sdk::MappingPlugin {
 public:
  explicit ThrowingPlugin(postern::sdk::Host&) { throw std::runtime_error("cannot reach the directory server"); }
  std::unique_ptr<postern::sdk::MappingSource> configure(std::string_view, postern::sdk::ConfigTable&,
                                                         const postern::sdk::MappingContext&) override {
    return nullptr;
  }
};

}  // namespace

POSTERN_DECLARE_PLUGIN(POSTERN_KIND_MAPPING, "abi-throwing", "0.0.1", ("abi-throwing"), (nullptr), ThrowingPlugin)
