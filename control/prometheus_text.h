// Prometheus text exposition format 0.0.4 writer: HELP and TYPE once per family,
// label values escaped, histograms with cumulative buckets.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dg {

using MetricLabels = std::vector<std::pair<std::string_view, std::string>>;

class PrometheusText {
 public:
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Starts a family: `type` is counter, gauge or histogram. Call once per name.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const MetricLabels& labels, uint64_t value);
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  // `bucket_counts` are per bucket (not cumulative), the last one above every bound.
  void Histogram(std::string_view name, const MetricLabels& labels,
                 const std::vector<double>& upper_bounds,
                 const std::vector<uint64_t>& bucket_counts, double sum);

  const std::string& text() const { return text_; }

 private:
  void WriteSeries(std::string_view name, std::string_view suffix, const MetricLabels& labels,
                   const std::pair<std::string_view, std::string>* extra_label);
  std::string text_;
};

}  // namespace dg
