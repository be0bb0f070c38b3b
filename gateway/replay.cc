#include "gateway/replay.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <string>

#include "control/counter_metrics.h"
#include "control/log.h"
#include "gateway/datapath.h"
#include "gateway/port.h"
#include "gateway/worker.h"

namespace dg {
namespace {

int Fail(const std::string& message) {
  DG_LOG_ERROR("replay", "%s", message.c_str());
  return 1;
}

}  // namespace

int RunReplay(const ReplayOptions& options, const PolicyInputs& inputs) {
  for (const std::string* path : {&options.input_pcap, &options.output_pcap}) {
    // The pcap PMD takes its arguments as a comma-separated devargs string.
    if (path->find(',') != std::string::npos) {
      return Fail("path '" + *path + "' contains a comma, which DPDK devargs cannot carry");
    }
  }
  if (access(options.input_pcap.c_str(), R_OK) != 0) {
    return Fail("cannot read '" + options.input_pcap + "'");
  }
  // No hugepages, no shared runtime files: replay runs anywhere, side by side.
  const std::vector<std::string> eal_args = {
      "-l",
      "0",
      "--no-huge",
      "-m",
      "512",
      "--no-shconf",
      "--no-pci",
      "--log-level",
      "*:error",
      "--vdev",
      "net_pcap0,rx_pcap=" + options.input_pcap + ",tx_pcap=" + options.output_pcap};
  // Declared first, so it goes last: EAL cleanup after the port and tables built on it.
  auto eal = EalSession::Init(eal_args);
  if (!eal) return Fail(eal.error().Message());
  int exit_code = 0;
  {
    auto datapath =
        BuildDatapath(inputs, options.vxlan_ports, options.geneve_ports, kDefaultPodTableSize);
    if (!datapath) return Fail(datapath.error().Message());
    (*datapath)->publisher->SetDatapathMode(options.mode);
    rte_mempool* pool = rte_pktmbuf_pool_create("dg_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                static_cast<int>(rte_socket_id()));
    if (pool == nullptr) return Fail("cannot create the mempool");
    auto port = StartPort("net_pcap0", "replay", pool, 512);
    if (!port) return Fail(port.error().Message());
    SchedulerConfig scheduler_config;
    scheduler_config.queue_depth = std::max<uint32_t>(options.queue_depth, options.burst_size);
    scheduler_config.tsc_hz = rte_get_tsc_hz();
    StrictPriorityScheduler scheduler(scheduler_config, (*datapath)->counters.get(), rte_rdtsc());
    WorkerOptions worker_options;
    worker_options.kernel_port = port->id();
    worker_options.uplink_port = port->id();
    worker_options.burst_size = options.burst_size;
    worker_options.backpressure = true;
    worker_options.pass_uplink_to_kernel = false;
    Worker worker(worker_options, (*datapath)->pipeline.get(), &scheduler);

    // The pcap PMD returns an empty burst only at end of file (reads are synchronous).
    bool input_done = false;
    while (!input_done || worker.Backlog() != 0) {
      worker.PollOnce(rte_rdtsc(), !input_done);
      if (!input_done && worker.last_kernel_poll_empty() &&
          scheduler.TotalDepth() < scheduler.capacity()) {
        input_done = true;
      }
    }
    port->Stop();  // flushes and closes the output capture

    const WorkerCounters* workers[] = {(*datapath)->counters.get()};
    const CounterTotals totals = SumCounters(workers, 1);
    if (totals.kernel_rx_packets != totals.uplink_tx_packets) {
      DG_LOG_ERROR("replay", "read %lu frames but wrote %lu", totals.kernel_rx_packets,
                   totals.uplink_tx_packets);
      exit_code = 1;
    }
    MetricSnapshot snapshot;
    AddCounterMetrics(snapshot, totals, DpdkDatapathTables(**datapath), rte_get_tsc_hz());
    if (options.json) {
      boost::json::object document = StatsJson(snapshot, (*datapath)->publisher->policy());
      document["packets_in"] = totals.kernel_rx_packets;
      document["packets_out"] = totals.uplink_tx_packets;
      document["policy_hash"] = (*datapath)->publisher->policy().content_hash;
      std::printf("%s\n", boost::json::serialize(document).c_str());
    } else {
      std::printf("replay: %lu frames in, %lu frames out, %lu marked\n", totals.kernel_rx_packets,
                  totals.uplink_tx_packets, totals.marked);
      std::fputs(RenderMetricsText(snapshot).c_str(), stdout);
    }
  }
  return exit_code;
}

}  // namespace dg
