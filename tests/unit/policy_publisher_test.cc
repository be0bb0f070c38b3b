#include "gateway/policy_publisher.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "control/policy.h"
#include "tests/unit/eal_environment.h"

namespace dg {
namespace {

// Two policies that put namespace "ns-a" in different classes with different DSCPs: a
// snapshot read while the next one is published must be one or the other, never a mix.
constexpr uint8_t kCriticalDscp = 46;
constexpr uint8_t kScavengerDscp = 8;
const char* const kCriticalPolicy = R"(classes:
  - {name: critical, dscp: 46}
  - {name: scavenger, dscp: 8}
defaultClass: scavenger
namespaces: {ns-a: critical}
)";
const char* const kScavengerPolicy = R"(classes:
  - {name: critical, dscp: 46}
  - {name: scavenger, dscp: 8}
defaultClass: scavenger
namespaces: {ns-a: scavenger}
)";

PriorityPolicy Parse(const char* text) {
  auto policy = ParsePriorities(text, "policy_publisher_test");
  EXPECT_TRUE(policy) << (policy ? "" : policy.error().Message());
  return policy ? *policy : DefaultPriorityPolicy();
}

// A reader thread loads the current snapshot and reads it between quiescent states, as the
// worker does per burst, while the control thread publishes hundreds of new ones. Each
// snapshot it reads is whole, generations never go back, and (under ASan and TSan) no
// snapshot is freed while the reader may still hold it.
TEST(PolicyPublisherTest, ConcurrentReaderSeesWholeSnapshotsInOrderWhileOldOnesAreFreed) {
  constexpr unsigned kReaderThreadId = 1;
  constexpr int kPublications = 500;
  auto qsbr = testing::MakeQsbr();
  ASSERT_NE(qsbr, nullptr);
  PolicyPublisher publisher(qsbr.get());
  const uint32_t namespace_a = publisher.InternNamespace("ns-a");
  const PriorityPolicy critical = Parse(kCriticalPolicy);
  const PriorityPolicy scavenger = Parse(kScavengerPolicy);
  publisher.SetPolicy(critical);  // before the reader starts: no default-policy snapshot

  std::atomic<bool> reader_started{false};
  std::atomic<bool> writer_done{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> mixed_snapshots{0};
  std::atomic<uint64_t> generations_gone_back{0};
  std::thread reader([&] {
    testing::UnpinCurrentThread();
    rte_rcu_qsbr_thread_register(qsbr.get(), kReaderThreadId);
    rte_rcu_qsbr_thread_online(qsbr.get(), kReaderThreadId);
    uint64_t last_generation = 0;
    uint64_t loops = 0;
    reader_started.store(true);
    while (!writer_done.load(std::memory_order_acquire)) {
      const PolicySnapshot* snapshot = publisher.Current().load(std::memory_order_acquire);
      const uint32_t class_of_a = snapshot->class_of_namespace[namespace_a];
      const uint8_t dscp = snapshot->class_dscp[class_of_a];
      if (!(class_of_a == 0 && dscp == kCriticalDscp) &&
          !(class_of_a == 1 && dscp == kScavengerDscp)) {
        mixed_snapshots.fetch_add(1);
      }
      if (snapshot->generation < last_generation) generations_gone_back.fetch_add(1);
      last_generation = snapshot->generation;
      rte_rcu_qsbr_quiescent(qsbr.get(), kReaderThreadId);
      // Should both threads still share one CPU, let the writer run often.
      if (++loops % 16 == 0) std::this_thread::yield();
    }
    rte_rcu_qsbr_thread_offline(qsbr.get(), kReaderThreadId);
    rte_rcu_qsbr_thread_unregister(qsbr.get(), kReaderThreadId);
    reads.store(loops);
  });
  while (!reader_started.load()) std::this_thread::yield();

  for (int publication = 0; publication < kPublications; ++publication) {
    publisher.SetPolicy(publication % 2 == 0 ? scavenger : critical);
  }
  writer_done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(mixed_snapshots.load(), 0u);
  EXPECT_EQ(generations_gone_back.load(), 0u);
  EXPECT_EQ(publisher.ClassOfNamespace(namespace_a), 0u);  // the last one published: critical
}

}  // namespace
}  // namespace dg
