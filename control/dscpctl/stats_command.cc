// `dscpctl stats`: rates from two /v1/stats samples, as tables or one JSON object.
#include <algorithm>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "control/dscpctl/commands.h"
#include "control/dscpctl/json_fields.h"
#include "control/dscpctl/tables.h"
#include "control/metrics.h"

namespace dg::dscpctl {
namespace {

namespace json = boost::json;

// Counter growth between two samples; a counter that went back means the gateway
// restarted, and everything since the restart counts.
double Delta(const json::value* before, const json::value* after) {
  const uint64_t a = Unsigned(before);
  const uint64_t b = Unsigned(after);
  return static_cast<double>(b >= a ? b - a : b);
}

// Mean queue sojourn of the packets sent between the samples. The gateway reports the
// mean since start over every dequeued packet (each dequeue adds one sojourn sample), so
// mean * packets is the running sum. null when the class sent nothing in between.
json::value IntervalSojournMean(const json::value* before, const json::value& after) {
  const uint64_t packets_after = Unsigned(Field(&after, {"packets"}));
  const double mean_after = Number(Field(&after, {"sojourn_mean_us"}));
  const uint64_t packets_before = Unsigned(Field(before, {"packets"}));
  if (before == nullptr || packets_after < packets_before) {  // new class, or a restart
    return packets_after == 0 ? json::value(nullptr) : json::value(mean_after);
  }
  if (packets_after == packets_before) return nullptr;
  const double sum_delta =
      mean_after * static_cast<double>(packets_after) -
      Number(Field(before, {"sojourn_mean_us"})) * static_cast<double>(packets_before);
  return std::max(0.0, sum_delta / static_cast<double>(packets_after - packets_before));
}

const json::value* FindByName(const json::value* list, std::string_view key,
                              std::string_view name) {
  for (const json::value& item : Array(list)) {
    if (Text(Field(&item, {key})) == name) return &item;
  }
  return nullptr;
}

// The rates object of `stats --json`, also what the tables are printed from.
json::object ComputeRates(const json::value& first, const json::value& second, double seconds) {
  auto rate = [seconds](const json::value* before, const json::value* after) {
    return Delta(before, after) / seconds;
  };
  json::object rates;
  rates["interval_seconds"] = seconds;

  json::object ports;
  for (const char* port : {"kernel", "uplink"}) {
    const json::value* a = Field(&first, {"ports", port});
    const json::value* b = Field(&second, {"ports", port});
    if (b == nullptr) continue;
    json::object entry{{"device", Text(Field(b, {"device"}))},
                       {"link_up", Bool(Field(b, {"link_up"}))},
                       {"rx_pps", rate(Field(a, {"rx_packets"}), Field(b, {"rx_packets"}))},
                       {"rx_mbps", 8e-6 * rate(Field(a, {"rx_bytes"}), Field(b, {"rx_bytes"}))},
                       {"tx_pps", rate(Field(a, {"tx_packets"}), Field(b, {"tx_packets"}))},
                       {"tx_mbps", 8e-6 * rate(Field(a, {"tx_bytes"}), Field(b, {"tx_bytes"}))}};
    for (const MetricSpec& spec : kMetricSpecs) {
      if (spec.group != MetricGroup::kPort || spec.kind != MetricKind::kCounter) continue;
      const std::string counter(spec.json_key);
      entry[counter] = Unsigned(Field(b, {counter}));
      entry[counter + "_per_s"] = rate(Field(a, {counter}), Field(b, {counter}));
    }
    ports[port] = std::move(entry);
  }
  rates["ports"] = std::move(ports);

  json::array classes;
  for (const json::value& b : Array(Field(&second, {"classes"}))) {
    const std::string name = Text(Field(&b, {"name"}));
    const json::value* a = FindByName(Field(&first, {"classes"}), "name", name);
    classes.push_back(json::object{
        {"name", name},
        {"dscp", Unsigned(Field(&b, {"dscp"}))},
        {"max_rate_bps", Unsigned(Field(&b, {"max_rate_bps"}))},
        {"pps", rate(Field(a, {"packets"}), Field(&b, {"packets"}))},
        {"mbps", 8e-6 * rate(Field(a, {"bytes"}), Field(&b, {"bytes"}))},
        {"drops_per_s", rate(Field(a, {"drops"}), Field(&b, {"drops"}))},
        {"drops", Unsigned(Field(&b, {"drops"}))},
        {"queue_depth", Unsigned(Field(&b, {"queue_depth"}))},
        {"queue_peak_depth", Unsigned(Field(&b, {"queue_peak_depth"}))},
        {"sojourn_mean_us", IntervalSojournMean(a, b)},
        {"sojourn_mean_us_since_start", Number(Field(&b, {"sojourn_mean_us"}))},
        {"observed_pps", rate(Field(a, {"observed_packets"}), Field(&b, {"observed_packets"}))},
        {"observed_mbps", 8e-6 * rate(Field(a, {"observed_bytes"}), Field(&b, {"observed_bytes"}))},
        {"would_mark_per_s",
         rate(Field(a, {"would_mark_packets"}), Field(&b, {"would_mark_packets"}))},
        {"would_mark_packets", Unsigned(Field(&b, {"would_mark_packets"}))}});
  }
  rates["classes"] = std::move(classes);

  json::array namespaces;
  for (const json::value& b : Array(Field(&second, {"namespaces"}))) {
    const std::string name = Text(Field(&b, {"namespace"}));
    const json::value* a = FindByName(Field(&first, {"namespaces"}), "namespace", name);
    namespaces.push_back(
        json::object{{"namespace", name},
                     {"class", Text(Field(&b, {"class"}))},
                     {"pps", rate(Field(a, {"packets"}), Field(&b, {"packets"}))},
                     {"mbps", 8e-6 * rate(Field(a, {"bytes"}), Field(&b, {"bytes"}))},
                     {"drops_per_s", rate(Field(a, {"drops"}), Field(&b, {"drops"}))},
                     {"drops", Unsigned(Field(&b, {"drops"}))},
                     {"would_mark_per_s",
                      rate(Field(a, {"would_mark_packets"}), Field(&b, {"would_mark_packets"}))},
                     {"would_mark_packets", Unsigned(Field(&b, {"would_mark_packets"}))}});
  }
  rates["namespaces"] = std::move(namespaces);
  rates["datapath_mode"] = Text(Field(&second, {"datapath", "mode"}));

  json::object unclassified;
  for (const auto& [reason, total] : Object(Field(&second, {"unclassified"}))) {
    unclassified[reason] =
        json::object{{"total", Unsigned(&total)},
                     {"per_s", rate(Field(&first, {"unclassified", reason}), &total)}};
  }
  rates["unclassified"] = std::move(unclassified);
  json::object counters;
  for (const MetricSpec& spec : kMetricSpecs) {
    if (spec.group != MetricGroup::kWorker || spec.kind != MetricKind::kCounter) continue;
    const std::string counter(spec.json_key);
    counters[counter] =
        json::object{{"total", Unsigned(Field(&second, {counter}))},
                     {"per_s", rate(Field(&first, {counter}), Field(&second, {counter}))}};
  }
  // Also at the top level, where scripts found them before the list was generated.
  for (const char* counter : {"unknown_source", "marked"}) rates[counter] = counters[counter];
  rates["counters"] = std::move(counters);
  return rates;
}

// The table and a blank line, or the one line saying there is nothing to list.
void PrintTableOr(const Table& table, const char* nothing_line) {
  if (table.empty()) {
    std::printf("%s\n", nothing_line);
    return;
  }
  table.Print(stdout);
  std::printf("\n");
}

// What observe mode saw and would have marked, per class and namespace: printed in observe
// mode, and after it while the counters still hold something.
void PrintObserved(const json::value& rates) {
  bool observed = Text(Field(&rates, {"datapath_mode"})) == "observe";
  for (const json::value& c : Array(Field(&rates, {"classes"}))) {
    observed = observed || Unsigned(Field(&c, {"would_mark_packets"})) != 0;
  }
  if (!observed) return;
  Table classes({{"OBSERVED CLASS"},
                 {"PPS", true},
                 {"MBIT/S", true},
                 {"WOULD MARK/S", true},
                 {"WOULD MARK", true}});
  for (const json::value& c : Array(Field(&rates, {"classes"}))) {
    classes.AddRow({Text(Field(&c, {"name"})), Pps(Number(Field(&c, {"observed_pps"}))),
                    Mbps(Number(Field(&c, {"observed_mbps"}))),
                    Pps(Number(Field(&c, {"would_mark_per_s"}))),
                    Count(Unsigned(Field(&c, {"would_mark_packets"})))});
  }
  classes.Print(stdout);
  std::printf("\n");
  Table namespaces(
      {{"OBSERVED NAMESPACE"}, {"CLASS"}, {"WOULD MARK/S", true}, {"WOULD MARK", true}});
  for (const json::value& n : Array(Field(&rates, {"namespaces"}))) {
    if (Unsigned(Field(&n, {"would_mark_packets"})) == 0) continue;
    namespaces.AddRow({Text(Field(&n, {"namespace"})), OrDash(Text(Field(&n, {"class"}))),
                       Pps(Number(Field(&n, {"would_mark_per_s"}))),
                       Count(Unsigned(Field(&n, {"would_mark_packets"})))});
  }
  PrintTableOr(namespaces, "observed namespaces: none would have been marked");
}

void PrintRates(const json::object& rates_object, const json::value& second,
                const Endpoint& endpoint) {
  const json::value rates = rates_object;
  std::printf("dscp-gateway at %s: rates over %.2f s, uptime %s\n\n", endpoint.display.c_str(),
              Number(Field(&rates, {"interval_seconds"})),
              Duration(Number(Field(&second, {"uptime_seconds"}))).c_str());

  Table ports({{"PORT"},
               {"DEVICE"},
               {"LINK"},
               {"RX PPS", true},
               {"RX MBIT/S", true},
               {"TX PPS", true},
               {"TX MBIT/S", true},
               {"RX MISSED", true},
               {"RX NOMBUF", true},
               {"ERRORS", true}});
  for (const auto& [name, port] : Object(Field(&rates, {"ports"}))) {
    ports.AddRow(
        {std::string(name), Text(Field(&port, {"device"})),
         Bool(Field(&port, {"link_up"})) ? "up" : "DOWN", Pps(Number(Field(&port, {"rx_pps"}))),
         Mbps(Number(Field(&port, {"rx_mbps"}))), Pps(Number(Field(&port, {"tx_pps"}))),
         Mbps(Number(Field(&port, {"tx_mbps"}))), Count(Unsigned(Field(&port, {"rx_missed"}))),
         Count(Unsigned(Field(&port, {"rx_nombuf"}))),
         Count(Unsigned(Field(&port, {"rx_errors"})) + Unsigned(Field(&port, {"tx_errors"})))});
  }
  ports.Print(stdout);
  std::printf("\n");

  Table classes({{"CLASS"},
                 {"DSCP", true},
                 {"PPS", true},
                 {"MBIT/S", true},
                 {"DROPS/S", true},
                 {"DROPS", true},
                 {"QUEUE", true},
                 {"PEAK", true},
                 {"SOJOURN µs", true}});
  for (const json::value& c : Array(Field(&rates, {"classes"}))) {
    classes.AddRow({Text(Field(&c, {"name"})), Count(Unsigned(Field(&c, {"dscp"}))),
                    Pps(Number(Field(&c, {"pps"}))), Mbps(Number(Field(&c, {"mbps"}))),
                    Pps(Number(Field(&c, {"drops_per_s"}))), Count(Unsigned(Field(&c, {"drops"}))),
                    Count(Unsigned(Field(&c, {"queue_depth"}))),
                    Count(Unsigned(Field(&c, {"queue_peak_depth"}))),
                    NumberOrDash(Field(&c, {"sojourn_mean_us"}))});
  }
  classes.Print(stdout);
  std::printf("\n");
  PrintObserved(rates);

  // Busiest namespaces first.
  std::vector<const json::value*> namespaces;
  for (const json::value& n : Array(Field(&rates, {"namespaces"}))) namespaces.push_back(&n);
  std::stable_sort(namespaces.begin(), namespaces.end(), [](const auto* x, const auto* y) {
    const double x_rate = Number(Field(x, {"mbps"}));
    const double y_rate = Number(Field(y, {"mbps"}));
    if (x_rate != y_rate) return x_rate > y_rate;
    return Text(Field(x, {"namespace"})) < Text(Field(y, {"namespace"}));
  });
  if (namespaces.empty()) {
    std::printf("namespaces: no traffic yet\n\n");
  } else {
    Table table({{"NAMESPACE"},
                 {"CLASS"},
                 {"PPS", true},
                 {"MBIT/S", true},
                 {"DROPS/S", true},
                 {"DROPS", true}});
    for (const json::value* n : namespaces) {
      table.AddRow({Text(Field(n, {"namespace"})), OrDash(Text(Field(n, {"class"}))),
                    Pps(Number(Field(n, {"pps"}))), Mbps(Number(Field(n, {"mbps"}))),
                    Pps(Number(Field(n, {"drops_per_s"}))), Count(Unsigned(Field(n, {"drops"})))});
    }
    table.Print(stdout);
    std::printf("\n");
  }

  Table unclassified({{"UNCLASSIFIED REASON"}, {"PPS", true}, {"TOTAL", true}});
  for (const auto& [reason, entry] : Object(Field(&rates, {"unclassified"}))) {
    if (Unsigned(Field(&entry, {"total"})) == 0) continue;
    unclassified.AddRow({std::string(reason), Pps(Number(Field(&entry, {"per_s"}))),
                         Count(Unsigned(Field(&entry, {"total"})))});
  }
  PrintTableOr(unclassified, "unclassified: none");
  Table counters({{"WORKER COUNTER"}, {"PER S", true}, {"TOTAL", true}});
  for (const auto& [counter, entry] : Object(Field(&rates, {"counters"}))) {
    counters.AddRow({std::string(counter), Pps(Number(Field(&entry, {"per_s"}))),
                     Count(Unsigned(Field(&entry, {"total"})))});
  }
  counters.Print(stdout);
  std::printf("\n");
  std::printf(
      "unknown source: %s total, %s/s (IP frames from addresses not in the pod table, "
      "sent unmarked)\n",
      Count(Unsigned(Field(&rates, {"unknown_source", "total"}))).c_str(),
      Pps(Number(Field(&rates, {"unknown_source", "per_s"}))).c_str());
  std::printf("marked: %s total, %s/s\n",
              Count(Unsigned(Field(&rates, {"marked", "total"}))).c_str(),
              Pps(Number(Field(&rates, {"marked", "per_s"}))).c_str());
  std::printf("shaper: %s\n", ShaperText(second).c_str());
  const std::string mode = Text(Field(&rates, {"datapath_mode"}));
  if (!mode.empty()) {
    std::printf("datapath: %s\n", mode == "observe" ? "observe (classified and counted; forwarded "
                                                      "unchanged and unshaped)"
                                                    : mode.c_str());
  }
}

}  // namespace

int Stats(Client& client, const Options& options) {
  json::value first, second;
  Failure failure;
  if (!client.GetJson("/v1/stats", false, &first, &failure)) return Fail(failure);
  const auto first_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_seconds));
  if (!client.GetJson("/v1/stats", false, &second, &failure)) return Fail(failure);
  const double client_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_at).count();

  // The gateway stamps each sample with its uptime: the truest interval, free of our
  // own request latency. Our clock is the fallback (old gateway, or a restart).
  const double uptime_first = Number(Field(&first, {"uptime_seconds"}));
  const double uptime_second = Number(Field(&second, {"uptime_seconds"}));
  double seconds = uptime_second - uptime_first;
  if (uptime_second < uptime_first) {
    std::fprintf(stderr,
                 "dscpctl: warning: the gateway restarted between the samples; rates count "
                 "from the restart\n");
  }
  if (!(seconds > 0) || seconds > 10 * client_seconds + 1) seconds = client_seconds;
  if (!(seconds > 0)) seconds = 1e-3;

  const json::object rates = ComputeRates(first, second, seconds);
  if (options.json) {
    PrintJson(json::object{{"endpoint", client.endpoint().display},
                           {"samples", json::array{first, second}},
                           {"rates", rates}});
    return kExitOk;
  }
  PrintRates(rates, second, client.endpoint());
  return kExitOk;
}

}  // namespace dg::dscpctl
