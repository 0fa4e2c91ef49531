// The plugin file: declares "mapping-file", which serves `source = "file"`
// from the table [mapping.file].
#include <postern/sdk/mapping.hpp>
#include <postern/sdk/plugin.hpp>

#include <exception>
#include <string>

#include "file_source.hpp"

namespace postern::mapping_file {
namespace {

class FilePlugin final : public sdk::MappingPlugin {
 public:
  // The file source needs no host service: it answers from memory.
  explicit FilePlugin(sdk::Host& /*host*/) {}

  std::unique_ptr<sdk::MappingSource> configure(std::string_view source, sdk::ConfigTable& table,
                                                const sdk::MappingContext& context) override {
    if (source != "file") {
      table.error("", "mapping-file serves source \"file\", not \"" + std::string(source) + "\"");
      return nullptr;
    }
    try {
      return configure_file_source(table, context);
    } catch (const std::exception& e) {
      // Exceptions (in practice std::bad_alloc) must not cross into the kernel.
      table.error("path", std::string("cannot load the mapping file: ") + e.what());
      return nullptr;
    }
  }
};

}  // namespace
}  // namespace postern::mapping_file

POSTERN_DECLARE_PLUGIN(POSTERN_KIND_MAPPING, "mapping-file", "1.0.0", ("file"), ("mapping.file"),
                       postern::mapping_file::FilePlugin)
