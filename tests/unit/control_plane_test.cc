#include "control/control_plane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <csignal>

#include "control/control_loop.h"
#include "control/health.h"
#include "tests/unit/fake_datapath.h"

namespace dg {
namespace {

using testing::FakeDatapath;
using testing::FakePorts;
using ::testing::HasSubstr;
using testing::kTwoClasses;
using testing::TempDir;
using Steady = std::chrono::steady_clock;

class ControlPlaneTest : public ::testing::Test {
 protected:
  ControlPlaneTest() {
    config_.rest_listen = "127.0.0.1:0";
    config_.priorities_path = dir_.Write("priorities.yaml", kTwoClasses);
    datapath_.PublishPolicy(*ParsePriorities(kTwoClasses, config_.priorities_path));
    clock_.steady = [this] { return steady_now_; };
    clock_.wall = [this] { return wall_now_; };
    plane_ = std::make_unique<ControlPlane>(
        io_, config_, datapath_, ports_, 1'000'000'000, [this] { ++stops_; }, clock_);
  }

  HttpResponse Get(const std::string& path) {
    for (auto& [route, handler] : plane_->Routes()) {
      if (route == path) return handler();
    }
    ADD_FAILURE() << "no route " << path;
    return {};
  }
  boost::json::object GetJson(const std::string& path, unsigned expected_status = 200) {
    const HttpResponse response = Get(path);
    EXPECT_EQ(response.status, expected_status) << path << ": " << response.body;
    EXPECT_EQ(response.content_type, "application/json");
    return boost::json::parse(response.body).as_object();
  }
  // The worker makes progress and a tick samples it.
  void WorkerAdvances() {
    ++datapath_.counters.heartbeat;
    plane_->Tick();
  }

  TempDir dir_;
  GatewayConfig config_;
  FakeDatapath datapath_;
  FakePorts ports_;
  Steady::time_point steady_now_ = Steady::time_point(std::chrono::hours(1));
  std::chrono::system_clock::time_point wall_now_ =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  ControlClock clock_;
  boost::asio::io_context io_;
  int stops_ = 0;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ControlPlaneTest, ServesEveryRoute) {
  std::vector<std::string> paths;
  for (const auto& [path, handler] : plane_->Routes()) paths.push_back(path);
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre("/healthz", "/readyz", "/v1/stats", "/v1/pods",
                                                     "/v1/policy", "/metrics"));
}

TEST_F(ControlPlaneTest, HealthzIsOkWhileTheHeartbeatMoves) {
  WorkerAdvances();
  const auto document = GetJson("/healthz");
  EXPECT_EQ(document.at("status"), "ok");
  EXPECT_EQ(document.at("heartbeat"), 1);
}

TEST_F(ControlPlaneTest, HealthzIs503WhenTheHeartbeatStalls) {
  WorkerAdvances();
  steady_now_ += std::chrono::seconds(2);
  plane_->Tick();
  EXPECT_EQ(GetJson("/healthz", 503).at("status"), "stalled");
}

TEST_F(ControlPlaneTest, ReadyzIsOkWithPolicyLinksAndHeartbeat) {
  WorkerAdvances();
  const auto document = GetJson("/readyz");
  EXPECT_EQ(document.at("ready"), true);
  EXPECT_EQ(document.at("reason"), "");
}

TEST_F(ControlPlaneTest, ReadyzIs503NamingTheDownLink) {
  ports_.uplink_up = false;
  WorkerAdvances();
  const auto document = GetJson("/readyz", 503);
  EXPECT_EQ(document.at("ready"), false);
  EXPECT_EQ(document.at("reason"), "link down on uplink port");
}

TEST_F(ControlPlaneTest, StatsDocumentCarriesPortsShaperClassesAndUptime) {
  config_.shaper_rate_bps = 8000;
  ports_.kernel.rx_packets = 11;
  datapath_.counters.classes[0].packets = 3;
  datapath_.counters.classes[0].sojourn_buckets[0] = 2;
  datapath_.counters.classes[0].sojourn_cycles_sum = 4000;  // 4 us at 1 GHz
  wall_now_ += std::chrono::seconds(5);
  const auto document = GetJson("/v1/stats");
  EXPECT_EQ(document.at("ports").at("kernel").at("rx_packets"), 11);
  EXPECT_EQ(document.at("ports").at("uplink").at("link_up"), true);
  EXPECT_EQ(document.at("shaper").at("rate_bps"), 8000);
  const auto& critical = document.at("classes").as_array().at(0).as_object();
  EXPECT_EQ(critical.at("packets"), 3);
  EXPECT_DOUBLE_EQ(critical.at("sojourn_mean_us").as_double(), 2.0);
  EXPECT_EQ(document.at("pod_table").at("capacity"), 1024);
  EXPECT_DOUBLE_EQ(document.at("uptime_seconds").as_double(), 5.0);
  EXPECT_EQ(document.at("kubernetes").at("enabled"), false);
}

// One route handler serves many requests, as the REST server holds it.
RouteHandler RouteOf(ControlPlane& plane, const std::string& path) {
  for (auto& [route, handler] : plane.Routes()) {
    if (route == path) return handler;
  }
  ADD_FAILURE() << "no route " << path;
  return {};
}

uint64_t CriticalPackets(const HttpResponse& stats) {
  return boost::json::parse(stats.body)
      .at("classes")
      .as_array()
      .at(0)
      .at("packets")
      .to_number<uint64_t>();
}

TEST_F(ControlPlaneTest, StatsRequestsWithinTheMaxAgeShareOneRendering) {
  const RouteHandler stats = RouteOf(*plane_, "/v1/stats");
  datapath_.counters.classes[0].packets = 3;
  EXPECT_EQ(CriticalPackets(stats()), 3u);
  datapath_.counters.classes[0].packets = 5;
  steady_now_ += ControlPlane::kRenderedBodyMaxAge - std::chrono::nanoseconds(1);
  EXPECT_EQ(CriticalPackets(stats()), 3u);
}

TEST_F(ControlPlaneTest, StatsAreRenderedAnewOnceTheMaxAgeHasPassed) {
  const RouteHandler stats = RouteOf(*plane_, "/v1/stats");
  datapath_.counters.classes[0].packets = 3;
  EXPECT_EQ(CriticalPackets(stats()), 3u);
  datapath_.counters.classes[0].packets = 5;
  steady_now_ += ControlPlane::kRenderedBodyMaxAge;
  EXPECT_EQ(CriticalPackets(stats()), 5u);
}

TEST_F(ControlPlaneTest, MetricsRequestsWithinTheMaxAgeShareOneRendering) {
  const RouteHandler metrics = RouteOf(*plane_, "/metrics");
  const std::string first = metrics().body;
  datapath_.counters.classes[0].packets = 7;
  EXPECT_EQ(metrics().body, first);
  steady_now_ += ControlPlane::kRenderedBodyMaxAge;
  EXPECT_NE(metrics().body, first);
}

TEST_F(ControlPlaneTest, PodsDocumentListsEachAddressWithItsClass) {
  PodTableEntry entry;
  ASSERT_TRUE(ParsePodAddress("10.0.0.1", &entry.address.key));
  entry.address.text = "10.0.0.1";
  entry.namespace_name = "ray";
  entry.pod_name = "worker-0";
  datapath_.UpsertPod(entry);
  const auto document = GetJson("/v1/pods");
  EXPECT_EQ(document.at("count"), 1);
  const auto& pod = document.at("pods").as_array().at(0).as_object();
  EXPECT_EQ(pod.at("ip"), "10.0.0.1");
  EXPECT_EQ(pod.at("class"), "critical");
  EXPECT_EQ(pod.at("dscp"), 46);
}

TEST_F(ControlPlaneTest, PodsDocumentShowsRequestedAndEffectiveClassAndWhy) {
  datapath_.PublishPolicy(
      *ParsePriorities(std::string(kTwoClasses) + "podOverrides: {allowedClasses: [standard]}\n",
                       "priorities.yaml"));
  for (auto [ip, uid, pod_namespace, requested] :
       {std::tuple{"10.0.0.1", "uid-allowed", "ray", "standard"},
        std::tuple{"10.0.0.2", "uid-refused", "web", "critical"}}) {
    PodTableEntry entry;
    ASSERT_TRUE(ParsePodAddress(ip, &entry.address.key));
    entry.address.text = ip;
    entry.namespace_name = pod_namespace;
    entry.pod_name = uid;
    entry.pod_uid = uid;
    entry.annotations.requested_class = requested;
    entry.annotations.egress_bandwidth = "10M";
    datapath_.UpsertPod(entry);
  }
  const auto document = GetJson("/v1/pods");
  const auto& allowed = document.at("pods").as_array().at(0).as_object();
  EXPECT_EQ(allowed.at("class"), "standard");
  EXPECT_EQ(allowed.at("class_source"), "pod-annotation");
  EXPECT_EQ(allowed.at("egress_bps"), 10'000'000);
  EXPECT_EQ(allowed.at("override_refused"), "");
  const auto& refused = document.at("pods").as_array().at(1).as_object();
  EXPECT_EQ(refused.at("requested_class"), "critical");
  EXPECT_EQ(refused.at("class"), "standard");  // the namespace's class, not the request
  EXPECT_EQ(refused.at("class_source"), "namespace");
  EXPECT_THAT(std::string(refused.at("override_refused").as_string()),
              HasSubstr("class_not_allowed"));
  EXPECT_THAT(
      plane_->MetricsText(),
      HasSubstr("dscp_gateway_pod_override_refused_total{reason=\"class_not_allowed\"} 1\n"));
}

TEST_F(ControlPlaneTest, PolicyDocumentReportsSourceAndLastRejection) {
  dir_.Write("priorities.yaml", "classes: []\n");
  plane_->policy_sources().ReloadFiles("SIGHUP", true);
  const auto document = GetJson("/v1/policy");
  EXPECT_EQ(document.at("source"), boost::json::value(config_.priorities_path));
  EXPECT_EQ(document.at("default_class"), "standard");
  EXPECT_EQ(document.at("namespaces").at("ray"), "critical");
  EXPECT_EQ(document.at("reload_errors"), 1);
  EXPECT_THAT(std::string(document.at("last_reload_error").as_string()),
              HasSubstr(config_.priorities_path));
  EXPECT_EQ(document.at("last_reload_error_at"), "2023-11-14T22:13:20Z");
}

TEST_F(ControlPlaneTest, PolicyDocumentGivesEachClassItsPcpOrNull) {
  datapath_.PublishPolicy(*ParsePriorities(
      R"(classes: [{name: critical, dscp: 46, pcp: 5}, {name: standard, dscp: 0}]
defaultClass: standard
)",
      "priorities.yaml"));
  const auto classes = GetJson("/v1/policy").at("classes").as_array();
  EXPECT_EQ(classes.at(0).at("pcp"), 5);
  EXPECT_TRUE(classes.at(1).at("pcp").is_null());
}

TEST_F(ControlPlaneTest, MetricsAreCountersByClassNameInPrometheusText) {
  datapath_.counters.classes[0].packets = 9;
  const HttpResponse response = Get("/metrics");
  EXPECT_EQ(response.status, 200u);
  EXPECT_THAT(response.content_type, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response.body, HasSubstr("dscp_gateway_class_packets_total{class=\"critical\"} 9\n"));
  EXPECT_THAT(response.body, HasSubstr("dscp_gateway_policy_reload_errors_total 0\n"));
}

TEST_F(ControlPlaneTest, ObserveModeShowsInStatsAndMetrics) {
  datapath_.PublishDatapathMode(DatapathMode::kObserve);
  datapath_.counters.classes[0].would_mark_packets = 4;
  const boost::json::object stats = GetJson("/v1/stats");
  EXPECT_EQ(stats.at("datapath").at("mode").as_string(), "observe");
  EXPECT_EQ(stats.at("observe_mode").to_number<uint64_t>(), 1u);
  EXPECT_THAT(Get("/metrics").body,
              HasSubstr("dscp_gateway_class_would_mark_packets_total{class=\"critical\"} 4\n"));
}

TEST_F(ControlPlaneTest, FileChangeIsPickedUpByTheTickOnceASecond) {
  dir_.Write("priorities.yaml", "classes:\n  - name: only\n    dscp: 10\ndefaultClass: only\n");
  plane_->Tick();
  EXPECT_EQ(datapath_.policy().classes.size(), 2u);
  steady_now_ += ControlPlane::kReloadCheckInterval;
  plane_->Tick();
  EXPECT_EQ(datapath_.policy().classes.size(), 1u);
}

TEST_F(ControlPlaneTest, SighupForcesAReloadThroughTheControlThread) {
  ASSERT_TRUE(plane_->Start());
  std::raise(SIGHUP);
  for (int i = 0; i < 100 && plane_->policy_sources().status().reloads == 0; ++i) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(plane_->policy_sources().status().reloads, 1u);
  EXPECT_EQ(stops_, 0);
}

TEST_F(ControlPlaneTest, SigtermRequestsStop) {
  ASSERT_TRUE(plane_->Start());
  std::raise(SIGTERM);
  for (int i = 0; i < 100 && stops_ == 0; ++i) io_.run_one_for(std::chrono::milliseconds(50));
  EXPECT_EQ(stops_, 1);
}

TEST(ControlLoopTest, SigintCallsStop) {
  boost::asio::io_context io;
  int stops = 0, reloads = 0;
  ControlLoop loop(io, std::chrono::hours(1),
                   {.stop = [&] { ++stops; }, .reload = [&] { ++reloads; }, .tick = [] {}});
  loop.Start();
  std::raise(SIGINT);
  for (int i = 0; i < 100 && stops == 0; ++i) io.run_one_for(std::chrono::milliseconds(50));
  EXPECT_EQ(stops, 1);
  EXPECT_EQ(reloads, 0);
}

TEST(ControlLoopTest, KeepsListeningAfterSighup) {
  boost::asio::io_context io;
  int reloads = 0;
  ControlLoop loop(io, std::chrono::hours(1),
                   {.stop = [] {}, .reload = [&] { ++reloads; }, .tick = [] {}});
  loop.Start();
  for (int expected = 1; expected <= 2; ++expected) {
    std::raise(SIGHUP);
    for (int i = 0; i < 100 && reloads < expected; ++i) {
      io.run_one_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(reloads, 2);
}

TEST(ReadinessTest, StalledDatapathComesFirst) {
  EXPECT_EQ(ReadinessProblem({.healthy = false}), "datapath heartbeat stalled");
}

TEST(ReadinessTest, NeedsAPolicy) {
  EXPECT_EQ(ReadinessProblem({.healthy = true, .policy_loaded = false}), "no policy loaded");
}

TEST(ReadinessTest, NamesTheKernelLinkWhenItIsDown) {
  EXPECT_EQ(ReadinessProblem({.healthy = true,
                              .policy_loaded = true,
                              .kernel_link_up = false,
                              .uplink_link_up = true}),
            "link down on kernel port");
}

TEST(ReadinessTest, WaitsForTheKubernetesSync) {
  EXPECT_EQ(ReadinessProblem({.healthy = true,
                              .policy_loaded = true,
                              .kernel_link_up = true,
                              .uplink_link_up = true,
                              .kubernetes_enabled = true,
                              .kubernetes_synced = false}),
            "pod table not yet synced from the Kubernetes API");
}

TEST(ReadinessTest, ReadyWhenEverythingHolds) {
  EXPECT_EQ(ReadinessProblem({.healthy = true,
                              .policy_loaded = true,
                              .kernel_link_up = true,
                              .uplink_link_up = true,
                              .kubernetes_enabled = true,
                              .kubernetes_synced = true}),
            "");
}

TEST(HeartbeatMonitorTest, StaysHealthyWithinTheSlack) {
  const Steady::time_point start{};
  HeartbeatMonitor monitor(start, std::chrono::milliseconds(250));
  EXPECT_TRUE(monitor.Healthy(start + std::chrono::milliseconds(1200)));
  EXPECT_FALSE(monitor.Healthy(start + std::chrono::milliseconds(1250)));
}

TEST(HeartbeatMonitorTest, ProgressRestartsTheWindow) {
  const Steady::time_point start{};
  HeartbeatMonitor monitor(start, std::chrono::milliseconds(250));
  monitor.Sample(1, start + std::chrono::seconds(1));
  EXPECT_TRUE(monitor.Healthy(start + std::chrono::seconds(2)));
}

}  // namespace
}  // namespace dg
