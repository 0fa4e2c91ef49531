// Loading a configuration file: TOML parse, the kernel's own tables,
// delegation of plugin-owned tables, cross-section rules, and the unknown-key
// backstop. Every problem is collected; nothing is bound or started.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "plugin/catalog.hpp"

namespace postern::kernel {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when any error was reported
  Diagnostics diagnostics;
};

// Reads and validates `path`. The mapping source and protocol handlers are
// built through `plugins` (reading files is allowed; no network, no writes).
LoadResult load_config(const std::string& path, const PluginCatalog& plugins);
// Same, from text; `display_path` names the file in diagnostics and relative
// paths resolve against its directory.
LoadResult load_config_text(std::string_view text, const std::string& display_path,
                            const PluginCatalog& plugins);

// Durations (behavior.md 2.2): "<u64><unit>", units ms s m h d, surrounding
// whitespace allowed. Error text on failure.
struct DurationParse {
  std::optional<Duration> value;
  std::string error;
};
DurationParse parse_duration(std::string_view text);

// Where plugins are loaded from, decided before the full load (the full load
// needs the plugins): $POSTERN_PLUGIN_DIR (for tests), else [server]
// plugin_dir of the file (relative to the file), else
// <directory of the executable>/../lib/postern/plugins. A file that cannot be
// parsed yields the default; load_config() reports the parse error.
std::string resolve_plugin_dir(const std::string& config_path);

}  // namespace postern::kernel
