// The one metric list and its three renderings: every metric reaches the /v1/stats JSON,
// the Prometheus text and the text report with the same value.
#include "control/metrics.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "control/counter_metrics.h"
#include "control/metric_snapshot.h"
#include "fake_datapath.h"

namespace dg {
namespace {

namespace json = boost::json;

// Two rows per labelled metric (so rows cannot bleed into each other), one otherwise;
// every value distinct.
struct ExpectedRow {
  size_t metric;
  std::vector<std::string> labels;
  MetricValue value;
};

std::vector<ExpectedRow> OneRowPerMetric(MetricSnapshot& snapshot) {
  std::vector<ExpectedRow> rows;
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricSpec& spec = kMetricSpecs[m];
    const MetricGroupLayout& layout = LayoutOf(spec.group);
    const int row_count = layout.labels.empty() ? 1 : 2;
    for (int r = 0; r < row_count; ++r) {
      std::vector<std::string> labels;
      for (std::string_view label : layout.labels)
        labels.push_back(std::string(label) + "-" + std::to_string(r));
      MetricValue value = uint64_t{1000 * m + 7 * static_cast<uint64_t>(r) + 1};
      if (spec.kind == MetricKind::kHistogram) {
        value =
            HistogramValue{{0.001, 0.1}, {m, 2, uint64_t(r) + 1}, 0.25 + static_cast<double>(m)};
      } else if (spec.name.ends_with("_seconds")) {
        value = 1.5 + static_cast<double>(m) + r;
      }
      snapshot.Add(m, labels, value);
      rows.push_back({m, labels, value});
    }
  }
  return rows;
}

double Number(const json::value& value) { return value.to_number<double>(); }

// Where a row must be in /v1/stats, spelled out per group (not through the layout table
// the renderer uses).
std::optional<json::value> JsonPlace(const json::object& document, const ExpectedRow& row) {
  const MetricSpec& spec = kMetricSpecs[row.metric];
  auto member = [](const json::value* object, std::string_view key) -> const json::value* {
    const json::object* as_object = object ? object->if_object() : nullptr;
    return as_object ? as_object->if_contains(key) : nullptr;
  };
  auto element = [](const json::value* array,
                    std::vector<std::pair<std::string, std::string>> keys) -> const json::value* {
    if (array == nullptr || !array->is_array()) return nullptr;
    for (const json::value& item : array->as_array()) {
      bool match = true;
      for (const auto& [key, value] : keys) {
        const json::value* field = item.as_object().if_contains(key);
        match = match && field && field->is_string() && field->as_string() == value;
      }
      if (match) return &item;
    }
    return nullptr;
  };
  const json::value root = document;
  const json::value* place = nullptr;
  switch (spec.group) {
    case MetricGroup::kWorker:
    case MetricGroup::kGateway: {
      place = &root;
      std::string_view key = spec.json_key;
      while (place != nullptr && !key.empty()) {
        const size_t dot = key.find('.');
        place = member(place, key.substr(0, dot));
        key = dot == std::string_view::npos ? std::string_view() : key.substr(dot + 1);
      }
      break;
    }
    case MetricGroup::kPort:
      place = member(member(member(&root, "ports"), row.labels[0]), spec.json_key);
      break;
    case MetricGroup::kClass:
      place = member(element(member(&root, "classes"), {{"name", row.labels[0]}}), spec.json_key);
      break;
    case MetricGroup::kNamespace:
      place = member(element(member(&root, "namespaces"),
                             {{"namespace", row.labels[0]}, {"class", row.labels[1]}}),
                     spec.json_key);
      break;
    case MetricGroup::kUnclassified:
      place = member(member(&root, "unclassified"), row.labels[0]);
      break;
    case MetricGroup::kRest:
      place = member(member(member(&root, "rest"), "rejected"), row.labels[0]);
      break;
    case MetricGroup::kSync:
      place = member(
          element(member(member(&root, "kubernetes"), "watches"), {{"resource", row.labels[0]}}),
          spec.json_key);
      break;
    case MetricGroup::kXdp:
      place = member(member(&root, "xdp"), spec.json_key);
      break;
    case MetricGroup::kPodOverride:
      place = member(member(member(&root, "pod_overrides"), "refused"), row.labels[0]);
      break;
  }
  if (place == nullptr) return std::nullopt;
  return *place;
}

// The Prometheus series name with its labels, as the exposition format writes it.
std::string Series(const ExpectedRow& row, std::string_view suffix) {
  const MetricSpec& spec = kMetricSpecs[row.metric];
  const MetricGroupLayout& layout = LayoutOf(spec.group);
  std::string series = std::string(spec.name) + std::string(suffix);
  if (layout.labels.empty()) return series;
  series += '{';
  for (size_t i = 0; i < layout.labels.size(); ++i) {
    if (i > 0) series += ',';
    series += std::string(layout.labels[i]) + "=\"" + row.labels[i] + '"';
  }
  return series + '}';
}

// The value of `series` in the exposition text; NaN when it is missing.
double PrometheusValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size(), nullptr);
  }
  return std::nan("");
}

// The value of `key` on the text-report line that starts with `prefix`; NaN if missing.
double TextValue(const std::string& text, const std::string& prefix, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix + " ", 0) != 0) continue;
    std::istringstream words(line.substr(prefix.size()));
    for (std::string word; words >> word;) {
      if (word.rfind(key + "=", 0) == 0) return std::strtod(word.c_str() + key.size() + 1, nullptr);
    }
  }
  return std::nan("");
}

std::string TextPrefix(const ExpectedRow& row) {
  const MetricSpec& spec = kMetricSpecs[row.metric];
  switch (spec.group) {
    case MetricGroup::kWorker:
    case MetricGroup::kGateway:
      return spec.kind == MetricKind::kCounter ? "counter"
             : spec.kind == MetricKind::kGauge ? "gauge"
                                               : "histogram";
    case MetricGroup::kPort:
      return "port " + row.labels[0];
    case MetricGroup::kClass:
      return "class " + row.labels[0];
    case MetricGroup::kNamespace:
      return "namespace " + row.labels[0] + " class=" + row.labels[1];
    case MetricGroup::kUnclassified:
      return "unclassified";
    case MetricGroup::kRest:
      return "rest";
    case MetricGroup::kSync:
      return "sync " + row.labels[0];
    case MetricGroup::kXdp:
      return "xdp";
    case MetricGroup::kPodOverride:
      return "pod_overrides";
  }
  return "";
}

std::string TextKey(const ExpectedRow& row) {
  const MetricSpec& spec = kMetricSpecs[row.metric];
  if (spec.group == MetricGroup::kUnclassified || spec.group == MetricGroup::kRest ||
      spec.group == MetricGroup::kPodOverride)
    return row.labels[0];
  return std::string(spec.json_key);
}

TEST(MetricList, NamesAreUniqueAndPrometheusShaped) {
  for (size_t a = 0; a < kMetricCount; ++a) {
    const MetricSpec& spec = kMetricSpecs[a];
    EXPECT_TRUE(spec.name.starts_with("dscp_gateway_")) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_EQ(spec.kind == MetricKind::kCounter, spec.name.ends_with("_total")) << spec.name;
    for (size_t b = a + 1; b < kMetricCount; ++b) EXPECT_NE(spec.name, kMetricSpecs[b].name);
  }
}

TEST(MetricSnapshot, EveryMetricHasTheSameValueInJsonPrometheusAndText) {
  MetricSnapshot snapshot;
  const std::vector<ExpectedRow> rows = OneRowPerMetric(snapshot);
  json::object document;
  WriteMetricsJson(snapshot, document);
  const std::string prometheus = RenderPrometheusText(snapshot);
  const std::string text = RenderMetricsText(snapshot);

  for (const ExpectedRow& row : rows) {
    const MetricSpec& spec = kMetricSpecs[row.metric];
    SCOPED_TRACE(std::string(spec.name) + " " + Series(row, ""));
    const std::optional<json::value> place = JsonPlace(document, row);
    ASSERT_TRUE(place.has_value()) << json::serialize(document);
    if (const auto* histogram = std::get_if<HistogramValue>(&row.value)) {
      const double count = static_cast<double>(histogram->Count());
      EXPECT_EQ(Number(place->at("count")), count);
      EXPECT_EQ(Number(place->at("sum")), histogram->sum);
      EXPECT_EQ(PrometheusValue(prometheus, Series(row, "_count")), count);
      EXPECT_EQ(PrometheusValue(prometheus, Series(row, "_sum")), histogram->sum);
      EXPECT_EQ(TextValue(text, TextPrefix(row), TextKey(row) + "_count"), count);
      EXPECT_EQ(TextValue(text, TextPrefix(row), TextKey(row) + "_sum"), histogram->sum);
    } else {
      const double value = std::holds_alternative<uint64_t>(row.value)
                               ? static_cast<double>(std::get<uint64_t>(row.value))
                               : std::get<double>(row.value);
      EXPECT_EQ(Number(*place), value);
      EXPECT_EQ(PrometheusValue(prometheus, Series(row, "")), value);
      EXPECT_EQ(TextValue(text, TextPrefix(row), TextKey(row)), value);
    }
  }
}

TEST(MetricSnapshot, PrometheusHistogramBucketsAreCumulative) {
  MetricSnapshot snapshot;
  constexpr size_t kLag = MetricIndex("dscp_gateway_sync_lag_seconds");
  snapshot.Add(kLag, {}, HistogramValue{{0.1, 1.0}, {3, 4, 5}, 2.0});
  const std::string text = RenderPrometheusText(snapshot);
  EXPECT_NE(text.find("dscp_gateway_sync_lag_seconds_bucket{le=\"0.10000000000000001\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dscp_gateway_sync_lag_seconds_bucket{le=\"1\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("dscp_gateway_sync_lag_seconds_bucket{le=\"+Inf\"} 12\n"), std::string::npos);
  EXPECT_NE(text.find("dscp_gateway_sync_lag_seconds_count 12\n"), std::string::npos);
}

TEST(MetricSnapshot, PrometheusTextPassesPromtool) {
  const char* promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool not installed";
  MetricSnapshot snapshot;
  OneRowPerMetric(snapshot);
  testing::TempDir dir;
  const std::string path = dir.Write("metrics.prom", RenderPrometheusText(snapshot));
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_EQ(output, "") << "promtool lint findings";
}

TEST(MetricSnapshot, EmptyFamiliesAreLeftOut) {
  MetricSnapshot snapshot;
  snapshot.Add(MetricIndex("dscp_gateway_healthy"), {}, uint64_t{1});
  EXPECT_EQ(RenderPrometheusText(snapshot),
            "# HELP dscp_gateway_healthy 1 while the datapath heartbeat advances.\n"
            "# TYPE dscp_gateway_healthy gauge\n"
            "dscp_gateway_healthy 1\n");
}

class CounterMetricsTest : public ::testing::Test {
 protected:
  testing::FakeDatapath datapath_;
};

TEST_F(CounterMetricsTest, UnmarkedTrafficIsInTheDefaultClassInEveryRendering) {
  CounterTotals totals;
  totals.namespace_packets[DG_NAMESPACE_NONE] = 5;
  const std::string& default_class =
      datapath_.policy().classes[datapath_.policy().default_class].name;
  MetricSnapshot snapshot;
  AddCounterMetrics(snapshot, totals, datapath_, 1'000'000'000);

  const json::object document = StatsJson(snapshot, datapath_.policy());
  const json::object& unmarked = document.at("namespaces").as_array().at(0).as_object();
  EXPECT_EQ(unmarked.at("namespace").as_string(), "(unmarked)");
  EXPECT_EQ(unmarked.at("class").as_string(), default_class);
  EXPECT_NE(RenderPrometheusText(snapshot).find(
                "dscp_gateway_namespace_packets_total{namespace=\"(unmarked)\",class=\"" +
                default_class + "\"} 5\n"),
            std::string::npos);
  EXPECT_NE(RenderMetricsText(snapshot).find("namespace (unmarked) class=" + default_class +
                                             " packets=5 "),
            std::string::npos);
}

TEST_F(CounterMetricsTest, ClassLineKeepsTheFormatScriptsParse) {
  CounterTotals totals;
  const PriorityPolicy& policy = datapath_.policy();
  totals.classes[0].packets = 11;
  totals.classes[0].drops = 3;
  MetricSnapshot snapshot;
  AddCounterMetrics(snapshot, totals, datapath_, 1'000'000'000);
  const std::string expected_start = "class " + policy.classes[0].name +
                                     " dscp=" + std::to_string(policy.classes[0].dscp) +
                                     " packets=11 bytes=0 drops=3 ";
  EXPECT_NE(RenderMetricsText(snapshot).find("\n" + expected_start), std::string::npos)
      << RenderMetricsText(snapshot);
}

TEST_F(CounterMetricsTest, StatsJsonKeepsBaseFieldsAndAddsClassSummaries) {
  CounterTotals totals;
  totals.classes[0].packets = 4;
  totals.classes[0].sojourn_buckets[0] = 4;
  totals.classes[0].sojourn_cycles_sum = 4'000;  // 4 packets, 1 µs each at 1 GHz
  MetricSnapshot snapshot;
  AddCounterMetrics(snapshot, totals, datapath_, 1'000'000'000);
  AddPortMetrics(snapshot, "kernel", PortStatistics{.rx_packets = 9});
  const json::object document =
      StatsJson(snapshot, datapath_.policy(),
                json::object{{"ports", json::object{{"kernel", {{"device", "net_x0"}}}}}});

  const json::object& kernel = document.at("ports").at("kernel").as_object();
  EXPECT_EQ(kernel.at("device").as_string(), "net_x0");
  EXPECT_EQ(kernel.at("rx_packets").to_number<uint64_t>(), 9u);
  const json::array& classes = document.at("classes").as_array();
  ASSERT_EQ(classes.size(), datapath_.policy().classes.size());
  const json::object& first = classes.at(0).as_object();
  EXPECT_EQ(first.at("name").as_string(), datapath_.policy().classes[0].name);
  EXPECT_EQ(first.at("packets").to_number<uint64_t>(), 4u);
  EXPECT_DOUBLE_EQ(first.at("sojourn_mean_us").to_number<double>(), 1.0);
  EXPECT_EQ(classes.at(1).at("sojourn_mean_us").to_number<double>(), 0.0);
}

}  // namespace
}  // namespace dg
