#include "gateway/replay.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <string>

#include "control/counter_metrics.h"
#include "control/log.h"
#include "gateway/capture_file.h"
#include "gateway/datapath.h"
#include "gateway/port.h"
#include "gateway/worker.h"

namespace dg {
namespace {

// A 256 KiB record takes 129 segments of the default data room; the pool also covers
// every frame the queues and rings can hold when the capture is all small frames. When
// it runs dry the reader waits for the writer to free mbufs.
constexpr unsigned kReplayMbufs = 16383;
constexpr unsigned kReplayRingSize = 1024;
constexpr const char* kReplayPortName = "net_ring_dg_replay";

int Fail(const std::string& message) {
  DG_LOG_ERROR("replay", "%s", message.c_str());
  return 1;
}

struct RingDeleter {
  void operator()(rte_ring* ring) const { rte_ring_free(ring); }
};
using RingPtr = std::unique_ptr<rte_ring, RingDeleter>;

// Feeds the capture through the worker: records into the port's receive ring as the pool
// allows, frames from its transmit ring into the output capture, until both are done.
// Returns the number of records that could not be carried (bigger than the whole pool).
Result<uint64_t> ReplayCapture(CaptureReader& reader, CaptureWriter& writer, rte_mempool* pool,
                               rte_ring* input, rte_ring* output, Worker& worker) {
  uint64_t not_carried = 0;
  bool input_done = false;
  rte_mbuf* written[kMaxBurst];
  for (;;) {
    bool starved = false;
    while (!input_done && rte_ring_free_count(input) != 0) {
      rte_mbuf* frame = nullptr;
      const CaptureReader::Status status = reader.Next(pool, &frame);
      if (status == CaptureReader::Status::kFrame) {
        rte_ring_sp_enqueue(input, frame);
      } else if (status == CaptureReader::Status::kNoMbufs) {
        starved = true;
        break;
      } else if (status == CaptureReader::Status::kError) {
        return reader.error();
      } else {
        input_done = true;
      }
    }
    worker.PollOnce(rte_rdtsc(), true);
    const unsigned count =
        rte_ring_sc_dequeue_burst(output, reinterpret_cast<void**>(written), kMaxBurst, nullptr);
    for (unsigned i = 0; i < count; ++i) writer.Write(written[i]);
    rte_pktmbuf_free_bulk(written, count);
    const bool datapath_empty =
        rte_ring_empty(input) && worker.Backlog() == 0 && rte_ring_empty(output);
    if (starved && datapath_empty && count == 0) {
      // Every mbuf was free and the record still did not fit: it never will.
      if (not_carried++ == 0) {
        DG_LOG_ERROR("replay", "record %lu (%u bytes) needs more mbufs than the pool has",
                     reader.records_read(), reader.waiting_record_length());
      }
      reader.SkipWaitingRecord();
    }
    if (input_done && datapath_empty) return not_carried;
  }
}

}  // namespace

int RunReplay(const ReplayOptions& options, const PolicyInputs& inputs) {
  // No hugepages, no shared runtime files: replay runs anywhere, side by side.
  const std::vector<std::string> eal_args = {
      "-l", "0", "--no-huge", "-m", "512", "--no-shconf", "--no-pci", "--log-level", "*:error"};
  // Declared first, so it goes last: EAL cleanup after the port and tables built on it.
  auto eal = EalSession::Init(eal_args);
  if (!eal) return Fail(eal.error().Message());
  int exit_code = 0;
  {
    auto datapath =
        BuildDatapath(inputs, options.vxlan_ports, options.geneve_ports, kDefaultPodTableSize);
    if (!datapath) return Fail(datapath.error().Message());
    (*datapath)->publisher->SetDatapathMode(options.mode);
    auto reader = CaptureReader::Open(options.input_pcap);
    if (!reader) return Fail(reader.error().Message());
    auto writer = CaptureWriter::Open(options.output_pcap, **reader);
    if (!writer) return Fail(writer.error().Message());
    const int socket = static_cast<int>(rte_socket_id());
    rte_mempool* pool = rte_pktmbuf_pool_create("dg_mbufs", kReplayMbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (pool == nullptr) return Fail("cannot create the mempool");
    const RingPtr input(
        rte_ring_create("dg_replay_in", kReplayRingSize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ));
    const RingPtr output(
        rte_ring_create("dg_replay_out", kReplayRingSize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ));
    if (!input || !output) return Fail("cannot create the replay rings");
    rte_ring* receive_rings[] = {input.get()};
    rte_ring* transmit_rings[] = {output.get()};
    const int port_id = rte_eth_from_rings(kReplayPortName, receive_rings, 1, transmit_rings, 1,
                                           static_cast<unsigned>(socket));
    char port_name[RTE_ETH_NAME_MAX_LEN] = "";
    if (port_id < 0 ||
        rte_eth_dev_get_name_by_port(static_cast<uint16_t>(port_id), port_name) != 0) {
      return Fail("cannot create the replay port");
    }
    auto port = StartPort(port_name, "replay", pool, 512);
    if (!port) return Fail(port.error().Message());
    SchedulerConfig scheduler_config;
    scheduler_config.queue_depth = std::max<uint32_t>(options.queue_depth, options.burst_size);
    scheduler_config.tsc_hz = rte_get_tsc_hz();
    scheduler_config.lossless = true;
    StrictPriorityScheduler scheduler(scheduler_config, (*datapath)->counters.get(), rte_rdtsc());
    WorkerOptions worker_options;
    worker_options.kernel_port = port->id();
    worker_options.uplink_port = port->id();
    worker_options.burst_size = options.burst_size;
    worker_options.backpressure = true;
    worker_options.pass_uplink_to_kernel = false;
    // Replay checks marking, not timing: per-pod limits would pace (and drop) by wall clock.
    worker_options.enforce_pod_limits = false;
    Worker worker(worker_options, (*datapath)->pipeline.get(), &scheduler);

    const Result<uint64_t> not_carried =
        ReplayCapture(**reader, **writer, pool, input.get(), output.get(), worker);
    port->Stop();
    const Result<bool> closed = (*writer)->Close();
    if (!not_carried) return Fail(not_carried.error().Message());
    if (!closed) return Fail(closed.error().Message());

    const WorkerCounters* workers[] = {(*datapath)->counters.get()};
    const CounterTotals totals = SumCounters(workers, 1);
    if (totals.kernel_rx_packets != totals.uplink_tx_packets) {
      DG_LOG_ERROR("replay", "read %lu frames but wrote %lu", totals.kernel_rx_packets,
                   totals.uplink_tx_packets);
      exit_code = 1;
    }
    if (*not_carried != 0) {
      DG_LOG_ERROR("replay", "%lu records could not be carried and are missing from %s",
                   *not_carried, options.output_pcap.c_str());
      exit_code = 1;
    }
    MetricSnapshot snapshot;
    const DpdkDatapathTables tables(**datapath);
    AddCounterMetrics(snapshot, totals, tables, rte_get_tsc_hz());
    AddPodOverrideMetrics(snapshot, tables);
    if (options.json) {
      boost::json::object document = StatsJson(snapshot, (*datapath)->publisher->policy());
      document["packets_in"] = totals.kernel_rx_packets;
      document["packets_out"] = totals.uplink_tx_packets;
      document["frames_not_carried"] = *not_carried;
      document["policy_hash"] = (*datapath)->publisher->policy().content_hash;
      document["pods"] = PodsJson(tables);
      std::printf("%s\n", boost::json::serialize(document).c_str());
    } else {
      std::printf("replay: %lu frames in, %lu frames out, %lu marked, %lu not carried\n",
                  totals.kernel_rx_packets, totals.uplink_tx_packets, totals.marked, *not_carried);
      std::fputs(RenderMetricsText(snapshot).c_str(), stdout);
    }
  }
  return exit_code;
}

}  // namespace dg
