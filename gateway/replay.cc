// `dscp-gateway replay`: the live datapath over a capture, through DPDK's pcap PMD.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cstdio>

#include "control/counter_metrics.h"
#include "gateway/datapath.h"
#include "gateway/gateway_app.h"
#include "gateway/port.h"
#include "gateway/worker.h"

namespace dg {

int RunReplay(const ReplayOptions& options, const PolicyInputs& inputs) {
  for (const std::string* path : {&options.input_pcap, &options.output_pcap}) {
    // The pcap PMD takes its arguments as a comma-separated devargs string.
    if (path->find(',') != std::string::npos) {
      std::fprintf(
          stderr,
          "dscp-gateway: replay: path '%s' contains a comma, which DPDK devargs cannot carry\n",
          path->c_str());
      return 1;
    }
  }
  if (access(options.input_pcap.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "dscp-gateway: replay: cannot read '%s'\n", options.input_pcap.c_str());
    return 1;
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
  auto eal = InitEal(eal_args);
  if (!eal) {
    std::fprintf(stderr, "dscp-gateway: replay: %s\n", eal.error().Message().c_str());
    return 1;
  }
  int exit_code = 0;
  {
    auto datapath =
        BuildDatapath(inputs, options.vxlan_ports, options.geneve_ports, kDefaultPodTableCapacity);
    rte_mempool* pool =
        datapath ? rte_pktmbuf_pool_create("dg_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                           static_cast<int>(rte_socket_id()))
                 : nullptr;
    auto port = pool != nullptr
                    ? StartPort("net_pcap0", "replay", pool, 512)
                    : Result<uint16_t>(ConfigError{"", "replay", "cannot create the mempool"});
    if (!datapath || !port) {
      std::fprintf(stderr, "dscp-gateway: replay: %s\n",
                   (!datapath ? datapath.error() : port.error()).Message().c_str());
      rte_eal_cleanup();
      return 1;
    }
    SchedulerConfig scheduler_config;
    scheduler_config.queue_depth = std::max<uint32_t>(options.queue_depth, options.burst_size);
    scheduler_config.tsc_hz = rte_get_tsc_hz();
    StrictPriorityScheduler scheduler(scheduler_config, (*datapath)->counters.get(), rte_rdtsc());
    WorkerOptions worker_options;
    worker_options.kernel_port = *port;
    worker_options.uplink_port = *port;
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
    StopPort(*port);  // flushes and closes the output capture

    const WorkerCounters* workers[] = {(*datapath)->counters.get()};
    const CounterTotals totals = SumCounters(workers, 1);
    if (totals.kernel_rx_packets != totals.uplink_tx_packets) {
      std::fprintf(stderr, "dscp-gateway: replay: read %lu frames but wrote %lu\n",
                   totals.kernel_rx_packets, totals.uplink_tx_packets);
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
  rte_eal_cleanup();
  return exit_code;
}

}  // namespace dg
