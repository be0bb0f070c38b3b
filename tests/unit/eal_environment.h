// DPDK for unit tests: EAL initialised once per test binary without hugepages or shared
// runtime files, so test binaries run side by side and need no root setup.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

struct rte_mempool;
struct rte_mbuf;
struct rte_rcu_qsbr;

namespace dg::testing {

rte_mempool* TestMempool();

// A single-segment mbuf holding `bytes` (or `length` zero bytes).
rte_mbuf* MakeMbuf(const std::vector<uint8_t>& bytes);
rte_mbuf* MakeMbuf(uint32_t length);

// A multi-segment mbuf holding `bytes`, split at `cuts` (increasing offsets), as scatter
// receive or a chaining PMD delivers a frame.
rte_mbuf* MakeChainedMbuf(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& cuts);

// Every byte of the frame, across its segments.
std::vector<uint8_t> FrameBytes(const rte_mbuf* mbuf);

struct QsbrDeleter {
  void operator()(rte_rcu_qsbr* qsbr) const;
};
using QsbrPtr = std::unique_ptr<rte_rcu_qsbr, QsbrDeleter>;

// An initialised QSBR variable for every lcore id; null (and a test failure) if EAL has no
// memory for it.
QsbrPtr MakeQsbr();

// EAL pins the main thread to lcore 0 and the threads it starts inherit that affinity; a
// reader thread calls this so that it really runs alongside the writer.
void UnpinCurrentThread();

}  // namespace dg::testing
