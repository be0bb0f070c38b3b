// `datapath.mode` of the running gateway, re-read from the gateway config file on SIGHUP
// and when the file changes, and published with the policy snapshot: switching between
// enforce and observe needs no restart. Other settings in the file still need one.
#pragma once

#include <string>

#include "control/datapath_tables.h"

namespace dg {

class DatapathModeSource {
 public:
  // `config_path` empty: nothing to re-read (tests, a config given as text).
  DatapathModeSource(std::string config_path, DatapathTables& datapath);

  // Re-reads the file when its text changed (always, when `force`). An invalid file is
  // logged once per version and the running mode stays. Returns true if the mode changed.
  bool Reload(const char* trigger, bool force);

  uint64_t rejected() const { return rejected_; }

 private:
  std::string config_path_;
  DatapathTables& datapath_;
  std::string loaded_text_;
  uint64_t rejected_ = 0;
};

}  // namespace dg
