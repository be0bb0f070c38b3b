// Target (c): the static PodList, JSON or YAML, and the table built from it. Any text gives
// pods or an error; the table holds each address once, owned by a pod that claims it,
// listed by the PodList and allowed to own an address (not hostNetwork, not finished).
#include <set>
#include <string>

#include "control/input_limits.h"
#include "control/pods.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto pods = dg::ParsePodList(dg::fuzz::AsText(data, size), "pods.json");
  if (!pods) {
    FUZZ_CHECK(!pods.error().reason.empty(), "an error without a reason");
    return 0;
  }
  std::set<std::string> claimed;  // "namespace/name address" of every live claim
  for (const dg::PodRecord& pod : *pods) {
    FUZZ_CHECK(!pod.uid.empty() && !pod.name.empty() && !pod.namespace_name.empty(),
               "a pod without uid, name or namespace");
    FUZZ_CHECK(pod.addresses.size() <= dg::kMaxPodAddresses, "%zu addresses", pod.addresses.size());
    if (pod.host_network || pod.phase == "Succeeded" || pod.phase == "Failed") continue;
    for (const dg::PodAddress& address : pod.addresses) {
      claimed.insert(pod.namespace_name + "/" + pod.name + " " + dg::FormatPodAddress(address.key));
    }
  }
  std::set<std::string> addresses;
  for (const dg::PodTableEntry& entry : dg::BuildPodTableEntries(*pods)) {
    const std::string address = dg::FormatPodAddress(entry.address.key);
    FUZZ_CHECK(addresses.insert(address).second, "%s in the table twice", address.c_str());
    FUZZ_CHECK(claimed.count(entry.namespace_name + "/" + entry.pod_name + " " + address) == 1,
               "%s given to %s/%s, which does not claim it", address.c_str(),
               entry.namespace_name.c_str(), entry.pod_name.c_str());
  }
  // Every claimed address has an owner.
  for (const std::string& claim : claimed) {
    FUZZ_CHECK(addresses.count(claim.substr(claim.rfind(' ') + 1)) == 1, "%s lost its address",
               claim.c_str());
  }
  return 0;
}
