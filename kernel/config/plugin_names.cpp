// Plugin names for actionable "it needs the plugin ..." messages
// (declared in plugin/catalog.hpp).
#include "plugin/catalog.hpp"

namespace postern::kernel {

std::string plugin_needed_for_protocol(std::string_view protocol) {
  // One plugin speaks the three SMTP flavours (submission, pass-through SMTP
  // and LMTP); every other protocol has a plugin of its own name.
  if (protocol == "submission" || protocol == "smtp" || protocol == "lmtp") return "smtp";
  return std::string(protocol);
}

std::string plugin_needed_for_source(std::string_view source) {
  return "mapping-" + std::string(source);
}

}  // namespace postern::kernel
