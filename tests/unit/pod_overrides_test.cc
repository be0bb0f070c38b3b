// Pod annotations: the podOverrides keys, Kubernetes quantities, precedence between the
// pod's class, Volcano's offline marking and the namespace, every refusal, and the slots.
#include "control/pod_overrides.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "control/pods.h"

namespace dg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kPolicyWithOverrides[] = R"(classes:
  - name: critical
    dscp: 46
  - name: standard
    dscp: 0
  - name: scavenger
    dscp: 8
defaultClass: standard
podOverrides:
  allowedClasses: [standard, scavenger]
  offlineClass: scavenger
)";

PriorityPolicy Policy(const char* text = kPolicyWithOverrides) {
  return ParsePriorities(text, "priorities.yaml").value();
}

PodAnnotations Asking(std::string requested_class, std::string qos_level = "",
                      std::string egress_bandwidth = "") {
  return PodAnnotations{std::move(requested_class), std::move(qos_level),
                        std::move(egress_bandwidth)};
}

TEST(PodOverridePolicy, ParsesAllowedClassesAndOfflineClass) {
  const PriorityPolicy policy = Policy();
  EXPECT_THAT(policy.pod_overrides.allowed_classes, ElementsAre(1u, 2u));
  EXPECT_EQ(policy.pod_overrides.offline_class, 2u);
}

TEST(PodOverridePolicy, DefaultsToNothingAllowedAndNoOfflineClass) {
  const PriorityPolicy policy = DefaultPriorityPolicy();
  EXPECT_THAT(policy.pod_overrides.allowed_classes, IsEmpty());
  EXPECT_FALSE(policy.pod_overrides.offline_class.has_value());
}

TEST(PodOverridePolicy, RejectsAnUnknownAllowedClassNamingTheKey) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1}]\ndefaultClass: a\npodOverrides: {allowedClasses: [a, b]}\n",
      "p.yaml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().key, "podOverrides.allowedClasses[1]");
  EXPECT_THAT(policy.error().reason, HasSubstr("unknown class \"b\""));
}

TEST(PodOverridePolicy, RejectsADuplicateAllowedClass) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1}]\ndefaultClass: a\npodOverrides: {allowedClasses: [a, a]}\n",
      "p.yaml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().key, "podOverrides.allowedClasses[1]");
}

TEST(PodOverridePolicy, RejectsAnUnknownOfflineClass) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1}]\ndefaultClass: a\npodOverrides: {offlineClass: z}\n",
      "p.yaml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().key, "podOverrides.offlineClass");
}

TEST(PodOverridePolicy, RejectsAnUnknownKey) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1}]\ndefaultClass: a\npodOverrides: {allowed: [a]}\n", "p.yaml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().key, "podOverrides.allowed");
}

TEST(BandwidthQuantity, ReadsDecimalAndBinarySuffixesAsBitsPerSecond) {
  EXPECT_EQ(ParseBandwidthQuantity("10M").value(), 10'000'000u);
  EXPECT_EQ(ParseBandwidthQuantity("1G").value(), 1'000'000'000u);
  EXPECT_EQ(ParseBandwidthQuantity("500k").value(), 500'000u);
  EXPECT_EQ(ParseBandwidthQuantity("1Mi").value(), 1'048'576u);
  EXPECT_EQ(ParseBandwidthQuantity("1Ki").value(), 1024u);
  EXPECT_EQ(ParseBandwidthQuantity("2000000").value(), 2'000'000u);
  EXPECT_EQ(ParseBandwidthQuantity("+3M").value(), 3'000'000u);
}

TEST(BandwidthQuantity, ReadsFractionsAndExponentsExactly) {
  EXPECT_EQ(ParseBandwidthQuantity("1.5M").value(), 1'500'000u);
  EXPECT_EQ(ParseBandwidthQuantity("0.5Mi").value(), 524'288u);
  EXPECT_EQ(ParseBandwidthQuantity("1e6").value(), 1'000'000u);
  EXPECT_EQ(ParseBandwidthQuantity("25E5").value(), 2'500'000u);
  EXPECT_EQ(ParseBandwidthQuantity(".5M").value(), 500'000u);
  EXPECT_EQ(ParseBandwidthQuantity("1000000m").value(), 1000u);
}

TEST(BandwidthQuantity, RoundsUpAsQuantityValueDoes) {
  EXPECT_EQ(ParseBandwidthQuantity("1000.1").value(), 1001u);
  EXPECT_EQ(ParseBandwidthQuantity("1.0000001k").value(), 1001u);
}

TEST(BandwidthQuantity, CapitalEAloneIsExaNotAnExponent) {
  auto rate = ParseBandwidthQuantity("1E");
  ASSERT_FALSE(rate);  // 10^18 bit/s: above kubelet's 1P
  EXPECT_THAT(rate.error().reason, HasSubstr("above 1P"));
}

TEST(BandwidthQuantity, RejectsWhatKubeletRejects) {
  for (const char* text : {"999", "1m", "0", "-10M", "2P", "1Ei"}) {
    EXPECT_FALSE(ParseBandwidthQuantity(text)) << text;
  }
  EXPECT_TRUE(ParseBandwidthQuantity("1k"));
  EXPECT_TRUE(ParseBandwidthQuantity("1P"));
}

TEST(BandwidthQuantity, RejectsWhatQuantityCannotParse) {
  for (const char* text :
       {"", "M", "10 M", "10K", "10Mbit", "10MB", "1e", "1.2.3M", "0x10", "10mi", "1e1000000"}) {
    auto rate = ParseBandwidthQuantity(text);
    ASSERT_FALSE(rate) << text;
    EXPECT_EQ(rate.error().key, "kubernetes.io/egress-bandwidth");
  }
}

TEST(PodOverrideDecision, AnAllowedClassOverridesTheNamespace) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("scavenger"), Policy());
  EXPECT_EQ(decision.class_index, 2u);
  EXPECT_EQ(decision.class_source, "pod-annotation");
  EXPECT_THAT(decision.refusals, IsEmpty());
}

TEST(PodOverrideDecision, AClassNotAllowedIsRefused) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("critical"), Policy());
  EXPECT_FALSE(decision.class_index.has_value());
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::class_not_allowed));
  EXPECT_THAT(decision.why, HasSubstr("class_not_allowed: \"critical\""));
}

TEST(PodOverrideDecision, AnUnknownClassIsRefused) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("gold"), Policy());
  EXPECT_FALSE(decision.class_index.has_value());
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::unknown_class));
}

TEST(PodOverrideDecision, WithoutPodOverridesEveryClassIsRefused) {
  const PodOverrideDecision decision =
      DecidePodOverride(Asking("standard"), DefaultPriorityPolicy());
  EXPECT_FALSE(decision.class_index.has_value());
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::class_not_allowed));
}

TEST(PodOverrideDecision, VolcanoOfflinePodsGetTheOfflineClass) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("", "-1"), Policy());
  EXPECT_EQ(decision.class_index, 2u);
  EXPECT_EQ(decision.class_source, "volcano-offline");
}

TEST(PodOverrideDecision, VolcanoOnlinePodsKeepTheirNamespaceClass) {
  for (const char* level : {"0", "1", "2"}) {
    EXPECT_FALSE(DecidePodOverride(Asking("", level), Policy()).class_index.has_value()) << level;
  }
}

TEST(PodOverrideDecision, VolcanoIsIgnoredWithoutAnOfflineClass) {
  const PodOverrideDecision decision = DecidePodOverride(
      Asking("", "-1"), Policy("classes: [{name: a, dscp: 1}]\ndefaultClass: a\n"));
  EXPECT_FALSE(decision.class_index.has_value());
  EXPECT_THAT(decision.refusals, IsEmpty());
}

TEST(PodOverrideDecision, OfflineBeatsThePodsOwnClass) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("standard", "-1"), Policy());
  EXPECT_EQ(decision.class_index, 2u);
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::offline_pod));
}

TEST(PodOverrideDecision, AnOnlinePodMayStillNameAnAllowedClass) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("standard", "1"), Policy());
  EXPECT_EQ(decision.class_index, 1u);
  EXPECT_EQ(decision.class_source, "pod-annotation");
}

TEST(PodOverrideDecision, AQosLevelThatIsNotAnIntegerIsRefused) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("", "low"), Policy());
  EXPECT_FALSE(decision.class_index.has_value());
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::invalid_qos_level));
}

TEST(PodOverrideDecision, EgressBandwidthIsReadWithoutAnyPolicy) {
  const PodOverrideDecision decision =
      DecidePodOverride(Asking("", "", "10M"), DefaultPriorityPolicy());
  EXPECT_EQ(decision.egress_bps, 10'000'000u);
  EXPECT_FALSE(decision.class_index.has_value());
}

TEST(PodOverrideDecision, AnInvalidEgressBandwidthIsRefusedAndLeavesThePodUnlimited) {
  const PodOverrideDecision decision = DecidePodOverride(Asking("", "", "10Mbit"), Policy());
  EXPECT_EQ(decision.egress_bps, 0u);
  EXPECT_THAT(decision.refusals, ElementsAre(PodOverrideRefusal::invalid_egress_bandwidth));
}

TEST(PodOverrideSlots, APodWithoutAnnotationsNeedsNoSlot) {
  PodOverrideSlots slots;
  bool changed = true;
  EXPECT_EQ(slots.Acquire("uid-a", PodAnnotations{}, Policy(), &changed), 0u);
  EXPECT_FALSE(changed);
}

TEST(PodOverrideSlots, BothAddressesOfAPodShareOneSlotUntilTheLastGoes) {
  PodOverrideSlots slots;
  bool changed = false;
  const uint32_t first = slots.Acquire("uid-a", Asking("scavenger"), Policy(), &changed);
  EXPECT_TRUE(changed);
  EXPECT_NE(first, 0u);
  EXPECT_EQ(slots.Acquire("uid-a", Asking("scavenger"), Policy(), &changed), first);
  EXPECT_FALSE(changed);
  slots.Release("uid-a", first);
  ASSERT_NE(slots.Decision(first), nullptr);
  slots.Release("uid-a", first);
  EXPECT_EQ(slots.Decision(first), nullptr);
  EXPECT_EQ(slots.in_use(), 0u);
}

TEST(PodOverrideSlots, AnAnnotationChangeIsADecisionChange) {
  PodOverrideSlots slots;
  bool changed = false;
  const uint32_t slot = slots.Acquire("uid-a", Asking("", "", "10M"), Policy(), &changed);
  slots.Acquire("uid-a", Asking("", "", "20M"), Policy(), &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(slots.Decision(slot)->egress_bps, 20'000'000u);
}

TEST(PodOverrideSlots, EachRefusalIsCountedOncePerPod) {
  PodOverrideSlots slots;
  bool changed = false;
  slots.Acquire("uid-a", Asking("critical"), Policy(), &changed);
  slots.Acquire("uid-a", Asking("critical"), Policy(), &changed);
  slots.Acquire("uid-b", Asking("gold"), Policy(), &changed);
  slots.Redecide(Policy());
  const auto& totals = slots.refused_totals();
  EXPECT_EQ(totals[static_cast<size_t>(PodOverrideRefusal::class_not_allowed)], 1u);
  EXPECT_EQ(totals[static_cast<size_t>(PodOverrideRefusal::unknown_class)], 1u);
}

TEST(PodOverrideSlots, APolicyChangeRedecidesEveryPod) {
  PodOverrideSlots slots;
  bool changed = false;
  const uint32_t slot = slots.Acquire("uid-a", Asking("critical"), Policy(), &changed);
  EXPECT_FALSE(slots.Decision(slot)->class_index.has_value());
  slots.Redecide(Policy(R"(classes: [{name: critical, dscp: 46}, {name: standard, dscp: 0}]
defaultClass: standard
podOverrides: {allowedClasses: [critical]}
)"));
  EXPECT_EQ(slots.Decision(slot)->class_index, 0u);
}

TEST(PodOverrideSlots, RunningOutOfSlotsIsARefusal) {
  PodOverrideSlots slots;
  bool changed = false;
  for (uint32_t i = 1; i < PodOverrideSlots::kSlotCount; ++i) {
    ASSERT_NE(slots.Acquire("uid-" + std::to_string(i), Asking("standard"), Policy(), &changed),
              0u);
  }
  EXPECT_EQ(slots.Acquire("uid-last", Asking("standard"), Policy(), &changed), 0u);
  EXPECT_EQ(slots.refused_totals()[static_cast<size_t>(PodOverrideRefusal::slots_full)], 1u);
}

TEST(DecodePodAnnotations, ReadsTheThreeAnnotations) {
  const auto pod = DecodePod(boost::json::parse(R"({"metadata": {"name": "p", "namespace": "n",
      "uid": "u", "annotations": {"dscp-gateway.io/class": "scavenger",
      "volcano.sh/qos-level": "-1", "kubernetes.io/egress-bandwidth": "10M", "other": "x"}}})")
                                 .as_object());
  ASSERT_TRUE(pod) << pod.error().Message();
  EXPECT_EQ(pod->annotations, Asking("scavenger", "-1", "10M"));
}

TEST(DecodePodAnnotations, RejectsANonStringValueNamingIt) {
  const auto pod = DecodePod(boost::json::parse(R"({"metadata": {"name": "p", "namespace": "n",
      "uid": "u", "annotations": {"volcano.sh/qos-level": -1}}})")
                                 .as_object());
  ASSERT_FALSE(pod);
  EXPECT_EQ(pod.error().key, "metadata.annotations.volcano.sh/qos-level");
}

TEST(DecodePodAnnotations, PodListEntriesCarryUidAndAnnotations) {
  auto pods = ParsePodList(R"({"kind": "List", "items": [{"metadata": {"name": "p",
      "namespace": "n", "uid": "u", "annotations": {"dscp-gateway.io/class": "standard"}},
      "status": {"podIP": "10.0.0.9"}}]})",
                           "pods.json");
  ASSERT_TRUE(pods);
  const auto entries = BuildPodTableEntries(*pods);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].pod_uid, "u");
  EXPECT_EQ(entries[0].annotations.requested_class, "standard");
}

}  // namespace
}  // namespace dg
