// Pods as listed by `kubectl get pods -A -o json|yaml`: the static pod-table source.
#pragma once

#include <string>
#include <string_view>
#include <vector>

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
};

// One address -> pod after filtering: hostNetwork and Succeeded/Failed pods dropped;
// when two live pods claim one IP the one not being deleted and created later wins.
struct PodTableEntry {
  PodAddress address;
  std::string namespace_name;
  std::string pod_name;
};

Result<std::vector<PodRecord>> ParsePodList(std::string_view text, const std::string& source);
Result<std::vector<PodRecord>> LoadPodListFile(const std::string& path);
std::vector<PodTableEntry> BuildPodTableEntries(const std::vector<PodRecord>& pods);

// "10.0.0.1" or "fd00::1" -> key; false if not an IP address.
bool ParsePodAddress(std::string_view text, dg_pod_key* key);
std::string FormatPodAddress(const dg_pod_key& key);

}  // namespace dg
