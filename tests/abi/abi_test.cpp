// The kernel refuses each deliberately broken plugin with its own message, and
// a coroutine started by a plugin runs on the kernel's executor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "plugin/registry.hpp"

namespace postern::kernel {
namespace {

using ::testing::HasSubstr;

class CapturingLogger final : public sdk::Logger {
 public:
  bool enabled(sdk::LogLevel) const noexcept override { return true; }
  void log(sdk::LogLevel, std::string_view message) noexcept override { lines.emplace_back(message); }
  std::vector<std::string> lines;
};

class InlineHost final : public sdk::Host {
 public:
  sdk::Logger& logger() noexcept override { return logger_; }
  void run_blocking(std::function<void()> job) override { job(); }

 private:
  CapturingLogger logger_;
};

class InlineHosts final : public PluginHostFactory {
 public:
  std::unique_ptr<sdk::Host> make_host(const std::string&) override { return std::make_unique<InlineHost>(); }
};

struct AbiTest : ::testing::Test {
  InlineHosts hosts;
  PluginRegistry registry{hosts};
};

TEST_F(AbiTest, RefusesAFileThatIsNotALibrary) {
  const std::string error = registry.load_file(POSTERN_ABI_NOT_A_LIBRARY);
  EXPECT_THAT(error, HasSubstr("not a Postern plugin: cannot load it"));
}

TEST_F(AbiTest, RefusesALibraryWithoutEntryPoint) {
  const std::string error = registry.load_file(POSTERN_ABI_NO_ENTRY);
  EXPECT_THAT(error, HasSubstr("not a Postern plugin: it has no 'postern_plugin_entry' entry point"));
}

TEST_F(AbiTest, RefusesBadMagic) {
  EXPECT_THAT(registry.load_file(POSTERN_ABI_BAD_MAGIC),
              HasSubstr("not a Postern plugin: bad magic number 0xdeadbeef (expected 0x31545350)"));
}

TEST_F(AbiTest, RefusesOtherMajorVersion) {
  EXPECT_THAT(registry.load_file(POSTERN_ABI_WRONG_MAJOR),
              HasSubstr(fmt::format("plugin 'wrong-major' was built for SDK ABI {}.{}, this postern provides ABI "
                                    "{}.{} (major versions differ)",
                                    POSTERN_ABI_MAJOR + 1, POSTERN_ABI_MINOR, POSTERN_ABI_MAJOR,
                                    POSTERN_ABI_MINOR)));
}

TEST_F(AbiTest, RefusesNewerMinorVersion) {
  EXPECT_THAT(registry.load_file(POSTERN_ABI_NEWER_MINOR),
              HasSubstr(fmt::format("plugin 'newer-minor' needs SDK ABI {}.{}, newer than this postern's {}.{}",
                                    POSTERN_ABI_MAJOR, POSTERN_ABI_MINOR + 1, POSTERN_ABI_MAJOR,
                                    POSTERN_ABI_MINOR)));
}

TEST_F(AbiTest, RefusesOtherFingerprintNamingTheDifferences) {
  const std::string error = registry.load_file(POSTERN_ABI_WRONG_FINGERPRINT);
  EXPECT_THAT(error, HasSubstr("plugin 'wrong-fingerprint' was built with a different toolchain"));
  EXPECT_THAT(error, HasSubstr("compiler=gcc-11 (postern: "));
}

TEST_F(AbiTest, RefusesDuplicateName) {
  ASSERT_EQ(registry.load_file(POSTERN_ABI_VALID_NAMED), "");
  EXPECT_THAT(registry.load_file(POSTERN_ABI_DUPLICATE_NAME),
              HasSubstr("plugin name 'abi-test-plugin' is already taken by"));
}

TEST_F(AbiTest, RefusesDuplicateClaim) {
  ASSERT_EQ(registry.load_file(POSTERN_ABI_VALID_NAMED), "");
  EXPECT_THAT(registry.load_file(POSTERN_ABI_DUPLICATE_CLAIM),
              HasSubstr("plugin 'abi-test-claim-twin' claims mapping source 'abi-test', already claimed by plugin "
                        "'abi-test-plugin'"));
}

TEST_F(AbiTest, RefusesThrowingFactoryWithItsMessage) {
  EXPECT_THAT(registry.load_file(POSTERN_ABI_THROWING_FACTORY),
              HasSubstr("plugin 'abi-throwing' failed to initialise: cannot reach the directory server"));
  EXPECT_TRUE(registry.plugins().empty());
}

TEST_F(AbiTest, AcceptsAValidPluginAndFindsItsClaims) {
  ASSERT_EQ(registry.load_file(POSTERN_ABI_VALID_NAMED), "");
  EXPECT_NE(registry.mapping_plugin("abi-test"), nullptr);
  EXPECT_EQ(registry.protocol_plugin("abi-test"), nullptr);
}

// --- executor guard ---

class EmptyTable final : public sdk::ConfigTable {
 public:
  std::string_view path() const noexcept override { return "capabilities.abi-probe"; }
  bool present() const noexcept override { return false; }
  bool has(std::string_view) const override { return false; }
  std::vector<std::string> keys() const override { return {}; }
  std::optional<std::string> get_string(std::string_view) override { return std::nullopt; }
  std::optional<bool> get_bool(std::string_view) override { return std::nullopt; }
  std::optional<std::int64_t> get_integer(std::string_view, std::int64_t, std::int64_t) override {
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> get_string_list(std::string_view) override { return std::nullopt; }
  std::optional<std::chrono::milliseconds> get_duration(std::string_view) override { return std::nullopt; }
  std::unique_ptr<sdk::ConfigTable> get_table(std::string_view) override { return std::make_unique<EmptyTable>(); }
  sdk::SourcePosition position(std::string_view) const override { return {}; }
  std::string_view base_directory() const noexcept override { return "."; }
  void error(std::string_view, std::string_view) override {}
  void error_at(const sdk::SourcePosition&, std::string_view, std::string_view) override {}
  void warning(std::string_view, std::string_view) override {}
};

// Only the logger is used by the probe.
class LoggingSession final : public sdk::Session {
 public:
  const sdk::SessionInfo& info() const noexcept override { return info_; }
  sdk::Logger& log() noexcept override { return logger; }
  void set_phase(sdk::Phase) noexcept override {}
  sdk::Stream& client() noexcept override { std::abort(); }
  bool starttls_offered() const noexcept override { return false; }
  sdk::Task<sdk::Outcome> start_client_tls() override { co_return sdk::Outcome::ok(); }
  sdk::Task<sdk::Route> route(std::string_view) override { co_return sdk::Route{}; }
  sdk::Task<sdk::BackendConnection> connect_backend(std::string_view, sdk::BackendHandshake) override {
    co_return sdk::BackendConnection{};
  }
  void authenticated(std::string_view) override {}
  sdk::ForwardInfo forward_info() const override { return {}; }
  void received_ttl(unsigned) noexcept override {}
  sdk::Task<void> fail_unavailable(const sdk::Outcome&, std::string_view) override { co_return; }
  sdk::Task<void> bridge(std::unique_ptr<sdk::Backend>, std::string, std::string) override { co_return; }

  CapturingLogger logger;

 private:
  sdk::SessionInfo info_;
};

TEST_F(AbiTest, PluginCoroutineRunsOnTheKernelExecutorAndItsTimerFires) {
  ASSERT_EQ(registry.load_file(POSTERN_ABI_EXECUTOR_PROBE), "");
  sdk::ProtocolPlugin* plugin = registry.protocol_plugin("abi-probe");
  ASSERT_NE(plugin, nullptr);
  EmptyTable table;
  std::unique_ptr<sdk::ProtocolHandler> handler = plugin->configure("abi-probe", table);
  ASSERT_NE(handler, nullptr);

  boost::asio::io_context kernel_context;
  LoggingSession session;
  bool finished = false;
  boost::asio::co_spawn(kernel_context, handler->serve(session), [&](std::exception_ptr e) {
    finished = true;
    EXPECT_FALSE(e);
  });
  kernel_context.run();
  ASSERT_TRUE(finished);
  ASSERT_EQ(session.logger.lines.size(), 1u);
  EXPECT_EQ(session.logger.lines[0],
            fmt::format("timer fired=true on_kernel_thread=true context={}", static_cast<const void*>(&kernel_context)));
}

}  // namespace
}  // namespace postern::kernel
