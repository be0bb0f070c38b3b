#include "control/dscpctl/commands.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cinttypes>
#include <cstdio>
#include <tuple>
#include <utility>
#include <vector>

#include "control/dscpctl/json_fields.h"
#include "control/dscpctl/tables.h"

namespace dg::dscpctl {

namespace json = boost::json;

void PrintJson(const json::value& document) {
  std::fprintf(stdout, "%s\n", json::serialize(document).c_str());
}

std::string ShaperText(const json::value& stats) {
  const double rate = Number(Field(&stats, {"shaper", "rate_bps"}));
  if (rate <= 0) return "off (strict priority only)";
  return BitRate(rate) + Format(" (framing overhead %" PRIu64 " B/frame)",
                                Unsigned(Field(&stats, {"shaper", "framing_overhead_bytes"})));
}

namespace {

// Kubernetes sync (stats.kubernetes), when the gateway is new enough to report it.
void AddKubernetesFields(const json::value& stats, Fields* fields) {
  const json::value* kubernetes = Field(&stats, {"kubernetes"});
  if (kubernetes == nullptr) return;
  if (!Bool(Field(kubernetes, {"enabled"}))) {
    fields->Add("kubernetes", "off (pods from the static file)");
    return;
  }
  fields->Add("kubernetes",
              std::string(Bool(Field(kubernetes, {"synced"})) ? "synced" : "NOT synced") +
                  " with " + OrDash(Text(Field(kubernetes, {"server"}))) + ", " +
                  Count(Unsigned(Field(kubernetes, {"pods_cached"}))) + " pods cached, " +
                  Count(Unsigned(Field(kubernetes, {"rejected_objects"}))) + " objects rejected, " +
                  Format("mean lag %.3f s", Number(Field(kubernetes, {"sync_lag_mean_seconds"}))));
  for (const json::value& watch : Array(Field(kubernetes, {"watches"}))) {
    std::string line = std::string(Bool(Field(&watch, {"synced"})) ? "synced" : "NOT synced") +
                       ", " + Count(Unsigned(Field(&watch, {"events"}))) + " events, " +
                       Count(Unsigned(Field(&watch, {"relists"}))) + " relists, " +
                       Count(Unsigned(Field(&watch, {"errors"}))) + " errors";
    const std::string last_error = Text(Field(&watch, {"last_error"}));
    if (!last_error.empty()) {
      const std::string at = Text(Field(&watch, {"last_error_at"}));
      line += "; last: " + last_error + (at.empty() ? "" : " (at " + at + ")");
    }
    fields->Add("  watch", Text(Field(&watch, {"resource"})) + ": " + line);
  }
}

}  // namespace

int Status(Client& client, const Options& options) {
  json::value health, ready, stats, policy;
  Failure failure;
  if (!client.GetJson("/healthz", true, &health, &failure) ||
      !client.GetJson("/readyz", true, &ready, &failure) ||
      !client.GetJson("/v1/stats", false, &stats, &failure) ||
      !client.GetJson("/v1/policy", false, &policy, &failure)) {
    return Fail(failure);
  }
  const bool healthy = Text(Field(&health, {"status"})) == "ok";
  const bool is_ready = Bool(Field(&ready, {"ready"}));
  if (options.json) {
    PrintJson(json::object{{"endpoint", client.endpoint().display},
                           {"healthz", health},
                           {"readyz", ready},
                           {"stats", stats},
                           {"policy", policy}});
    return healthy && is_ready ? kExitOk : kExitNotHealthy;
  }

  Fields fields;
  fields.Add("endpoint", client.endpoint().display);
  fields.Add("health", Text(Field(&health, {"status"})) + " (worker heartbeat " +
                           Count(Unsigned(Field(&health, {"heartbeat"}))) + ")");
  const std::string reason = Text(Field(&ready, {"reason"}));
  fields.Add("readiness",
             is_ready ? std::string("ready") : "not ready: " + (reason.empty() ? "?" : reason));
  fields.Add("uptime", Duration(Number(Field(&stats, {"uptime_seconds"}))));
  fields.Add("policy", Text(Field(&policy, {"source"})));
  fields.Add("policy hash", OrDash(Text(Field(&policy, {"content_hash"}))) + ", generation " +
                                Count(Unsigned(Field(&policy, {"generation"}))) + ", loaded " +
                                OrDash(Text(Field(&policy, {"loaded_at"}))));
  fields.Add("policy reloads", Count(Unsigned(Field(&policy, {"reloads"}))) + " applied, " +
                                   Count(Unsigned(Field(&policy, {"reload_errors"}))) +
                                   " rejected");
  const std::string last_error = Text(Field(&policy, {"last_reload_error"}));
  const std::string last_error_at = Text(Field(&policy, {"last_reload_error_at"}));
  if (!last_error.empty()) {
    fields.Add("last reload error",
               last_error + (last_error_at.empty() ? "" : " (at " + last_error_at + ")"));
  } else if (!last_error_at.empty()) {
    fields.Add("last reload error",
               "none since the last good reload (previous one at " + last_error_at + ")");
  } else {
    fields.Add("last reload error", "none");
  }
  const uint64_t entries = Unsigned(Field(&stats, {"pod_table", "entries"}));
  const uint64_t capacity = Unsigned(Field(&stats, {"pod_table", "capacity"}));
  fields.Add("pod table",
             Count(entries) + " / " + Count(capacity) + " entries" +
                 (capacity > 0 ? Format(" (%.1f%%)", 100.0 * static_cast<double>(entries) /
                                                         static_cast<double>(capacity))
                               : std::string()));
  fields.Add("shaper", ShaperText(stats));
  AddKubernetesFields(stats, &fields);
  fields.Print(stdout);
  return healthy && is_ready ? kExitOk : kExitNotHealthy;
}

int Pods(Client& client, const Options& options) {
  json::value pods;
  Failure failure;
  if (!client.GetJson("/v1/pods", false, &pods, &failure)) return Fail(failure);
  if (options.json) {
    PrintJson(pods);
    return kExitOk;
  }
  std::vector<const json::value*> rows;
  for (const json::value& pod : Array(Field(&pods, {"pods"}))) rows.push_back(&pod);
  std::sort(rows.begin(), rows.end(), [](const json::value* x, const json::value* y) {
    auto key = [](const json::value* pod) {
      return std::make_tuple(Text(Field(pod, {"namespace"})), Text(Field(pod, {"pod"})),
                             Text(Field(pod, {"ip"})));
    };
    return key(x) < key(y);
  });
  if (rows.empty()) {
    std::printf("no pods in the table\n");
    return kExitOk;
  }
  Table table({{"IP"},
               {"NAMESPACE"},
               {"POD"},
               {"CLASS"},
               {"DSCP", true},
               {"FROM"},
               {"REQUESTED"},
               {"EGRESS", true},
               {"REFUSED"}});
  for (const json::value* pod : rows) {
    const uint64_t egress_bps = Unsigned(Field(pod, {"egress_bps"}));
    std::string refusals;
    for (const json::value& reason : Array(Field(pod, {"refusals"}))) {
      refusals += (refusals.empty() ? "" : ",") + Text(&reason);
    }
    table.AddRow({Text(Field(pod, {"ip"})), Text(Field(pod, {"namespace"})),
                  Text(Field(pod, {"pod"})), Text(Field(pod, {"class"})),
                  Count(Unsigned(Field(pod, {"dscp"}))), OrDash(Text(Field(pod, {"class_source"}))),
                  OrDash(Text(Field(pod, {"requested_class"}))),
                  egress_bps == 0 ? "-" : Count(egress_bps), OrDash(refusals)});
  }
  table.Print(stdout);
  std::printf("\n%zu pod addresses\n", rows.size());
  return kExitOk;
}

int Policy(Client& client, const Options& options) {
  json::value policy;
  Failure failure;
  if (!client.GetJson("/v1/policy", false, &policy, &failure)) return Fail(failure);
  if (options.json) {
    PrintJson(policy);
    return kExitOk;
  }
  const std::string default_class = Text(Field(&policy, {"default_class"}));
  const json::object& mappings = Object(Field(&policy, {"namespaces"}));
  std::vector<std::pair<std::string, std::string>> sorted_mappings;
  for (const auto& [pattern, class_name] : mappings) {
    sorted_mappings.emplace_back(std::string(pattern), Text(&class_name));
  }
  std::sort(sorted_mappings.begin(), sorted_mappings.end());

  Table classes({{"PRIO", true},
                 {"CLASS"},
                 {"DSCP", true},
                 {"PHB"},
                 {"MAX RATE"},
                 {"MIN RATE"},
                 {"PCP", true},
                 {"NAMESPACES"}});
  int priority = 0;
  for (const json::value& c : Array(Field(&policy, {"classes"}))) {
    const std::string name = Text(Field(&c, {"name"}));
    const uint64_t dscp = Unsigned(Field(&c, {"dscp"}));
    const double max_rate = Number(Field(&c, {"max_rate_bps"}));
    const double min_rate = Number(Field(&c, {"min_rate_bps"}));
    const json::value* pcp = Field(&c, {"pcp"});  // null or absent: tags keep their priority
    std::string members;
    for (const auto& [pattern, class_name] : sorted_mappings) {
      if (class_name == name) members += (members.empty() ? "" : ", ") + pattern;
    }
    if (name == default_class) members += (members.empty() ? "" : ", ") + std::string("(default)");
    classes.AddRow(
        {std::to_string(priority++), name, Count(dscp), PhbName(static_cast<int64_t>(dscp)),
         max_rate > 0 ? BitRate(max_rate) : "-", min_rate > 0 ? BitRate(min_rate) : "-",
         pcp != nullptr && !pcp->is_null() ? Count(Unsigned(pcp)) : "-", OrDash(members)});
  }
  classes.Print(stdout);
  std::printf("\n");

  if (sorted_mappings.empty()) {
    std::printf("namespaces: none mapped; every pod is in the default class\n\n");
  } else {
    Table table({{"NAMESPACE"}, {"CLASS"}});
    for (const auto& [pattern, class_name] : sorted_mappings) table.AddRow({pattern, class_name});
    table.Print(stdout);
    std::printf("\n");
  }

  Fields fields;
  fields.Add("default class", OrDash(default_class) + " (namespaces not listed)");
  fields.Add("source", Text(Field(&policy, {"source"})));
  fields.Add("content hash", OrDash(Text(Field(&policy, {"content_hash"}))));
  fields.Add("loaded at", OrDash(Text(Field(&policy, {"loaded_at"}))));
  fields.Add("generation", Count(Unsigned(Field(&policy, {"generation"}))));
  fields.Add("reloads", Count(Unsigned(Field(&policy, {"reloads"}))) + " applied, " +
                            Count(Unsigned(Field(&policy, {"reload_errors"}))) + " rejected");
  const std::string last_error = Text(Field(&policy, {"last_reload_error"}));
  const std::string last_error_at = Text(Field(&policy, {"last_reload_error_at"}));
  fields.Add("last reload error",
             last_error.empty()
                 ? std::string("none")
                 : last_error + (last_error_at.empty() ? "" : " (at " + last_error_at + ")"));
  fields.Print(stdout);
  return kExitOk;
}

}  // namespace dg::dscpctl
