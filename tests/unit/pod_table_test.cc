#include "gateway/pod_table.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control/pods.h"
#include "gateway/policy_publisher.h"
#include "tests/unit/eal_environment.h"
#include "tests/unit/pod_keys.h"

namespace dg {
namespace {

using testing::PodKey;

std::string Ipv4(uint32_t index) {
  return "10." + std::to_string((index >> 16) & 0xff) + "." + std::to_string((index >> 8) & 0xff) +
         "." + std::to_string(index & 0xff);
}

PodTableEntry Pod(const std::string& address, const std::string& namespace_name,
                  const std::string& pod_name) {
  PodTableEntry entry;
  entry.address.key = PodKey(address);
  entry.address.text = address;
  entry.namespace_name = namespace_name;
  entry.pod_name = pod_name;
  return entry;
}

class PodTableTest : public ::testing::Test {
 protected:
  void SetUp() override { qsbr_ = testing::MakeQsbr(); }

  // rte_hash names are global to the process: one per table.
  std::unique_ptr<PodTable> MakeTable(uint32_t capacity) {
    static int table_number = 0;
    auto table = PodTable::Create("pt" + std::to_string(++table_number), capacity, qsbr_.get());
    EXPECT_TRUE(table) << (table ? "" : table.error().Message());
    return table ? std::move(*table) : nullptr;
  }

  uint32_t Lookup(const PodTable& table, const std::string& address) {
    const dg_pod_key key = PodKey(address);
    const dg_pod_key* keys[] = {&key};
    uint32_t namespace_id = 12345;
    table.LookupBurst(keys, 1, &namespace_id);
    return namespace_id;
  }

  // Declared first so it outlives the tables that reclaim through it.
  testing::QsbrPtr qsbr_;
};

// ---------------------------------------------------------------------------------------
// PodTable

TEST_F(PodTableTest, UpsertedAddressLooksUpToItsNamespace) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));

  EXPECT_EQ(Lookup(*table, "10.0.0.1"), 7u);
}

TEST_F(PodTableTest, UnknownAddressLooksUpToNoNamespace) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));

  EXPECT_EQ(Lookup(*table, "10.0.0.2"), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(PodTableTest, UpsertOfExistingAddressReplacesItsNamespace) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));

  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 9));

  EXPECT_EQ(Lookup(*table, "10.0.0.1"), 9u);
  EXPECT_EQ(table->Size(), 1u);
}

TEST_F(PodTableTest, RemovedAddressLooksUpToNoNamespace) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));

  EXPECT_TRUE(table->Remove(PodKey("10.0.0.1")));

  EXPECT_EQ(Lookup(*table, "10.0.0.1"), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(PodTableTest, RemovingAnUnknownAddressFails) {
  auto table = MakeTable(64);

  EXPECT_FALSE(table->Remove(PodKey("10.0.0.1")));
}

TEST_F(PodTableTest, SizeCountsUpsertedAddresses) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.2"), 7));
  ASSERT_TRUE(table->Upsert(PodKey("fd00::1"), 8));

  EXPECT_EQ(table->Size(), 3u);
  EXPECT_EQ(table->Capacity(), 64u);
}

TEST_F(PodTableTest, SizeDropsWhenAnAddressIsRemoved) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 7));
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.2"), 7));
  ASSERT_TRUE(table->Upsert(PodKey("fd00::1"), 8));

  ASSERT_TRUE(table->Remove(PodKey("10.0.0.2")));

  EXPECT_EQ(table->Size(), 2u);
}

TEST_F(PodTableTest, LookupBurstOfSixtyFourKeysPutsEachResultInItsPosition) {
  ASSERT_EQ(kPodLookupBurstMax, 64u);
  auto table = MakeTable(128);
  std::vector<dg_pod_key> keys;
  for (uint32_t i = 0; i < kPodLookupBurstMax; ++i) keys.push_back(PodKey(Ipv4(i + 1)));
  // Every third address is in the table, with a namespace id of its own.
  for (uint32_t i = 0; i < kPodLookupBurstMax; i += 3) ASSERT_TRUE(table->Upsert(keys[i], 100 + i));
  std::vector<const dg_pod_key*> key_pointers;
  for (const dg_pod_key& key : keys) key_pointers.push_back(&key);
  std::vector<uint32_t> namespace_ids(kPodLookupBurstMax, 12345);

  table->LookupBurst(key_pointers.data(), kPodLookupBurstMax, namespace_ids.data());

  for (uint32_t i = 0; i < kPodLookupBurstMax; ++i) {
    EXPECT_EQ(namespace_ids[i], i % 3 == 0 ? 100 + i : uint32_t{DG_NAMESPACE_NONE}) << "key " << i;
  }
}

TEST_F(PodTableTest, LookupBurstOfSomeKeysWritesOnlyThoseResults) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.2"), 5));
  const dg_pod_key first = PodKey("10.0.0.1");
  const dg_pod_key second = PodKey("10.0.0.2");
  const dg_pod_key* keys[] = {&first, &second};
  uint32_t namespace_ids[3] = {111, 222, 333};

  table->LookupBurst(keys, 2, namespace_ids);

  EXPECT_EQ(namespace_ids[0], uint32_t{DG_NAMESPACE_NONE});
  EXPECT_EQ(namespace_ids[1], 5u);
  EXPECT_EQ(namespace_ids[2], 333u);
}

TEST_F(PodTableTest, Ipv4AndIpv6KeysOfTheSameBitsDoNotCollide) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 1));
  ASSERT_TRUE(table->Upsert(PodKey("::a00:1"), 2));     // IPv4-compatible form of 10.0.0.1
  ASSERT_TRUE(table->Upsert(PodKey("a00:1::"), 3));     // the same bits at the front
  ASSERT_TRUE(table->Upsert(PodKey("::10.0.0.1"), 4));  // == ::a00:1, replaces it

  EXPECT_EQ(Lookup(*table, "10.0.0.1"), 1u);
  EXPECT_EQ(Lookup(*table, "::a00:1"), 4u);
  EXPECT_EQ(Lookup(*table, "a00:1::"), 3u);
  EXPECT_EQ(table->Size(), 3u);
}

TEST_F(PodTableTest, Ipv4MappedIpv6TextIsTheSameKeyAsIpv4) {
  auto table = MakeTable(64);
  ASSERT_TRUE(table->Upsert(PodKey("10.0.0.1"), 1));

  EXPECT_EQ(Lookup(*table, "::ffff:10.0.0.1"), 1u);
}

TEST_F(PodTableTest, UpsertBeyondCapacityFails) {
  auto table = MakeTable(8);
  for (uint32_t i = 1; i <= 8; ++i) ASSERT_TRUE(table->Upsert(PodKey(Ipv4(i)), i)) << i;

  EXPECT_FALSE(table->Upsert(PodKey(Ipv4(9)), 9));
  EXPECT_EQ(table->Size(), 8u);
}

TEST_F(PodTableTest, SlotOfRemovedAddressIsReusedWithoutReaders) {
  auto table = MakeTable(8);
  for (uint32_t i = 1; i <= 8; ++i) ASSERT_TRUE(table->Upsert(PodKey(Ipv4(i)), i)) << i;
  ASSERT_TRUE(table->Remove(PodKey(Ipv4(3))));

  EXPECT_TRUE(table->Upsert(PodKey(Ipv4(9)), 9));
  EXPECT_EQ(Lookup(*table, Ipv4(9)), 9u);
}

// A reader thread looks up continuously, reporting quiescent states, while the writer
// flips one address between namespaces 1 and 2 and churns other addresses through a small
// table many times over its capacity.
TEST_F(PodTableTest, ConcurrentReaderSeesOnlyWholeValuesAndDeletedSlotsAreReclaimed) {
  constexpr uint32_t kCapacity = 8;
  constexpr uint32_t kChurnKeys = 4;
  constexpr uint32_t kCycles = 2000;  // 8000 inserts into an 8-slot table
  constexpr uint32_t kChurnNamespace = 3;
  constexpr unsigned kReaderThreadId = 1;
  auto table = MakeTable(kCapacity);
  const dg_pod_key hot = PodKey("10.9.9.9");
  ASSERT_TRUE(table->Upsert(hot, 1));
  std::vector<dg_pod_key> churn;
  for (uint32_t i = 0; i < kChurnKeys; ++i)
    churn.push_back(PodKey("fd00::" + std::to_string(i + 1)));

  std::atomic<bool> reader_started{false};
  std::atomic<bool> writer_done{false};
  std::atomic<uint64_t> reader_loops{0};
  std::atomic<uint64_t> bad_hot_values{0};
  std::atomic<uint64_t> bad_churn_values{0};
  std::thread reader([&] {
    testing::UnpinCurrentThread();
    rte_rcu_qsbr* qsbr = qsbr_.get();
    rte_rcu_qsbr_thread_register(qsbr, kReaderThreadId);
    rte_rcu_qsbr_thread_online(qsbr, kReaderThreadId);
    std::vector<const dg_pod_key*> keys = {&hot};
    for (const dg_pod_key& key : churn) keys.push_back(&key);
    std::vector<uint32_t> ids(keys.size());
    uint64_t loops = 0;
    reader_started.store(true);
    while (!writer_done.load(std::memory_order_acquire)) {
      table->LookupBurst(keys.data(), static_cast<uint32_t>(keys.size()), ids.data());
      if (ids[0] != 1 && ids[0] != 2) bad_hot_values.fetch_add(1);
      for (size_t i = 1; i < ids.size(); ++i) {
        if (ids[i] != DG_NAMESPACE_NONE && ids[i] != kChurnNamespace) bad_churn_values.fetch_add(1);
      }
      rte_rcu_qsbr_quiescent(qsbr, kReaderThreadId);
      // Should both threads still share one CPU, let the writer run often.
      if (++loops % 16 == 0) std::this_thread::yield();
    }
    rte_rcu_qsbr_thread_offline(qsbr, kReaderThreadId);
    rte_rcu_qsbr_thread_unregister(qsbr, kReaderThreadId);
    reader_loops.store(loops);
  });
  while (!reader_started.load()) std::this_thread::yield();

  // An insert can find every free slot still waiting for the reader's next quiescent
  // state; it is retried (bounded) until the slot is reclaimed.
  uint32_t inserts_never_accepted = 0;
  auto upsert = [&](const dg_pod_key& key, uint32_t namespace_id) {
    for (int attempt = 0; attempt < 1'000'000; ++attempt) {
      if (table->Upsert(key, namespace_id)) return;
      std::this_thread::yield();
    }
    ++inserts_never_accepted;
  };
  uint32_t hot_updates_failed = 0;
  uint32_t removes_failed = 0;
  for (uint32_t cycle = 0; cycle < kCycles; ++cycle) {
    if (!table->Upsert(hot, cycle % 2 == 0 ? 2 : 1)) ++hot_updates_failed;
    for (const dg_pod_key& key : churn) upsert(key, kChurnNamespace);
    for (const dg_pod_key& key : churn) {
      if (!table->Remove(key)) ++removes_failed;
    }
  }
  writer_done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_GT(reader_loops.load(), 0u);
  EXPECT_EQ(bad_hot_values.load(), 0u);
  EXPECT_EQ(bad_churn_values.load(), 0u);
  EXPECT_EQ(hot_updates_failed, 0u);
  EXPECT_EQ(removes_failed, 0u);
  EXPECT_EQ(inserts_never_accepted, 0u);
  // With the reader gone every deleted slot is reclaimable: the table fills to capacity.
  for (uint32_t i = 1; i < kCapacity; ++i) {
    EXPECT_TRUE(table->Upsert(PodKey(Ipv4(i)), 4)) << "insert " << i << " after the churn";
  }
  EXPECT_EQ(Lookup(*table, "10.9.9.9"), 1u);  // last written in the final (odd) cycle
}

// ---------------------------------------------------------------------------------------
// PodDirectory

class PodDirectoryTest : public PodTableTest {
 protected:
  void SetUp() override {
    PodTableTest::SetUp();
    table_ = MakeTable(TableCapacity());
    ASSERT_NE(table_, nullptr);
    directory_ = std::make_unique<PodDirectory>(table_.get(), &publisher_);
  }

  virtual uint32_t TableCapacity() const { return 64; }

  uint32_t NamespaceId(const std::string& name) { return publisher_.InternNamespace(name); }

  PolicyPublisher publisher_{nullptr};
  std::unique_ptr<PodTable> table_;
  std::unique_ptr<PodDirectory> directory_;
};

// added, updated, removed, failed
using SyncCounts = std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>;

SyncCounts Counts(const PodSyncResult& result) {
  return {result.added, result.updated, result.removed, result.failed};
}

const std::vector<PodTableEntry> kThreePods = {
    Pod("10.0.0.1", "ray-training", "trainer-0"),
    Pod("10.0.0.2", "ray-training", "trainer-1"),
    Pod("fd00::3", "batch-etl", "etl-0"),
};

TEST_F(PodDirectoryTest, FirstSyncAddsEveryAddress) {
  EXPECT_EQ(Counts(directory_->ReplaceAll(kThreePods)), SyncCounts(3, 0, 0, 0));
}

TEST_F(PodDirectoryTest, SyncedAddressesLookUpToTheirInternedNamespace) {
  directory_->ReplaceAll(kThreePods);

  const uint32_t ray = NamespaceId("ray-training");
  const uint32_t batch = NamespaceId("batch-etl");
  EXPECT_NE(ray, uint32_t{DG_NAMESPACE_NONE});
  EXPECT_NE(batch, ray);
  EXPECT_EQ(Lookup(*table_, "10.0.0.1"), ray);
  EXPECT_EQ(Lookup(*table_, "10.0.0.2"), ray);
  EXPECT_EQ(Lookup(*table_, "fd00::3"), batch);
  EXPECT_EQ(table_->Size(), 3u);
}

TEST_F(PodDirectoryTest, SyncingTheSameSetAgainChangesNothing) {
  directory_->ReplaceAll(kThreePods);

  EXPECT_EQ(Counts(directory_->ReplaceAll(kThreePods)), SyncCounts(0, 0, 0, 0));
  EXPECT_EQ(table_->Size(), 3u);
}

TEST_F(PodDirectoryTest, PodMovingToAnotherNamespaceIsUpdated) {
  directory_->ReplaceAll(kThreePods);
  std::vector<PodTableEntry> moved = kThreePods;
  moved[1] = Pod("10.0.0.2", "batch-etl", "etl-1");

  EXPECT_EQ(Counts(directory_->ReplaceAll(moved)), SyncCounts(0, 1, 0, 0));
  EXPECT_EQ(Lookup(*table_, "10.0.0.2"), NamespaceId("batch-etl"));
}

TEST_F(PodDirectoryTest, AddressMissingFromTheSetIsRemoved) {
  directory_->ReplaceAll(kThreePods);
  const std::vector<PodTableEntry> fewer = {kThreePods[0], kThreePods[2]};

  EXPECT_EQ(Counts(directory_->ReplaceAll(fewer)), SyncCounts(0, 0, 1, 0));
  EXPECT_EQ(Lookup(*table_, "10.0.0.2"), uint32_t{DG_NAMESPACE_NONE});
  EXPECT_EQ(Lookup(*table_, "10.0.0.1"), NamespaceId("ray-training"));
}

TEST_F(PodDirectoryTest, MixedChangesAreCountedExactly) {
  directory_->ReplaceAll(kThreePods);
  const std::vector<PodTableEntry> next = {
      kThreePods[0],                                  // unchanged
      Pod("fd00::3", "ray-training", "etl-0"),        // moved
      Pod("10.0.0.4", "monitoring", "prometheus-0"),  // new
      Pod("10.0.0.5", "monitoring", "prometheus-1"),  // new
  };                                                  // 10.0.0.2 gone

  EXPECT_EQ(Counts(directory_->ReplaceAll(next)), SyncCounts(2, 1, 1, 0));
}

TEST_F(PodDirectoryTest, EmptySetRemovesEveryAddress) {
  directory_->ReplaceAll(kThreePods);

  EXPECT_EQ(Counts(directory_->ReplaceAll({})), SyncCounts(0, 0, 3, 0));
  EXPECT_TRUE(directory_->entries().empty());
  EXPECT_EQ(Lookup(*table_, "fd00::3"), uint32_t{DG_NAMESPACE_NONE});
}

TEST_F(PodDirectoryTest, EntriesReflectTheSyncedSet) {
  directory_->ReplaceAll(kThreePods);

  const auto& entries = directory_->entries();
  ASSERT_EQ(entries.size(), 3u);
  const auto found = entries.find(PodKey("fd00::3"));
  ASSERT_NE(found, entries.end());
  EXPECT_EQ(found->second.address, "fd00::3");
  EXPECT_EQ(found->second.namespace_name, "batch-etl");
  EXPECT_EQ(found->second.pod_name, "etl-0");
  EXPECT_EQ(found->second.namespace_id, NamespaceId("batch-etl"));
  EXPECT_EQ(entries.count(PodKey("10.0.0.1")), 1u);
  EXPECT_EQ(entries.count(PodKey("10.0.0.2")), 1u);
}

TEST_F(PodDirectoryTest, EntriesFollowAPodMovingNamespace) {
  directory_->ReplaceAll(kThreePods);
  std::vector<PodTableEntry> moved = kThreePods;
  moved[1] = Pod("10.0.0.2", "batch-etl", "etl-1");

  directory_->ReplaceAll(moved);

  const PodDirectoryEntry& entry = directory_->entries().at(PodKey("10.0.0.2"));
  EXPECT_EQ(entry.namespace_name, "batch-etl");
  EXPECT_EQ(entry.pod_name, "etl-1");
  EXPECT_EQ(entry.namespace_id, NamespaceId("batch-etl"));
}

TEST_F(PodDirectoryTest, EntriesFollowAPodRenamedWithinItsNamespace) {
  directory_->ReplaceAll(kThreePods);
  std::vector<PodTableEntry> renamed = kThreePods;
  renamed[0] = Pod("10.0.0.1", "ray-training", "trainer-0-restarted");

  EXPECT_EQ(Counts(directory_->ReplaceAll(renamed)), SyncCounts(0, 0, 0, 0));
  EXPECT_EQ(directory_->entries().at(PodKey("10.0.0.1")).pod_name, "trainer-0-restarted");
}

class SmallPodDirectoryTest : public PodDirectoryTest {
 protected:
  uint32_t TableCapacity() const override { return kCapacity; }

  static std::vector<PodTableEntry> Pods(uint32_t first, uint32_t count) {
    std::vector<PodTableEntry> pods;
    for (uint32_t i = first; i < first + count; ++i) {
      pods.push_back(Pod(Ipv4(i), "team-" + std::to_string(i % 3), "pod-" + std::to_string(i)));
    }
    return pods;
  }

  static constexpr uint32_t kCapacity = 8;
};

TEST_F(SmallPodDirectoryTest, AddressesBeyondCapacityAreReportedFailed) {
  EXPECT_EQ(Counts(directory_->ReplaceAll(Pods(1, kCapacity + 2))), SyncCounts(kCapacity, 0, 0, 2));
}

TEST_F(SmallPodDirectoryTest, FailedAddressesAreNotInTheEntries) {
  directory_->ReplaceAll(Pods(1, kCapacity + 2));

  EXPECT_EQ(directory_->entries().size(), kCapacity);
  EXPECT_EQ(table_->Size(), kCapacity);
}

TEST_F(SmallPodDirectoryTest, FailedAddressesAreAddedByALaterSyncOnceThereIsRoom) {
  directory_->ReplaceAll(Pods(1, kCapacity + 2));  // 9 and 10 fail
  EXPECT_EQ(Counts(directory_->ReplaceAll(Pods(3, kCapacity - 2))), SyncCounts(0, 0, 2, 0));

  EXPECT_EQ(Counts(directory_->ReplaceAll(Pods(3, kCapacity))), SyncCounts(2, 0, 0, 0));
  EXPECT_EQ(Lookup(*table_, Ipv4(10)), NamespaceId("team-1"));
  EXPECT_EQ(directory_->entries().size(), kCapacity);
}

// A full table whose pods are all replaced by as many new ones: the new set fits, so
// nothing may be reported failed and every new address must be in the table.
TEST_F(SmallPodDirectoryTest, ReplacingEveryPodOfAFullTableAddsAllNewPods) {
  EXPECT_EQ(Counts(directory_->ReplaceAll(Pods(1, kCapacity))), SyncCounts(kCapacity, 0, 0, 0));

  EXPECT_EQ(Counts(directory_->ReplaceAll(Pods(101, kCapacity))),
            SyncCounts(kCapacity, 0, kCapacity, 0));
  EXPECT_EQ(Lookup(*table_, Ipv4(101)), NamespaceId("team-" + std::to_string(101 % 3)));
  EXPECT_EQ(directory_->entries().size(), kCapacity);
}

// Per-pod overrides: the pod table value carries the pod's slot; the snapshot its outcome.
PodTableEntry AnnotatedPod(const std::string& address, const std::string& uid,
                           const std::string& egress_bandwidth) {
  PodTableEntry entry = Pod(address, "ray-training", uid);
  entry.pod_uid = uid;
  entry.annotations.egress_bandwidth = egress_bandwidth;
  return entry;
}

TEST_F(PodDirectoryTest, BothAddressesOfAnAnnotatedPodCarryItsSlot) {
  directory_->ReplaceAll({AnnotatedPod("10.0.0.1", "uid-a", "10M"),
                          AnnotatedPod("fd00::1", "uid-a", "10M"), Pod("10.0.0.2", "ray", "b")});
  const uint32_t value = Lookup(*table_, "10.0.0.1");
  EXPECT_NE(SlotOfPodValue(value), 0u);
  EXPECT_EQ(Lookup(*table_, "fd00::1"), value);
  EXPECT_EQ(NamespaceOfPodValue(value), NamespaceId("ray-training"));
  EXPECT_EQ(SlotOfPodValue(Lookup(*table_, "10.0.0.2")), 0u);
  EXPECT_EQ(publisher_.Current().load()->pod_egress_bps[SlotOfPodValue(value)], 10'000'000u);
}

TEST_F(PodDirectoryTest, AnAnnotationChangeIsASnapshotSwapNotATableWrite) {
  directory_->Upsert(AnnotatedPod("10.0.0.1", "uid-a", "10M"));
  const uint32_t value = Lookup(*table_, "10.0.0.1");
  const uint64_t generation = publisher_.generation();
  EXPECT_TRUE(directory_->Upsert(AnnotatedPod("10.0.0.1", "uid-a", "20M")));
  EXPECT_EQ(Lookup(*table_, "10.0.0.1"), value);
  EXPECT_GT(publisher_.generation(), generation);
  EXPECT_EQ(publisher_.Current().load()->pod_egress_bps[SlotOfPodValue(value)], 20'000'000u);
}

TEST_F(PodDirectoryTest, AnAllowedPodClassIsInTheSnapshot) {
  publisher_.SetPolicy(
      *ParsePriorities("classes: [{name: a, dscp: 1}, {name: b, dscp: 2}]\ndefaultClass: a\n"
                       "podOverrides: {allowedClasses: [b]}\n",
                       "p.yaml"));
  PodTableEntry entry = Pod("10.0.0.1", "ray-training", "p");
  entry.pod_uid = "uid-p";
  entry.annotations.requested_class = "b";
  directory_->Upsert(entry);
  const uint32_t value = Lookup(*table_, "10.0.0.1");
  EXPECT_EQ(publisher_.Current().load()->ClassOf(value), 1u);
  EXPECT_EQ(publisher_.Current().load()->ClassOf(NamespaceOfPodValue(value)), 0u);
}

TEST_F(PodDirectoryTest, TheLastAddressGoneFreesThePodsSlot) {
  directory_->ReplaceAll({AnnotatedPod("10.0.0.1", "uid-a", "10M")});
  EXPECT_EQ(publisher_.pod_slots().in_use(), 1u);
  directory_->ReplaceAll({});
  EXPECT_EQ(publisher_.pod_slots().in_use(), 0u);
}

}  // namespace
}  // namespace dg
