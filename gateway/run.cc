// `dscp-gateway run`: the live forwarder. The worker lcore runs the datapath; the main
// lcore is the control thread: REST, metrics, signals and policy reloads
// (control/control_plane.h).
#include "gateway/run.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "control/control_plane.h"
#include "control/log.h"
#include "control/metric_snapshot.h"
#include "gateway/attached_node.h"
#include "gateway/datapath.h"
#include "gateway/pod_stamp_reconciler.h"
#include "gateway/port.h"
#include "gateway/worker.h"
#include "k8s-sync/cluster_access.h"
#include "k8s-sync/kube_client.h"

namespace dg {
namespace {

std::atomic<bool> stop_requested{false};

struct WorkerLaunch {
  Worker* worker;
  rte_rcu_qsbr* qsbr;
  const std::atomic<bool>* stop;
  uint64_t drain_cycles;
};

int WorkerEntry(void* argument) {
  // Signals belong to the control thread's io_context; a handler running here would put
  // a syscall on the fast path.
  sigset_t control_signals;
  sigemptyset(&control_signals);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&control_signals, signal_number);
  pthread_sigmask(SIG_BLOCK, &control_signals, nullptr);
  auto* launch = static_cast<WorkerLaunch*>(argument);
  launch->worker->RunUntilStopped(*launch->stop, launch->qsbr, rte_lcore_id(),
                                  launch->drain_cycles);
  return 0;
}

int Fail(const std::string& message) {
  DG_LOG_ERROR("run", "%s", message.c_str());
  return 1;
}

}  // namespace

int RunGateway(const GatewayConfig& written_config, const PolicyInputs& inputs) {
  // Everything that can be wrong in the configuration is found before EAL touches a port.
  GatewayConfig config = written_config;
  std::optional<xdp::NodeLegs> attached_legs;
  if (!config.node_uplink.empty()) {
    auto legs = ResolveAttachedLegs(config.node_uplink, config.node_state_file);
    if (!legs) return Fail(legs.error().Message());
    if (auto derived = DeriveAttachedPorts(*legs, config); !derived) {
      return Fail(derived.error().Message());
    }
    attached_legs = std::move(*legs);
  }
  Result<k8s::KubernetesStartup> kubernetes = k8s::KubernetesStartup{};
  if (config.kubernetes.enabled) {
    kubernetes = k8s::ResolveKubernetesStartup(config);
    if (!kubernetes) return Fail(kubernetes.error().Message());
  }
  // Declared first, so it goes last: EAL cleanup after every port and table built on it.
  auto eal = EalSession::Init(config.eal_args);
  if (!eal) return Fail(eal.error().Message());
  const unsigned worker_lcore = rte_get_next_lcore(static_cast<unsigned>(-1), 1, 0);
  if (worker_lcore >= RTE_MAX_LCORE) {
    return Fail("eal: needs a worker lcore besides the main one (e.g. -l 0-1)");
  }
  auto datapath =
      BuildDatapath(inputs, config.vxlan_ports, config.geneve_ports, config.pod_table_size);
  if (!datapath) return Fail(datapath.error().Message());
  (*datapath)->publisher->SetDatapathMode(config.datapath_mode);
  (*datapath)->publisher->SetPodStampsTrusted(config.pod_egress_stamp.enabled);
  rte_mempool* pool =
      rte_pktmbuf_pool_create("dg_mbufs", config.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                              static_cast<int>(rte_lcore_to_socket_id(worker_lcore)));
  if (pool == nullptr) {
    return Fail("cannot create a mempool of " + std::to_string(config.mbufs) +
                " mbufs (hugepages?)");
  }
  // Before the ports: DPDK's net_af_xdp attaches its copy of our programs only where none
  // is; destroyed after the ports (declared later), so the node's copies come back on
  // every exit.
  // The control thread's io_context (SIGINT/SIGTERM stop, SIGHUP reloads, the XDP
  // heartbeat): declared before everything that holds timers on it.
  boost::asio::io_context io;
  std::unique_ptr<XdpHandover> handover;
  if (attached_legs) {
    auto begun = XdpHandover::Begin(*attached_legs);
    if (!begun) return Fail(begun.error().Message());
    handover = std::move(*begun);
  }
  auto kernel_port = StartPort(config.kernel_port, "kernel", pool, 1024);
  if (!kernel_port) return Fail(config.source + ": " + kernel_port.error().Message());
  auto uplink_port = StartPort(config.uplink_port, "uplink", pool, 1024);
  if (!uplink_port) return Fail(config.source + ": " + uplink_port.error().Message());

  SchedulerConfig scheduler_config;
  scheduler_config.queue_depth = config.queue_depth;
  scheduler_config.port_rate_bps = config.shaper_rate_bps;
  scheduler_config.port_burst_bytes = config.shaper_burst_bytes;
  scheduler_config.framing_overhead_bytes = config.framing_overhead_bytes;
  scheduler_config.tsc_hz = rte_get_tsc_hz();
  StrictPriorityScheduler scheduler(scheduler_config, (*datapath)->counters.get(), rte_rdtsc());
  WorkerOptions worker_options;
  worker_options.kernel_port = kernel_port->id();
  worker_options.uplink_port = uplink_port->id();
  worker_options.burst_size = static_cast<uint16_t>(config.burst_size);
  Worker worker(worker_options, (*datapath)->pipeline.get(), &scheduler);

  DpdkDatapathTables datapath_tables(**datapath);
  const DpdkPortView port_view(kernel_port->id(), uplink_port->id());
  ControlPlane control_plane(io, config, datapath_tables, port_view, rte_get_tsc_hz(), [&io] {
    stop_requested.store(true);
    io.stop();
  });
  if (config.kubernetes.enabled) {
    auto client = k8s::KubeClient::Create(io, kubernetes->access);
    if (!client) return Fail(client.error().Message());
    std::printf("dscp-gateway: syncing from the Kubernetes API at %s (%s)\n",
                (*client)->Describe().c_str(),
                kubernetes->settings.all_pods ? "all pods"
                                              : ("node " + kubernetes->settings.node_name).c_str());
    control_plane.EnableKubernetes(std::move(*client), kubernetes->settings);
  }
  if (handover) {
    handover->Serve(io, control_plane, [&datapath_tables] { return datapath_tables.Heartbeat(); });
  }
  // After the control plane (its metric sources), before the io_context stops being run.
  std::unique_ptr<PodStampReconciler> pod_stamp;
  if (config.pod_egress_stamp.enabled) {
    const std::string guard_interface = !config.pod_egress_stamp.guard_interface.empty()
                                            ? config.pod_egress_stamp.guard_interface
                                            : xdp::NodeLegs{}.kernel_leg;
    auto started =
        PodStampReconciler::Start(config.pod_egress_stamp, guard_interface, datapath_tables);
    if (!started) return Fail(config.source + ": podEgressStamp: " + started.error().Message());
    pod_stamp = std::move(*started);
    pod_stamp->Serve(io, control_plane);
  }
  auto rest_endpoint = control_plane.Start();
  if (!rest_endpoint) return Fail(config.source + ": " + rest_endpoint.error().Message());
  WorkerLaunch launch{&worker, (*datapath)->qsbr, &stop_requested, rte_get_tsc_hz()};
  rte_eal_remote_launch(WorkerEntry, &launch, worker_lcore);
  std::printf(
      "dscp-gateway: forwarding %s -> %s on lcore %u (%s); shaper %s; %zu classes, %zu pod "
      "addresses; REST on %s:%u\n",
      config.kernel_port.c_str(), config.uplink_port.c_str(), worker_lcore,
      std::string(DatapathModeName(config.datapath_mode)).c_str(),
      config.shaper_rate_bps == 0 ? "off"
                                  : (std::to_string(config.shaper_rate_bps) + " bit/s").c_str(),
      inputs.policy.classes.size(), inputs.pods.size(),
      rest_endpoint->address().to_string().c_str(), rest_endpoint->port());
  std::fflush(stdout);

  io.run();
  control_plane.Stop();
  std::printf("dscp-gateway: stopping: draining queues\n");
  rte_eal_wait_lcore(worker_lcore);

  std::printf("dscp-gateway: final counters\n");
  std::fputs(RenderMetricsText(control_plane.Metrics()).c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace dg
