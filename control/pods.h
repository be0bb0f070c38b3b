// Pods as the API server describes them: the static pod-table source (`kubectl get pods
// -A -o json|yaml`) and the objects of the live watch (k8s-sync/caches.h).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "control/pod_overrides.h"
#include "control/result.h"
#include "dscp_gateway_abi.h"

namespace dg {

struct PodAddress {
  dg_pod_key key;    // 16 bytes, IPv4-mapped for IPv4
  std::string text;  // as written in the PodList, for /v1/pods and messages
};

struct PodRecord {
  std::string uid;
  std::string namespace_name;
  std::string name;
  std::string phase;
  bool host_network = false;
  std::string creation_timestamp;     // RFC 3339, used to prefer the newer pod on IP conflict
  std::string deletion_timestamp;     // RFC 3339, empty unless the pod is terminating
  std::vector<PodAddress> addresses;  // status.podIPs, else status.podIP
  PodAnnotations annotations;         // the metadata.annotations control/pod_overrides reads
};

// One address -> pod after filtering: hostNetwork and Succeeded/Failed pods dropped;
// when two live pods claim one IP the one not being deleted and created later wins.
struct PodTableEntry {
  PodAddress address;
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;  // a pod's addresses share its per-pod override slot
  PodAnnotations annotations;
};

// A Pod object as the API server serves it (an item of `kubectl get pods -o json`, or the
// object of a watch event) -> PodRecord: the one decoder of the static PodList and the watch.
// metadata.name, .namespace and .uid are required: the API server always sets them and the
// uid is how the watch follows a pod from event to event, so a PodList without uids (written
// by hand) is rejected at metadata.uid. Errors name the field relative to the pod
// ("status.podIPs[1].ip"), with "pod <namespace>/<name>" as the file once those are known.
Result<PodRecord> DecodePod(const boost::json::object& pod);

// A PodList or List of pods, as JSON or YAML; each item goes through DecodePod.
Result<std::vector<PodRecord>> ParsePodList(std::string_view text, const std::string& source);
Result<std::vector<PodRecord>> LoadPodListFile(const std::string& path);
std::vector<PodTableEntry> BuildPodTableEntries(const std::vector<PodRecord>& pods);

// "10.0.0.1" or "fd00::1" -> key; false if not an IP address.
bool ParsePodAddress(std::string_view text, dg_pod_key* key);
std::string FormatPodAddress(const dg_pod_key& key);

// dg_pod_key as the key of a control-plane map (the datapath's rte_hash hashes on its own).
struct PodKeyHash {
  size_t operator()(const dg_pod_key& key) const;
};
struct PodKeyEqual {
  bool operator()(const dg_pod_key& a, const dg_pod_key& b) const;
};

}  // namespace dg
