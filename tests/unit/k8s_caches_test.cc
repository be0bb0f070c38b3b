#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "control/input_limits.h"
#include "control/pods.h"
#include "k8s-sync/caches.h"

namespace dg::k8s {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// Pod JSON as the API server serves it

struct PodSpec {
  std::string uid;
  std::string name;
  std::string namespace_name;
  std::string creation_timestamp = "2024-05-01T00:00:00Z";
  std::string deletion_timestamp;
  std::string phase = "Running";
  bool host_network = false;
  std::vector<std::string> pod_ips;  // status.podIPs
  std::string pod_ip;                // status.podIP
};

PodSpec Pod(const std::string& uid, const std::string& namespace_name,
            std::vector<std::string> ips) {
  PodSpec pod;
  pod.uid = uid;
  pod.name = "pod-" + uid;
  pod.namespace_name = namespace_name;
  if (!ips.empty()) pod.pod_ip = ips.front();
  pod.pod_ips = std::move(ips);
  return pod;
}

boost::json::object PodObject(const PodSpec& pod) {
  boost::json::object metadata;
  if (!pod.uid.empty()) metadata["uid"] = pod.uid;
  if (!pod.name.empty()) metadata["name"] = pod.name;
  if (!pod.namespace_name.empty()) metadata["namespace"] = pod.namespace_name;
  if (!pod.creation_timestamp.empty()) metadata["creationTimestamp"] = pod.creation_timestamp;
  if (!pod.deletion_timestamp.empty()) metadata["deletionTimestamp"] = pod.deletion_timestamp;
  metadata["resourceVersion"] = "1";
  boost::json::object spec;
  spec["nodeName"] = "node-a";
  if (pod.host_network) spec["hostNetwork"] = true;
  boost::json::object status;
  if (!pod.phase.empty()) status["phase"] = pod.phase;
  if (!pod.pod_ip.empty()) status["podIP"] = pod.pod_ip;
  if (!pod.pod_ips.empty()) {
    boost::json::array ips;
    for (const std::string& ip : pod.pod_ips) ips.push_back(boost::json::object{{"ip", ip}});
    status["podIPs"] = std::move(ips);
  }
  boost::json::object object;
  object["apiVersion"] = "v1";
  object["kind"] = "Pod";
  object["metadata"] = std::move(metadata);
  object["spec"] = std::move(spec);
  object["status"] = std::move(status);
  return object;
}

// ---------------------------------------------------------------------------------------
// Recording sink and lag observer

std::string Describe(const PodTableEntry& entry) {
  return FormatPodAddress(entry.address.key) + "=" + entry.namespace_name + "/" + entry.pod_name;
}

class RecordingSink : public PodTableSink {
 public:
  void ReplaceAll(const std::vector<PodTableEntry>& entries) override {
    std::string call = "ReplaceAll";
    table.clear();
    for (const PodTableEntry& entry : entries) {
      call += " " + Describe(entry);
      Apply(entry);
    }
    calls.push_back(call);
  }
  void Upsert(const PodTableEntry& entry) override {
    calls.push_back("Upsert " + Describe(entry));
    Apply(entry);
  }
  void Erase(const dg_pod_key& key) override {
    const std::string address = FormatPodAddress(key);
    calls.push_back("Erase " + address);
    table.erase(address);
  }

  // Calls made since the last Take(), then forgets them.
  std::vector<std::string> Take() { return std::exchange(calls, {}); }

  std::vector<std::string> calls;
  std::map<std::string, std::string> table;  // address -> namespace/pod, as the sink holds it

 private:
  void Apply(const PodTableEntry& entry) {
    EXPECT_EQ(FormatPodAddress(entry.address.key), entry.address.text)
        << "entry text and key disagree";
    table[FormatPodAddress(entry.address.key)] = entry.namespace_name + "/" + entry.pod_name;
  }
};

class RecordingLag : public SyncLagObserver {
 public:
  void ObserveSyncLag(double seconds) override { lags.push_back(seconds); }
  std::vector<double> lags;
};

class PodCacheTest : public ::testing::Test {
 protected:
  void Event(WatchEventType type, const PodSpec& pod) {
    cache_.OnEvent(type, PodObject(pod), Clock::now());
  }
  void Replace(const std::vector<PodSpec>& pods) {
    std::vector<boost::json::object> items;
    for (const PodSpec& pod : pods) items.push_back(PodObject(pod));
    cache_.OnReplace(std::move(items));
  }

  RecordingSink sink_;
  RecordingLag lag_;
  PodCache cache_{sink_, lag_};
};

// ---------------------------------------------------------------------------------------
// DecodePod, as the watch uses it

TEST(DecodePodTest, ReadsMetadataSpecStatusAndDualStackPodIps) {
  PodSpec spec = Pod("uid-1", "team-a", {"10.244.1.17", "fd00:10:244:1::17"});
  spec.name = "web-0";
  spec.creation_timestamp = "2024-05-13T07:05:51Z";
  spec.deletion_timestamp = "2024-05-13T08:00:00Z";
  spec.host_network = true;
  spec.phase = "Pending";
  auto decoded = DecodePod(PodObject(spec));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
  const PodRecord& record = *decoded;
  EXPECT_EQ(record.uid, "uid-1");
  EXPECT_EQ(record.name, "web-0");
  EXPECT_EQ(record.namespace_name, "team-a");
  EXPECT_EQ(record.creation_timestamp, "2024-05-13T07:05:51Z");
  EXPECT_EQ(record.deletion_timestamp, "2024-05-13T08:00:00Z");
  EXPECT_TRUE(record.host_network);
  EXPECT_EQ(record.phase, "Pending");
  ASSERT_EQ(record.addresses.size(), 2u);
  EXPECT_EQ(record.addresses[0].text, "10.244.1.17");
  EXPECT_EQ(FormatPodAddress(record.addresses[0].key), "10.244.1.17");
  EXPECT_EQ(record.addresses[1].text, "fd00:10:244:1::17");
  EXPECT_EQ(FormatPodAddress(record.addresses[1].key), "fd00:10:244:1::17");
}

TEST(DecodePodTest, FallsBackToPodIpWithoutPodIps) {
  PodSpec spec = Pod("uid-1", "team-a", {});
  spec.pod_ip = "10.244.2.9";
  auto decoded = DecodePod(PodObject(spec));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
  const PodRecord& record = *decoded;
  EXPECT_FALSE(record.host_network);
  EXPECT_EQ(record.phase, "Running");
  EXPECT_TRUE(record.deletion_timestamp.empty());
  ASSERT_EQ(record.addresses.size(), 1u);
  EXPECT_EQ(record.addresses[0].text, "10.244.2.9");
}

TEST(DecodePodTest, PendingPodWithoutAddressesIsAccepted) {
  PodSpec spec = Pod("uid-1", "team-a", {});
  spec.phase = "Pending";
  auto decoded = DecodePod(PodObject(spec));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
  const PodRecord& record = *decoded;
  EXPECT_THAT(record.addresses, IsEmpty());
}

TEST(DecodePodTest, RejectsMissingUid) {
  PodSpec spec = Pod("", "team-a", {"10.0.0.1"});
  spec.name = "web-0";
  auto decoded = DecodePod(PodObject(spec));
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().Message(), HasSubstr("uid"));
}

TEST(DecodePodTest, RejectsBadIpNamingIt) {
  PodSpec spec = Pod("uid-1", "team-a", {"10.0.0.1", "10.0.0.300"});
  spec.name = "web-0";
  auto decoded = DecodePod(PodObject(spec));
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().Message(), AllOf(HasSubstr("10.0.0.300"), HasSubstr("team-a/web-0")));

  PodSpec single = Pod("uid-2", "team-a", {});
  single.pod_ip = "not-an-ip";
  auto single_decoded = DecodePod(PodObject(single));
  ASSERT_FALSE(single_decoded.has_value());
  EXPECT_THAT(single_decoded.error().Message(), HasSubstr("not-an-ip"));
}

// ---------------------------------------------------------------------------------------
// PodCache

TEST_F(PodCacheTest, ReplaceSendsLivePodEntriesOnly) {
  PodSpec running = Pod("a", "team-a", {"10.0.0.1", "fd00::1"});
  PodSpec host = Pod("h", "kube-system", {"192.168.0.10"});
  host.host_network = true;
  PodSpec succeeded = Pod("s", "team-b", {"10.0.0.2"});
  succeeded.phase = "Succeeded";
  PodSpec failed = Pod("f", "team-b", {"10.0.0.3"});
  failed.phase = "Failed";
  PodSpec other = Pod("b", "team-b", {"10.0.0.4"});
  Replace({running, host, succeeded, failed, other});
  ASSERT_THAT(sink_.calls, SizeIs(1));
  EXPECT_THAT(sink_.calls[0], StartsWith("ReplaceAll"));
  EXPECT_THAT(sink_.table, UnorderedElementsAre(Pair("10.0.0.1", "team-a/pod-a"),
                                                Pair("fd00::1", "team-a/pod-a"),
                                                Pair("10.0.0.4", "team-b/pod-b")));
  EXPECT_EQ(cache_.pod_count(), 5u);
}

TEST_F(PodCacheTest, AddedPodUpsertsEachAddress) {
  Replace({});
  sink_.Take();
  Event(WatchEventType::kAdded, Pod("a", "team-a", {"10.0.0.1", "fd00::1"}));
  EXPECT_THAT(sink_.Take(),
              UnorderedElementsAre("Upsert 10.0.0.1=team-a/pod-a", "Upsert fd00::1=team-a/pod-a"));
}

TEST_F(PodCacheTest, DeletedPodErasesItsAddresses) {
  PodSpec pod = Pod("a", "team-a", {"10.0.0.1", "fd00::1"});
  Replace({pod});
  sink_.Take();
  Event(WatchEventType::kDeleted, pod);
  EXPECT_THAT(sink_.Take(), UnorderedElementsAre("Erase 10.0.0.1", "Erase fd00::1"));
  EXPECT_THAT(sink_.table, IsEmpty());
  EXPECT_EQ(cache_.pod_count(), 0u);
}

TEST_F(PodCacheTest, ModifiedAddressErasesOldAndUpsertsNew) {
  Replace({Pod("a", "team-a", {"10.0.0.1"})});
  sink_.Take();
  Event(WatchEventType::kModified, Pod("a", "team-a", {"10.0.0.9"}));
  EXPECT_THAT(sink_.Take(), UnorderedElementsAre("Erase 10.0.0.1", "Upsert 10.0.0.9=team-a/pod-a"));
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.9", "team-a/pod-a")));
}

TEST_F(PodCacheTest, PodBecomingSucceededIsErased) {
  PodSpec pod = Pod("a", "team-a", {"10.0.0.1"});
  Replace({pod});
  sink_.Take();
  pod.phase = "Succeeded";
  Event(WatchEventType::kModified, pod);
  // Repeating the idempotent Erase is harmless; anything else is not.
  EXPECT_THAT(sink_.Take(), AllOf(Not(IsEmpty()), Each("Erase 10.0.0.1")));
  EXPECT_THAT(sink_.table, IsEmpty());
}

TEST_F(PodCacheTest, ReusedAddressBelongsToNewPodAndSurvivesOldPodDeletion) {
  PodSpec old_pod = Pod("old", "team-old", {"10.0.0.1"});
  old_pod.creation_timestamp = "2024-05-01T00:00:00Z";
  old_pod.phase = "Succeeded";
  PodSpec new_pod = Pod("new", "team-new", {"10.0.0.1"});
  new_pod.creation_timestamp = "2024-05-02T00:00:00Z";
  Replace({old_pod, new_pod});
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-new/pod-new")));
  sink_.Take();

  Event(WatchEventType::kDeleted, old_pod);
  EXPECT_THAT(sink_.Take(), Each(Not(StartsWith("Erase"))));
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-new/pod-new")))
      << "deleting the finished pod must not drop the address its successor holds";
}

TEST_F(PodCacheTest, ReusedAddressThroughEventsNeverLeavesStaleClass) {
  Replace({});
  PodSpec old_pod = Pod("old", "team-old", {"10.0.0.1"});
  old_pod.creation_timestamp = "2024-05-01T00:00:00Z";
  Event(WatchEventType::kAdded, old_pod);
  old_pod.phase = "Succeeded";
  Event(WatchEventType::kModified, old_pod);
  EXPECT_THAT(sink_.table, IsEmpty());
  PodSpec new_pod = Pod("new", "team-new", {"10.0.0.1"});
  new_pod.creation_timestamp = "2024-05-02T00:00:00Z";
  Event(WatchEventType::kAdded, new_pod);
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-new/pod-new")));
  sink_.Take();
  Event(WatchEventType::kDeleted, old_pod);
  EXPECT_THAT(sink_.Take(), Each(Not(StartsWith("Erase"))));
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-new/pod-new")));
}

TEST_F(PodCacheTest, LaterCreatedLivePodWinsAndDeletingItHandsAddressBack) {
  Replace({});
  PodSpec earlier = Pod("early", "team-early", {"10.0.0.1"});
  earlier.creation_timestamp = "2024-05-01T00:00:00Z";
  PodSpec later = Pod("late", "team-late", {"10.0.0.1"});
  later.creation_timestamp = "2024-05-02T00:00:00Z";
  // The newer pod arrives first: the older one must not take the address from it.
  Event(WatchEventType::kAdded, later);
  Event(WatchEventType::kAdded, earlier);
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-late/pod-late")));
  sink_.Take();
  Event(WatchEventType::kDeleted, later);
  EXPECT_THAT(sink_.Take(), ElementsAre("Upsert 10.0.0.1=team-early/pod-early"));
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-early/pod-early")));
}

TEST_F(PodCacheTest, LaterCreatedLivePodWinsWhicheverArrivesLast) {
  Replace({});
  PodSpec earlier = Pod("early", "team-early", {"10.0.0.1"});
  earlier.creation_timestamp = "2024-05-01T00:00:00Z";
  PodSpec later = Pod("late", "team-late", {"10.0.0.1"});
  later.creation_timestamp = "2024-05-02T00:00:00Z";
  Event(WatchEventType::kAdded, earlier);
  Event(WatchEventType::kAdded, later);
  EXPECT_THAT(sink_.table, ElementsAre(Pair("10.0.0.1", "team-late/pod-late")));
}

TEST_F(PodCacheTest, LagObservedOncePerEventAndNonNegative) {
  Replace({});
  EXPECT_THAT(lag_.lags, IsEmpty()) << "a list is not an event";
  PodSpec pod = Pod("a", "team-a", {"10.0.0.1"});
  cache_.OnEvent(WatchEventType::kAdded, PodObject(pod), Clock::now());
  pod.pod_ips = {"10.0.0.2"};
  pod.pod_ip = "10.0.0.2";
  // Received two seconds before it was applied.
  cache_.OnEvent(WatchEventType::kModified, PodObject(pod), Clock::now() - std::chrono::seconds(2));
  cache_.OnEvent(WatchEventType::kDeleted, PodObject(pod), Clock::now());
  ASSERT_THAT(lag_.lags, SizeIs(3));
  EXPECT_THAT(lag_.lags, Each(Ge(0.0)));
  EXPECT_GE(lag_.lags[1], 2.0);
}

TEST_F(PodCacheTest, RejectedEventChangesNothing) {
  Replace({Pod("a", "team-a", {"10.0.0.1"})});
  sink_.Take();
  Event(WatchEventType::kAdded, Pod("", "team-a", {"10.0.0.2"}));
  EXPECT_THAT(sink_.Take(), IsEmpty());
  EXPECT_EQ(cache_.rejected_objects(), 1u);
  EXPECT_EQ(cache_.pod_count(), 1u);
}

TEST_F(PodCacheTest, EventForAPodWithTooManyAddressesIsRejectedNamingThePod) {
  Replace({Pod("a", "team-a", {"10.0.0.1"})});
  sink_.Take();
  std::vector<std::string> ips;
  for (size_t i = 0; i <= kMaxPodAddresses; ++i) ips.push_back("10.1.0." + std::to_string(i));
  Event(WatchEventType::kAdded, Pod("wide", "team-a", ips));
  EXPECT_THAT(sink_.Take(), IsEmpty());
  EXPECT_EQ(cache_.rejected_objects(), 1u);
  EXPECT_EQ(cache_.pod_count(), 1u);
}

TEST_F(PodCacheTest, ListNamingAUidTwiceKeepsTheLastCopy) {
  PodSpec first = Pod("twice", "team-a", {"10.0.0.1"});
  PodSpec last = Pod("twice", "team-b", {"10.0.0.2"});
  Replace({first, Pod("other", "team-a", {"10.0.0.3"}), last});
  EXPECT_THAT(sink_.table, UnorderedElementsAre(Pair("10.0.0.2", "team-b/pod-twice"),
                                                Pair("10.0.0.3", "team-a/pod-other")));
  EXPECT_EQ(cache_.pod_count(), 2u);
  EXPECT_EQ(cache_.duplicate_listed_uids(), 1u);
}

TEST_F(PodCacheTest, ListNamingAUidTwiceLeavesEveryAddressToLaterEvents) {
  // Both copies once claimed their addresses while the cache kept one record: the other
  // address stayed claimed by a UID the cache did not hold, and every later event touching
  // it threw.
  Replace({Pod("twice", "team-a", {"10.0.0.1"}), Pod("twice", "team-b", {"10.0.0.2"})});
  Event(WatchEventType::kDeleted, Pod("twice", "team-b", {"10.0.0.2"}));
  ASSERT_NO_THROW(Event(WatchEventType::kAdded, Pod("new", "team-c", {"10.0.0.1"})));
  ASSERT_NO_THROW(Event(WatchEventType::kAdded, Pod("newer", "team-c", {"10.0.0.2"})));
  EXPECT_THAT(sink_.table, UnorderedElementsAre(Pair("10.0.0.1", "team-c/pod-new"),
                                                Pair("10.0.0.2", "team-c/pod-newer")));
}

// ---------------------------------------------------------------------------------------
// NamespaceLabelCache

constexpr char kClassLabel[] = "dscp-gateway.io/class";

boost::json::object NamespaceObject(const std::string& name, const std::string& class_name) {
  boost::json::object labels;
  labels["kubernetes.io/metadata.name"] = name;
  if (!class_name.empty()) labels[kClassLabel] = class_name;
  boost::json::object metadata;
  metadata["name"] = name;
  metadata["labels"] = std::move(labels);
  boost::json::object object;
  object["kind"] = "Namespace";
  object["metadata"] = std::move(metadata);
  return object;
}

class NamespaceLabelCacheTest : public ::testing::Test {
 protected:
  using Classes = std::map<std::string, std::string>;
  void Event(WatchEventType type, const std::string& name, const std::string& class_name) {
    cache_.OnEvent(type, NamespaceObject(name, class_name), Clock::now());
  }

  std::vector<Classes> published_;
  NamespaceLabelCache cache_{kClassLabel,
                             [this](const Classes& classes) { published_.push_back(classes); }};
};

TEST_F(NamespaceLabelCacheTest, ReplacePublishesLabelledNamespaces) {
  std::vector<boost::json::object> items;
  items.push_back(NamespaceObject("team-a", "gold"));
  items.push_back(NamespaceObject("default", ""));
  items.push_back(NamespaceObject("team-b", "bronze"));
  cache_.OnReplace(std::move(items));
  ASSERT_THAT(published_, SizeIs(1));
  EXPECT_THAT(published_[0], ElementsAre(Pair("team-a", "gold"), Pair("team-b", "bronze")));
  EXPECT_EQ(cache_.classes(), published_[0]);
}

TEST_F(NamespaceLabelCacheTest, LabelChangeRepublishes) {
  std::vector<boost::json::object> items;
  items.push_back(NamespaceObject("team-a", "gold"));
  cache_.OnReplace(std::move(items));
  Event(WatchEventType::kModified, "team-a", "silver");
  Event(WatchEventType::kAdded, "team-b", "bronze");
  ASSERT_THAT(published_, SizeIs(3));
  EXPECT_THAT(published_[1], ElementsAre(Pair("team-a", "silver")));
  EXPECT_THAT(published_[2], ElementsAre(Pair("team-a", "silver"), Pair("team-b", "bronze")));
}

TEST_F(NamespaceLabelCacheTest, LabelRemovalOrDeletionRemoves) {
  std::vector<boost::json::object> items;
  items.push_back(NamespaceObject("team-a", "gold"));
  items.push_back(NamespaceObject("team-b", "bronze"));
  cache_.OnReplace(std::move(items));
  Event(WatchEventType::kModified, "team-a", "");
  ASSERT_THAT(published_, SizeIs(2));
  EXPECT_THAT(published_[1], ElementsAre(Pair("team-b", "bronze")));
  // A DELETED event still carries the label: the namespace goes anyway.
  Event(WatchEventType::kDeleted, "team-b", "bronze");
  ASSERT_THAT(published_, SizeIs(3));
  EXPECT_THAT(published_[2], IsEmpty());
  EXPECT_THAT(cache_.classes(), IsEmpty());
}

TEST_F(NamespaceLabelCacheTest, NoRepublishWhenNothingChanged) {
  std::vector<boost::json::object> items;
  items.push_back(NamespaceObject("team-a", "gold"));
  cache_.OnReplace(std::move(items));
  Event(WatchEventType::kModified, "team-a", "gold");  // another label or annotation changed
  Event(WatchEventType::kAdded, "unlabelled", "");     // not ours
  Event(WatchEventType::kModified, "unlabelled", "");  // still not ours
  Event(WatchEventType::kDeleted, "never-seen", "");   // nothing to remove
  EXPECT_THAT(published_, SizeIs(1));
}

// ---------------------------------------------------------------------------------------
// PrioritiesConfigMapCache

constexpr char kSource[] = "ConfigMap dscp-system/dscp-gateway-priorities";
constexpr char kPrioritiesYaml[] = "classes:\n  gold: {dscp: 46}\n";
constexpr char kOtherYaml[] = "classes:\n  gold: {dscp: 34}\n";

boost::json::object ConfigMapObject(const std::map<std::string, std::string>& data) {
  boost::json::object data_object;
  for (const auto& [key, value] : data) data_object[key] = value;
  boost::json::object metadata;
  metadata["name"] = "dscp-gateway-priorities";
  metadata["namespace"] = "dscp-system";
  boost::json::object object;
  object["kind"] = "ConfigMap";
  object["metadata"] = std::move(metadata);
  object["data"] = std::move(data_object);
  return object;
}

class PrioritiesConfigMapCacheTest : public ::testing::Test {
 protected:
  void Replace(const std::map<std::string, std::string>& data) {
    std::vector<boost::json::object> items;
    items.push_back(ConfigMapObject(data));
    cache_.OnReplace(std::move(items));
  }
  void Event(WatchEventType type, const std::map<std::string, std::string>& data) {
    cache_.OnEvent(type, ConfigMapObject(data), Clock::now());
  }

  std::vector<std::pair<std::string, std::string>> applied_;  // (text, source)
  PrioritiesConfigMapCache cache_{kSource,
                                  [this](const std::string& text, const std::string& source) {
                                    applied_.emplace_back(text, source);
                                  }};
};

TEST_F(PrioritiesConfigMapCacheTest, PassesPrioritiesYamlWithSourceLabel) {
  EXPECT_FALSE(cache_.seen());
  Replace({{"priorities.yaml", kPrioritiesYaml}, {"README", "ignored"}});
  EXPECT_THAT(applied_, ElementsAre(Pair(kPrioritiesYaml, kSource)));
  EXPECT_TRUE(cache_.seen());
  Event(WatchEventType::kModified, {{"priorities.yaml", kOtherYaml}});
  EXPECT_THAT(applied_, ElementsAre(Pair(kPrioritiesYaml, kSource), Pair(kOtherYaml, kSource)));
}

TEST_F(PrioritiesConfigMapCacheTest, IdenticalUpdateIsIgnored) {
  Replace({{"priorities.yaml", kPrioritiesYaml}});
  Event(WatchEventType::kModified, {{"priorities.yaml", kPrioritiesYaml}, {"note", "touched"}});
  Replace({{"priorities.yaml", kPrioritiesYaml}});  // a relist of the same object
  EXPECT_THAT(applied_, SizeIs(1));
}

TEST_F(PrioritiesConfigMapCacheTest, DeletedKeepsQuiet) {
  Replace({{"priorities.yaml", kPrioritiesYaml}});
  Event(WatchEventType::kDeleted, {{"priorities.yaml", kPrioritiesYaml}});
  EXPECT_THAT(applied_, SizeIs(1));
}

TEST_F(PrioritiesConfigMapCacheTest, MissingKeyAppliesEmptyTextForTheValidator) {
  Replace({{"wrong-name.yaml", kPrioritiesYaml}});
  EXPECT_THAT(applied_, ElementsAre(Pair("", kSource)));
}

// Once `apply` has been told the key is missing (and the validator reports that), putting
// the same text back must reach `apply` again, or the error is never cleared.
TEST_F(PrioritiesConfigMapCacheTest, RestoredKeyIsAppliedAgainAfterMissingKey) {
  Replace({{"priorities.yaml", kPrioritiesYaml}});
  Event(WatchEventType::kModified, {{"wrong-name.yaml", kPrioritiesYaml}});
  Event(WatchEventType::kModified, {{"priorities.yaml", kPrioritiesYaml}});
  EXPECT_THAT(applied_, ElementsAre(Pair(kPrioritiesYaml, kSource), Pair("", kSource),
                                    Pair(kPrioritiesYaml, kSource)));
}

TEST_F(PrioritiesConfigMapCacheTest, MissingConfigMapInListAppliesNothing) {
  cache_.OnReplace({});
  EXPECT_THAT(applied_, IsEmpty());
}

}  // namespace
}  // namespace dg::k8s
