#include "app/directory.hpp"

#include <gtest/gtest.h>

namespace postern::kernel {
namespace {

using namespace std::chrono_literals;

TEST(SessionDirectory, KickClosesEverySessionOfTheIdentifierOnly) {
  SessionDirectory directory;
  int closed_alice = 0;
  int closed_bob = 0;
  directory.add("alice", 1, [&] { ++closed_alice; });
  directory.add("alice", 2, [&] { ++closed_alice; });
  directory.add("bob", 3, [&] { ++closed_bob; });
  EXPECT_EQ(directory.kick("alice"), 2u);
  EXPECT_EQ(closed_alice, 2);
  EXPECT_EQ(closed_bob, 0);
  EXPECT_EQ(directory.kick("nobody"), 0u);
}

TEST(SessionDirectory, RemovedSessionsAreNotKicked) {
  SessionDirectory directory;
  int closed = 0;
  directory.add("alice", 1, [&] { ++closed; });
  directory.remove("alice", 1);
  EXPECT_EQ(directory.kick("alice"), 0u);
  EXPECT_EQ(closed, 0);
  EXPECT_EQ(directory.sessions("alice"), 0u);
}

TEST(SessionDirectory, ACloserMayRemoveItsSession) {
  SessionDirectory directory;
  directory.add("alice", 1, [&] { directory.remove("alice", 1); });
  EXPECT_EQ(directory.kick("alice"), 1u);
  EXPECT_EQ(directory.sessions("alice"), 0u);
}

TEST(SessionDirectory, DelayHoldsLoginsUntilItExpires) {
  SessionDirectory directory;
  const SessionDirectory::Clock::time_point now{};
  directory.delay("alice", 10s, now);
  EXPECT_EQ(directory.hold_remaining("alice", now + 4s), 6s);
  EXPECT_EQ(directory.hold_remaining("bob", now), 0s);
  EXPECT_EQ(directory.hold_remaining("alice", now + 10s), 0s);
}

TEST(SessionDirectory, ZeroDelayClearsTheHold) {
  SessionDirectory directory;
  const SessionDirectory::Clock::time_point now{};
  directory.delay("alice", 10s, now);
  directory.delay("alice", 0s, now);
  EXPECT_EQ(directory.hold_remaining("alice", now), 0s);
}

}  // namespace
}  // namespace postern::kernel
