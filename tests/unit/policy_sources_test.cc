#include "control/policy_sources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "control/class_counter_history.h"
#include "tests/unit/fake_datapath.h"

namespace dg {
namespace {

using testing::FakeDatapath;
using ::testing::HasSubstr;
using testing::kTwoClasses;
using testing::TempDir;

constexpr char kRenamedAndReordered[] = R"(classes:
  - name: standard
    dscp: 0
  - name: urgent
    dscp: 46
defaultClass: standard
)";
constexpr char kDscpOutOfRange[] = R"(classes:
  - name: critical
    dscp: 99
defaultClass: critical
)";
constexpr char kOnePod[] = R"({"apiVersion": "v1", "kind": "PodList", "items": [
  {"metadata": {"name": "worker-0", "namespace": "ray", "uid": "u-1",
                "creationTimestamp": "2024-05-14T10:00:00Z"},
   "status": {"phase": "Running", "podIP": "10.0.0.1"}}]})";

std::chrono::system_clock::time_point FixedWallClock() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
}

class PolicySourcesTest : public ::testing::Test {
 protected:
  // Startup loaded `priorities` into the datapath, as BuildDatapath does.
  PolicySources& Start(const std::string& priorities, const std::string& pods = "") {
    priorities_path_ = dir_.Write("priorities.yaml", priorities);
    if (!pods.empty()) pods_path_ = dir_.Write("pods.json", pods);
    datapath_.PublishPolicy(*ParsePriorities(priorities, priorities_path_, shaper_rate_bps_));
    sources_.emplace(priorities_path_, pods_path_, shaper_rate_bps_, datapath_, history_,
                     FixedWallClock);
    return *sources_;
  }

  TempDir dir_;
  std::string priorities_path_;
  std::string pods_path_;
  uint64_t shaper_rate_bps_ = 0;  // shaper.rate: what class rates in percent refer to
  FakeDatapath datapath_;
  ClassCounterHistory history_;
  std::optional<PolicySources> sources_;
};

TEST_F(PolicySourcesTest, UnchangedFileIsNotReapplied) {
  PolicySources& sources = Start(kTwoClasses);
  const uint64_t generation = datapath_.policy_generation();
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.policy_generation(), generation);
  EXPECT_EQ(sources.status().reloads, 0u);
}

TEST_F(PolicySourcesTest, ChangedFileIsPublished) {
  PolicySources& sources = Start(kTwoClasses);
  const std::string old_hash = sources.status().content_hash;
  dir_.Write("priorities.yaml", kRenamedAndReordered);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.policy().classes[1].name, "urgent");
  EXPECT_EQ(sources.status().reloads, 1u);
  EXPECT_NE(sources.status().content_hash, old_hash);
  EXPECT_EQ(sources.status().content_hash, datapath_.policy().content_hash);
}

TEST_F(PolicySourcesTest, InvalidFileIsRejectedWithFileKeyAndReasonAndOldPolicyStays) {
  PolicySources& sources = Start(kTwoClasses);
  dir_.Write("priorities.yaml", kDscpOutOfRange);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.policy().classes[0].name, "critical");
  EXPECT_EQ(datapath_.policy().classes[0].dscp, 46);
  EXPECT_EQ(sources.status().reload_errors, 1u);
  EXPECT_EQ(sources.status().reloads, 0u);
  EXPECT_THAT(sources.status().last_error, HasSubstr(priorities_path_));
  EXPECT_THAT(sources.status().last_error, HasSubstr("classes[0].dscp"));
  EXPECT_THAT(sources.status().last_error, HasSubstr("99"));
  EXPECT_EQ(sources.status().last_error_at, FixedWallClock());
}

TEST_F(PolicySourcesTest, InvalidFileIsReportedOnceNotEverySecond) {
  PolicySources& sources = Start(kTwoClasses);
  dir_.Write("priorities.yaml", kDscpOutOfRange);
  sources.ReloadFiles("file change", false);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(sources.status().reload_errors, 1u);
}

TEST_F(PolicySourcesTest, FixedFileClearsTheError) {
  PolicySources& sources = Start(kTwoClasses);
  dir_.Write("priorities.yaml", kDscpOutOfRange);
  sources.ReloadFiles("file change", false);
  dir_.Write("priorities.yaml", kRenamedAndReordered);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(sources.status().last_error, "");
  EXPECT_EQ(sources.status().reloads, 1u);
}

TEST_F(PolicySourcesTest, UnreadableFileIsReportedOnce) {
  PolicySources& sources = Start(kTwoClasses);
  std::filesystem::remove(priorities_path_);
  sources.ReloadFiles("file change", false);
  sources.ReloadFiles("file change", false);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(sources.status().reload_errors, 1u);
  EXPECT_THAT(sources.status().last_error, HasSubstr(priorities_path_));
}

TEST_F(PolicySourcesTest, SighupReportsAnUnreadableFileAgain) {
  PolicySources& sources = Start(kTwoClasses);
  std::filesystem::remove(priorities_path_);
  sources.ReloadFiles("file change", false);
  sources.ReloadFiles("SIGHUP", true);
  EXPECT_EQ(sources.status().reload_errors, 2u);
}

TEST_F(PolicySourcesTest, FileReadableAgainUnchangedClearsItsError) {
  PolicySources& sources = Start(kTwoClasses);
  std::filesystem::remove(priorities_path_);
  sources.ReloadFiles("file change", false);
  dir_.Write("priorities.yaml", kTwoClasses);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(sources.status().last_error, "");
  EXPECT_EQ(sources.status().reloads, 0u);
}

TEST_F(PolicySourcesTest, ForcedReloadReappliesAnUnchangedFile) {
  PolicySources& sources = Start(kTwoClasses);
  sources.ReloadFiles("SIGHUP", true);
  EXPECT_EQ(sources.status().reloads, 1u);
}

TEST_F(PolicySourcesTest, WatchedConfigMapOwnsThePrioritiesOverTheFile) {
  PolicySources& sources = Start(kTwoClasses);
  sources.WatchPrioritiesConfigMap();
  dir_.Write("priorities.yaml", kDscpOutOfRange);
  sources.ReloadFiles("SIGHUP", true);
  EXPECT_EQ(sources.status().reload_errors, 0u);
  EXPECT_FALSE(sources.FileOwnsPriorities());
}

TEST_F(PolicySourcesTest, ConfigMapTextIsPublishedUnderItsSourceName) {
  PolicySources& sources = Start(kTwoClasses);
  sources.WatchPrioritiesConfigMap();
  sources.ApplyPrioritiesText(kRenamedAndReordered, "ConfigMap ns/name", "ConfigMap change");
  EXPECT_EQ(datapath_.policy().classes[1].name, "urgent");
  EXPECT_EQ(sources.status().priorities_path, "ConfigMap ns/name");
}

TEST_F(PolicySourcesTest, RejectedConfigMapKeepsThePolicyAndNamesTheConfigMap) {
  PolicySources& sources = Start(kTwoClasses);
  sources.ApplyPrioritiesText(kDscpOutOfRange, "ConfigMap ns/name", "ConfigMap change");
  EXPECT_EQ(datapath_.policy().classes[0].dscp, 46);
  EXPECT_THAT(sources.status().last_error, HasSubstr("ConfigMap ns/name"));
}

TEST_F(PolicySourcesTest, NamespaceLabelRanksBelowAnExactPolicyEntry) {
  PolicySources& sources = Start(kTwoClasses);
  const uint32_t ray = datapath_.Intern("ray");
  const uint32_t web = datapath_.Intern("web");
  sources.ApplyNamespaceLabelClasses({{"ray", "standard"}, {"web", "critical"}});
  EXPECT_EQ(datapath_.ClassOfNamespace(ray), 0u);  // exact entry: critical
  EXPECT_EQ(datapath_.ClassOfNamespace(web), 0u);  // label: critical
}

TEST_F(PolicySourcesTest, ChangedPodFileIsApplied) {
  PolicySources& sources = Start(kTwoClasses, R"({"apiVersion": "v1", "items": []})");
  dir_.Write("pods.json", kOnePod);
  sources.ReloadFiles("file change", false);
  ASSERT_EQ(datapath_.Pods().size(), 1u);
  EXPECT_EQ(datapath_.Pods()[0].address, "10.0.0.1");
  EXPECT_EQ(sources.status().reloads, 1u);
}

TEST_F(PolicySourcesTest, InvalidPodFileIsRejectedAndTheTableStays) {
  PolicySources& sources = Start(kTwoClasses, kOnePod);
  dir_.Write("pods.json", "{not json");
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.pod_applications, 0);
  EXPECT_EQ(sources.status().reload_errors, 1u);
  EXPECT_THAT(sources.status().last_error, HasSubstr(pods_path_));
}

// Class counters by queue position; a reload renames and reorders the classes.
TEST(ClassCounterHistoryTest, SeriesStayMonotonicByNameAcrossReorderAndRename) {
  const PriorityPolicy before = *ParsePriorities(kTwoClasses, "before");
  const PriorityPolicy after = *ParsePriorities(kRenamedAndReordered, "after");
  ClassCounterHistory history;
  CounterTotals raw;
  raw.classes[0].packets = 10;  // critical
  raw.classes[1].packets = 5;   // standard
  history.CreditByName(raw, before);
  raw.classes[0].packets += 2;  // now standard
  raw.classes[1].packets += 1;  // now urgent (new)
  const CounterTotals totals = history.AttributeByName(raw, after);
  EXPECT_EQ(totals.classes[0].packets, 5u + 2u);  // standard continues from 5
  EXPECT_EQ(totals.classes[1].packets, 1u);       // urgent starts from its own traffic
}

TEST(ClassCounterHistoryTest, ClassComingBackContinuesItsSeries) {
  const PriorityPolicy two = *ParsePriorities(kTwoClasses, "two");
  const PriorityPolicy other = *ParsePriorities(kRenamedAndReordered, "other");
  ClassCounterHistory history;
  CounterTotals raw;
  raw.classes[0].bytes = 1000;  // critical
  history.CreditByName(raw, two);
  history.CreditByName(raw, other);  // critical absent meanwhile
  raw.classes[0].bytes += 10;
  EXPECT_EQ(history.AttributeByName(raw, two).classes[0].bytes, 1010u);
}

TEST(ClassCounterHistoryTest, GaugesAreNotCarriedAcrossReloads) {
  const PriorityPolicy two = *ParsePriorities(kTwoClasses, "two");
  ClassCounterHistory history;
  CounterTotals raw;
  raw.classes[0].depth = 7;
  history.CreditByName(raw, two);
  raw.classes[0].depth = 3;
  EXPECT_EQ(history.AttributeByName(raw, two).classes[0].depth, 3u);
}

constexpr char kScavengerFloorInPercent[] = R"(classes:
  - name: critical
    dscp: 46
  - name: scavenger
    dscp: 8
    minRate: 10%
defaultClass: critical
)";

TEST_F(PolicySourcesTest, ReloadResolvesPercentagesAgainstTheShaperRate) {
  shaper_rate_bps_ = 200'000'000;
  PolicySources& sources = Start(kTwoClasses);
  dir_.Write("priorities.yaml", kScavengerFloorInPercent);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.policy().classes[1].min_rate_bps, 20'000'000u);
}

TEST_F(PolicySourcesTest, PercentageWhileUnshapedIsRejectedAndTheOldPolicyStays) {
  PolicySources& sources = Start(kTwoClasses);
  dir_.Write("priorities.yaml", kScavengerFloorInPercent);
  sources.ReloadFiles("file change", false);
  EXPECT_EQ(datapath_.policy().classes[1].min_rate_bps, 0u);
  EXPECT_EQ(sources.status().reload_errors, 1u);
  EXPECT_THAT(sources.status().last_error, HasSubstr("classes[1].minRate"));
  EXPECT_THAT(sources.status().last_error, HasSubstr("shaper.rate"));
}

}  // namespace
}  // namespace dg
