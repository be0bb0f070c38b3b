#include "tests/unit/eal_environment.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

namespace dg::testing {
namespace {

rte_mempool* test_mempool = nullptr;

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string prefix = "dgtest" + std::to_string(getpid());
    std::vector<std::string> arguments = {
        "unit-test", "-l",          "0",       "--no-huge",     "-m",  "256", "--no-shconf",
        "--no-pci",  "--log-level", "*:error", "--file-prefix", prefix};
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0) << "rte_eal_init failed";
    test_mempool = rte_pktmbuf_pool_create("test_mbufs", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(test_mempool, nullptr);
  }
  void TearDown() override { rte_eal_cleanup(); }
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

}  // namespace

rte_mempool* TestMempool() { return test_mempool; }

rte_mbuf* MakeMbuf(const std::vector<uint8_t>& bytes) {
  rte_mbuf* mbuf = rte_pktmbuf_alloc(test_mempool);
  if (mbuf == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(mbuf, static_cast<uint16_t>(bytes.size()));
  if (data == nullptr) {
    rte_pktmbuf_free(mbuf);
    return nullptr;
  }
  std::memcpy(data, bytes.data(), bytes.size());
  return mbuf;
}

rte_mbuf* MakeMbuf(uint32_t length) { return MakeMbuf(std::vector<uint8_t>(length)); }

rte_mbuf* MakeChainedMbuf(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& cuts) {
  std::vector<uint32_t> starts = {0};
  starts.insert(starts.end(), cuts.begin(), cuts.end());
  starts.push_back(static_cast<uint32_t>(bytes.size()));
  rte_mbuf* head = nullptr;
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    const auto first = bytes.begin() + starts[i];
    rte_mbuf* segment = MakeMbuf(std::vector<uint8_t>(first, bytes.begin() + starts[i + 1]));
    if (segment == nullptr || (head != nullptr && rte_pktmbuf_chain(head, segment) != 0)) {
      rte_pktmbuf_free(segment);
      rte_pktmbuf_free(head);
      return nullptr;
    }
    if (head == nullptr) head = segment;
  }
  return head;
}

std::vector<uint8_t> FrameBytes(const rte_mbuf* mbuf) {
  std::vector<uint8_t> bytes(rte_pktmbuf_pkt_len(mbuf));
  const auto* data =
      static_cast<const uint8_t*>(rte_pktmbuf_read(mbuf, 0, bytes.size(), bytes.data()));
  if (data != bytes.data()) std::memcpy(bytes.data(), data, bytes.size());
  return bytes;
}

void QsbrDeleter::operator()(rte_rcu_qsbr* qsbr) const { rte_free(qsbr); }

QsbrPtr MakeQsbr() {
  const size_t size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
  auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("test_qsbr", size, RTE_CACHE_LINE_SIZE));
  EXPECT_NE(qsbr, nullptr);
  if (qsbr != nullptr) {
    EXPECT_EQ(rte_rcu_qsbr_init(qsbr, RTE_MAX_LCORE), 0);
  }
  return QsbrPtr(qsbr);
}

void UnpinCurrentThread() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const unsigned cpu_count = std::thread::hardware_concurrency();
  for (unsigned cpu = 0; cpu < cpu_count && cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &cpus);
  pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
}

}  // namespace dg::testing
