// Target (b): the priorities file / ConfigMap. Whatever the text, a Result comes back (no
// crash, no exception, no sanitizer report), and an accepted policy keeps the promises the
// datapath relies on.
#include "control/policy.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto policy = dg::ParsePriorities(dg::fuzz::AsText(data, size), "priorities.yaml");
  if (!policy) {
    FUZZ_CHECK(!policy.error().reason.empty(), "an error without a reason");
    return 0;
  }
  FUZZ_CHECK(!policy->classes.empty() && policy->classes.size() <= DG_MAX_CLASSES, "%zu classes",
             policy->classes.size());
  FUZZ_CHECK(policy->default_class < policy->classes.size(), "default class %u",
             policy->default_class);
  for (const dg::TrafficClass& traffic_class : policy->classes) {
    FUZZ_CHECK(traffic_class.dscp <= 63, "DSCP %u", traffic_class.dscp);
  }
  for (const auto& mappings : {policy->exact_namespaces, policy->prefix_namespaces}) {
    for (const auto& [name, class_index] : mappings) {
      FUZZ_CHECK(class_index < policy->classes.size(), "namespace %s -> class %u", name.c_str(),
                 class_index);
    }
  }
  FUZZ_CHECK(policy->ClassForNamespace("batch-etl") < policy->classes.size(), "lookup");
  return 0;
}
