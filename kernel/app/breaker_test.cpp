#include "app/breaker.hpp"

#include <gtest/gtest.h>

namespace postern::kernel {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;
using Stage = CircuitBreaker::Stage;

struct BreakerTest : ::testing::Test {
  CircuitBreaker::Clock::time_point now{};
  CircuitBreaker breaker{3, 2, 30s};

  State fail(Stage stage, const std::string& client) {
    const auto admission = breaker.admit(now);
    EXPECT_TRUE(admission.allowed);
    return breaker.record_failure(admission.probe, stage, client, now);
  }
};

TEST_F(BreakerTest, ConnectFailuresOpenOnTheirOwn) {
  EXPECT_EQ(fail(Stage::connect, "198.51.100.1"), State::closed);
  EXPECT_EQ(fail(Stage::connect, "198.51.100.1"), State::closed);
  EXPECT_EQ(fail(Stage::connect, "198.51.100.1"), State::open);
  EXPECT_FALSE(breaker.admit(now).allowed);
  EXPECT_TRUE(breaker.snapshot(now).host_level_failure);
}

TEST_F(BreakerTest, LaterStageFailuresOfOneClientNeverOpen) {
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fail(Stage::after_connect, "198.51.100.1"), State::closed);
  EXPECT_TRUE(breaker.admit(now).allowed);
  EXPECT_EQ(breaker.snapshot(now).failure_sources, 1u);
  EXPECT_FALSE(breaker.snapshot(now).host_level_failure);
}

TEST_F(BreakerTest, LaterStageFailuresAcrossClientsOpen) {
  fail(Stage::after_connect, "198.51.100.1");
  fail(Stage::after_connect, "198.51.100.1");
  EXPECT_EQ(fail(Stage::after_connect, "198.51.100.2"), State::open);
}

TEST_F(BreakerTest, AfterTheCooldownExactlyOneProbe) {
  for (int i = 0; i < 3; ++i) fail(Stage::connect, "c");
  now += 30s;
  const auto probe = breaker.admit(now);
  EXPECT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(breaker.admit(now).allowed);  // the probe is in flight
  EXPECT_EQ(breaker.record_success(probe.probe), State::closed);
  EXPECT_TRUE(breaker.admit(now).allowed);
  EXPECT_EQ(breaker.snapshot(now).consecutive_failures, 0u);
}

TEST_F(BreakerTest, AFailedProbeReopens) {
  for (int i = 0; i < 3; ++i) fail(Stage::connect, "c");
  now += 31s;
  const auto probe = breaker.admit(now);
  ASSERT_TRUE(probe.probe);
  EXPECT_EQ(breaker.record_failure(probe.probe, Stage::after_connect, "only-one-client", now), State::open);
  EXPECT_FALSE(breaker.admit(now + 29s).allowed);
  EXPECT_TRUE(breaker.admit(now + 30s).probe);
}

TEST_F(BreakerTest, AReleasedProbeLetsTheNextAttemptProbe) {
  for (int i = 0; i < 3; ++i) fail(Stage::connect, "c");
  now += 30s;
  const auto probe = breaker.admit(now);
  breaker.release_probe(probe.probe);
  EXPECT_TRUE(breaker.admit(now).probe);
}

TEST_F(BreakerTest, SuccessBreaksTheStreak) {
  fail(Stage::connect, "c");
  fail(Stage::connect, "c");
  breaker.record_success(false);
  fail(Stage::connect, "c");
  fail(Stage::connect, "c");
  EXPECT_TRUE(breaker.admit(now).allowed);
}

TEST(Breaker, ThresholdZeroDisablesIt) {
  CircuitBreaker breaker(0, 2, std::chrono::seconds(30));
  const CircuitBreaker::Clock::time_point now{};
  for (int i = 0; i < 100; ++i) breaker.record_failure(false, Stage::connect, "c", now);
  EXPECT_TRUE(breaker.admit(now).allowed);
}

TEST(Breaker, MinClientsZeroLetsOneClientOpenIt) {
  CircuitBreaker breaker(2, 0, std::chrono::seconds(30));
  const CircuitBreaker::Clock::time_point now{};
  breaker.record_failure(false, Stage::after_connect, "c", now);
  EXPECT_EQ(breaker.record_failure(false, Stage::after_connect, "c", now), State::open);
}

}  // namespace
}  // namespace postern::kernel
