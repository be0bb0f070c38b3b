// Bounds on the work one input may cost the control plane. Policy files, PodLists and API
// objects come from operators, scripts and (possibly proxied) API servers; without bounds a
// small document can cost seconds and gigabytes (YAML aliases expand, and per-address work
// multiplies), stalling the control thread that also serves REST and the watches. Every
// limit is declared here once; exceeding one is a ConfigError naming the file and key.
#pragma once

#include <cstddef>

namespace dg {

// A policy file, gateway config, kubeconfig or PodList read from disk. A PodList of every
// pod of a 5,000-node cluster as `kubectl get pods -A -o json` prints it is ~1 GiB; a
// static PodList is meant for a node or a test cluster, well under this.
inline constexpr size_t kMaxInputFileBytes = size_t{256} << 20;

// A YAML document may not expand, through aliases (`*anchor`), to more nodes than it has
// bytes (every node costs at least a byte when written out) plus this slack for tiny
// documents. Plain YAML is far below it; an alias bomb is stopped after this much work.
inline constexpr size_t kYamlNodeSlack = 4096;
// Nesting of a YAML document as a reader walks it (aliases included; a self-referencing
// alias would otherwise be infinitely deep). Configs and PodLists nest about ten deep.
inline constexpr size_t kMaxYamlDepth = 256;

// status.podIPs entries of one pod. Kubernetes validates at most two, one per family;
// the headroom is for sources that do not validate (a hand-written PodList, a proxy).
inline constexpr size_t kMaxPodAddresses = 8;

}  // namespace dg
