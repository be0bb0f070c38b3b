// Pod table scale: classification cost with 100 ... 1M pod addresses installed.
//
// For each size the PodTable is created the way the gateway sizes it (capacity 262,144,
// the daemon's default, or the next power of two above 1.25 x the entries when that is
// too small), filled programmatically with IPv4 pod addresses in 8 namespaces, and
// bursts of 32 64-byte IPv4/UDP frames are classified whose sources hit uniformly random
// installed pods: before each burst the 32 source addresses are overwritten (outside
// the timed region) from a precomputed random sequence, so the table's whole working
// set is exercised rather than a cached handful of entries.
//
//   table_classify/N   ClassifyAndMarkBurst (parse + lookup + mark) per packet
//   table_lookup/N     PodTable::LookupBurst alone, 32 keys per call
//   what_if_crc_lookup/N   the same lookups in an rte_hash with 16-byte IPv4-mapped keys
//                      and rte_hash_crc: the pod table before IPv4 got its own table
//                      (docs/performance.md), kept as the in-run reference for that change
//   memory_floor/N     no table: 32 random cache lines of an array the size of the IPv4
//                      table's (the lines its lookups hash to) prefetched, then read. What
//                      any table that reads one line per lookup must pay at this size
//
// Counters: cycles_per_packet, ns_per_packet, Mpps, entries, capacity, load_seconds.
//   table_scale_bench [--entries 100,10000,150000,1000000] [--huge] [Google Benchmark flags]
// --huge puts the table on 2 MiB pages as in the daemon (root; .ci/setup reserves them).
// Without it the table is on 4 KiB pages and a 1M-entry table also pays TLB misses.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "control/policy.h"
#include "gateway/datapath.h"
#include "gateway/ipv4_pod_table.h"
#include "gateway/pipeline.h"
#include "gateway/pod_table.h"
#include "gateway/policy_publisher.h"
#include "perf/bench_common.h"
#include "perf/benchmark_args.h"

namespace dg::perf {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint32_t kBursts = 8;  // a few bursts of frames in rotation
constexpr uint32_t kSequenceLength = 1u << 20;
constexpr uint32_t kFirstAddress = 0x0A000001;  // 10.0.0.1; 1M pods end at 10.15.66.64

struct Scale {
  uint32_t entries = 0;
  uint32_t capacity = 0;
  double load_seconds = 0;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<PolicyPublisher> publisher;
  std::unique_ptr<PodTable> table;
  std::unique_ptr<WorkerCounters> counters;
  std::unique_ptr<PipelineContext> context;
  std::vector<uint32_t> sequence;  // random installed addresses, host order
  std::vector<dg_pod_key> keys;    // the same sequence as keys, for table_lookup
  rte_hash* crc_table = nullptr;   // what_if_crc_lookup, built on first use
  ~Scale() {
    if (crc_table != nullptr) rte_hash_free(crc_table);
    context.reset();
    table.reset();
    publisher.reset();
    rte_free(qsbr);
  }
};

// The next kBurst keys of the random sequence, as the lookup under test wants them.
template <class Key>
void NextBurstKeys(const Scale& scale, uint32_t& position, const Key* (&keys)[kBurst]) {
  for (uint16_t i = 0; i < kBurst; ++i) {
    keys[i] = &scale.keys[position];
    position = (position + 1) & (kSequenceLength - 1);
  }
}

std::unique_ptr<Scale> current;
std::vector<rte_mbuf*> frames;  // kBursts * kBurst
int generation = 0;

Scale& ScaleFor(uint32_t entries) {
  if (current && current->entries == entries) return *current;
  current.reset();  // at most one big table alive
  auto scale = std::make_unique<Scale>();
  scale->entries = entries;
  scale->capacity = std::max<uint32_t>(kDefaultPodTableSize, std::bit_ceil(entries + entries / 4));
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
  scale->qsbr =
      static_cast<rte_rcu_qsbr*>(rte_zmalloc("scale_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (scale->qsbr == nullptr || rte_rcu_qsbr_init(scale->qsbr, RTE_MAX_LCORE) != 0) {
    std::fprintf(stderr, "table_scale_bench: no memory for the QSBR state\n");
    std::exit(1);
  }
  scale->publisher = std::make_unique<PolicyPublisher>(scale->qsbr);
  auto policy = ParsePriorities(kBenchmarkPriorities, "builtin");
  if (!policy) {
    std::fprintf(stderr, "table_scale_bench: %s\n", policy.error().Message().c_str());
    std::exit(1);
  }
  scale->publisher->SetPolicy(std::move(*policy));
  const std::vector<uint32_t> namespace_ids =
      scale->publisher->InternNamespaces({"ray-training", "ray-serve", "inference", "default",
                                          "monitoring", "web", "batch-etl", "batch-reports"});
  auto table =
      PodTable::Create("scale" + std::to_string(++generation), scale->capacity, scale->qsbr);
  if (!table) {
    std::fprintf(stderr, "table_scale_bench: %s\n", table.error().Message().c_str());
    std::exit(1);
  }
  scale->table = std::move(*table);
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < entries; ++i) {
    if (!scale->table->Upsert(Ipv4Key(kFirstAddress + i),
                              namespace_ids[i % namespace_ids.size()])) {
      std::fprintf(stderr, "table_scale_bench: insert %u of %u failed (capacity %u)\n", i, entries,
                   scale->capacity);
      std::exit(1);
    }
  }
  scale->load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  scale->counters = std::make_unique<WorkerCounters>();
  scale->context = std::make_unique<PipelineContext>();
  scale->context->pods = scale->table.get();
  scale->context->policy = &scale->publisher->Current();
  scale->context->counters = scale->counters.get();
  std::mt19937 rng(entries);
  std::uniform_int_distribution<uint32_t> pick(0, entries - 1);
  scale->sequence.resize(kSequenceLength);
  scale->keys.resize(kSequenceLength);
  for (uint32_t i = 0; i < kSequenceLength; ++i) {
    scale->sequence[i] = kFirstAddress + pick(rng);
    scale->keys[i] = Ipv4Key(scale->sequence[i]);
  }
  current = std::move(scale);
  return *current;
}

void Report(benchmark::State& state, const Scale& scale, CycleSamples& samples) {
  const double per_packet = samples.MedianPerItem(kBurst);
  const double tsc_ghz = static_cast<double>(TscHz()) / 1e9;
  state.counters["cycles_per_packet"] = per_packet;
  state.counters["cycles_per_packet_mean"] = samples.MeanPerItem(kBurst);
  state.counters["ns_per_packet"] = per_packet / tsc_ghz;
  state.counters["Mpps"] = per_packet > 0 ? 1e3 * tsc_ghz / per_packet : 0;
  state.counters["entries"] = scale.entries;
  state.counters["capacity"] = scale.capacity;
  state.counters["load_seconds"] = scale.load_seconds;
  state.SetItemsProcessed(static_cast<int64_t>(samples.count() * kBurst));
}

void TableClassify(benchmark::State& state) {
  Scale& scale = ScaleFor(static_cast<uint32_t>(state.range(0)));
  uint8_t class_ids[kBurst];
  uint32_t namespace_ids[kBurst];
  CycleSamples samples;
  uint32_t position = 0, burst_index = 0;
  for (auto _ : state) {
    rte_mbuf* const* burst = frames.data() + burst_index * kBurst;
    burst_index = (burst_index + 1) % kBursts;
    for (uint16_t i = 0; i < kBurst; ++i) {
      const uint32_t source = htonl(scale.sequence[position]);
      position = (position + 1) & (kSequenceLength - 1);
      std::memcpy(rte_pktmbuf_mtod_offset(burst[i], uint8_t*, kIpv4SourceOffset), &source, 4);
    }
    const uint64_t start = rte_rdtsc();
    const PolicySnapshot* policy = scale.context->policy->load(std::memory_order_acquire);
    ClassifyAndMarkBurst(*scale.context, *policy, burst, kBurst, class_ids, namespace_ids);
    samples.Add(rte_rdtsc() - start);
    benchmark::DoNotOptimize(namespace_ids);
  }
  if (scale.counters->unknown_source.Load() != 0) state.SkipWithError("a source missed the table");
  Report(state, scale, samples);
}

rte_hash* CrcTable(Scale& scale) {
  if (scale.crc_table != nullptr) return scale.crc_table;
  const std::string name = "crc" + std::to_string(++generation);
  rte_hash_parameters parameters{};
  parameters.name = name.c_str();
  parameters.entries = scale.capacity;
  parameters.key_len = sizeof(dg_pod_key);
  parameters.hash_func = rte_hash_crc;
  parameters.socket_id = 0;
  parameters.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
  scale.crc_table = rte_hash_create(&parameters);
  if (scale.crc_table == nullptr) {
    std::fprintf(stderr, "table_scale_bench: rte_hash_create (crc) failed\n");
    std::exit(1);
  }
  for (uint32_t i = 0; i < scale.entries; ++i) {
    const dg_pod_key key = Ipv4Key(kFirstAddress + i);
    if (rte_hash_add_key_data(scale.crc_table, &key,
                              reinterpret_cast<void*>(uintptr_t{1} + i % 8)) != 0) {
      std::fprintf(stderr, "table_scale_bench: crc table insert %u failed\n", i);
      std::exit(1);
    }
  }
  return scale.crc_table;
}

void WhatIfCrcLookup(benchmark::State& state) {
  Scale& scale = ScaleFor(static_cast<uint32_t>(state.range(0)));
  rte_hash* table = CrcTable(scale);
  const void* keys[kBurst];
  void* data[kBurst];
  CycleSamples samples;
  uint32_t position = 0;
  bool missed = false;
  for (auto _ : state) {
    NextBurstKeys(scale, position, keys);
    uint64_t hits = 0;
    const uint64_t start = rte_rdtsc();
    rte_hash_lookup_bulk_data(table, keys, kBurst, &hits, data);
    samples.Add(rte_rdtsc() - start);
    missed |= hits != (uint64_t{1} << kBurst) - 1;
  }
  if (missed) state.SkipWithError("a key missed the crc table");
  Report(state, scale, samples);
}

void MemoryFloor(benchmark::State& state) {
  Scale& scale = ScaleFor(static_cast<uint32_t>(state.range(0)));
  const uint32_t lines = scale.table->Ipv4SlotCount() / Ipv4PodTable::kSlotsPerBucket;
  auto* array = static_cast<uint64_t*>(
      rte_zmalloc("memory_floor", size_t{lines} * RTE_CACHE_LINE_SIZE, RTE_CACHE_LINE_SIZE));
  if (array == nullptr) {
    state.SkipWithError("no memory for the floor's array");
    return;
  }
  const uint32_t words_per_line = RTE_CACHE_LINE_SIZE / sizeof(uint64_t);
  CycleSamples samples;
  uint32_t position = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    uint32_t line_of[kBurst];
    for (uint16_t i = 0; i < kBurst; ++i) {
      line_of[i] = Ipv4BucketHash(htonl(scale.sequence[position])) & (lines - 1);
      position = (position + 1) & (kSequenceLength - 1);
    }
    const uint64_t start = rte_rdtsc();
    for (uint16_t i = 0; i < kBurst; ++i)
      rte_prefetch0(array + size_t{line_of[i]} * words_per_line);
    for (uint16_t i = 0; i < kBurst; ++i) sum += array[size_t{line_of[i]} * words_per_line];
    benchmark::DoNotOptimize(sum);  // the loads finish before the clock is read
    samples.Add(rte_rdtsc() - start);
  }
  benchmark::DoNotOptimize(sum);
  rte_free(array);
  Report(state, scale, samples);
}

void TableLookup(benchmark::State& state) {
  Scale& scale = ScaleFor(static_cast<uint32_t>(state.range(0)));
  const dg_pod_key* keys[kBurst];
  uint32_t namespace_ids[kBurst];
  CycleSamples samples;
  uint32_t position = 0;
  bool missed = false;
  for (auto _ : state) {
    NextBurstKeys(scale, position, keys);
    const uint64_t start = rte_rdtsc();
    scale.table->LookupBurst(keys, kBurst, namespace_ids);
    samples.Add(rte_rdtsc() - start);
    missed |= namespace_ids[0] == DG_NAMESPACE_NONE;
  }
  if (missed) state.SkipWithError("a key missed the table");
  Report(state, scale, samples);
}

int Main(int argc, char** argv) {
  const bool hugepages = TakeHugeFlag(&argc, argv);
  std::vector<uint32_t> sizes = {100, 10000, 150000, 1000000};
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--entries" && i + 1 < argc) {
      sizes.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');)
        sizes.push_back(static_cast<uint32_t>(std::stoul(item)));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!InitializeBenchmark(rest)) return 2;
  // A 2M-slot rte_hash with its RCU defer queue needs ~150 MB.
  InitEalOrDie("table_scale_bench", 1024, 0, hugepages);
  rte_mempool* pool = CreatePoolOrDie("scale_mbufs", kBursts * kBurst + 64, 256);
  FrameSpec spec;
  spec.frame_bytes = 64;
  for (uint32_t i = 0; i < kBursts * kBurst; ++i)
    frames.push_back(MakeMbuf(pool, BuildFrame(spec)));
  benchmark::AddCustomContext("tsc_hz", std::to_string(TscHz()));
  benchmark::AddCustomContext("hugepages", hugepages ? "yes" : "no");
  for (uint32_t size : sizes) {
    benchmark::RegisterBenchmark("table_classify", TableClassify)->Arg(size);
    benchmark::RegisterBenchmark("table_lookup", TableLookup)->Arg(size);
    benchmark::RegisterBenchmark("what_if_crc_lookup", WhatIfCrcLookup)->Arg(size);
    benchmark::RegisterBenchmark("memory_floor", MemoryFloor)->Arg(size);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  current.reset();
  for (rte_mbuf* mbuf : frames) rte_pktmbuf_free(mbuf);
  CleanupEal();
  return 0;
}

}  // namespace
}  // namespace dg::perf

int main(int argc, char** argv) { return dg::perf::Main(argc, argv); }
