// `dscp-gateway run`: the live forwarder.
#pragma once

#include "control/gateway_config.h"
#include "gateway/datapath.h"

namespace dg {

// Returns the process exit code.
int RunGateway(const GatewayConfig& config, const PolicyInputs& inputs);

}  // namespace dg
