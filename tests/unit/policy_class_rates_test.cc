// classes[].minRate and classes[].maxRate: bit/s or a percentage of shaper.rate, one parser
// for both keys, and the checks that keep floors promises the port can keep.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "control/policy.h"

namespace dg {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kShaperRate = 200'000'000;

std::string TwoClasses(const std::string& online_rates, const std::string& offline_rates) {
  return "classes:\n"
         "  - name: online\n"
         "    dscp: 46\n" +
         online_rates +
         "  - name: offline\n"
         "    dscp: 8\n" +
         offline_rates + "defaultClass: online\n";
}

ConfigError ParseError(const std::string& text, uint64_t shaper_rate_bps = kShaperRate) {
  auto policy = ParsePriorities(text, "priorities.yaml", shaper_rate_bps);
  EXPECT_FALSE(policy.has_value());
  return policy ? ConfigError{} : policy.error();
}

TEST(PolicyClassRatesTest, RatesInBitsPerSecondNeedNoShaper) {
  auto policy = ParsePriorities(TwoClasses("", "    minRate: 20Mbit\n    maxRate: 80Mbit\n"),
                                "priorities.yaml", 0);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[1].min_rate_bps, 20'000'000u);
  EXPECT_EQ(policy->classes[1].max_rate_bps, 80'000'000u);
}

TEST(PolicyClassRatesTest, AbsentRatesMeanNoFloorAndNoCeiling) {
  auto policy = ParsePriorities(TwoClasses("", ""), "priorities.yaml", kShaperRate);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->classes[1].min_rate_bps, 0u);
  EXPECT_EQ(policy->classes[1].max_rate_bps, 0u);
}

TEST(PolicyClassRatesTest, PercentagesAreSharesOfTheShaperRate) {
  auto policy = ParsePriorities(TwoClasses("", "    minRate: 10%\n    maxRate: 40%\n"),
                                "priorities.yaml", kShaperRate);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[1].min_rate_bps, 20'000'000u);
  EXPECT_EQ(policy->classes[1].max_rate_bps, 80'000'000u);
}

TEST(PolicyClassRatesTest, PercentagesTakeTwoDecimals) {
  auto policy = ParsePriorities(TwoClasses("", "    minRate: 12.5%\n    maxRate: 33.33%\n"),
                                "priorities.yaml", kShaperRate);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[1].min_rate_bps, 25'000'000u);
  EXPECT_EQ(policy->classes[1].max_rate_bps, 66'660'000u);
}

TEST(PolicyClassRatesTest, PercentageOfTheLargestShaperRateDoesNotOverflow) {
  const uint64_t largest = std::numeric_limits<uint64_t>::max();
  auto policy = ParsePriorities(TwoClasses("", "    maxRate: 100%\n"), "priorities.yaml", largest);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[1].max_rate_bps, largest);
}

TEST(PolicyClassRatesTest, PercentageWithoutAShaperRateIsAnError) {
  const ConfigError error = ParseError(TwoClasses("", "    minRate: 10%\n"), 0);
  EXPECT_EQ(error.file, "priorities.yaml");
  EXPECT_EQ(error.key, "classes[1].minRate");
  EXPECT_THAT(error.reason, HasSubstr("shaper.rate"));
}

TEST(PolicyClassRatesTest, PercentageAboveOneHundredIsAnError) {
  const ConfigError error = ParseError(TwoClasses("", "    maxRate: 150%\n"));
  EXPECT_EQ(error.key, "classes[1].maxRate");
  EXPECT_THAT(error.reason, HasSubstr("above 100%"));
}

TEST(PolicyClassRatesTest, MalformedPercentagesAreErrors) {
  for (const char* text : {"%", "-5%", "ten%", "1.234%", "10 %", "1e1%", "5.%", "1000%"}) {
    const ConfigError error =
        ParseError(TwoClasses("", std::string("    minRate: \"") + text + "\"\n"));
    EXPECT_EQ(error.key, "classes[1].minRate") << text;
    EXPECT_THAT(error.reason, HasSubstr(text)) << text;
  }
}

TEST(PolicyClassRatesTest, MalformedRateNamesTheKey) {
  const ConfigError error = ParseError(TwoClasses("", "    minRate: 5Pbit\n"));
  EXPECT_EQ(error.key, "classes[1].minRate");
  EXPECT_THAT(error.reason, HasSubstr("5Pbit"));
}

TEST(PolicyClassRatesTest, FloorAboveTheCeilingIsAnError) {
  const ConfigError error = ParseError(TwoClasses("", "    minRate: 50%\n    maxRate: 40%\n"));
  EXPECT_EQ(error.key, "classes[1].minRate");
  EXPECT_THAT(error.reason, HasSubstr("maxRate"));
}

TEST(PolicyClassRatesTest, FloorsAddingUpToMoreThanTheShaperRateAreAnError) {
  const ConfigError error = ParseError(TwoClasses("    minRate: 60%\n", "    minRate: 50%\n"));
  EXPECT_EQ(error.key, "classes[1].minRate");
  EXPECT_THAT(error.reason, HasSubstr("110.00%"));
}

TEST(PolicyClassRatesTest, FloorsInBitsPerSecondAboveTheShaperRateAreAnError) {
  const ConfigError error =
      ParseError(TwoClasses("    minRate: 150Mbit\n", "    minRate: 60Mbit\n"));
  EXPECT_EQ(error.key, "classes[1].minRate");
  EXPECT_THAT(error.reason, HasSubstr("at most 100%"));
}

TEST(PolicyClassRatesTest, FloorsAddingUpToExactlyTheShaperRateAreAccepted) {
  auto policy = ParsePriorities(TwoClasses("    minRate: 90%\n", "    minRate: 10%\n"),
                                "priorities.yaml", kShaperRate);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[0].min_rate_bps + policy->classes[1].min_rate_bps, kShaperRate);
}

TEST(PolicyClassRatesTest, ErrorInsideAConfigMapNamesTheEmbeddedKey) {
  const std::string config_map =
      "kind: ConfigMap\n"
      "data:\n"
      "  priorities.yaml: |\n"
      "    classes:\n"
      "      - name: online\n"
      "        dscp: 46\n"
      "        minRate: 10%\n"
      "    defaultClass: online\n";
  const ConfigError error = ParseError(config_map, 0);
  EXPECT_EQ(error.key, "data.priorities.yaml/classes[0].minRate");
}

// Volcano's networkQosConfig defaults (online watermark 80%, offline low 10%, offline high
// 40%) as docs/configuration.md maps them.
TEST(PolicyClassRatesTest, VolcanoNetworkQosConfigIsExpressible) {
  auto policy =
      ParsePriorities(TwoClasses("    minRate: 80%\n", "    minRate: 10%\n    maxRate: 40%\n"),
                      "priorities.yaml", kShaperRate);
  ASSERT_TRUE(policy) << policy.error().Message();
  EXPECT_EQ(policy->classes[0].min_rate_bps, 160'000'000u);
  EXPECT_EQ(policy->classes[1].min_rate_bps, 20'000'000u);
  EXPECT_EQ(policy->classes[1].max_rate_bps, 80'000'000u);
}

}  // namespace
}  // namespace dg
