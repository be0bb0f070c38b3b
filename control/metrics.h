// The one list of every metric dscp-gateway exports: kind, name, labels (by group), the
// key in the /v1/stats JSON and help. The worker's counter blocks, the /v1/stats JSON,
// the Prometheus /metrics text, the text report of `run`/`replay` and dscpctl are all
// generated from it (Envoy's stats-macro idea). Adding a metric: one line here, then the
// increment (worker-owned groups) or one MetricSnapshot::Add (control-plane groups).
//
// Each line: X(field, kind, prometheus name, json key, help). `field` names the member
// of the worker's counter block for worker-owned groups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dscp_gateway_abi.h"

// Worker-owned scalars (WorkerCounters): JSON at the (dotted) key, text `<kind> <key>=<n>`.
#define DG_WORKER_METRICS(X)                                                                     \
  X(kernel_rx_packets, kCounter, "dscp_gateway_worker_kernel_rx_packets_total",                  \
    "kernel_rx_packets", "frames received on the kernel-facing port")                            \
  X(kernel_rx_bytes, kCounter, "dscp_gateway_worker_kernel_rx_bytes_total", "kernel_rx_bytes",   \
    "bytes received on the kernel-facing port")                                                  \
  X(uplink_tx_packets, kCounter, "dscp_gateway_worker_uplink_tx_packets_total",                  \
    "uplink_tx_packets", "frames sent on the uplink")                                            \
  X(uplink_tx_bytes, kCounter, "dscp_gateway_worker_uplink_tx_bytes_total", "uplink_tx_bytes",   \
    "bytes sent on the uplink")                                                                  \
  X(uplink_rx_packets, kCounter, "dscp_gateway_worker_uplink_rx_packets_total",                  \
    "uplink_rx_packets", "frames received on the uplink")                                        \
  X(uplink_rx_bytes, kCounter, "dscp_gateway_worker_uplink_rx_bytes_total", "uplink_rx_bytes",   \
    "bytes received on the uplink")                                                              \
  X(kernel_tx_packets, kCounter, "dscp_gateway_worker_kernel_tx_packets_total",                  \
    "kernel_tx_packets", "frames sent to the kernel")                                            \
  X(kernel_tx_bytes, kCounter, "dscp_gateway_worker_kernel_tx_bytes_total", "kernel_tx_bytes",   \
    "bytes sent to the kernel")                                                                  \
  X(kernel_tx_drops, kCounter, "dscp_gateway_worker_kernel_tx_drops_total", "kernel_tx_drops",   \
    "uplink->kernel frames the kernel port would not take")                                      \
  X(uplink_tx_retries, kCounter, "dscp_gateway_worker_uplink_tx_retries_total",                  \
    "uplink_tx_retries", "bursts the uplink did not fully take; the rest is retried")            \
  X(drain_drops, kCounter, "dscp_gateway_worker_drain_drops_total", "drain_drops",               \
    "frames still queued when the drain deadline passed at shutdown")                            \
  X(unknown_source, kCounter, "dscp_gateway_worker_unknown_source_total", "unknown_source",      \
    "IP frames whose source is not in the pod table (sent unmarked)")                            \
  X(marked, kCounter, "dscp_gateway_worker_marked_total", "marked",                              \
    "frames whose DSCP field was rewritten")                                                     \
  X(fragment_cache_hits, kCounter, "dscp_gateway_worker_fragment_cache_hits_total",              \
    "fragment_cache_hits", "non-first fragments marked like their first fragment")               \
  X(heartbeat, kCounter, "dscp_gateway_worker_heartbeat_total", "heartbeat",                     \
    "worker loop iterations; /healthz watches it advance")                                       \
  X(cut_through_packets, kCounter, "dscp_gateway_worker_cut_through_packets_total",              \
    "cut_through_packets", "frames sent without queueing: every queue empty, tokens to spare")   \
  X(port_shaper_tokens_bytes, kGauge, "dscp_gateway_shaper_tokens_bytes", "shaper.tokens_bytes", \
    "Tokens left in the port shaper.")                                                           \
  X(pod_shaper_delayed, kCounter, "dscp_gateway_pod_shaper_delayed_packets_total",               \
    "pod_shaper.delayed", "frames held in their pod's queue by its egress-bandwidth limit")      \
  X(pod_shaper_drops, kCounter, "dscp_gateway_pod_shaper_drops_total", "pod_shaper.drops",       \
    "frames dropped because their pod's egress-bandwidth queue was full")                        \
  X(pcp_marked, kCounter, "dscp_gateway_worker_pcp_marked_total", "pcp_marked",                  \
    "VLAN-tagged frames whose outer tag's 802.1p priority (PCP) was rewritten")                  \
  X(observe_forwarded, kCounter, "dscp_gateway_worker_observe_forwarded_total",                  \
    "observe_forwarded", "frames forwarded unchanged and unshaped (datapath.mode observe)")      \
  X(stamp_classified, kCounter, "dscp_gateway_worker_stamp_classified_total",                    \
    "pod_stamp.classified", "non-pod frames classified by their pod's stamp (podEgressStamp)")   \
  X(stamp_unknown_class, kCounter, "dscp_gateway_worker_stamp_unknown_class_total",              \
    "pod_stamp.unknown_class", "non-pod frames with a stamp codepoint of no class")

// PMD port counters (PortStatistics), label port: JSON ports.<port>.<key>.
#define DG_PORT_METRICS(X)                                                    \
  X(rx_packets, kCounter, "dscp_gateway_port_rx_packets_total", "rx_packets", \
    "Packets received by the port (PMD count).")                              \
  X(rx_bytes, kCounter, "dscp_gateway_port_rx_bytes_total", "rx_bytes",       \
    "Bytes received by the port (PMD count).")                                \
  X(tx_packets, kCounter, "dscp_gateway_port_tx_packets_total", "tx_packets", \
    "Packets sent by the port (PMD count).")                                  \
  X(tx_bytes, kCounter, "dscp_gateway_port_tx_bytes_total", "tx_bytes",       \
    "Bytes sent by the port (PMD count).")                                    \
  X(rx_missed, kCounter, "dscp_gateway_port_rx_missed_total", "rx_missed",    \
    "Packets the port dropped because the receive ring was full.")            \
  X(rx_errors, kCounter, "dscp_gateway_port_rx_errors_total", "rx_errors",    \
    "Receive errors reported by the PMD.")                                    \
  X(tx_errors, kCounter, "dscp_gateway_port_tx_errors_total", "tx_errors",    \
    "Transmit errors reported by the PMD.")                                   \
  X(rx_nombuf, kCounter, "dscp_gateway_port_rx_nombuf_total", "rx_nombuf",    \
    "Receive failures for want of an mbuf.")

// Per class, from the policy, label class: JSON classes[name=<class>].<key>.
#define DG_CLASS_POLICY_METRICS(X) \
  X(dscp, kGauge, "dscp_gateway_class_dscp", "dscp", "DSCP value the class marks with.")

// Per class, worker-owned (ClassCounters), label class: JSON classes[name=<class>].<key>.
// A histogram field is <field>_buckets (per bucket, not cumulative) and
// <field>_cycles_sum (TSC cycles).
#define DG_CLASS_METRICS(X)                                                                      \
  X(packets, kCounter, "dscp_gateway_class_packets_total", "packets",                            \
    "Packets sent on the uplink from this class's queue.")                                       \
  X(bytes, kCounter, "dscp_gateway_class_bytes_total", "bytes",                                  \
    "Bytes sent on the uplink from this class's queue.")                                         \
  X(drops, kCounter, "dscp_gateway_class_drops_total", "drops",                                  \
    "Packets tail-dropped because the class queue was full (packets or bytes).")                 \
  X(aqm_drops, kCounter, "dscp_gateway_class_aqm_drops_total", "aqm_drops",                      \
    "Non-ECN packets CoDel dropped at the head of the queue (only with dropNonEct or ecn off).") \
  X(ecn_marks, kCounter, "dscp_gateway_class_ecn_marks_total", "ecn_marks",                      \
    "ECN-capable packets CoDel marked Congestion Experienced instead of dropping them.")         \
  X(depth, kGauge, "dscp_gateway_class_queue_depth_packets", "queue_depth",                      \
    "Packets waiting in the class queue now.")                                                   \
  X(peak_depth, kGauge, "dscp_gateway_class_queue_peak_depth_packets", "queue_peak_depth",       \
    "Most packets ever waiting in the class queue.")                                             \
  X(ceiling_tokens_bytes, kGauge, "dscp_gateway_class_ceiling_tokens_bytes",                     \
    "ceiling_tokens_bytes", "Tokens left under the class's maxRate ceiling.")                    \
  X(sojourn, kHistogram, "dscp_gateway_class_queue_sojourn_seconds", "queue_sojourn_seconds",    \
    "Time packets spent in the class queue, from enqueue to dequeue.")                           \
  X(observed_packets, kCounter, "dscp_gateway_class_observed_packets_total", "observed_packets", \
    "Observe mode: packets classified into this class, forwarded unchanged and unshaped.")       \
  X(observed_bytes, kCounter, "dscp_gateway_class_observed_bytes_total", "observed_bytes",       \
    "Observe mode: bytes classified into this class, forwarded unchanged and unshaped.")         \
  X(would_mark_packets, kCounter, "dscp_gateway_class_would_mark_packets_total",                 \
    "would_mark_packets",                                                                        \
    "Observe mode: packets whose DSCP or VLAN priority enforce mode would have rewritten.")

// Per namespace id, worker-owned (arrays in WorkerCounters), labels namespace and class
// (never pod IPs: bounded cardinality): JSON namespaces[namespace=<ns>,class=<class>].<key>.
// Sources not in the pod table are namespace "(unmarked)" in the default class.
#define DG_NAMESPACE_METRICS(X)                                                                \
  X(namespace_packets, kCounter, "dscp_gateway_namespace_packets_total", "packets",            \
    "Packets from pods of the namespace (unmarked: sources not in the pod table).")            \
  X(namespace_bytes, kCounter, "dscp_gateway_namespace_bytes_total", "bytes",                  \
    "Bytes from pods of the namespace.")                                                       \
  X(namespace_drops, kCounter, "dscp_gateway_namespace_drops_total", "drops",                  \
    "Packets from pods of the namespace tail-dropped in the class queue.")                     \
  X(namespace_would_mark_packets, kCounter, "dscp_gateway_namespace_would_mark_packets_total", \
    "would_mark_packets",                                                                      \
    "Observe mode: packets from pods of the namespace whose DSCP or VLAN priority "            \
    "enforce mode would have rewritten.")

// Per unclassified reason, worker-owned (array in WorkerCounters), label reason:
// JSON unclassified.<reason>.
#define DG_UNCLASSIFIED_METRICS(X)                                                     \
  X(unclassified, kCounter, "dscp_gateway_unclassified_packets_total", "unclassified", \
    "Frames forwarded unchanged because they could not be classified, by reason.")

// Control-plane scalars: JSON at the (dotted) key.
#define DG_GATEWAY_METRICS(X)                                                                      \
  X(shaper_rate_bytes_per_second, kGauge, "dscp_gateway_shaper_rate_bytes_per_second",             \
    "shaper.rate_bytes_per_second", "Port shaper rate (0: unshaped).")                             \
  X(pod_table_entries, kGauge, "dscp_gateway_pod_table_entries", "pod_table.entries",              \
    "Pod addresses in the datapath table.")                                                        \
  X(pod_table_capacity, kGauge, "dscp_gateway_pod_table_capacity_entries", "pod_table.capacity",   \
    "Pod addresses the table can hold.")                                                           \
  X(policy_reloads, kCounter, "dscp_gateway_policy_reloads_total", "policy.reloads",               \
    "Policy (file or ConfigMap) and pod file reloads applied.")                                    \
  X(policy_reload_errors, kCounter, "dscp_gateway_policy_reload_errors_total",                     \
    "policy.reload_errors",                                                                        \
    "Policy or pod file reloads rejected; the previous policy stayed in force.")                   \
  X(policy_generation, kGauge, "dscp_gateway_policy_generation", "policy_generation",              \
    "Generation of the policy snapshot the datapath uses.")                                        \
  X(policy_loaded_timestamp_seconds, kGauge, "dscp_gateway_policy_loaded_timestamp_seconds",       \
    "policy.loaded_timestamp_seconds", "When the active policy was loaded.")                       \
  X(rest_requests, kCounter, "dscp_gateway_rest_requests_total", "rest.requests",                  \
    "REST requests answered, any status.")                                                         \
  X(sync_synced, kGauge, "dscp_gateway_sync_synced", "kubernetes.synced",                          \
    "1 once every watched resource has been listed.")                                              \
  X(sync_lag_seconds, kHistogram, "dscp_gateway_sync_lag_seconds", "kubernetes.sync_lag_seconds",  \
    "Time from receiving a pod watch event to the change being visible to the datapath.")          \
  X(healthy, kGauge, "dscp_gateway_healthy", "healthy",                                            \
    "1 while the datapath heartbeat advances.")                                                    \
  X(observe_mode, kGauge, "dscp_gateway_observe_mode", "observe_mode",                             \
    "1 while datapath.mode is observe: classified and counted, forwarded unchanged and unshaped.") \
  X(config_reload_errors, kCounter, "dscp_gateway_config_reload_errors_total",                     \
    "config.reload_errors",                                                                        \
    "Gateway config re-reads (for datapath.mode) rejected; the running mode stayed.")              \
  X(pod_stamp_interfaces, kGauge, "dscp_gateway_pod_stamp_interfaces", "pod_stamp.interfaces",     \
    "Pod veths carrying the pod-stamp program (podEgressStamp).")                                  \
  X(pod_stamp_attach_failures, kCounter, "dscp_gateway_pod_stamp_attach_failures_total",           \
    "pod_stamp.attach_failures", "Failed attempts to attach the pod-stamp program to a veth.")     \
  X(pod_stamp_entries, kGauge, "dscp_gateway_pod_stamp_entries", "pod_stamp.entries",              \
    "Pod addresses in the pod-stamp map.")

// REST refusals (RestServerStats), label reason: JSON rest.rejected.<reason>.
#define DG_REST_METRICS(X)                                                   \
  X(rest_rejected, kCounter, "dscp_gateway_rest_rejected_total", "rejected", \
    "REST requests or connections refused, by reason.")

// Kubernetes watches (ReflectorStats), label resource:
// JSON kubernetes.watches[resource=<resource>].<key>.
#define DG_SYNC_METRICS(X)                                                                \
  X(lists, kCounter, "dscp_gateway_sync_lists_total", "lists",                            \
    "Complete lists received from the API server.")                                       \
  X(relists, kCounter, "dscp_gateway_sync_relists_total", "relists",                      \
    "Lists after the first (410 Gone, failures).")                                        \
  X(watch_restarts, kCounter, "dscp_gateway_sync_watch_restarts_total", "watch_restarts", \
    "Watches re-opened (timeouts, drops, errors).")                                       \
  X(errors, kCounter, "dscp_gateway_sync_errors_total", "errors",                         \
    "Failed requests, error events and malformed lines.")                                 \
  X(events, kCounter, "dscp_gateway_sync_events_total", "events", "Watch events applied.")

// Pod annotations refused (control/pod_overrides.h), label reason:
// JSON pod_overrides.refused.<reason>.
#define DG_POD_OVERRIDE_METRICS(X)                                                        \
  X(pod_override_refused, kCounter, "dscp_gateway_pod_override_refused_total", "refused", \
    "Pod annotations (class, Volcano qos-level, egress bandwidth) not honoured, by reason.")

// The node's XDP programs (xdp/dg_*.bpf.c), per-CPU counters summed; declared once in
// xdp/dscp_gateway_abi.h (DG_XDP_COUNTERS) and only adapted here: JSON xdp.<name>, text
// `xdp <name>=<n>`. Present on an attached node (`node: {uplink: ...}`).
#define DG_XDP_METRIC_ROW_(id, name, help) \
  DG_SPEC_IN(kXdp, kCounter, "dscp_gateway_xdp_" name "_total", name, help)

namespace dg {

enum class MetricKind : uint8_t { kCounter, kGauge, kHistogram };

// A group is a label set and its place in the JSON document and the text report.
enum class MetricGroup : uint8_t {
  kWorker,
  kPort,
  kClass,
  kNamespace,
  kUnclassified,
  kGateway,
  kRest,
  kSync,
  kXdp,
  kPodOverride,
};

struct MetricGroupLayout {
  std::span<const std::string_view> labels;
  // Object path of a row in /v1/stats: "a.b" nests objects, "a[k={label}]" is the element
  // of array a whose member k is the label's value (created if missing). A label not used
  // here makes the value an object keyed by that label: unclassified.<reason>.
  std::string_view json_container;
  // The text report's line a row goes on ("" = one line per metric: `<kind> <key>=<n>`).
  // Rows whose lines expand alike share one line: `class critical dscp=46 packets=...`.
  std::string_view text_line;
};

struct MetricSpec {
  MetricGroup group;
  MetricKind kind;
  std::string_view name;      // Prometheus family name
  std::string_view json_key;  // key in the row's JSON object (and the text report)
  std::string_view help;
};

namespace metric_labels {
inline constexpr std::string_view kPort[] = {"port"};
inline constexpr std::string_view kClass[] = {"class"};
inline constexpr std::string_view kNamespace[] = {"namespace", "class"};
inline constexpr std::string_view kReason[] = {"reason"};
inline constexpr std::string_view kResource[] = {"resource"};
}  // namespace metric_labels

inline constexpr MetricGroupLayout kMetricGroupLayouts[] = {
    {{}, "", ""},                                                       // kWorker
    {metric_labels::kPort, "ports.{port}", "port {port}"},              // kPort
    {metric_labels::kClass, "classes[name={class}]", "class {class}"},  // kClass
    {metric_labels::kNamespace, "namespaces[namespace={namespace},class={class}]",
     "namespace {namespace} class={class}"},       // kNamespace
    {metric_labels::kReason, "", "unclassified"},  // kUnclassified
    {{}, "", ""},                                  // kGateway
    {metric_labels::kReason, "rest", "rest"},      // kRest
    {metric_labels::kResource, "kubernetes.watches[resource={resource}]",
     "sync {resource}"},                                         // kSync
    {{}, "xdp", "xdp"},                                          // kXdp
    {metric_labels::kReason, "pod_overrides", "pod_overrides"},  // kPodOverride
};

inline constexpr const MetricGroupLayout& LayoutOf(MetricGroup group) {
  return kMetricGroupLayouts[static_cast<size_t>(group)];
}

#define DG_SPEC_IN(group, kind, name, key, help) \
  MetricSpec{MetricGroup::group, MetricKind::kind, name, key, help},
#define DG_SPEC_WORKER(field, kind, name, key, help) DG_SPEC_IN(kWorker, kind, name, key, help)
#define DG_SPEC_PORT(field, kind, name, key, help) DG_SPEC_IN(kPort, kind, name, key, help)
#define DG_SPEC_CLASS(field, kind, name, key, help) DG_SPEC_IN(kClass, kind, name, key, help)
#define DG_SPEC_NAMESPACE(field, kind, name, key, help) \
  DG_SPEC_IN(kNamespace, kind, name, key, help)
#define DG_SPEC_UNCLASSIFIED(field, kind, name, key, help) \
  DG_SPEC_IN(kUnclassified, kind, name, key, help)
#define DG_SPEC_GATEWAY(field, kind, name, key, help) DG_SPEC_IN(kGateway, kind, name, key, help)
#define DG_SPEC_REST(field, kind, name, key, help) DG_SPEC_IN(kRest, kind, name, key, help)
#define DG_SPEC_SYNC(field, kind, name, key, help) DG_SPEC_IN(kSync, kind, name, key, help)
#define DG_SPEC_POD_OVERRIDE(field, kind, name, key, help) \
  DG_SPEC_IN(kPodOverride, kind, name, key, help)

// In exposition order.
inline constexpr MetricSpec kMetricSpecs[] = {
    DG_WORKER_METRICS(DG_SPEC_WORKER) DG_PORT_METRICS(DG_SPEC_PORT)
        DG_CLASS_POLICY_METRICS(DG_SPEC_CLASS) DG_CLASS_METRICS(DG_SPEC_CLASS)
            DG_NAMESPACE_METRICS(DG_SPEC_NAMESPACE) DG_UNCLASSIFIED_METRICS(DG_SPEC_UNCLASSIFIED)
                DG_GATEWAY_METRICS(DG_SPEC_GATEWAY) DG_REST_METRICS(DG_SPEC_REST)
                    DG_SYNC_METRICS(DG_SPEC_SYNC) DG_XDP_COUNTERS(DG_XDP_METRIC_ROW_)
                        DG_POD_OVERRIDE_METRICS(DG_SPEC_POD_OVERRIDE)};

#undef DG_SPEC_IN
#undef DG_SPEC_WORKER
#undef DG_SPEC_PORT
#undef DG_SPEC_CLASS
#undef DG_SPEC_NAMESPACE
#undef DG_SPEC_UNCLASSIFIED
#undef DG_SPEC_GATEWAY
#undef DG_SPEC_REST
#undef DG_SPEC_SYNC
#undef DG_SPEC_POD_OVERRIDE
#undef DG_XDP_METRIC_ROW_

inline constexpr size_t kMetricCount = std::size(kMetricSpecs);

// Index of a metric in kMetricSpecs by its Prometheus name; a name not in the list does
// not compile.
consteval size_t MetricIndex(std::string_view name) {
  for (size_t i = 0; i < kMetricCount; ++i) {
    if (kMetricSpecs[i].name == name) return i;
  }
  throw "metric not in the list (control/metrics.h)";
}

}  // namespace dg
