// A pod table key from an address's text, through the parser the gateway uses.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "control/pods.h"

namespace dg::testing {

inline dg_pod_key PodKey(const std::string& address) {
  dg_pod_key key{};
  EXPECT_TRUE(ParsePodAddress(address, &key)) << address;
  return key;
}

}  // namespace dg::testing
