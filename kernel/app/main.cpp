// postern [--check] [CONFIG]
//
// Exit status: 0 after a clean shutdown (or a valid --check), 1 for an
// invalid configuration or a fatal startup error, 2 for a usage error.
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "app/context.hpp"
#include "app/host.hpp"
#include "app/server.hpp"
#include "config/load.hpp"
#include "log/logging.hpp"
#include "log/worker_pool.hpp"
#include "plugin/registry.hpp"

namespace {

using namespace postern::kernel;

constexpr std::string_view usage = "usage: postern [--check] <config.toml>  (or set PROXY_CONFIG)";
// Blocking mapping lookups (LDAP, SQL) run here, never on an event loop.
constexpr unsigned blocking_workers = 4;

int fail(std::string_view message) {
  std::cerr << "postern: error: " << message << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--check") {
      check_only = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage << '\n';
      return 0;
    } else if (arg.starts_with("-") || !path.empty()) {
      std::cerr << usage << '\n';
      return 2;
    } else {
      path = arg;
    }
  }
  if (path.empty()) {
    if (const char* env = std::getenv("PROXY_CONFIG"); env != nullptr && *env != '\0') path = env;
  }
  if (path.empty()) {
    std::cerr << usage << '\n';
    return 2;
  }
  // Writes to a peer that went away must fail with EPIPE, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Every bridged session holds two sockets: allow as many descriptors as the
  // hard limit permits (the soft default of 1024 caps a proxy at ~500 sessions).
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  WorkerPool blocking_pool(blocking_workers);
  KernelHostFactory hosts(blocking_pool);
  PluginRegistry plugins(hosts);
  const std::string plugin_dir = resolve_plugin_dir(path);
  const std::vector<std::string> refused = plugins.load_directory(plugin_dir);
  for (const std::string& message : refused) std::cerr << "postern: error: " << message << '\n';
  if (!refused.empty()) return 1;

  const LoadResult loaded = load_config(path, plugins);
  for (const Diagnostic& diagnostic : loaded.diagnostics.sorted()) std::cerr << diagnostic.format() << '\n';
  if (!loaded.config) {
    std::size_t errors = 0;
    for (const Diagnostic& d : loaded.diagnostics.items()) errors += d.severity == Severity::error ? 1 : 0;
    std::cerr << fmt::format("invalid configuration: {} error{}", errors, errors == 1 ? "" : "s") << '\n';
    return 1;
  }

  // The log filter is part of the configuration: --check must refuse a bad one.
  const char* rust_log = std::getenv("RUST_LOG");
  const std::string_view filter_text = effective_filter_text(rust_log, loaded.config->server.log_level);
  const LogFilterParse filter = parse_log_filter(filter_text);
  if (!filter.filter) {
    const bool from_environment = rust_log != nullptr && filter_text == rust_log;
    return fail(fmt::format("{}: {}", from_environment ? "RUST_LOG" : "server.log_level", filter.error));
  }

  std::vector<std::string> errors;
  const std::shared_ptr<Context> context = Context::build(loaded.config, errors);
  for (const std::string& message : errors) std::cerr << "postern: error: " << message << '\n';
  if (!context) return 1;
  if (check_only) {
    std::cout << path << ": configuration ok (" << plugins.plugins().size() << " plugins from " << plugin_dir
              << ")\n";
    return 0;
  }

  init_logging(*filter.filter);
  for (const std::string& warning : context->warnings) log::kernel().warn("{}", warning);
  for (const auto& [id, destination] : loaded.config->destinations) {
    if (destination.tls_allow_invalid_certs) {
      log::kernel().warn("destination {}: tls_allow_invalid_certs is set: backend certificates are not verified",
                         id);
    }
  }
  for (const auto& plugin : plugins.plugins()) {
    log::kernel().debug("plugin {} {} loaded from {}", plugin->name, plugin->version, plugin->file);
  }

  Server server(context, loaded.config->server.threads, blocking_pool);
  const std::vector<std::string> bind_errors = server.bind();
  for (const std::string& message : bind_errors) log::kernel().error("{}", message);
  if (!bind_errors.empty()) {
    log::kernel().error("cannot listen on every configured address; exiting");
    return 1;
  }
  const int status = server.run();
  // Blocking mapping jobs point at their source: stop them before the
  // configuration (and its source) is released.
  blocking_pool.shutdown();
  return status;
}
