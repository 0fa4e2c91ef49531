// mapping-static: a complete mapping plugin in one file, written against the
// SDK headers only. It serves `source = "static"` from a list in the
// configuration itself:
//
//   [mapping]
//   source = "static"
//
//   [mapping.static]
//   entries = ["alice@example.com=new", "bob@example.com=old"]
//
// The source derives from BlockingMappingSource, the base meant for blocking
// client libraries (LDAP, SQL, ...): blocking_lookup() runs on the kernel's
// worker pool, never on a network thread. A map lookup does not need that,
// but it shows the shape such a plugin takes.
#include <postern/sdk/mapping.hpp>
#include <postern/sdk/plugin.hpp>

#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace postern::mapping_static {

class StaticSource final : public sdk::BlockingMappingSource {
 public:
  StaticSource(sdk::Host& host, std::map<std::string, std::string> entries)
      : BlockingMappingSource(host), entries_(std::move(entries)) {}

  // postern::sdk::MappingSource
  std::string describe() const override {
    return "static (" + std::to_string(entries_.size()) + " entries)";
  }

 protected:
  // Runs on a worker thread. `entries_` never changes after configure(), so
  // concurrent lookups need no lock.
  sdk::LookupResult blocking_lookup(const std::string& key) override {
    auto it = entries_.find(key);
    if (it == entries_.end()) return sdk::LookupResult::not_found();
    return sdk::LookupResult::found(it->second);
  }

 private:
  const std::map<std::string, std::string> entries_;
};

class StaticPlugin final : public sdk::MappingPlugin {
 public:
  explicit StaticPlugin(sdk::Host& host) : host_(host) {}

  // postern::sdk::MappingPlugin
  std::unique_ptr<sdk::MappingSource> configure(std::string_view source, sdk::ConfigTable& table,
                                                const sdk::MappingContext& context) override {
    // Nothing may throw into the kernel: errors are reported through `table`.
    try {
      return build(source, table, context);
    } catch (const std::exception& e) {
      table.error("entries", e.what());
      return nullptr;
    }
  }

 private:
  std::unique_ptr<sdk::MappingSource> build(std::string_view source, sdk::ConfigTable& table,
                                            const sdk::MappingContext& context) {
    if (source != "static") {
      table.error("", "mapping-static serves source \"static\" only");
      return nullptr;
    }
    // Reading a key is what declares it: any other key in [mapping.static]
    // is reported by the kernel as unknown.
    const auto entries = table.get_string_list("entries");
    if (!entries) {
      if (!table.has("entries")) table.error("entries", "missing required key");
      return nullptr;
    }
    std::map<std::string, std::string> mappings;
    bool valid = true;
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const std::string& entry = (*entries)[i];
      const std::string where = "entry " + std::to_string(i + 1) + " \"" + entry + "\": ";
      const std::size_t equals = entry.find('=');
      if (equals == std::string::npos || equals == 0 || equals + 1 == entry.size()) {
        table.error("entries", where + "expected \"identifier=destination\"");
        valid = false;
        continue;
      }
      const std::string_view identifier = std::string_view(entry).substr(0, equals);
      const std::string_view destination = std::string_view(entry).substr(equals + 1);
      // The kernel knows the declared destinations and says what is wrong
      // (including a "did you mean").
      if (auto problem = context.check_destination(destination)) {
        table.error("entries", where + *problem);
        valid = false;
        continue;
      }
      // Lookups arrive normalized (mapping.normalize); store keys the same way.
      mappings.insert_or_assign(context.normalize(identifier), std::string(destination));
    }
    if (!valid) return nullptr;
    return std::make_unique<StaticSource>(host_, std::move(mappings));
  }

  sdk::Host& host_;
};

}  // namespace postern::mapping_static

POSTERN_DECLARE_PLUGIN(POSTERN_KIND_MAPPING, "mapping-static", "1.0.0", ("static"),
                       ("mapping.static"), postern::mapping_static::StaticPlugin)
