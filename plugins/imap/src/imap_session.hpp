// The IMAP protocol handler: one coroutine per client connection, from the
// greeting through the pre-authentication dialogue, the backend login and
// the hand-off to the kernel's bridge.
#pragma once

#include <utility>

#include <postern/sdk/protocol.hpp>

#include "imap_config.hpp"

namespace postern::imap {

class ImapHandler final : public sdk::ProtocolHandler {
 public:
  explicit ImapHandler(ImapConfigPtr config) : config_(std::move(config)) {}

  // postern::sdk::ProtocolHandler
  sdk::Task<void> serve(sdk::Session& session) override;

 private:
  ImapConfigPtr config_;
};

}  // namespace postern::imap
