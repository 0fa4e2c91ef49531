// postern-loadgen: drives an IMAP server (Postern or the backend directly)
// with one workload and prints the figures of the run as one JSON line. See
// bench/README.md for the workloads and what each figure means.
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "options.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace postern::bench {
namespace {

// Every connection is a descriptor; the soft limit is raised as far as the
// hard limit allows.
void raise_descriptor_limit(std::size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    std::fprintf(stderr, "postern-loadgen: warning: descriptor limit %llu is below the %zu this run needs\n",
                 static_cast<unsigned long long>(limit.rlim_cur), needed);
  }
}

std::optional<tcp::endpoint> resolve(asio::io_context& io, const Options& options) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (!ec) return tcp::endpoint(address, options.port);
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint();
}

int run(int argc, char** argv) {
  const ParsedOptions parsed = parse_options(std::span<char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  if (parsed.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.options) {
    std::fprintf(stderr, "postern-loadgen: %s\n%s", parsed.error.c_str(), usage().c_str());
    return 2;
  }
  const Options& options = *parsed.options;
  ParsedUsers users = read_users(options.users_file);
  if (!users.error.empty()) {
    std::fprintf(stderr, "postern-loadgen: %s\n", users.error.c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const std::size_t sessions = options.workload == Workload::imap_idle ? options.idle_sessions : options.concurrency;
  raise_descriptor_limit(sessions + 64);

  // One thread: the generator must leave the cores to the servers it measures.
  asio::io_context io(1);
  const auto endpoint = resolve(io, options);
  if (!endpoint) {
    std::fprintf(stderr, "postern-loadgen: cannot resolve %s\n", options.host.c_str());
    return 2;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  // A benchmark of the proxy, not of certificate handling: the server is not
  // verified. No session cache, so every implicit-TLS session is a full
  // handshake; idle connections give their TLS buffers back.
  tls.set_verify_mode(asio::ssl::verify_none);
  ::SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_OFF);
  ::SSL_CTX_set_mode(tls.native_handle(), SSL_MODE_RELEASE_BUFFERS);

  Runner runner(io, tls, options, std::move(users.users), *endpoint);
  std::string failure;
  asio::co_spawn(io, runner.run(), [&failure](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  io.run();
  if (!failure.empty()) {
    std::fprintf(stderr, "postern-loadgen: run failed: %s\n", failure.c_str());
    return 1;
  }
  const RunResult& result = runner.result();
  for (const auto& [message, count] : result.error_counts) {
    std::fprintf(stderr, "postern-loadgen: %llu x %s\n", static_cast<unsigned long long>(count), message.c_str());
  }
  std::printf("%s\n", render(options, result).c_str());
  return 0;
}

}  // namespace
}  // namespace postern::bench

int main(int argc, char** argv) { return postern::bench::run(argc, argv); }
