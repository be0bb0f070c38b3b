// podEgressStamp: its gateway.yaml key and the reconciler's pure decisions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/gateway_config.h"
#include "control/pod_stamp_plan.h"
#include "tests/unit/pod_keys.h"

namespace dg {
namespace {

using testing::PodKey;

TEST(DesiredPodStamps, GivesEachPodItsClassCodepoint) {
  PodStampMap desired = DesiredPodStamps({{PodKey("10.0.0.1"), 0}, {PodKey("fd00::5"), 2}});
  ASSERT_EQ(desired.size(), 2u);
  EXPECT_EQ(desired.at(PodKey("10.0.0.1")), dg_stamp_codepoint(0));
  EXPECT_EQ(desired.at(PodKey("fd00::5")), dg_stamp_codepoint(2));
}

TEST(DesiredPodStamps, LeavesOutAClassWithoutACodepoint) {
  EXPECT_TRUE(DesiredPodStamps({{PodKey("10.0.0.1"), DG_STAMP_CLASS_LIMIT}}).empty());
}

TEST(DiffPodStamps, UpsertsNewAndChangedAndErasesGone) {
  PodStampMap applied{{PodKey("10.0.0.1"), dg_stamp_codepoint(0)},
                      {PodKey("10.0.0.2"), dg_stamp_codepoint(1)},
                      {PodKey("10.0.0.3"), dg_stamp_codepoint(2)}};
  PodStampMap desired{{PodKey("10.0.0.1"), dg_stamp_codepoint(0)},
                      {PodKey("10.0.0.2"), dg_stamp_codepoint(2)},
                      {PodKey("10.0.0.4"), dg_stamp_codepoint(1)}};

  PodStampChanges changes = DiffPodStamps(applied, desired);

  PodStampMap upserts(changes.upserts.begin(), changes.upserts.end());
  ASSERT_EQ(upserts.size(), 2u);
  EXPECT_EQ(upserts.at(PodKey("10.0.0.2")), dg_stamp_codepoint(2));
  EXPECT_EQ(upserts.at(PodKey("10.0.0.4")), dg_stamp_codepoint(1));
  ASSERT_EQ(changes.erases.size(), 1u);
  EXPECT_TRUE(PodKeyEqual{}(changes.erases[0], PodKey("10.0.0.3")));
}

TEST(DiffPodStamps, NothingToDoWhenEqual) {
  PodStampMap same{{PodKey("10.0.0.1"), dg_stamp_codepoint(0)}};
  PodStampChanges changes = DiffPodStamps(same, same);
  EXPECT_TRUE(changes.upserts.empty());
  EXPECT_TRUE(changes.erases.empty());
}

TEST(MatchesAnyPattern, MatchesShellWildcards) {
  const std::vector<std::string> patterns{"veth*", "cali*"};
  EXPECT_TRUE(MatchesAnyPattern("veth1a2b", patterns));
  EXPECT_TRUE(MatchesAnyPattern("cali0123", patterns));
  EXPECT_FALSE(MatchesAnyPattern("eth0", patterns));
  EXPECT_FALSE(MatchesAnyPattern("myveth0", patterns));
}

const std::vector<std::string> kPatterns{"veth*"};

TEST(DiffPodLinks, AttachesNewMatchingLinksOnly) {
  PodLinkChanges changes = DiffPodLinks({{7, "veth7", 0}, {2, "eth0", 0}}, kPatterns, {}, 0);
  ASSERT_EQ(changes.attach.size(), 1u);
  EXPECT_EQ(changes.attach[0].ifindex, 7u);
}

TEST(DiffPodLinks, KeepsAttachedLinksWithoutReattaching) {
  PodLinkChanges changes = DiffPodLinks({{7, "veth7", 0}}, kPatterns, {7}, 0);
  EXPECT_TRUE(changes.attach.empty());
  EXPECT_TRUE(changes.forget.empty());
}

TEST(DiffPodLinks, ForgetsGoneLinks) {
  PodLinkChanges changes = DiffPodLinks({}, kPatterns, {7}, 0);
  EXPECT_EQ(changes.forget, std::vector<uint32_t>{7});
}

TEST(DiffPodLinks, NeverStampsTheKernelLeg) {
  PodLinkChanges changes = DiffPodLinks({{9, "veth-kernel", 0}}, kPatterns, {}, 9);
  EXPECT_TRUE(changes.attach.empty());
}

TEST(TrustedIfindexes, TrustsStampedLinksAndTheirBridge) {
  EXPECT_EQ(TrustedIfindexes({{7, "veth7", 3}, {3, "cni0", 0}, {8, "veth8", 0}}, {7, 8}),
            (std::vector<uint32_t>{3, 7, 8}));
}

TEST(TrustedIfindexes, DoesNotTrustALinkThatFailedToAttach) {
  EXPECT_TRUE(TrustedIfindexes({{7, "veth7", 0}}, {}).empty());
}

Result<GatewayConfig> Parse(std::string_view text) {
  return ParseGatewayConfig(text, "gateway.yaml");
}

TEST(PodEgressStampConfig, IsOffByDefault) {
  auto config = Parse("");
  ASSERT_TRUE(config) << config.error().Message();
  EXPECT_FALSE(config->pod_egress_stamp.enabled);
  EXPECT_THAT(config->pod_egress_stamp.interfaces, ::testing::Contains("veth*"));
}

TEST(PodEgressStampConfig, ReadsEveryKey) {
  auto config =
      Parse("podEgressStamp: {enabled: true, interfaces: [\"pod*\"], guardInterface: gw-kernel}\n");
  ASSERT_TRUE(config) << config.error().Message();
  EXPECT_TRUE(config->pod_egress_stamp.enabled);
  EXPECT_THAT(config->pod_egress_stamp.interfaces, ::testing::ElementsAre("pod*"));
  EXPECT_EQ(config->pod_egress_stamp.guard_interface, "gw-kernel");
}

TEST(PodEgressStampConfig, DefaultsTheGuardToTheAttachedNode) {
  auto config = Parse("node: {uplink: eth0}\npodEgressStamp: {enabled: true}\n");
  ASSERT_TRUE(config) << config.error().Message();
  EXPECT_TRUE(config->pod_egress_stamp.guard_interface.empty());
}

TEST(PodEgressStampConfig, RequiresAGuardWithoutAnAttachedNode) {
  auto config = Parse("podEgressStamp: {enabled: true}\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key, "podEgressStamp.guardInterface");
}

TEST(PodEgressStampConfig, RejectsAnEmptyInterfaceList) {
  auto config = Parse("podEgressStamp: {interfaces: []}\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key, "podEgressStamp.interfaces");
}

TEST(PodEgressStampConfig, RejectsAnUnknownKey) {
  auto config = Parse("podEgressStamp: {enable: true}\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key, "podEgressStamp.enable");
}

}  // namespace
}  // namespace dg
