#include "control/pods.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstring>
#include <filesystem>
#include <string>

#include "control/input_limits.h"

namespace dg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Shaped like `kubectl get pods -A -o json`, trimmed to the fields the parser reads plus a
// few it must ignore.
constexpr char kJsonPodList[] = R"({
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "annotations": {"note": "quotes \" and \\ and \/ and \u00e9"},
                "creationTimestamp": "2024-05-13T07:05:51Z",
                "name": "train-head",
                "namespace": "ray-training",
                "uid": "uid-train-head"
            },
            "spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.10.0"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.244.1.17",
                "podIPs": [{"ip": "10.244.1.17"}]
            }
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "creationTimestamp": "2024-05-13T07:05:52Z",
                "name": "train-worker",
                "namespace": "ray-training",
                "uid": "uid-train-worker"
            },
            "spec": {"hostNetwork": false},
            "status": {
                "phase": "Running",
                "podIP": "10.244.2.31",
                "podIPs": [{"ip": "10.244.2.31"}, {"ip": "fd00:10:244:2::1f"}]
            }
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
)";

constexpr char kYamlPodList[] = R"(apiVersion: v1
kind: PodList
items:
- metadata:
    name: serve-head
    namespace: ray-serve
    uid: uid-serve-head
    creationTimestamp: "2024-05-12T09:30:15Z"
    deletionTimestamp: "2024-05-14T11:00:00Z"
  spec:
    hostNetwork: true
  status:
    phase: Pending
)";

std::vector<PodRecord> ParseOrFail(std::string_view text) {
  auto pods = ParsePodList(text, "pods.json");
  EXPECT_TRUE(pods.has_value()) << (pods ? "" : pods.error().Message());
  return pods ? *pods : std::vector<PodRecord>{};
}

dg_pod_key Key(std::initializer_list<uint8_t> bytes) {
  dg_pod_key key{};
  std::copy(bytes.begin(), bytes.end(), key.addr);
  return key;
}

bool SameKey(const dg_pod_key& left, const dg_pod_key& right) {
  return std::memcmp(left.addr, right.addr, sizeof(left.addr)) == 0;
}

PodRecord Pod(std::string namespace_name, std::string name, std::vector<std::string> addresses,
              std::string phase = "Running") {
  PodRecord pod;
  pod.uid = "uid-" + name;
  pod.namespace_name = std::move(namespace_name);
  pod.name = std::move(name);
  pod.phase = std::move(phase);
  pod.creation_timestamp = "2024-05-01T00:00:00Z";
  for (std::string& text : addresses) {
    PodAddress address;
    EXPECT_TRUE(ParsePodAddress(text, &address.key)) << text;
    address.text = std::move(text);
    pod.addresses.push_back(std::move(address));
  }
  return pod;
}

std::vector<std::string> Describe(const std::vector<PodTableEntry>& entries) {
  std::vector<std::string> described;
  for (const PodTableEntry& entry : entries) {
    described.push_back(FormatPodAddress(entry.address.key) + " " + entry.namespace_name + "/" +
                        entry.pod_name);
  }
  return described;
}

std::filesystem::path SourceTreeFile(const std::string& relative) {
  const std::filesystem::path this_file(__FILE__);
  const std::filesystem::path repo_root = this_file.parent_path().parent_path().parent_path();
  if (this_file.is_absolute()) return repo_root / relative;
  const std::filesystem::path build_root =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path();
  return build_root / repo_root / relative;
}

TEST(ParsePodListTest, ReadsKubectlJson) {
  const std::vector<PodRecord> pods = ParseOrFail(kJsonPodList);
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0].uid, "uid-train-head");
  EXPECT_EQ(pods[0].name, "train-head");
  EXPECT_EQ(pods[0].namespace_name, "ray-training");
  EXPECT_EQ(pods[0].phase, "Running");
  EXPECT_EQ(pods[0].creation_timestamp, "2024-05-13T07:05:51Z");
  EXPECT_EQ(pods[0].deletion_timestamp, "");
  EXPECT_FALSE(pods[0].host_network);
  ASSERT_EQ(pods[0].addresses.size(), 1u);
  EXPECT_EQ(pods[0].addresses[0].text, "10.244.1.17");
  EXPECT_TRUE(SameKey(pods[0].addresses[0].key,
                      Key({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 244, 1, 17})));
}

TEST(ParsePodListTest, ReadsDualStackPodIps) {
  const std::vector<PodRecord> pods = ParseOrFail(kJsonPodList);
  ASSERT_EQ(pods.size(), 2u);
  ASSERT_EQ(pods[1].addresses.size(), 2u);
  EXPECT_EQ(pods[1].addresses[0].text, "10.244.2.31");
  EXPECT_EQ(pods[1].addresses[1].text, "fd00:10:244:2::1f");
  EXPECT_TRUE(SameKey(pods[1].addresses[1].key,
                      Key({0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x1f})));
}

TEST(ParsePodListTest, ReadsYamlPodList) {
  const std::vector<PodRecord> pods = ParseOrFail(kYamlPodList);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].name, "serve-head");
  EXPECT_EQ(pods[0].namespace_name, "ray-serve");
  EXPECT_EQ(pods[0].deletion_timestamp, "2024-05-14T11:00:00Z");
  EXPECT_TRUE(pods[0].host_network);
}

TEST(ParsePodListTest, KeepsPendingPodWithoutAddresses) {
  const std::vector<PodRecord> pods = ParseOrFail(kYamlPodList);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].phase, "Pending");
  EXPECT_TRUE(pods[0].addresses.empty());
}

TEST(ParsePodListTest, FallsBackToPodIpWithoutPodIps) {
  const std::vector<PodRecord> pods = ParseOrFail(
      "kind: PodList\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
      "  status: {phase: Running, podIP: 'fd00::5'}\n");
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_EQ(pods[0].addresses.size(), 1u);
  EXPECT_EQ(pods[0].addresses[0].text, "fd00::5");
}

TEST(ParsePodListTest, PodIpsTakePrecedenceOverPodIp) {
  const std::vector<PodRecord> pods = ParseOrFail(
      "kind: PodList\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
      "  status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.2}]}\n");
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_EQ(pods[0].addresses.size(), 1u);
  EXPECT_EQ(pods[0].addresses[0].text, "10.0.0.2");
}

TEST(ParsePodListTest, ListsEachAddressOfAPodOnce) {
  const std::vector<PodRecord> pods = ParseOrFail(
      "kind: PodList\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
      "  status: {podIPs: [{ip: 10.0.0.2}, {ip: 10.0.0.2}]}\n");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].addresses.size(), 1u);
}

TEST(ParsePodListTest, EmptyListHasNoPods) {
  EXPECT_TRUE(ParseOrFail(R"({"apiVersion": "v1", "items": [], "kind": "List"})").empty());
  EXPECT_TRUE(ParseOrFail("kind: PodList\n").empty());
}

struct InvalidPodList {
  std::string label;
  std::string text;
  std::string expected_key;
  std::string reason_substring;
};

void PrintTo(const InvalidPodList& invalid, std::ostream* out) { *out << invalid.label; }

class InvalidPodListTest : public ::testing::TestWithParam<InvalidPodList> {};

TEST_P(InvalidPodListTest, IsRejectedAtTheKey) {
  auto pods = ParsePodList(GetParam().text, "pods.json");
  ASSERT_FALSE(pods.has_value());
  EXPECT_EQ(pods.error().file, "pods.json");
  EXPECT_EQ(pods.error().key, GetParam().expected_key) << pods.error().Message();
  EXPECT_THAT(pods.error().reason, HasSubstr(GetParam().reason_substring));
}

constexpr char kTwoGoodPods[] =
    "kind: List\nitems:\n"
    "- metadata: {name: a, namespace: n, uid: uid-a}\n  status: {podIPs: [{ip: 10.0.0.1}]}\n"
    "- metadata: {name: b, namespace: n, uid: uid-b}\n  status: {podIPs: [{ip: 10.0.0.2}, ";

INSTANTIATE_TEST_SUITE_P(
    Rejections, InvalidPodListTest,
    ::testing::Values(
        InvalidPodList{"BadJson", "{\"kind\": \"List\",\n \"items\": [\n}", "", "line 3"},
        InvalidPodList{"NotAnObject", "[1, 2]", "", "expected a PodList"},
        InvalidPodList{"MissingKind", "items: []\n", "kind", "expected PodList or List"},
        InvalidPodList{"WrongKind", "kind: ServiceList\nitems: []\n", "kind", "PodList or List"},
        InvalidPodList{"ItemsNotAList", "kind: List\nitems: {a: 1}\n", "items", "expected a list"},
        InvalidPodList{"NonPodItem", "kind: List\nitems:\n- kind: Service\n  metadata: {name: s}\n",
                       "items[0].kind", "expected Pod"},
        InvalidPodList{"MissingMetadata", "kind: List\nitems:\n- status: {}\n", "items[0].metadata",
                       "missing"},
        InvalidPodList{"MissingNamespace", "kind: List\nitems:\n- metadata: {name: a}\n",
                       "items[0].metadata.namespace", "missing"},
        InvalidPodList{"MissingName", "kind: List\nitems:\n- metadata: {namespace: a}\n",
                       "items[0].metadata.name", "missing"},
        // kubectl always lists uids; the watch follows pods by them, so both paths need one.
        InvalidPodList{"MissingUid", "kind: List\nitems:\n- metadata: {name: a, namespace: n}\n",
                       "items[0].metadata.uid", "missing"},
        InvalidPodList{"BadSecondPodIp", std::string(kTwoGoodPods) + "{ip: 10.0.0.300}]}\n",
                       "items[1].status.podIPs[1].ip", "\"10.0.0.300\" is not an IPv4 or IPv6"},
        InvalidPodList{"PodIpsEntryWithoutIp", std::string(kTwoGoodPods) + "{}]}\n",
                       "items[1].status.podIPs[1].ip", "missing"},
        InvalidPodList{"BadPodIp",
                       "kind: List\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
                       "  status: {podIP: not-an-ip}\n",
                       "items[0].status.podIP", "not an IPv4 or IPv6"},
        InvalidPodList{"PodIpWithPrefixLength",
                       "kind: List\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
                       "  status: {podIP: 10.0.0.1/24}\n",
                       "items[0].status.podIP", "not an IPv4 or IPv6"},
        InvalidPodList{"BadHostNetwork",
                       "kind: List\nitems:\n- metadata: {name: a, namespace: n, uid: uid-a}\n"
                       "  spec: {hostNetwork: maybe}\n",
                       "items[0].spec.hostNetwork", "true or false"}),
    [](const auto& info) { return info.param.label; });

std::string PodWithAddresses(size_t count) {
  std::string ips;
  for (size_t i = 0; i < count; ++i) {
    ips += (i == 0 ? "" : ", ") + std::string("{ip: 10.0.") + std::to_string(i / 256) + "." +
           std::to_string(i % 256) + "}";
  }
  return "kind: List\nitems:\n- metadata: {name: wide, namespace: n, uid: uid-wide}\n"
         "  status: {podIPs: [" +
         ips + "]}\n";
}

TEST(ParsePodListTest, AcceptsAPodWithAsManyAddressesAsTheLimit) {
  auto pods = ParsePodList(PodWithAddresses(kMaxPodAddresses), "pods.yaml");
  ASSERT_TRUE(pods.has_value()) << pods.error().Message();
  ASSERT_EQ(pods->size(), 1u);
  EXPECT_EQ((*pods)[0].addresses.size(), kMaxPodAddresses);
}

TEST(ParsePodListTest, RejectsAPodWithMoreAddressesThanTheLimitNamingIt) {
  auto pods = ParsePodList(PodWithAddresses(kMaxPodAddresses + 1), "pods.yaml");
  ASSERT_FALSE(pods.has_value());
  EXPECT_EQ(pods.error().file, "pods.yaml");
  EXPECT_EQ(pods.error().key, "items[0].status.podIPs");
  EXPECT_THAT(pods.error().reason, HasSubstr("at most " + std::to_string(kMaxPodAddresses)));
}

TEST(DecodePodTest, TooManyAddressesNameThePod) {
  boost::json::array ips;
  for (size_t i = 0; i <= kMaxPodAddresses; ++i) {
    ips.push_back(boost::json::object{{"ip", "10.0.0." + std::to_string(i)}});
  }
  const boost::json::object pod{
      {"metadata", boost::json::object{{"name", "wide"}, {"namespace", "n"}, {"uid", "u"}}},
      {"status", boost::json::object{{"podIPs", std::move(ips)}}}};
  auto record = DecodePod(pod);
  ASSERT_FALSE(record.has_value());
  EXPECT_EQ(record.error().file, "pod n/wide");
  EXPECT_EQ(record.error().key, "status.podIPs");
}

TEST(ParsePodListTest, RejectsYamlAliasesThatExpandBeyondTheDocumentSize) {
  // One list of 200 addresses referenced 300 times: 2.6 KB of text, 60,000 addresses.
  std::string ips;
  for (int i = 0; i < 200; ++i) ips += (i == 0 ? "" : ", ") + std::string("10.0.0.1");
  std::string text = "kind: List\nx: &ips [" + ips + "]\nitems:\n";
  for (int i = 0; i < 300; ++i) text += "- *ips\n";
  auto pods = ParsePodList(text, "pods.yaml");
  ASSERT_FALSE(pods.has_value());
  EXPECT_EQ(pods.error().file, "pods.yaml");
  EXPECT_THAT(pods.error().reason, HasSubstr("aliases expand"));
}

TEST(BuildPodTableEntriesTest, MapsEveryAddressToItsPod) {
  const auto entries =
      BuildPodTableEntries({Pod("ray-training", "worker", {"10.244.2.31", "fd00:10:244:2::1f"}),
                            Pod("ray-serve", "head", {"10.244.1.22"})});
  EXPECT_THAT(Describe(entries),
              ElementsAre("10.244.1.22 ray-serve/head", "10.244.2.31 ray-training/worker",
                          "fd00:10:244:2::1f ray-training/worker"));
}

TEST(BuildPodTableEntriesTest, KeepsTheAddressTextFromThePodList) {
  const auto entries = BuildPodTableEntries({Pod("n", "a", {"FD00::0001"})});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].address.text, "FD00::0001");
  EXPECT_EQ(FormatPodAddress(entries[0].address.key), "fd00::1");
}

TEST(BuildPodTableEntriesTest, SkipsHostNetworkPods) {
  PodRecord kube_proxy = Pod("kube-system", "kube-proxy", {"192.168.10.22"});
  kube_proxy.host_network = true;
  const auto entries =
      BuildPodTableEntries({kube_proxy, Pod("kube-system", "coredns", {"10.244.0.3"})});
  EXPECT_THAT(Describe(entries), ElementsAre("10.244.0.3 kube-system/coredns"));
}

TEST(BuildPodTableEntriesTest, SkipsFinishedPodsButKeepsPendingAndUnknown) {
  const auto entries = BuildPodTableEntries(
      {Pod("n", "done", {"10.0.0.1"}, "Succeeded"), Pod("n", "crashed", {"10.0.0.2"}, "Failed"),
       Pod("n", "starting", {"10.0.0.3"}, "Pending"), Pod("n", "lost", {"10.0.0.4"}, "Unknown")});
  EXPECT_THAT(Describe(entries), ElementsAre("10.0.0.4 n/lost", "10.0.0.3 n/starting"));
}

TEST(BuildPodTableEntriesTest, FinishedPodDoesNotShadowTheNewOwnerOfItsIp) {
  PodRecord finished = Pod("batch-etl", "old-job", {"10.0.0.7"}, "Succeeded");
  finished.creation_timestamp = "2024-05-14T12:00:00Z";  // newer, but gone
  const auto entries = BuildPodTableEntries({finished, Pod("ray-serve", "head", {"10.0.0.7"})});
  EXPECT_THAT(Describe(entries), ElementsAre("10.0.0.7 ray-serve/head"));
}

// Each conflict is tried in both list orders: the winner must not depend on it.
class IpConflictTest : public ::testing::TestWithParam<bool> {
 protected:
  std::vector<std::string> Resolve(const PodRecord& expected_winner, const PodRecord& loser) {
    return Describe(GetParam() ? BuildPodTableEntries({expected_winner, loser})
                               : BuildPodTableEntries({loser, expected_winner}));
  }
};

TEST_P(IpConflictTest, LivePodBeatsTerminatingPod) {
  PodRecord terminating = Pod("a", "terminating", {"10.0.0.9"});
  terminating.creation_timestamp = "2024-05-14T00:00:00Z";  // newer, but being deleted
  terminating.deletion_timestamp = "2024-05-14T01:00:00Z";
  PodRecord live = Pod("b", "live", {"10.0.0.9"});
  live.creation_timestamp = "2024-05-13T00:00:00Z";
  EXPECT_THAT(Resolve(live, terminating), ElementsAre("10.0.0.9 b/live"));
}

TEST_P(IpConflictTest, LaterCreationWins) {
  PodRecord older = Pod("a", "older", {"fd00::9"});
  older.creation_timestamp = "2024-05-13T23:59:59Z";
  PodRecord newer = Pod("b", "newer", {"fd00::9"});
  newer.creation_timestamp = "2024-05-14T00:00:00Z";
  EXPECT_THAT(Resolve(newer, older), ElementsAre("fd00::9 b/newer"));
}

TEST_P(IpConflictTest, CreationTimesAreComparedAsInstantsNotStrings) {
  // 10:30+02:00 is 08:30Z, so it is older than 09:00Z although it sorts later as text.
  PodRecord offset = Pod("a", "offset", {"10.0.0.9"});
  offset.creation_timestamp = "2024-05-14T10:30:00+02:00";
  PodRecord utc = Pod("b", "utc", {"10.0.0.9"});
  utc.creation_timestamp = "2024-05-14T09:00:00.5Z";
  EXPECT_THAT(Resolve(utc, offset), ElementsAre("10.0.0.9 b/utc"));
}

TEST_P(IpConflictTest, AnyTimestampBeatsAMissingOne) {
  PodRecord undated = Pod("a", "undated", {"10.0.0.9"});
  undated.creation_timestamp = "";
  PodRecord dated = Pod("b", "dated", {"10.0.0.9"});
  EXPECT_THAT(Resolve(dated, undated), ElementsAre("10.0.0.9 b/dated"));
}

TEST_P(IpConflictTest, GreaterUidBreaksATie) {
  PodRecord smaller = Pod("a", "smaller", {"10.0.0.9"});
  smaller.uid = "0000-aaaa";
  PodRecord greater = Pod("b", "greater", {"10.0.0.9"});
  greater.uid = "ffff-0000";
  EXPECT_THAT(Resolve(greater, smaller), ElementsAre("10.0.0.9 b/greater"));
}

TEST_P(IpConflictTest, LoserKeepsItsOtherAddresses) {
  PodRecord older = Pod("a", "older", {"10.0.0.9", "fd00::a"});
  older.creation_timestamp = "2024-05-13T00:00:00Z";
  PodRecord newer = Pod("b", "newer", {"10.0.0.9"});
  newer.creation_timestamp = "2024-05-14T00:00:00Z";
  EXPECT_THAT(Resolve(newer, older), ElementsAre("fd00::a a/older", "10.0.0.9 b/newer"));
}

TEST_P(IpConflictTest, LaterCreationWinsPastTheYear2262) {
  // Nanoseconds since 1970 overflow int64 in 2262; the API server accepts years to 9999.
  PodRecord older = Pod("a", "older", {"10.0.0.9"});
  older.creation_timestamp = "2024-05-14T00:00:00Z";
  PodRecord newer = Pod("b", "newer", {"10.0.0.9"});
  newer.creation_timestamp = "4048-01-01T00:00:00Z";
  EXPECT_THAT(Resolve(newer, older), ElementsAre("10.0.0.9 b/newer"));
}

TEST_P(IpConflictTest, FractionsOrderWithinOneSecondFarInTheFuture) {
  PodRecord earlier = Pod("a", "earlier", {"10.0.0.9"});
  earlier.creation_timestamp = "9999-12-31T23:59:59.25Z";
  PodRecord later = Pod("b", "later", {"10.0.0.9"});
  later.creation_timestamp = "9999-12-31T23:59:59.5Z";
  EXPECT_THAT(Resolve(later, earlier), ElementsAre("10.0.0.9 b/later"));
}

INSTANTIATE_TEST_SUITE_P(BothOrders, IpConflictTest, ::testing::Bool(), [](const auto& info) {
  return info.param ? "WinnerFirst" : "LoserFirst";
});

TEST(ParsePodAddressTest, StoresIpv4AsIpv4Mapped) {
  dg_pod_key key;
  ASSERT_TRUE(ParsePodAddress("192.0.2.1", &key));
  EXPECT_TRUE(SameKey(key, Key({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1})));
}

TEST(ParsePodAddressTest, StoresIpv6AsIs) {
  dg_pod_key key;
  ASSERT_TRUE(ParsePodAddress("2001:db8::1", &key));
  EXPECT_TRUE(SameKey(key, Key({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})));
}

TEST(ParsePodAddressTest, MappedTextAndDottedQuadGiveTheSameKey) {
  dg_pod_key dotted;
  dg_pod_key mapped;
  ASSERT_TRUE(ParsePodAddress("10.1.2.3", &dotted));
  ASSERT_TRUE(ParsePodAddress("::ffff:10.1.2.3", &mapped));
  EXPECT_TRUE(SameKey(dotted, mapped));
}

class InvalidPodAddressTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidPodAddressTest, IsRejected) {
  dg_pod_key key;
  EXPECT_FALSE(ParsePodAddress(GetParam(), &key));
}

INSTANTIATE_TEST_SUITE_P(Rejections, InvalidPodAddressTest,
                         ::testing::Values("", "10.0.0", "10.0.0.256", "10.0.0.1/32", " 10.0.0.1",
                                           "10.0.0.1 ", "fd00::1%eth0", "fd00:::1", "pod-a",
                                           std::string("10.0.0.1\0junk", 13)));

TEST(FormatPodAddressTest, PrintsIpv4MappedAsDottedQuad) {
  EXPECT_EQ(FormatPodAddress(Key({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 244, 0, 3})),
            "10.244.0.3");
}

TEST(FormatPodAddressTest, PrintsIpv6Compressed) {
  EXPECT_EQ(FormatPodAddress(Key({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1f})),
            "fd00::1f");
}

TEST(FormatPodAddressTest, RoundTripsThroughParse) {
  for (const char* text : {"0.0.0.0", "255.255.255.255", "::1", "fd00:10:244:2::1f"}) {
    dg_pod_key key;
    ASSERT_TRUE(ParsePodAddress(text, &key)) << text;
    EXPECT_EQ(FormatPodAddress(key), text);
  }
}

TEST(LoadPodListFileTest, MissingFileNamesThePath) {
  auto pods = LoadPodListFile("/nonexistent/pods.json");
  ASSERT_FALSE(pods.has_value());
  EXPECT_EQ(pods.error().file, "/nonexistent/pods.json");
  EXPECT_THAT(pods.error().reason, HasSubstr("cannot open"));
}

TEST(LoadPodListFileTest, ShippedPodListBuildsTheExpectedTable) {
  auto pods = LoadPodListFile(SourceTreeFile("configs/pods.json").string());
  ASSERT_TRUE(pods.has_value()) << pods.error().Message();
  EXPECT_EQ(pods->size(), 8u);
  // kube-proxy (hostNetwork) and the Succeeded nightly job are left out; the dual-stack
  // worker contributes both of its addresses.
  EXPECT_THAT(Describe(BuildPodTableEntries(*pods)),
              ElementsAre("10.244.3.12 batch-etl/hourly-aggregate-28751880-qz2mc",
                          "10.244.3.9 default/curl-debug",
                          "10.244.0.3 kube-system/coredns-5d78c9869d-2lmvx",
                          "10.244.1.22 ray-serve/llm-serve-raycluster-head-9rkdf",
                          "10.244.1.17 ray-training/raycluster-train-head-7xk2p",
                          "10.244.2.31 ray-training/raycluster-train-worker-gpu-5tq9w",
                          "fd00:10:244:2::1f ray-training/raycluster-train-worker-gpu-5tq9w"));
}

}  // namespace
}  // namespace dg
