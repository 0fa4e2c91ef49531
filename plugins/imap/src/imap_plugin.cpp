// The plugin's entry point: descriptor, factory and configuration.
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <postern/sdk/plugin.hpp>
#include <postern/sdk/protocol.hpp>

#include "imap_config.hpp"
#include "imap_session.hpp"

namespace postern::imap {
namespace {

class ImapPlugin final : public sdk::ProtocolPlugin {
 public:
  explicit ImapPlugin(sdk::Host& host) : host_(host) {}

  // postern::sdk::ProtocolPlugin
  sdk::ProtocolTraits traits(std::string_view /*protocol*/) const override {
    // LOGIN and AUTHENTICATE carry passwords and bearer tokens.
    return sdk::ProtocolTraits{.carries_credentials = true};
  }

  std::unique_ptr<sdk::ProtocolHandler> configure(std::string_view protocol,
                                                  sdk::ConfigTable& capabilities) override {
    // No exception may cross the plugin boundary: an allocation failure
    // becomes a configuration error like any other.
    try {
      if (protocol != "imap") {
        capabilities.error(
            "", "the imap plugin does not serve protocol \"" + std::string(protocol) + "\"");
        return nullptr;
      }
      std::optional<ImapSettings> settings = parse_settings(capabilities);
      if (!settings) return nullptr;
      return std::make_unique<ImapHandler>(
          std::make_shared<const ImapConfig>(std::move(*settings)));
    } catch (const std::exception& e) {
      host_.logger().error(std::string("configuring [capabilities.imap] failed: ") + e.what());
      capabilities.error("", "internal error while validating the table");
    } catch (...) {
      capabilities.error("", "internal error while validating the table");
    }
    return nullptr;
  }

 private:
  sdk::Host& host_;
};

}  // namespace
}  // namespace postern::imap

POSTERN_DECLARE_PLUGIN(POSTERN_KIND_PROTOCOL, "imap", "1.0.0", (("imap")), (("capabilities.imap")),
                       ::postern::imap::ImapPlugin)
