// DPDK for unit tests: EAL initialised once per test binary without hugepages or shared
// runtime files, so test binaries run side by side and need no root setup.
#pragma once

#include <cstdint>
#include <vector>

struct rte_mempool;
struct rte_mbuf;

namespace dg::testing {

rte_mempool* TestMempool();

// A single-segment mbuf holding `bytes` (or `length` zero bytes).
rte_mbuf* MakeMbuf(const std::vector<uint8_t>& bytes);
rte_mbuf* MakeMbuf(uint32_t length);

}  // namespace dg::testing
