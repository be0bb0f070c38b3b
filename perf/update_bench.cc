// Pod table updates under load: how long until the datapath sees a change, and how
// much lookup throughput a bulk load costs.
//
// A worker thread (pinned to --worker-cpu) loops like the gateway's worker: a
// LookupBurst of 32 keys (31 random installed pods and one probe address), publishes
// what it saw for the probe, reports a quiescent state to the QSBR the table reclaims
// through, repeat. The control thread (the EAL main lcore, --control-cpu):
//
//  1. visibility latency, --updates times, cycling through three kinds of change to the
//     probe address: update (namespace A -> B), remove, add (-> A). Each is timed from
//     just before the PodTable call until the worker publishes the new value. The
//     baseline, interleaved with them: a plain atomic store the worker echoes once per
//     loop, i.e. the same handshake without the table.
//  2. throughput dip: lookups per second for --settle ms before, then while --bulk new
//     entries are upserted back to back (the worker logs the TSC every 256 bursts).
//     The bulk entries are removed again afterwards (also timed).
//
// Repeated --repeat times; prints one JSON object (per-run values and their medians).
//   update_bench [--updates 1000] [--bulk 100000] [--base 10000] [--repeat 5]
//                [--settle-ms 300] [--worker-cpu 1] [--control-cpu 0] [--huge]
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "control/gateway_config.h"
#include "gateway/datapath.h"
#include "gateway/pod_table.h"
#include "perf/bench_common.h"

namespace dg::perf {
namespace {

constexpr uint32_t kBurst = 32;
constexpr uint32_t kWorkerThreadId = 1;
constexpr uint32_t kBaseFirst = 0x0A000001;  // 10.0.0.1: the base pods the worker looks up
constexpr uint32_t kBulkFirst = 0x0A400001;  // 10.64.0.1: the bulk load
constexpr uint32_t kProbe = 0x0AFFFF01;      // 10.255.255.1
constexpr uint32_t kNamespaceA = 1, kNamespaceB = 2;
constexpr uint32_t kRateLogEvery = 256;  // bursts between TSC samples
constexpr size_t kRateLogCapacity = 1u << 20;
constexpr double kTimeoutSeconds = 1.0;

struct Options {
  uint32_t updates = 1000;
  uint32_t bulk = 100000;
  uint32_t base = 10000;
  uint32_t repeat = 5;
  uint32_t settle_ms = 300;
  unsigned worker_cpu = 1;
  unsigned control_cpu = 0;
};

struct alignas(64) Shared {
  std::atomic<bool> stop{false};
  alignas(64) std::atomic<uint32_t> observed{DG_NAMESPACE_NONE};
  alignas(64) std::atomic<uint64_t> flag{0};
  alignas(64) std::atomic<uint64_t> flag_seen{0};
  alignas(64) std::atomic<size_t> rate_samples{0};
  std::vector<uint64_t> rate_log = std::vector<uint64_t>(kRateLogCapacity);
};

void Worker(Shared* shared, const PodTable* table, rte_rcu_qsbr* qsbr,
            const std::vector<dg_pod_key>* base, unsigned cpu) {
  PinThisThread(cpu);
  rte_rcu_qsbr_thread_register(qsbr, kWorkerThreadId);
  rte_rcu_qsbr_thread_online(qsbr, kWorkerThreadId);
  const dg_pod_key probe = Ipv4Key(kProbe);
  std::mt19937 rng(7);
  std::vector<uint32_t> order(1u << 16);
  for (uint32_t& index : order) index = static_cast<uint32_t>(rng() % base->size());
  const dg_pod_key* keys[kBurst];
  uint32_t namespace_ids[kBurst];
  uint64_t bursts = 0;
  size_t position = 0;
  while (!shared->stop.load(std::memory_order_relaxed)) {
    for (uint32_t i = 0; i < kBurst - 1; ++i) {
      keys[i] = &(*base)[order[position]];
      position = (position + 1) & (order.size() - 1);
    }
    keys[kBurst - 1] = &probe;
    table->LookupBurst(keys, kBurst, namespace_ids);
    shared->observed.store(namespace_ids[kBurst - 1], std::memory_order_release);
    shared->flag_seen.store(shared->flag.load(std::memory_order_acquire),
                            std::memory_order_release);
    if (++bursts % kRateLogEvery == 0) {
      const size_t n = shared->rate_samples.load(std::memory_order_relaxed);
      if (n < kRateLogCapacity) {
        shared->rate_log[n] = rte_rdtsc();
        shared->rate_samples.store(n + 1, std::memory_order_release);
      }
    }
    rte_rcu_qsbr_quiescent(qsbr, kWorkerThreadId);
  }
  rte_rcu_qsbr_thread_offline(qsbr, kWorkerThreadId);
  rte_rcu_qsbr_thread_unregister(qsbr, kWorkerThreadId);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t low = static_cast<size_t>(rank);
  const size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

// Lookups per second (millions) between two TSC stamps, from the worker's rate log.
double LookupMpps(const Shared& shared, uint64_t from, uint64_t to) {
  const size_t n = shared.rate_samples.load(std::memory_order_acquire);
  size_t first = n, last = 0;
  for (size_t i = 0; i < n; ++i) {
    if (shared.rate_log[i] >= from && first == n) first = i;
    if (shared.rate_log[i] <= to) last = i;
  }
  if (first >= n || last <= first) return 0;
  const double seconds = static_cast<double>(shared.rate_log[last] - shared.rate_log[first]) /
                         static_cast<double>(TscHz());
  const double lookups = static_cast<double>(last - first) * kRateLogEvery * kBurst;
  return lookups / seconds / 1e6;
}

struct Run {
  std::vector<double> update_us, remove_us, add_us, all_us, baseline_us;
  uint32_t timeouts = 0;
  double mpps_before = 0, mpps_during = 0, bulk_load_ms = 0, bulk_remove_ms = 0;
  uint32_t bulk_failed = 0;
};

// Spins until `done` holds; returns microseconds since `start`, or -1 on timeout.
template <typename Done>
double WaitUs(uint64_t start, Done done) {
  const uint64_t hz = TscHz();
  const uint64_t deadline =
      start + static_cast<uint64_t>(kTimeoutSeconds * static_cast<double>(hz));
  uint64_t now = rte_rdtsc();
  while (!done()) {
    rte_pause();
    now = rte_rdtsc();
    if (now > deadline) return -1;
  }
  return static_cast<double>(now - start) * 1e6 / static_cast<double>(hz);
}

Run RunOnce(const Options& options, PodTable* table, rte_rcu_qsbr* qsbr,
            const std::vector<dg_pod_key>& base) {
  Run run;
  Shared shared;
  const dg_pod_key probe = Ipv4Key(kProbe);
  table->Upsert(probe, kNamespaceA);
  std::thread worker(Worker, &shared, table, qsbr, &base, options.worker_cpu);
  // Wait until the worker runs and sees the probe.
  WaitUs(rte_rdtsc(),
         [&] { return shared.observed.load(std::memory_order_acquire) == kNamespaceA; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  uint32_t state = kNamespaceA;
  for (uint32_t u = 0; u < options.updates; ++u) {
    // Baseline: the same handshake without the table.
    {
      const uint64_t token = u + 1;
      const uint64_t start = rte_rdtsc();
      shared.flag.store(token, std::memory_order_release);
      const double us =
          WaitUs(start, [&] { return shared.flag_seen.load(std::memory_order_acquire) == token; });
      if (us >= 0) run.baseline_us.push_back(us);
    }
    uint32_t expected;
    std::vector<double>* bucket;
    const uint64_t start = rte_rdtsc();
    switch (u % 3) {
      case 0:  // update: A -> B
        table->Upsert(probe, kNamespaceB);
        expected = kNamespaceB;
        bucket = &run.update_us;
        break;
      case 1:  // remove
        table->Remove(probe);
        expected = DG_NAMESPACE_NONE;
        bucket = &run.remove_us;
        break;
      default:  // add back as A
        table->Upsert(probe, kNamespaceA);
        expected = kNamespaceA;
        bucket = &run.add_us;
        break;
    }
    state = expected;
    const double us =
        WaitUs(start, [&] { return shared.observed.load(std::memory_order_acquire) == expected; });
    if (us < 0) {
      ++run.timeouts;
    } else {
      bucket->push_back(us);
      run.all_us.push_back(us);
    }
  }
  if (state != kNamespaceA) table->Upsert(probe, kNamespaceA);

  // Throughput before and during a bulk load.
  const uint64_t hz = TscHz();
  const uint64_t before = rte_rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(options.settle_ms));
  const uint64_t load_start = rte_rdtsc();
  for (uint32_t i = 0; i < options.bulk; ++i) {
    if (!table->Upsert(Ipv4Key(kBulkFirst + i), 3 + i % 5)) ++run.bulk_failed;
  }
  const uint64_t load_end = rte_rdtsc();
  run.mpps_before = LookupMpps(shared, before, load_start);
  run.mpps_during = LookupMpps(shared, load_start, load_end);
  run.bulk_load_ms = static_cast<double>(load_end - load_start) * 1e3 / static_cast<double>(hz);
  const uint64_t remove_start = rte_rdtsc();
  for (uint32_t i = 0; i < options.bulk; ++i) table->Remove(Ipv4Key(kBulkFirst + i));
  run.bulk_remove_ms =
      static_cast<double>(rte_rdtsc() - remove_start) * 1e3 / static_cast<double>(hz);

  shared.stop.store(true);
  worker.join();
  return run;
}

void PrintList(const char* name, const std::vector<double>& values, bool last = false) {
  std::printf("\"%s\": [", name);
  for (size_t i = 0; i < values.size(); ++i) std::printf("%s%.4g", i ? ", " : "", values[i]);
  std::printf("]%s", last ? "" : ", ");
}

int Main(int argc, char** argv) {
  const bool hugepages = TakeHugeFlag(&argc, argv);
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "update_bench: %s needs a value\n", arg.c_str());
      return 2;
    }
    const unsigned long value = std::stoul(argv[++i]);
    if (arg == "--updates")
      options.updates = static_cast<uint32_t>(value);
    else if (arg == "--bulk")
      options.bulk = static_cast<uint32_t>(value);
    else if (arg == "--base")
      options.base = static_cast<uint32_t>(std::max(1ul, value));
    else if (arg == "--repeat")
      options.repeat = static_cast<uint32_t>(std::max(1ul, value));
    else if (arg == "--settle-ms")
      options.settle_ms = static_cast<uint32_t>(value);
    else if (arg == "--worker-cpu")
      options.worker_cpu = static_cast<unsigned>(value);
    else if (arg == "--control-cpu")
      options.control_cpu = static_cast<unsigned>(value);
    else {
      std::fprintf(stderr, "update_bench: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  InitEalOrDie("update_bench", 512, options.control_cpu, hugepages);
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
  auto* qsbr =
      static_cast<rte_rcu_qsbr*>(rte_zmalloc("update_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (qsbr == nullptr || rte_rcu_qsbr_init(qsbr, RTE_MAX_LCORE) != 0) {
    std::fprintf(stderr, "update_bench: no memory for the QSBR state\n");
    return 1;
  }
  auto table = PodTable::Create("update_pods", kDefaultPodTableSize, qsbr);
  if (!table) {
    std::fprintf(stderr, "update_bench: %s\n", table.error().Message().c_str());
    return 1;
  }
  std::vector<dg_pod_key> base;
  for (uint32_t i = 0; i < options.base; ++i) {
    base.push_back(Ipv4Key(kBaseFirst + i));
    (*table)->Upsert(base.back(), 3 + i % 5);
  }

  std::vector<Run> runs;
  for (uint32_t r = 0; r < options.repeat; ++r)
    runs.push_back(RunOnce(options, table->get(), qsbr, base));

  std::vector<double> p50, p99, max, update_p50, remove_p50, add_p50, baseline_p50, baseline_p99,
      before, during, ratio, load_ms, remove_ms;
  uint32_t timeouts = 0, bulk_failed = 0;
  for (const Run& run : runs) {
    p50.push_back(Percentile(run.all_us, 50));
    p99.push_back(Percentile(run.all_us, 99));
    max.push_back(Percentile(run.all_us, 100));
    update_p50.push_back(Percentile(run.update_us, 50));
    remove_p50.push_back(Percentile(run.remove_us, 50));
    add_p50.push_back(Percentile(run.add_us, 50));
    baseline_p50.push_back(Percentile(run.baseline_us, 50));
    baseline_p99.push_back(Percentile(run.baseline_us, 99));
    before.push_back(run.mpps_before);
    during.push_back(run.mpps_during);
    ratio.push_back(run.mpps_before > 0 ? run.mpps_during / run.mpps_before : 0);
    load_ms.push_back(run.bulk_load_ms);
    remove_ms.push_back(run.bulk_remove_ms);
    timeouts += run.timeouts;
    bulk_failed += run.bulk_failed;
  }
  std::printf(
      "{\"options\": {\"updates\": %u, \"bulk\": %u, \"base\": %u, \"repeat\": %u, \"worker_cpu\": "
      "%u, "
      "\"control_cpu\": %u, \"tsc_hz\": %lu}, ",
      options.updates, options.bulk, options.base, options.repeat, options.worker_cpu,
      options.control_cpu, static_cast<unsigned long>(TscHz()));
  std::printf("\"runs\": {");
  PrintList("p50_us", p50);
  PrintList("p99_us", p99);
  PrintList("max_us", max);
  PrintList("update_p50_us", update_p50);
  PrintList("remove_p50_us", remove_p50);
  PrintList("add_p50_us", add_p50);
  PrintList("baseline_p50_us", baseline_p50);
  PrintList("baseline_p99_us", baseline_p99);
  PrintList("lookup_mpps_before", before);
  PrintList("lookup_mpps_during_load", during);
  PrintList("ratio_during_load", ratio);
  PrintList("bulk_load_ms", load_ms);
  PrintList("bulk_remove_ms", remove_ms, true);
  std::printf("}, \"timeouts\": %u, \"bulk_failed\": %u, ", timeouts, bulk_failed);
  std::printf(
      "\"median\": {\"p50_us\": %.4g, \"p99_us\": %.4g, \"max_us\": %.4g, \"update_p50_us\": %.4g, "
      "\"remove_p50_us\": %.4g, \"add_p50_us\": %.4g, \"baseline_p50_us\": %.4g, "
      "\"baseline_p99_us\": %.4g, \"lookup_mpps_before\": %.4g, \"lookup_mpps_during_load\": %.4g, "
      "\"ratio_during_load\": %.4g, \"bulk_load_ms\": %.4g, \"bulk_remove_ms\": %.4g}}\n",
      Median(p50), Median(p99), Median(max), Median(update_p50), Median(remove_p50),
      Median(add_p50), Median(baseline_p50), Median(baseline_p99), Median(before), Median(during),
      Median(ratio), Median(load_ms), Median(remove_ms));
  table->reset();
  rte_free(qsbr);
  CleanupEal();
  return timeouts == 0 ? 0 : 3;
}

}  // namespace
}  // namespace dg::perf

int main(int argc, char** argv) { return dg::perf::Main(argc, argv); }
