// In-process stand-ins for the real plugins, so that the golden tests pin
// the kernel's messages and delegation without depending on plugin code.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <postern/sdk/mapping.hpp>
#include <postern/sdk/protocol.hpp>

#include "plugin/catalog.hpp"

namespace postern::kernel::testing {

class FakeHandler final : public sdk::ProtocolHandler {
 public:
  explicit FakeHandler(std::string text) : banner(std::move(text)) {}
  sdk::Task<void> serve(sdk::Session&) override { co_return; }
  std::string banner;
};

// "imap 0.1.0": reads `banner` and `sasl` of [capabilities.imap].
class FakeImapPlugin final : public sdk::ProtocolPlugin {
 public:
  sdk::ProtocolTraits traits(std::string_view) const override { return {}; }
  std::unique_ptr<sdk::ProtocolHandler> configure(std::string_view protocol,
                                                  sdk::ConfigTable& capabilities) override {
    configured.emplace_back(protocol);
    const auto banner = capabilities.get_string("banner");
    bool ok = true;
    if (const auto sasl = capabilities.get_string_list("sasl")) {
      for (const std::string& mechanism : *sasl) {
        if (mechanism != "PLAIN" && mechanism != "LOGIN" && mechanism != "OAUTHBEARER" && mechanism != "XOAUTH2") {
          capabilities.error("sasl", "unknown mechanism '" + mechanism + "'");
          ok = false;
        }
      }
    }
    if (!ok) return nullptr;
    return std::make_unique<FakeHandler>(banner.value_or("default banner"));
  }
  std::vector<std::string> configured;
};

// A protocol plugin that claims no table ("smtp 0.1.0" serving submission,
// smtp and lmtp; "http 0.1.0"); its handlers carry the plugin's name.
class FakeTablelessPlugin final : public sdk::ProtocolPlugin {
 public:
  explicit FakeTablelessPlugin(std::string plugin) : name(std::move(plugin)) {}
  sdk::ProtocolTraits traits(std::string_view) const override { return {}; }
  std::unique_ptr<sdk::ProtocolHandler> configure(std::string_view, sdk::ConfigTable&) override {
    return std::make_unique<FakeHandler>(name);
  }
  std::string name;
};

class FakeSource final : public sdk::MappingSource {
 public:
  explicit FakeSource(std::string file) : path(std::move(file)) {}
  void lookup(std::string_view, sdk::LookupCallback done) override { done(sdk::LookupResult::not_found()); }
  std::string describe() const override { return "file " + path; }
  std::string path;
};

// "mapping-file 0.1.0": reads `path` (required) of [mapping.file], plus
// `destinations`, a list it checks through the kernel's MappingContext the
// way the real plugin checks the destinations of its file.
class FakeFilePlugin final : public sdk::MappingPlugin {
 public:
  std::unique_ptr<sdk::MappingSource> configure(std::string_view, sdk::ConfigTable& table,
                                                const sdk::MappingContext& kernel) override {
    context = kernel;
    const auto path = table.get_string("path");
    if (!path) {
      if (!table.has("path")) table.error("path", "required key is missing");
      return nullptr;
    }
    bool ok = true;
    for (const std::string& destination : table.get_string_list("destinations").value_or(std::vector<std::string>{})) {
      if (const auto problem = kernel.check_destination(destination)) {
        table.error("destinations", *problem);
        ok = false;
      }
    }
    if (!ok) return nullptr;
    return std::make_unique<FakeSource>(*path);
  }
  std::optional<sdk::MappingContext> context;
};

class FakeCatalog final : public PluginCatalog {
 public:
  sdk::ProtocolPlugin* protocol_plugin(std::string_view protocol) const override {
    if (protocol == "imap") return &imap;
    if (with_smtp && (protocol == "submission" || protocol == "smtp" || protocol == "lmtp")) return &smtp;
    if (with_http && protocol == "http") return &http;
    return nullptr;
  }
  sdk::MappingPlugin* mapping_plugin(std::string_view source) const override {
    return source == "file" ? &file : nullptr;
  }
  std::optional<std::string> table_owner(std::string_view table) const override {
    if (table == "capabilities.imap") return "imap 0.1.0";
    if (table == "mapping.file") return "mapping-file 0.1.0";
    return std::nullopt;
  }

  bool with_smtp = true;
  bool with_http = false;
  mutable FakeImapPlugin imap;
  mutable FakeTablelessPlugin smtp{"smtp"};
  mutable FakeTablelessPlugin http{"http"};
  mutable FakeFilePlugin file;
};

// A valid configuration (lines 1-18) that test cases extend or change.
inline constexpr std::string_view minimal_config = R"([listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[destination.old]
host = "old.example"
allow_plaintext_auth = true
protocol.imap = { port = 143, tls = "plain" }

[routing]
default_destination = "old"

[mapping]
source = "file"

[mapping.file]
path = "mappings.tsv"
)";

}  // namespace postern::kernel::testing
