#include "gateway/ipv4_pod_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/eal_environment.h"

namespace dg {
namespace {

class Ipv4PodTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    qsbr_ = testing::MakeQsbr();
    ASSERT_NE(qsbr_, nullptr);
    auto table = Ipv4PodTable::Create("ipv4_test", 1u << 20, qsbr_.get());
    ASSERT_TRUE(table) << table.error().Message();
    table_ = std::move(*table);
  }

  uint32_t Lookup(uint32_t address) const {
    const Ipv4PodTable::View view = table_->Acquire();
    uint32_t value = 0;
    return Ipv4PodTable::Find(view, address, Ipv4PodTable::Locate(view, address), &value)
               ? value
               : DG_NAMESPACE_NONE;
  }

  // Declared first so it outlives the table.
  testing::QsbrPtr qsbr_;
  std::unique_ptr<Ipv4PodTable> table_;
};

// 10.0.0.0 + index, in packet byte order as the datapath reads it.
uint32_t Address(uint32_t index) { return htonl(0x0A000000u + index); }

TEST_F(Ipv4PodTableTest, EveryAddressIsFoundAfterTheArrayGrew) {
  constexpr uint32_t kCount = 20000;
  const uint32_t initial_slots = table_->SlotCount();
  for (uint32_t i = 1; i <= kCount; ++i) ASSERT_TRUE(table_->Upsert(Address(i), i)) << i;

  EXPECT_GE(table_->SlotCount(), kCount + kCount / 2);
  EXPECT_LT(initial_slots, table_->SlotCount());
  for (uint32_t i = 1; i <= kCount; ++i) ASSERT_EQ(Lookup(Address(i)), i) << i;
  EXPECT_EQ(Lookup(Address(kCount + 1)), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(Ipv4PodTableTest, ChurnThroughTombstonesKeepsLiveAddressesAndDropsRemovedOnes) {
  constexpr uint32_t kLive = 100;
  for (uint32_t i = 1; i <= kLive; ++i) ASSERT_TRUE(table_->Upsert(Address(i), i));
  const uint32_t slots = table_->SlotCount();
  // Many times more removals than slots: tombstones must be compacted away, not grown on.
  for (uint32_t round = 0; round < 50 * slots; ++round) {
    const uint32_t churned = 1000 + round;
    ASSERT_TRUE(table_->Upsert(Address(churned), 7)) << round;
    ASSERT_TRUE(table_->Remove(Address(churned))) << round;
  }

  EXPECT_EQ(table_->SlotCount(), slots);
  for (uint32_t i = 1; i <= kLive; ++i) EXPECT_EQ(Lookup(Address(i)), i) << i;
  EXPECT_EQ(Lookup(Address(1000)), uint32_t{DG_NAMESPACE_NONE});
  EXPECT_EQ(Lookup(Address(1000 + 50 * slots - 1)), uint32_t{DG_NAMESPACE_NONE});
}

// Nine addresses of one bucket in a fresh two-bucket array: the ninth overflows into the
// next bucket, so it is reachable only past the slots of the first eight.
TEST_F(Ipv4PodTableTest, AddressBehindARemovedOneInItsChainIsStillFound) {
  ASSERT_EQ(table_->SlotCount(), 2 * Ipv4PodTable::kSlotsPerBucket);
  std::vector<uint32_t> same_bucket;
  for (uint32_t i = 1; same_bucket.size() < Ipv4PodTable::kSlotsPerBucket + 1; ++i) {
    if ((Ipv4BucketHash(Address(i)) & 1) == 0) same_bucket.push_back(Address(i));
  }
  for (uint32_t address : same_bucket) ASSERT_TRUE(table_->Upsert(address, 4));
  ASSERT_EQ(table_->SlotCount(), 2 * Ipv4PodTable::kSlotsPerBucket);  // no rebuild yet

  ASSERT_TRUE(table_->Remove(same_bucket.front()));

  EXPECT_EQ(Lookup(same_bucket.back()), 4u);
  EXPECT_EQ(Lookup(same_bucket.front()), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(Ipv4PodTableTest, RemovedAddressCanBeAddedAgain) {
  ASSERT_TRUE(table_->Upsert(Address(1), 5));
  ASSERT_TRUE(table_->Remove(Address(1)));

  ASSERT_TRUE(table_->Upsert(Address(1), 6));

  EXPECT_EQ(Lookup(Address(1)), 6u);
  EXPECT_TRUE(table_->Contains(Address(1)));
}

TEST_F(Ipv4PodTableTest, ReservedMarkerAddressesAreRefusedAndNeverFound) {
  EXPECT_FALSE(table_->Upsert(Ipv4PodTable::kEmptyAddress, 3));
  EXPECT_FALSE(table_->Upsert(Ipv4PodTable::kRemovedAddress, 3));
  ASSERT_TRUE(table_->Upsert(Address(1), 5));
  ASSERT_TRUE(table_->Remove(Address(1)));

  EXPECT_EQ(Lookup(Ipv4PodTable::kEmptyAddress), uint32_t{DG_NAMESPACE_NONE});
  EXPECT_EQ(Lookup(Ipv4PodTable::kRemovedAddress), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(Ipv4PodTableTest, CapacityBeyondTwoBillionSlotsIsRejected) {
  EXPECT_FALSE(Ipv4PodTable::Create("ipv4_huge", 0xF0000000u, qsbr_.get()));
}

// A reader keeps looking one address up, reporting quiescent states, while the writer
// grows the array many times and churns tombstones through rebuilds: the reader must
// always find the address with one of the two values the writer alternates.
TEST_F(Ipv4PodTableTest, ReaderSeesWholeValuesAcrossGrowthAndRebuilds) {
  constexpr unsigned kReaderThreadId = 2;
  const uint32_t hot = Address(0xFFFF);
  ASSERT_TRUE(table_->Upsert(hot, 1));
  std::atomic<bool> started{false}, done{false};
  std::atomic<uint64_t> loops{0}, bad{0};
  std::thread reader([&] {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (unsigned cpu = 0; cpu < std::thread::hardware_concurrency(); ++cpu) CPU_SET(cpu, &cpus);
    pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    rte_rcu_qsbr_thread_register(qsbr_.get(), kReaderThreadId);
    rte_rcu_qsbr_thread_online(qsbr_.get(), kReaderThreadId);
    started.store(true);
    uint64_t count = 0;
    while (!done.load(std::memory_order_acquire)) {
      const uint32_t value = Lookup(hot);
      if (value != 1 && value != 2) bad.fetch_add(1);
      rte_rcu_qsbr_quiescent(qsbr_.get(), kReaderThreadId);
      if (++count % 16 == 0) std::this_thread::yield();
    }
    rte_rcu_qsbr_thread_offline(qsbr_.get(), kReaderThreadId);
    rte_rcu_qsbr_thread_unregister(qsbr_.get(), kReaderThreadId);
    loops.store(count);
  });
  while (!started.load()) std::this_thread::yield();

  for (uint32_t i = 1; i <= 5000; ++i) {
    ASSERT_TRUE(table_->Upsert(Address(i), 3));
    ASSERT_TRUE(table_->Upsert(hot, i % 2 == 0 ? 2 : 1));
  }
  for (uint32_t i = 1; i <= 5000; ++i) ASSERT_TRUE(table_->Remove(Address(i)));
  for (uint32_t i = 1; i <= 5000; ++i) ASSERT_TRUE(table_->Upsert(Address(10000 + i), 3));
  done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_GT(loops.load(), 0u);
  EXPECT_EQ(bad.load(), 0u);
}

}  // namespace
}  // namespace dg
