// The priorities file's per-class queue keys: `aqm` (CoDel) and `queueLimit`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "control/policy.h"
#include "control/units.h"

namespace dg {
namespace {

using ::testing::HasSubstr;

ClassQueueSettings ParseFirstClass(const std::string& class_keys) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1" + class_keys + "}]\ndefaultClass: a\n", "p.yaml");
  EXPECT_TRUE(policy.has_value()) << (policy ? "" : policy.error().Message());
  return policy ? policy->classes[0].queue : ClassQueueSettings{};
}

ConfigError RejectedClass(const std::string& class_keys) {
  auto policy = ParsePriorities(
      "classes: [{name: a, dscp: 1" + class_keys + "}]\ndefaultClass: a\n", "p.yaml");
  EXPECT_FALSE(policy.has_value());
  return policy ? ConfigError{} : policy.error();
}

TEST(PolicyQueueSettingsTest, AbsentKeysGiveCodelWithTheDatacenterDefaults) {
  const ClassQueueSettings settings = ParseFirstClass("");
  EXPECT_TRUE(settings.codel);
  EXPECT_TRUE(settings.ecn);
  EXPECT_FALSE(settings.drop_non_ect) << "CoDel marks ECN flows and never drops the others";
  EXPECT_EQ(settings.codel_target_ns, 500'000u);
  EXPECT_EQ(settings.codel_interval_ns, 10'000'000u);
  EXPECT_EQ(settings.limit_bytes, 2u << 20);
}

TEST(PolicyQueueSettingsTest, EveryKeyIsRead) {
  const ClassQueueSettings settings = ParseFirstClass(
      ", aqm: {codel: false, target: 250us, interval: 5ms, ecn: false, dropNonEct: true}, "
      "queueLimit: 512KiB");
  EXPECT_FALSE(settings.codel);
  EXPECT_FALSE(settings.ecn);
  EXPECT_TRUE(settings.drop_non_ect);
  EXPECT_EQ(settings.codel_target_ns, 250'000u);
  EXPECT_EQ(settings.codel_interval_ns, 5'000'000u);
  EXPECT_EQ(settings.limit_bytes, 512u * 1024);
}

TEST(PolicyQueueSettingsTest, TargetMustBeShorterThanInterval) {
  const ConfigError error = RejectedClass(", aqm: {target: 10ms}");
  EXPECT_EQ(error.key, "classes[0].aqm.target");
  EXPECT_THAT(error.reason, HasSubstr("shorter than interval"));
}

TEST(PolicyQueueSettingsTest, ADurationNeedsAUnit) {
  const ConfigError error = RejectedClass(", aqm: {interval: 10}");
  EXPECT_EQ(error.key, "classes[0].aqm.interval");
  EXPECT_THAT(error.reason, HasSubstr("\"10\" is not a duration"));
}

TEST(PolicyQueueSettingsTest, UnknownAqmKeyIsNamed) {
  const ConfigError error = RejectedClass(", aqm: {tagret: 1ms}");
  EXPECT_EQ(error.key, "classes[0].aqm.tagret");
  EXPECT_THAT(error.reason, HasSubstr("unknown key"));
}

TEST(PolicyQueueSettingsTest, CodelTakesOnlyTrueOrFalse) {
  const ConfigError error = RejectedClass(", aqm: {codel: off}");
  EXPECT_EQ(error.key, "classes[0].aqm.codel");
  EXPECT_THAT(error.reason, HasSubstr("true or false"));
}

TEST(PolicyQueueSettingsTest, DropNonEctTakesOnlyTrueOrFalse) {
  const ConfigError error = RejectedClass(", aqm: {dropNonEct: yes}");
  EXPECT_EQ(error.key, "classes[0].aqm.dropNonEct");
  EXPECT_THAT(error.reason, HasSubstr("true or false"));
}

TEST(PolicyQueueSettingsTest, QueueLimitIsAByteSize) {
  const ConfigError error = RejectedClass(", queueLimit: 2MB");
  EXPECT_EQ(error.key, "classes[0].queueLimit");
  EXPECT_THAT(error.reason, HasSubstr("is not a size"));
}

TEST(PolicyQueueSettingsTest, ZeroQueueLimitIsRejected) {
  EXPECT_EQ(RejectedClass(", queueLimit: 0").key, "classes[0].queueLimit");
}

TEST(DurationTest, UnitsScaleToNanoseconds) {
  EXPECT_EQ(ParseDurationNs("250ns", "f", "k").value(), 250u);
  EXPECT_EQ(ParseDurationNs("500us", "f", "k").value(), 500'000u);
  EXPECT_EQ(ParseDurationNs("500µs", "f", "k").value(), 500'000u);
  EXPECT_EQ(ParseDurationNs("10ms", "f", "k").value(), 10'000'000u);
  EXPECT_EQ(ParseDurationNs("2s", "f", "k").value(), 2'000'000'000u);
}

TEST(DurationTest, BeyondFourSecondsIsRejected) {
  EXPECT_THAT(ParseDurationNs("5s", "f", "k").error().reason, HasSubstr("longer than 4s"));
  EXPECT_THAT(ParseDurationNs("99999999999ms", "f", "k").error().reason,
              HasSubstr("longer than 4s"));
}

TEST(DurationTest, SignsFractionsAndBareUnitsAreRejected) {
  for (const char* text : {"-5ms", "1.5ms", "ms", "10 ms", "10m", ""}) {
    EXPECT_FALSE(ParseDurationNs(text, "f", "k").has_value()) << text;
  }
}

}  // namespace
}  // namespace dg
