#include "control/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace dg {
namespace {

using ::testing::HasSubstr;

constexpr char kExampleDocument[] = R"(classes:
  - name: critical
    dscp: 46
  - name: high
    dscp: 34
  - name: standard
    dscp: 0
  - name: scavenger
    dscp: 8
    maxRate: 500Mbit
defaultClass: standard
namespaces:
  ray-training: critical
  ray-serve: high
  batch-*: scavenger
)";

// The ConfigMap form of kExampleDocument, as `kubectl get configmap -o yaml` prints it.
constexpr char kExampleConfigMap[] = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: dscp-gateway-priorities
  namespace: dscp-gateway
  labels:
    app.kubernetes.io/name: dscp-gateway
  annotations:
    anything: goes here
  resourceVersion: "12345"
data:
  priorities.yaml: |
    classes:
      - name: critical
        dscp: 46
      - name: high
        dscp: 34
      - name: standard
        dscp: 0
      - name: scavenger
        dscp: 8
        maxRate: 500Mbit
    defaultClass: standard
    namespaces:
      ray-training: critical
      ray-serve: high
      batch-*: scavenger
)";

// Independent of the implementation so that a wrong hash cannot agree with itself.
std::string ReferenceFnv1a64(std::string_view text) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : text) {
    hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) hex[i] = kDigits[hash & 0xf];
  return hex;
}

PriorityPolicy ParseOrFail(std::string_view text) {
  auto policy = ParsePriorities(text, "test.yaml");
  EXPECT_TRUE(policy.has_value()) << (policy ? "" : policy.error().Message());
  return policy ? *policy : PriorityPolicy{};
}

// Finds a file of the source tree whether the test runs from the build directory (where
// __FILE__ is relative to it) or elsewhere.
std::filesystem::path SourceTreeFile(const std::string& relative) {
  const std::filesystem::path this_file(__FILE__);
  const std::filesystem::path repo_root = this_file.parent_path().parent_path().parent_path();
  if (this_file.is_absolute()) return repo_root / relative;
  const std::filesystem::path build_root =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path();
  return build_root / repo_root / relative;
}

TEST(ReferenceFnv1a64Test, MatchesPublishedVectors) {
  EXPECT_EQ(ReferenceFnv1a64(""), "cbf29ce484222325");
  EXPECT_EQ(ReferenceFnv1a64("a"), "af63dc4c8601ec8c");
}

TEST(ParsePrioritiesTest, BareDocumentKeepsClassesInPriorityOrder) {
  const PriorityPolicy policy = ParseOrFail(kExampleDocument);
  ASSERT_EQ(policy.classes.size(), 4u);
  EXPECT_EQ(policy.classes[0].name, "critical");
  EXPECT_EQ(policy.classes[0].dscp, 46);
  EXPECT_EQ(policy.classes[1].name, "high");
  EXPECT_EQ(policy.classes[1].dscp, 34);
  EXPECT_EQ(policy.classes[2].name, "standard");
  EXPECT_EQ(policy.classes[2].dscp, 0);
  EXPECT_EQ(policy.classes[3].name, "scavenger");
  EXPECT_EQ(policy.classes[3].dscp, 8);
}

TEST(ParsePrioritiesTest, MaxRateIsOptionalAndParsedInBitsPerSecond) {
  const PriorityPolicy policy = ParseOrFail(kExampleDocument);
  ASSERT_EQ(policy.classes.size(), 4u);
  EXPECT_EQ(policy.classes[0].max_rate_bps, 0u);
  EXPECT_EQ(policy.classes[3].max_rate_bps, 500'000'000u);
}

TEST(ParsePrioritiesTest, PcpIsOptionalAndReadAsTheVlanPriority) {
  const PriorityPolicy policy = ParseOrFail(
      "classes: [{name: a, dscp: 46, pcp: 7}, {name: b, dscp: 0, pcp: 0}, "
      "{name: c, dscp: 8}]\ndefaultClass: c\n");
  EXPECT_EQ(policy.classes[0].pcp, 7);
  EXPECT_EQ(policy.classes[1].pcp, 0);
  EXPECT_EQ(policy.classes[2].pcp, kNoPcp);
}

TEST(ParsePrioritiesTest, DefaultClassIsAnIndexIntoClasses) {
  EXPECT_EQ(ParseOrFail(kExampleDocument).default_class, 2u);
}

TEST(ParsePrioritiesTest, SplitsExactNamesFromPrefixes) {
  const PriorityPolicy policy = ParseOrFail(kExampleDocument);
  using Mapping = std::pair<std::string, uint32_t>;
  EXPECT_THAT(policy.exact_namespaces,
              ::testing::UnorderedElementsAre(Mapping{"ray-training", 0}, Mapping{"ray-serve", 1}));
  EXPECT_THAT(policy.prefix_namespaces, ::testing::ElementsAre(Mapping{"batch-", 3}));
}

TEST(ParsePrioritiesTest, NamespacesMayBeOmitted) {
  const PriorityPolicy policy =
      ParseOrFail("classes: [{name: only, dscp: 10}]\ndefaultClass: only\n");
  EXPECT_TRUE(policy.exact_namespaces.empty());
  EXPECT_TRUE(policy.prefix_namespaces.empty());
  EXPECT_EQ(policy.ClassForNamespace("anything"), 0u);
}

TEST(ParsePrioritiesTest, AcceptsEightClasses) {
  std::string document = "classes:\n";
  for (int i = 0; i < 8; ++i) {
    document += "  - {name: c" + std::to_string(i) + ", dscp: " + std::to_string(i * 8) + "}\n";
  }
  document += "defaultClass: c7\n";
  const PriorityPolicy policy = ParseOrFail(document);
  EXPECT_EQ(policy.classes.size(), 8u);
  EXPECT_EQ(policy.default_class, 7u);
}

TEST(ParsePrioritiesTest, AcceptsDscpBoundaries) {
  const PriorityPolicy policy =
      ParseOrFail("classes: [{name: low, dscp: 0}, {name: top, dscp: 63}]\ndefaultClass: low\n");
  ASSERT_EQ(policy.classes.size(), 2u);
  EXPECT_EQ(policy.classes[0].dscp, 0);
  EXPECT_EQ(policy.classes[1].dscp, 63);
}

TEST(ParsePrioritiesTest, ContentHashIsFnv1a64OfTheDocument) {
  EXPECT_EQ(ParseOrFail(kExampleDocument).content_hash, ReferenceFnv1a64(kExampleDocument));
}

TEST(ParsePrioritiesTest, ContentHashChangesWithTheText) {
  std::string edited = kExampleDocument;
  edited.replace(edited.find("dscp: 34"), 8, "dscp: 26");
  EXPECT_NE(ParseOrFail(edited).content_hash, ParseOrFail(kExampleDocument).content_hash);
}

TEST(ParsePrioritiesConfigMapTest, ReadsThePolicyFromData) {
  const PriorityPolicy policy = ParseOrFail(kExampleConfigMap);
  ASSERT_EQ(policy.classes.size(), 4u);
  EXPECT_EQ(policy.classes[3].name, "scavenger");
  EXPECT_EQ(policy.classes[3].max_rate_bps, 500'000'000u);
  EXPECT_EQ(policy.default_class, 2u);
  EXPECT_EQ(policy.ClassForNamespace("batch-etl"), 3u);
}

TEST(ParsePrioritiesConfigMapTest, HashesTheEmbeddedDocumentNotTheWrapper) {
  // The block scalar un-indents to exactly kExampleDocument, so metadata-only edits to the
  // ConfigMap (labels, resourceVersion) do not look like policy changes.
  EXPECT_EQ(ParseOrFail(kExampleConfigMap).content_hash, ReferenceFnv1a64(kExampleDocument));
}

TEST(ParsePrioritiesConfigMapTest, MetadataIsFreeForm) {
  const std::string config_map =
      "kind: ConfigMap\nmetadata: {whatever: [1, 2], nested: {deep: true}}\n"
      "data:\n  priorities.yaml: |\n    classes: [{name: a, dscp: 1}]\n    defaultClass: a\n";
  EXPECT_EQ(ParseOrFail(config_map).classes.size(), 1u);
}

TEST(ParsePrioritiesTest, ErrorCarriesTheSourceName) {
  auto policy = ParsePriorities("classes: []\ndefaultClass: a\n", "configs/priorities.yaml");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().file, "configs/priorities.yaml");
  EXPECT_EQ(policy.error().Message().rfind("configs/priorities.yaml: classes: ", 0), 0u)
      << policy.error().Message();
}

TEST(ParsePrioritiesTest, YamlSyntaxErrorReportsLineAndColumn) {
  auto policy = ParsePriorities("classes:\n  - name: a\n    dscp: [1, 2\ndefaultClass: a\n", "t");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().key, "");
  EXPECT_THAT(policy.error().reason, HasSubstr("invalid YAML at line 4, column 1"));
}

TEST(ParsePrioritiesConfigMapTest, YamlSyntaxErrorInsideDataNamesTheEmbeddedDocument) {
  auto policy = ParsePriorities("kind: ConfigMap\ndata:\n  priorities.yaml: \"classes: [\"\n", "t");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().key, "data.priorities.yaml");
  EXPECT_THAT(policy.error().reason, HasSubstr("invalid YAML at line 1"));
}

struct InvalidDocument {
  std::string label;
  std::string document;      // the bare priorities document
  std::string expected_key;  // relative to the document root
  std::string reason_substring;
};

void PrintTo(const InvalidDocument& invalid, std::ostream* out) { *out << invalid.label; }

// Eight valid classes as a prefix for the "too many" case.
std::string ClassList(int count) {
  std::string list;
  for (int i = 0; i < count; ++i) {
    list += "  - {name: c" + std::to_string(i) + ", dscp: " + std::to_string(i) + "}\n";
  }
  return list;
}

const InvalidDocument kInvalidDocuments[] = {
    {"NotAMapping", "- a\n- b\n", "", "expected a mapping"},
    {"EmptyDocument", "", "", "expected a mapping"},
    {"MissingClasses", "defaultClass: a\n", "classes", "missing"},
    {"EmptyClasses", "classes: []\ndefaultClass: a\n", "classes", "at least one"},
    {"ClassesNotAList", "classes: {a: 1}\ndefaultClass: a\n", "classes", "expected a list"},
    {"NineClasses", "classes:\n" + ClassList(9) + "defaultClass: c0\n", "classes", "at most 8"},
    {"DuplicateClassName",
     "classes: [{name: a, dscp: 1}, {name: b, dscp: 2}, {name: a, dscp: 3}]\ndefaultClass: a\n",
     "classes[2].name", "duplicate class name \"a\""},
    {"ClassWithoutName", "classes: [{name: a, dscp: 1}, {dscp: 2}]\ndefaultClass: a\n",
     "classes[1].name", "missing"},
    {"ClassWithEmptyName", "classes: [{name: '', dscp: 1}]\ndefaultClass: a\n", "classes[0].name",
     "empty"},
    {"ClassNotAMapping", "classes: [critical]\ndefaultClass: critical\n", "classes[0]",
     "expected a mapping"},
    {"DscpMissing", "classes: [{name: a}]\ndefaultClass: a\n", "classes[0].dscp", "missing"},
    {"DscpNotInteger", "classes: [{name: a, dscp: ef}]\ndefaultClass: a\n", "classes[0].dscp",
     "\"ef\" is not an integer"},
    {"DscpFraction", "classes: [{name: a, dscp: 4.5}]\ndefaultClass: a\n", "classes[0].dscp",
     "not an integer"},
    {"DscpHex", "classes: [{name: a, dscp: 0x2e}]\ndefaultClass: a\n", "classes[0].dscp",
     "not an integer"},
    {"DscpNegative", "classes: [{name: a, dscp: -1}]\ndefaultClass: a\n", "classes[0].dscp",
     "not an integer"},
    {"DscpTooLarge",
     "classes: [{name: a, dscp: 1}, {name: b, dscp: 2}, {name: c, dscp: 64}]\ndefaultClass: a\n",
     "classes[2].dscp", "64 is outside 0-63"},
    {"DscpAList", "classes: [{name: a, dscp: [1]}]\ndefaultClass: a\n", "classes[0].dscp",
     "expected an integer"},
    {"BadMaxRate", "classes: [{name: a, dscp: 1, maxRate: fast}]\ndefaultClass: a\n",
     "classes[0].maxRate", "\"fast\" is not a rate"},
    {"PcpTooLarge", "classes: [{name: a, dscp: 1, pcp: 8}]\ndefaultClass: a\n", "classes[0].pcp",
     "\"8\" is not an integer 0-7"},
    {"PcpNotInteger", "classes: [{name: a, dscp: 1, pcp: high}]\ndefaultClass: a\n",
     "classes[0].pcp", "not an integer 0-7"},
    {"PcpAList", "classes: [{name: a, dscp: 1, pcp: [1]}]\ndefaultClass: a\n", "classes[0].pcp",
     "expected an integer 0-7"},
    {"NegativeMaxRate", "classes: [{name: a, dscp: 1, maxRate: -5Mbit}]\ndefaultClass: a\n",
     "classes[0].maxRate", "negative"},
    {"UnknownTopLevelKey", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\ndefaultclass: a\n",
     "defaultclass", "unknown key"},
    {"UnknownClassKey", "classes: [{name: a, dscp: 1, maxrate: 5Mbit}]\ndefaultClass: a\n",
     "classes[0].maxrate", "unknown key"},
    {"DuplicateTopLevelKey", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\ndefaultClass: a\n",
     "defaultClass", "duplicate key"},
    {"MissingDefaultClass", "classes: [{name: a, dscp: 1}]\n", "defaultClass", "missing"},
    {"UnknownDefaultClass", "classes: [{name: a, dscp: 1}]\ndefaultClass: b\n", "defaultClass",
     "unknown class \"b\""},
    {"NamespaceToUnknownClass",
     "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {ray-serve: gold}\n",
     "namespaces.ray-serve", "unknown class \"gold\""},
    {"StarInTheMiddle",
     "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {'ray-*-serve': a}\n",
     "namespaces.ray-*-serve", "only allowed at the end"},
    {"StarAtTheStart", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {'*-etl': a}\n",
     "namespaces.*-etl", "only allowed at the end"},
    {"TwoStars", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {'batch**': a}\n",
     "namespaces.batch**", "only allowed at the end"},
    {"BareStar", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {'*': a}\n",
     "namespaces.*", "use defaultClass"},
    {"EmptyNamespaceName", "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {'': a}\n",
     "namespaces.\"\"", "empty namespace name"},
    {"UppercaseNamespace",
     "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: {Ray-Serve: a}\n",
     "namespaces.Ray-Serve", "lowercase"},
    {"DuplicateNamespace",
     "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces:\n  ray: a\n  ray: a\n",
     "namespaces.ray", "duplicate namespace"},
    {"NamespacesNotAMapping",
     "classes: [{name: a, dscp: 1}]\ndefaultClass: a\nnamespaces: [ray-serve]\n", "namespaces",
     "expected a mapping"},
};

class InvalidPrioritiesTest : public ::testing::TestWithParam<InvalidDocument> {};

TEST_P(InvalidPrioritiesTest, BareDocumentIsRejectedAtTheKey) {
  const InvalidDocument& invalid = GetParam();
  auto policy = ParsePriorities(invalid.document, "p.yaml");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().file, "p.yaml");
  EXPECT_EQ(policy.error().key, invalid.expected_key) << policy.error().Message();
  EXPECT_THAT(policy.error().reason, HasSubstr(invalid.reason_substring));
}

// The same mistakes inside a ConfigMap: the key path gains the data.priorities.yaml/ prefix.
TEST_P(InvalidPrioritiesTest, ConfigMapIsRejectedAtThePrefixedKey) {
  const InvalidDocument& invalid = GetParam();
  std::string config_map =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  priorities.yaml: |\n";
  for (size_t start = 0; start < invalid.document.size();) {
    const size_t end = invalid.document.find('\n', start);
    config_map += "    " + invalid.document.substr(start, end - start) + "\n";
    start = end + 1;
  }
  if (invalid.document.empty()) config_map += "    \n";
  auto policy = ParsePriorities(config_map, "cm.yaml");
  ASSERT_FALSE(policy.has_value());
  const std::string expected_key =
      "data.priorities.yaml" + (invalid.expected_key.empty() ? "" : "/" + invalid.expected_key);
  EXPECT_EQ(policy.error().key, expected_key) << policy.error().Message();
  EXPECT_THAT(policy.error().reason, HasSubstr(invalid.reason_substring));
}

INSTANTIATE_TEST_SUITE_P(Rejections, InvalidPrioritiesTest, ::testing::ValuesIn(kInvalidDocuments),
                         [](const auto& info) { return info.param.label; });

struct InvalidConfigMap {
  std::string label;
  std::string text;
  std::string expected_key;
  std::string reason_substring;
};

void PrintTo(const InvalidConfigMap& invalid, std::ostream* out) { *out << invalid.label; }

class InvalidConfigMapTest : public ::testing::TestWithParam<InvalidConfigMap> {};

TEST_P(InvalidConfigMapTest, IsRejectedAtTheKey) {
  const InvalidConfigMap& invalid = GetParam();
  auto policy = ParsePriorities(invalid.text, "cm.yaml");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().key, invalid.expected_key) << policy.error().Message();
  EXPECT_THAT(policy.error().reason, HasSubstr(invalid.reason_substring));
}

INSTANTIATE_TEST_SUITE_P(
    Rejections, InvalidConfigMapTest,
    ::testing::Values(
        InvalidConfigMap{"NoData", "kind: ConfigMap\nmetadata: {name: p}\n", "data.priorities.yaml",
                         "no data.priorities.yaml"},
        InvalidConfigMap{"DataWithoutPriorities", "kind: ConfigMap\ndata: {}\n",
                         "data.priorities.yaml", "no data.priorities.yaml"},
        InvalidConfigMap{"MisspelledDataKey",
                         "kind: ConfigMap\ndata:\n  priority.yaml: |\n    classes: []\n",
                         "data.priority.yaml", "unknown key"},
        InvalidConfigMap{"ExtraDataKey",
                         "kind: ConfigMap\ndata:\n  priorities.yaml: 'defaultClass: a'\n"
                         "  notes.txt: hello\n",
                         "data.notes.txt", "unknown key"},
        InvalidConfigMap{"DocumentAsMappingNotString",
                         "kind: ConfigMap\ndata:\n  priorities.yaml:\n    classes: []\n",
                         "data.priorities.yaml", "as a string"},
        InvalidConfigMap{"DataNotAMapping", "kind: ConfigMap\ndata: [a]\n", "data",
                         "expected a mapping"},
        InvalidConfigMap{"KindOtherThanConfigMap", "kind: Secret\ndata: {}\n", "kind",
                         "expected ConfigMap"}),
    [](const auto& info) { return info.param.label; });

TEST(ClassForNamespaceTest, ExactNameBeatsAMatchingPrefix) {
  const PriorityPolicy policy = ParseOrFail(
      "classes: [{name: a, dscp: 1}, {name: b, dscp: 2}, {name: c, dscp: 3}]\n"
      "defaultClass: c\nnamespaces: {'batch-*': a, batch-etl: b}\n");
  EXPECT_EQ(policy.ClassForNamespace("batch-etl"), 1u);
  EXPECT_EQ(policy.ClassForNamespace("batch-other"), 0u);
}

TEST(ClassForNamespaceTest, LongestPrefixWinsRegardlessOfOrder) {
  const PriorityPolicy policy = ParseOrFail(
      "classes: [{name: a, dscp: 1}, {name: b, dscp: 2}, {name: c, dscp: 3}]\n"
      "defaultClass: c\nnamespaces: {'ray-*': a, 'ray-serve-*': b, 'r*': c}\n");
  EXPECT_EQ(policy.ClassForNamespace("ray-serve-canary"), 1u);
  EXPECT_EQ(policy.ClassForNamespace("ray-train"), 0u);
  EXPECT_EQ(policy.ClassForNamespace("rook"), 2u);
}

constexpr const char* kLabelPrecedenceDocument =
    "classes: [{name: a, dscp: 1}, {name: b, dscp: 2}, {name: c, dscp: 3}]\n"
    "defaultClass: c\nnamespaces: {'batch-*': a, batch-etl: b}\n";

TEST(ClassForNamespaceTest, LabelBeatsAMatchingPrefix) {
  const PriorityPolicy policy = ParseOrFail(kLabelPrecedenceDocument);
  EXPECT_EQ(policy.ClassForNamespace("batch-other", "c"), 2u);
}

TEST(ClassForNamespaceTest, ExactNameBeatsALabel) {
  const PriorityPolicy policy = ParseOrFail(kLabelPrecedenceDocument);
  EXPECT_EQ(policy.ClassForNamespace("batch-etl", "c"), 1u);
}

TEST(ClassForNamespaceTest, LabelNamingNoClassFallsThroughToPrefixAndDefault) {
  const PriorityPolicy policy = ParseOrFail(kLabelPrecedenceDocument);
  EXPECT_EQ(policy.ClassForNamespace("batch-other", "platinum"), 0u);
  EXPECT_EQ(policy.ClassForNamespace("web", "platinum"), 2u);
}

TEST(ClassForNamespaceTest, UnlistedNamespaceGetsTheDefaultClass) {
  const PriorityPolicy policy = ParseOrFail(kExampleDocument);
  EXPECT_EQ(policy.ClassForNamespace("kube-system"), 2u);
  EXPECT_EQ(policy.ClassForNamespace(""), 2u);
}

TEST(ClassForNamespaceTest, PrefixDoesNotMatchAShorterName) {
  const PriorityPolicy policy = ParseOrFail(kExampleDocument);
  EXPECT_EQ(policy.ClassForNamespace("batch"), 2u);
  EXPECT_EQ(policy.ClassForNamespace("ray-training-2"), 2u);  // exact names are not prefixes
}

TEST(DefaultPriorityPolicyTest, HasTheFourStandardClasses) {
  const PriorityPolicy policy = DefaultPriorityPolicy();
  ASSERT_EQ(policy.classes.size(), 4u);
  const std::pair<std::string, int> expected[] = {
      {"critical", 46}, {"high", 34}, {"standard", 0}, {"scavenger", 8}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(policy.classes[i].name, expected[i].first);
    EXPECT_EQ(policy.classes[i].dscp, expected[i].second);
    EXPECT_EQ(policy.classes[i].max_rate_bps, 0u);
  }
}

TEST(DefaultPriorityPolicyTest, MapsEveryNamespaceToStandard) {
  const PriorityPolicy policy = DefaultPriorityPolicy();
  EXPECT_EQ(policy.default_class, 2u);
  EXPECT_TRUE(policy.exact_namespaces.empty());
  EXPECT_TRUE(policy.prefix_namespaces.empty());
  EXPECT_EQ(policy.ClassForNamespace("ray-training"), 2u);
  EXPECT_EQ(policy.content_hash.size(), 16u);
}

struct RateCase {
  std::string text;
  uint64_t bits_per_second;
};

void PrintTo(const RateCase& rate, std::ostream* out) { *out << '"' << rate.text << '"'; }

class ValidRateTest : public ::testing::TestWithParam<RateCase> {};

TEST_P(ValidRateTest, ParsesToBitsPerSecond) {
  auto rate = ParseRateBps(GetParam().text, "f", "k");
  ASSERT_TRUE(rate.has_value()) << rate.error().Message();
  EXPECT_EQ(*rate, GetParam().bits_per_second);
}

INSTANTIATE_TEST_SUITE_P(
    Rates, ValidRateTest,
    ::testing::Values(RateCase{"500Mbit", 500'000'000}, RateCase{"1.5Gbit", 1'500'000'000},
                      RateCase{"10kbit", 10'000}, RateCase{"10Kbit", 10'000},
                      RateCase{"2Tbit", 2'000'000'000'000}, RateCase{"200000000", 200'000'000},
                      RateCase{"0", 0}, RateCase{"0Mbit", 0}, RateCase{"64bit", 64},
                      RateCase{"500Mbps", 500'000'000}, RateCase{"1Gbps", 1'000'000'000},
                      RateCase{"100mbit", 100'000'000}, RateCase{"100M", 100'000'000},
                      RateCase{"2.125kbit", 2'125}, RateCase{"0.5Tbit", 500'000'000'000},
                      RateCase{"18446744073709551615", std::numeric_limits<uint64_t>::max()}));

struct InvalidRate {
  std::string text;
  std::string reason_substring;
};

void PrintTo(const InvalidRate& rate, std::ostream* out) { *out << '"' << rate.text << '"'; }

class InvalidRateTest : public ::testing::TestWithParam<InvalidRate> {};

TEST_P(InvalidRateTest, IsRejectedWithTheKey) {
  auto rate = ParseRateBps(GetParam().text, "gateway.yaml", "shaper.rate");
  ASSERT_FALSE(rate.has_value()) << *rate;
  EXPECT_EQ(rate.error().file, "gateway.yaml");
  EXPECT_EQ(rate.error().key, "shaper.rate");
  EXPECT_THAT(rate.error().reason, HasSubstr(GetParam().reason_substring));
}

INSTANTIATE_TEST_SUITE_P(
    Rates, InvalidRateTest,
    ::testing::Values(InvalidRate{"", "empty"}, InvalidRate{"-1Mbit", "negative"},
                      InvalidRate{"-5", "negative"}, InvalidRate{"fast", "not a rate"},
                      InvalidRate{"Mbit", "not a rate"}, InvalidRate{"1.Mbit", "not a rate"},
                      InvalidRate{".5Mbit", "not a rate"}, InvalidRate{"1,5Gbit", "not a rate"},
                      InvalidRate{"500 Mbit", "not a rate"}, InvalidRate{"500Mbitt", "not a rate"},
                      InvalidRate{"500MBps", "not a rate"}, InvalidRate{"5Pbit", "not a rate"},
                      InvalidRate{"1e9", "not a rate"}, InvalidRate{"+5Mbit", "not a rate"},
                      InvalidRate{"0x10", "not a rate"}, InvalidRate{"1.5bit", "whole number"},
                      InvalidRate{"18446744073709551616", "too large"},
                      InvalidRate{"20000000Tbit", "too large"},
                      InvalidRate{"99999999999999999999999Mbit", "too large"}));

TEST(LoadPrioritiesFileTest, MissingFileNamesThePath) {
  auto policy = LoadPrioritiesFile("/nonexistent/dir/priorities.yaml");
  ASSERT_FALSE(policy.has_value());
  EXPECT_EQ(policy.error().file, "/nonexistent/dir/priorities.yaml");
  EXPECT_THAT(policy.error().reason, HasSubstr("cannot open"));
}

TEST(LoadPrioritiesFileTest, ReadsAFile) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("policy_test_" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << kExampleDocument;
  auto policy = LoadPrioritiesFile(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(policy.has_value()) << policy.error().Message();
  EXPECT_EQ(policy->classes.size(), 4u);
  EXPECT_EQ(policy->content_hash, ReferenceFnv1a64(kExampleDocument));
}

TEST(LoadPrioritiesFileTest, ShippedConfigMapIsValid) {
  const std::filesystem::path path = SourceTreeFile("configs/priorities.yaml");
  auto policy = LoadPrioritiesFile(path.string());
  ASSERT_TRUE(policy.has_value()) << policy.error().Message();
  ASSERT_EQ(policy->classes.size(), 4u);
  EXPECT_EQ(policy->classes[0].dscp, 46);
  EXPECT_EQ(policy->classes[3].max_rate_bps, 500'000'000u);
  EXPECT_EQ(policy->ClassForNamespace("ray-training"), 0u);
  EXPECT_EQ(policy->ClassForNamespace("ray-serve"), 1u);
  EXPECT_EQ(policy->ClassForNamespace("batch-etl"), 3u);
  EXPECT_EQ(policy->ClassForNamespace("default"), 2u);
}

}  // namespace
}  // namespace dg
