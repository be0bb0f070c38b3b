// dscpctl's commands: each reads the documents it needs through the Client and prints
// tables (or, with --json, the documents). Each returns the process exit code.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "control/dscpctl/client.h"

namespace dg::dscpctl {

struct Options {
  std::string endpoint;
  bool json = false;
  double interval_seconds = 1.0;
  double timeout_seconds = 2.0;
  std::string command;
};

int Status(Client& client, const Options& options);
int Stats(Client& client, const Options& options);
int Pods(Client& client, const Options& options);
int Policy(Client& client, const Options& options);

// Shared by the commands: one document per line on stdout, the shaper's summary.
void PrintJson(const boost::json::value& document);
std::string ShaperText(const boost::json::value& stats);

}  // namespace dg::dscpctl
