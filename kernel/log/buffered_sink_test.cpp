#include "log/buffered_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/logger.h>

namespace postern::kernel {
namespace {

using namespace std::chrono_literals;

class Pipe {
 public:
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    close_read();
    ::close(write_end);
  }
  void close_read() {
    if (read_end >= 0) ::close(read_end);
    read_end = -1;
  }
  // Everything readable within `wait`, or less if the wait runs out.
  std::string read_for(std::chrono::milliseconds wait) {
    std::string text;
    pollfd ready{read_end, POLLIN, 0};
    while (::poll(&ready, 1, static_cast<int>(wait.count())) == 1) {
      char chunk[4096];
      const ssize_t n = ::read(read_end, chunk, sizeof chunk);
      if (n <= 0) break;
      text.append(chunk, static_cast<std::size_t>(n));
      wait = 0ms;  // after the first bytes, take only what is already there
    }
    return text;
  }
  // Reads until `pattern` matches what was read, for at most ten seconds.
  std::string read_until(const std::regex& pattern) {
    std::string text;
    for (int round = 0; round < 100 && !std::regex_search(text, pattern); ++round) text += read_for(100ms);
    return text;
  }

  int read_end = -1;
  int write_end = -1;
};

std::shared_ptr<BufferedFdSink> make_sink(int fd, BufferedFdSink::Limits limits) {
  auto sink = std::make_shared<BufferedFdSink>(fd, limits);
  sink->set_pattern("%l %v");
  return sink;
}

// A logger whose sink writes into a pipe the test reads.
struct PipeLogger {
  explicit PipeLogger(BufferedFdSink::Limits limits)
      : sink(make_sink(pipe.write_end, limits)), logger("test", sink) {}
  Pipe pipe;
  std::shared_ptr<BufferedFdSink> sink;
  spdlog::logger logger;
};

TEST(BufferedSinkTest, QuietLinesWaitAndFlushWritesThemInOrder) {
  PipeLogger out({.gather = 1h});
  auto& [pipe, sink, logger] = out;
  logger.info("first");
  logger.info("second");
  logger.debug("third");  // below the logger's level: never formatted
  logger.info("fourth");
  EXPECT_EQ(pipe.read_for(200ms), "");
  logger.flush();
  EXPECT_EQ(pipe.read_for(0ms), "info first\ninfo second\ninfo fourth\n");
}

TEST(BufferedSinkTest, AWarningIsWrittenWithoutWaitingForTheGatherWindow) {
  PipeLogger out({.gather = 1h});
  auto& [pipe, sink, logger] = out;
  logger.info("context");
  logger.warn("backend down");
  EXPECT_EQ(pipe.read_until(std::regex("down\n")), "info context\nwarning backend down\n");
}

TEST(BufferedSinkTest, QuietLinesAreWrittenAfterTheGatherWindow) {
  PipeLogger out({.gather = 10ms});
  auto& [pipe, sink, logger] = out;
  logger.info("session closed");
  EXPECT_EQ(pipe.read_until(std::regex("closed\n")), "info session closed\n");
  logger.info("again");
  EXPECT_EQ(pipe.read_until(std::regex("again\n")), "info again\n");
}

TEST(BufferedSinkTest, WriteThroughWritesEachLineBeforeTheCallReturns) {
  PipeLogger out({.gather = 1h});
  auto& [pipe, sink, logger] = out;
  logger.info("buffered");
  sink->set_write_through(true);
  logger.info("now");
  EXPECT_EQ(pipe.read_for(0ms), "info buffered\ninfo now\n");
}

TEST(BufferedSinkTest, StuckOutputNeverBlocksTheCallerAndCountsWhatItDrops) {
  std::signal(SIGPIPE, SIG_IGN);
  Pipe pipe;
  ::fcntl(pipe.write_end, F_SETPIPE_SZ, 4096);
  {
    auto sink = make_sink(pipe.write_end, {.gather = 0ms, .max_pending = 2048});
    spdlog::logger logger("test", sink);
    const std::string filler(90, 'x');
    constexpr int lines = 2000;
    // Nobody reads: the pipe fills, then the buffer; the loop still ends.
    for (int i = 0; i < lines; ++i) logger.info("{} {}", i, filler);
    const std::string text = pipe.read_until(std::regex("(\\d+) log lines? dropped"));
    std::smatch notice;
    ASSERT_TRUE(std::regex_search(text, notice, std::regex("(\\d+) log lines? dropped"))) << text.size();
    const int dropped = std::stoi(notice[1]);
    EXPECT_GT(dropped, 0);
    int written = 0;
    for (std::size_t at = text.find("info "); at != std::string::npos; at = text.find("info ", at + 1)) ++written;
    EXPECT_LE(written + dropped, lines);
    EXPECT_GT(written, 0);
    // What is still waiting fails with EPIPE once nobody can read: the
    // writer thread ends instead of blocking the sink's destruction.
    pipe.close_read();
  }
}

}  // namespace
}  // namespace postern::kernel
