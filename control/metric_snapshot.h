// One reading of every metric in control/metrics.h, and its three renderings: the
// /v1/stats JSON, the Prometheus text and the text report. All three walk the same rows,
// so they agree on every value.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "control/metrics.h"

namespace dg {

struct HistogramValue {
  std::vector<double> upper_bounds;
  std::vector<uint64_t> bucket_counts;  // per bucket (not cumulative); the last: above all
  double sum = 0;

  uint64_t Count() const;
};

using MetricValue = std::variant<uint64_t, double, HistogramValue>;

struct MetricRow {
  std::vector<std::string> label_values;  // in the order of the group's labels
  MetricValue value;
};

class MetricSnapshot {
 public:
  MetricSnapshot() : rows_(kMetricCount) {}

  // `metric` is MetricIndex("dscp_gateway_..."); one label value per label of its group.
  void Add(size_t metric, std::vector<std::string> label_values, MetricValue value);

  const std::vector<MetricRow>& rows(size_t metric) const { return rows_[metric]; }

 private:
  std::vector<std::vector<MetricRow>> rows_;  // indexed like kMetricSpecs
};

// Writes every row into `document` at its JSON place (see MetricGroupLayout), keeping
// what is already there: callers add non-metric fields (a class's name and max rate, a
// port's device) before or after. A histogram is {"count", "sum", "upper_bounds",
// "bucket_counts"}.
void WriteMetricsJson(const MetricSnapshot& snapshot, boost::json::object& document);

// Prometheus text exposition format 0.0.4; families without rows are left out.
std::string RenderPrometheusText(const MetricSnapshot& snapshot);

// Line-oriented, grep-friendly: `counter marked=12`, `class critical dscp=46 packets=...`,
// `namespace ray-training class=critical packets=...`, `unclassified not_ip=0 ...`. A
// histogram is `<key>_count=<n> <key>_sum=<seconds>`.
std::string RenderMetricsText(const MetricSnapshot& snapshot);

}  // namespace dg
