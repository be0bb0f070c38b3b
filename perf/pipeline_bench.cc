// Stage ladder of the per-packet datapath, in TSC cycles per packet, on bursts of 32
// prebuilt mbufs of mixed traffic. Each stage includes the ones before it:
//
//   baseline_macswap   swap the Ethernet addresses of every frame (what testpmd's
//                      macswap does per packet): the baseline the ratios refer to
//   parse              ParsePacket
//   parse_lookup       + PodTable::LookupBurst of the classify sources
//   classify_mark      the whole ClassifyAndMarkBurst (fragments, counters, DSCP rewrite)
//   classify_sched     + StrictPriorityScheduler enqueue and dequeue (unshaped)
//   classify_shaper    + the port shaper (rate 1 Tbit/s: always has tokens, never blocks)
//   classify_cut_through  classify_shaper as the worker runs it uncongested: the queues are
//                      empty and the shaper has tokens, so CutThroughBurst skips the
//                      enqueue/dequeue round trip (an alternative to classify_shaper, not
//                      a stage on top of it)
//
// Traffic: --pcap FILE --priorities CONFIGMAP --pods PODLIST (perf/gen_traffic.py writes
// all three), else a built-in mix of the same kinds (IPv4, IPv6, VLAN, VXLAN; 64-1500 B;
// 8 namespaces x 16 dual-stack pods). Every other argument goes to Google Benchmark,
// e.g. --benchmark_repetitions=5 --benchmark_out=x.json --benchmark_out_format=json.
// --huge: EAL memory on hugepages (root), as in the daemon; default 4 KiB pages.
// Counters per benchmark: cycles_per_packet, ns_per_packet, Mpps.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "control/pods.h"
#include "control/policy.h"
#include "gateway/datapath.h"
#include "gateway/packet_parser.h"
#include "gateway/pipeline.h"
#include "gateway/pod_table.h"
#include "gateway/scheduler.h"
#include "perf/bench_common.h"
#include "perf/benchmark_args.h"

namespace dg::perf {
namespace {

constexpr uint16_t kBurst = 32;

const char* const kNamespaces[] = {"ray-training", "ray-serve", "inference", "default",
                                   "monitoring",   "web",       "batch-etl", "batch-reports"};
constexpr int kPodsPerNamespace = 16;

std::string PodV4(int ns, int pod) {
  return "10.244." + std::to_string(ns) + "." + std::to_string(pod + 2);
}
std::string PodV6(int ns, int pod) {
  char text[64];
  std::snprintf(text, sizeof(text), "fd00:244:0:%x::%x", ns, pod + 2);
  return text;
}

// The same kinds and shares as perf/gen_traffic.py, without scapy.
std::vector<std::vector<uint8_t>> BuiltinFrames(uint32_t count) {
  std::mt19937 rng(1);
  auto uniform = [&rng](uint32_t low, uint32_t high) {
    return std::uniform_int_distribution<uint32_t>(low, high)(rng);
  };
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < count; ++i) {
    const int ns = static_cast<int>(uniform(0, 7));
    const int pod = static_cast<int>(uniform(0, kPodsPerNamespace - 1));
    const uint32_t size_draw = uniform(0, 99);
    FrameSpec spec;
    spec.frame_bytes = size_draw < 50 ? 64 : size_draw < 75 ? 1500 : uniform(65, 1499);
    spec.udp = uniform(0, 1) == 0;
    spec.source = PodV4(ns, pod);
    const uint32_t kind = uniform(0, 99);
    if (kind < 20) {
      spec.ip_version = 6;
      spec.source = PodV6(ns, pod);
      spec.destination = "fd00:96::1";
    } else if (kind < 35) {
      spec.vlan_id = static_cast<uint16_t>(100 + ns);
    } else if (kind < 50) {
      spec.vxlan = true;
      spec.inner_source = spec.source;
      spec.source = "10.0.0.1";
    } else if (kind < 55) {
      spec.source = "10.0.0.1";  // the node itself: unknown source
    }
    frames.push_back(BuildFrame(spec));
  }
  return frames;
}

Result<PolicyInputs> BuiltinInputs() {
  PolicyInputs inputs;
  auto policy = ParsePriorities(kBenchmarkPriorities, "builtin");
  if (!policy) return policy.error();
  inputs.policy = std::move(*policy);
  for (int ns = 0; ns < 8; ++ns) {
    for (int pod = 0; pod < kPodsPerNamespace; ++pod) {
      for (const std::string& address : {PodV4(ns, pod), PodV6(ns, pod)}) {
        PodTableEntry entry;
        ParsePodAddress(address, &entry.address.key);
        entry.address.text = address;
        entry.namespace_name = kNamespaces[ns];
        entry.pod_name = std::string(kNamespaces[ns]) + "-" + std::to_string(pod);
        inputs.pods.push_back(std::move(entry));
      }
    }
  }
  return inputs;
}

struct Fixture {
  std::unique_ptr<Datapath> datapath;
  std::vector<rte_mbuf*> mbufs;  // a multiple of kBurst
  size_t next = 0;
  rte_mbuf* const* NextBurst() {
    rte_mbuf* const* burst = mbufs.data() + next;
    next += kBurst;
    if (next == mbufs.size()) next = 0;
    return burst;
  }
};
Fixture* fixture = nullptr;

// Runs `stage` once per iteration on the next burst and reports cycles per packet from
// rte_rdtsc around the stage only: the median burst (robust to preemption on a shared
// host) and the mean.
void RunStage(benchmark::State& state, const std::function<void(rte_mbuf* const*)>& stage) {
  CycleSamples samples;
  for (auto _ : state) {
    rte_mbuf* const* burst = fixture->NextBurst();
    const uint64_t start = rte_rdtsc();
    stage(burst);
    samples.Add(rte_rdtsc() - start);
  }
  const double per_packet = samples.MedianPerItem(kBurst);
  const double tsc_ghz = static_cast<double>(TscHz()) / 1e9;
  state.counters["cycles_per_packet"] = per_packet;
  state.counters["cycles_per_packet_mean"] = samples.MeanPerItem(kBurst);
  state.counters["ns_per_packet"] = per_packet / tsc_ghz;
  state.counters["Mpps"] = per_packet > 0 ? 1e3 * tsc_ghz / per_packet : 0;
  state.SetItemsProcessed(static_cast<int64_t>(samples.count() * kBurst));
}

void BaselineMacswap(benchmark::State& state) {
  RunStage(state, [](rte_mbuf* const* burst) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      auto* ethernet = rte_pktmbuf_mtod(burst[i], rte_ether_hdr*);
      rte_ether_addr saved = ethernet->src_addr;
      rte_ether_addr_copy(&ethernet->dst_addr, &ethernet->src_addr);
      rte_ether_addr_copy(&saved, &ethernet->dst_addr);
    }
    benchmark::ClobberMemory();
  });
}

void Parse(benchmark::State& state) {
  ParsedPacket parsed[kBurst];
  const OverlayPorts& ports = fixture->datapath->pipeline->overlay_ports;
  RunStage(state, [&](rte_mbuf* const* burst) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      ParsePacket(rte_pktmbuf_mtod(burst[i], const uint8_t*), rte_pktmbuf_data_len(burst[i]),
                  rte_pktmbuf_pkt_len(burst[i]), ports, &parsed[i]);
    }
    benchmark::DoNotOptimize(parsed);
  });
}

void ParseLookup(benchmark::State& state) {
  ParsedPacket parsed[kBurst];
  const dg_pod_key* keys[kBurst];
  uint32_t namespace_ids[kBurst];
  const PipelineContext& context = *fixture->datapath->pipeline;
  RunStage(state, [&](rte_mbuf* const* burst) {
    uint32_t lookups = 0;
    for (uint16_t i = 0; i < kBurst; ++i) {
      ParsePacket(rte_pktmbuf_mtod(burst[i], const uint8_t*), rte_pktmbuf_data_len(burst[i]),
                  rte_pktmbuf_pkt_len(burst[i]), context.overlay_ports, &parsed[i]);
      if (parsed[i].reason == UnclassifiedReason::kNone)
        keys[lookups++] = &parsed[i].classify_source;
    }
    if (lookups != 0) context.pods->LookupBurst(keys, lookups, namespace_ids);
    benchmark::DoNotOptimize(namespace_ids);
  });
}

void ClassifyMark(benchmark::State& state) {
  uint8_t class_ids[kBurst];
  uint32_t namespace_ids[kBurst];
  PipelineContext& context = *fixture->datapath->pipeline;
  RunStage(state, [&](rte_mbuf* const* burst) {
    const PolicySnapshot* policy = context.policy->load(std::memory_order_acquire);
    ClassifyAndMarkBurst(context, *policy, burst, kBurst, class_ids, namespace_ids);
    benchmark::DoNotOptimize(class_ids);
  });
}

// `cut_through`: the worker's uncongested path, CutThroughBurst instead of the queue.
void ClassifySchedule(benchmark::State& state, uint64_t port_rate_bps, bool cut_through) {
  uint8_t class_ids[kBurst];
  uint32_t namespace_ids[kBurst];
  rte_mbuf* out[kBurst];
  PipelineContext& context = *fixture->datapath->pipeline;
  SchedulerConfig config;
  config.queue_depth = 1024;
  config.port_rate_bps = port_rate_bps;
  config.tsc_hz = TscHz();
  StrictPriorityScheduler scheduler(config, context.counters, rte_rdtsc());
  bool lost = false;
  RunStage(state, [&](rte_mbuf* const* burst) {
    const uint64_t now = rte_rdtsc();
    const PolicySnapshot* policy = context.policy->load(std::memory_order_acquire);
    ClassifyAndMarkBurst(context, *policy, burst, kBurst, class_ids, namespace_ids);
    scheduler.ApplyPolicy(*policy, now);
    if (cut_through) {
      if (scheduler.CutThroughBurst(burst, class_ids, namespace_ids, kBurst, now, out) != kBurst)
        lost = true;
    } else {
      scheduler.EnqueueBurst(burst, class_ids, namespace_ids, kBurst, now);
      // Everything queued comes straight back: the fixture's mbufs are reused, never freed.
      if (scheduler.DequeueBurst(out, kBurst, now) != kBurst) lost = true;
    }
    benchmark::DoNotOptimize(out);
  });
  if (lost || scheduler.TotalDepth() != 0) state.SkipWithError("the scheduler held packets back");
}

int Main(int argc, char** argv) {
  const bool hugepages = TakeHugeFlag(&argc, argv);
  std::string pcap, priorities, pods;
  uint32_t builtin_frames = 4096;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      *out = argv[++i];
    };
    if (arg == "--pcap") {
      value(&pcap);
    } else if (arg == "--priorities") {
      value(&priorities);
    } else if (arg == "--pods") {
      value(&pods);
    } else if (arg == "--frames") {
      std::string text;
      value(&text);
      builtin_frames = static_cast<uint32_t>(std::stoul(text));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!InitializeBenchmark(rest)) return 2;

  InitEalOrDie("pipeline_bench", 256, 0, hugepages);
  Result<PolicyInputs> inputs =
      pcap.empty() ? BuiltinInputs() : LoadPolicyInputs(priorities, pods, 0);
  if (!inputs) {
    std::fprintf(stderr, "pipeline_bench: %s\n", inputs.error().Message().c_str());
    return 1;
  }
  std::vector<std::vector<uint8_t>> frames;
  if (pcap.empty()) {
    frames = BuiltinFrames(builtin_frames);
  } else {
    std::string error;
    frames = ReadPcap(pcap, &error);
    if (frames.empty()) {
      std::fprintf(stderr, "pipeline_bench: %s\n", error.c_str());
      return 1;
    }
  }
  while (frames.size() % kBurst != 0) frames.push_back(frames[frames.size() % kBurst]);

  auto datapath = BuildDatapath(*inputs, GatewayConfig().vxlan_ports, GatewayConfig().geneve_ports,
                                kDefaultPodTableSize);
  if (!datapath) {
    std::fprintf(stderr, "pipeline_bench: %s\n", datapath.error().Message().c_str());
    return 1;
  }
  Fixture state;
  state.datapath = std::move(*datapath);
  rte_mempool* pool =
      CreatePoolOrDie("bench_mbufs", static_cast<uint32_t>(frames.size()) + 64, 2048);
  for (const auto& frame : frames) {
    rte_mbuf* mbuf = MakeMbuf(pool, frame);
    if (mbuf == nullptr) {
      std::fprintf(stderr, "pipeline_bench: cannot build an mbuf of %zu bytes\n", frame.size());
      return 1;
    }
    state.mbufs.push_back(mbuf);
  }
  fixture = &state;
  benchmark::AddCustomContext("frames", std::to_string(frames.size()));
  benchmark::AddCustomContext("traffic", pcap.empty() ? "builtin" : pcap);
  benchmark::AddCustomContext("tsc_hz", std::to_string(TscHz()));
  benchmark::AddCustomContext("hugepages", hugepages ? "yes" : "no");
  benchmark::AddCustomContext("pod_addresses", std::to_string(inputs->pods.size()));

  benchmark::RegisterBenchmark("baseline_macswap", BaselineMacswap);
  benchmark::RegisterBenchmark("parse", Parse);
  benchmark::RegisterBenchmark("parse_lookup", ParseLookup);
  benchmark::RegisterBenchmark("classify_mark", ClassifyMark);
  benchmark::RegisterBenchmark("classify_sched",
                               [](benchmark::State& s) { ClassifySchedule(s, 0, false); });
  benchmark::RegisterBenchmark("classify_shaper", [](benchmark::State& s) {
    ClassifySchedule(s, 1'000'000'000'000ULL, false);
  });
  benchmark::RegisterBenchmark("classify_cut_through", [](benchmark::State& s) {
    ClassifySchedule(s, 1'000'000'000'000ULL, true);
  });
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  fixture = nullptr;
  for (rte_mbuf* mbuf : state.mbufs) rte_pktmbuf_free(mbuf);
  state.datapath.reset();
  CleanupEal();
  return 0;
}

}  // namespace
}  // namespace dg::perf

int main(int argc, char** argv) { return dg::perf::Main(argc, argv); }
