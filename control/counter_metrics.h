// The worker's counters, the ports and the REST server as rows of the one metric list
// (control/metrics.h), and the /v1/stats document around them. Used by the control
// plane (/v1/stats, /metrics, the final report of `run`) and by `replay`.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

#include "control/datapath_tables.h"
#include "control/metric_snapshot.h"
#include "control/rest_server.h"
#include "gateway/counters.h"

namespace dg {

// The namespace row of traffic from sources not in the pod table. Its class is the
// policy's default class (where that traffic is queued) in every rendering.
inline constexpr const char* kUnmarkedNamespace = "(unmarked)";

// Adds the worker-owned metrics and the classes' DSCP: one row per class of the policy,
// per namespace that saw traffic, per unclassified reason. `tsc_hz` converts sojourn
// cycles to seconds.
void AddCounterMetrics(MetricSnapshot& snapshot, const CounterTotals& totals,
                       const DatapathTables& datapath, uint64_t tsc_hz);

// One row per PortStatistics field, label port=`port`.
void AddPortMetrics(MetricSnapshot& snapshot, const std::string& port,
                    const PortStatistics& statistics);

// One row per reason a pod annotation was refused (control/pod_overrides.h).
void AddPodOverrideMetrics(MetricSnapshot& snapshot, const DatapathTables& datapath);

// /v1/pods' rows (and replay's): each address with its pod, the class it gets and why
// (namespace rules, or an honoured or refused annotation), and its egress limit.
boost::json::array PodsJson(const DatapathTables& datapath);

// One row per refusal reason of the REST server.
void AddRestMetrics(MetricSnapshot& snapshot, const RestServerStats& stats);

// The /v1/stats document: `base` (fields that are not metrics: a port's device, the
// Kubernetes document, ...) with every metric of `snapshot` written in, the classes in
// policy order with their name, max rate and mean sojourn since start.
boost::json::object StatsJson(const MetricSnapshot& snapshot, const PriorityPolicy& policy,
                              boost::json::object base = {});

}  // namespace dg
