#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

// ---------------------------------------------------------------------------------------
// TokenBucket alone: 24 bit/s = 3 bytes per second, at a 1 kHz clock = 3 bytes per 1000
// cycles, so a single cycle is worth 0.003 bytes.

constexpr uint64_t kSlowHz = 1000;

TEST(TokenBucketTest, StartsFull) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);

  EXPECT_EQ(bucket.tokens_bytes(), 5000u);
  EXPECT_TRUE(bucket.CanSend(5000));
}

TEST(TokenBucketTest, FrameBiggerThanTheBurstWaitsForAFullBucket) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(1);

  EXPECT_FALSE(bucket.CanSend(5001));
  bucket.Refill(kStartTsc + 1 * kMicrosecond);
  EXPECT_TRUE(bucket.CanSend(65536));
}

TEST(TokenBucketTest, FrameBiggerThanTheBurstLeavesDebtRepaidAtTheRate) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(20000);  // 15,000 bytes in debt

  EXPECT_EQ(bucket.tokens_bytes(), 0u);
  bucket.Refill(kStartTsc + 15000 * kMicrosecond);
  EXPECT_FALSE(bucket.CanSend(1));
  bucket.Refill(kStartTsc + 15001 * kMicrosecond);
  EXPECT_TRUE(bucket.CanSend(1));
}

TEST(TokenBucketTest, RefillIsCappedAtTheBurst) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc + 1000 * kMillisecond);  // a million bytes' worth

  EXPECT_EQ(bucket.tokens_bytes(), 5000u);
}

TEST(TokenBucketTest, RefillAddsRateTimesElapsedTime) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc + 1234 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 1234u);
}

TEST(TokenBucketTest, ManySingleCycleRefillsDoNotDrift) {
  TokenBucket bucket;
  bucket.Configure(24, 3, kSlowHz, 0);
  bucket.Consume(3);

  for (uint64_t tsc = 1; tsc <= 999; ++tsc) bucket.Refill(tsc);
  EXPECT_EQ(bucket.tokens_bytes(), 2u);  // 2.997 bytes
  EXPECT_FALSE(bucket.CanSend(3));

  bucket.Refill(1000);
  EXPECT_EQ(bucket.tokens_bytes(), 3u);
  EXPECT_TRUE(bucket.CanSend(3));
}

TEST(TokenBucketTest, ManySmallRefillsAddTheSameAsOneLargeRefill) {
  TokenBucket stepped;
  TokenBucket single;
  stepped.Configure(8'000'008, 10'000'000, kTscHz, 0);  // 1 000 001 bytes per second
  single.Configure(8'000'008, 10'000'000, kTscHz, 0);
  stepped.Consume(10'000'000);
  single.Consume(10'000'000);

  for (uint64_t tsc = 7; tsc <= 7'000'000; tsc += 7) stepped.Refill(tsc);
  single.Refill(7'000'000);

  EXPECT_EQ(stepped.tokens_bytes(), 7'000u);  // 7 ms * 1 000 001 B/s = 7000.007 bytes
  EXPECT_EQ(single.tokens_bytes(), 7'000u);
  EXPECT_TRUE(stepped.CanSend(7'000));
  EXPECT_FALSE(stepped.CanSend(7'001));
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc - 1000 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 0u);
}

TEST(TokenBucketTest, TimeGoingBackwardsDoesNotMoveTheClockBack) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);
  bucket.Refill(kStartTsc - 1000 * kMicrosecond);

  bucket.Refill(kStartTsc + 100 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 100u);  // not 1100
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket bucket;
  bucket.Configure(0, 100, kTscHz, kStartTsc);
  bucket.Consume(1'000'000);

  EXPECT_TRUE(bucket.unlimited());
  EXPECT_TRUE(bucket.CanSend(1'000'000));
}

TEST(TokenBucketTest, ReportsTheConfiguredRate) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);

  EXPECT_EQ(bucket.rate_bits_per_second(), kEightMbit);
}

}  // namespace
}  // namespace dg::scheduler_test
