// Target (d): the gateway configuration. Any text gives a config or an error naming a
// reason; never a crash, an exception or a sanitizer report.
#include "control/gateway_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto config = dg::ParseGatewayConfig(dg::fuzz::AsText(data, size), "gateway.yaml");
  if (!config) FUZZ_CHECK(!config.error().reason.empty(), "an error without a reason");
  return 0;
}
