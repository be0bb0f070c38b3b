#include "control/datapath_mode_source.h"

#include "control/log.h"

namespace dg {

DatapathModeSource::DatapathModeSource(std::string config_path, DatapathTables& datapath)
    : config_path_(std::move(config_path)), datapath_(datapath) {
  if (config_path_.empty()) return;
  if (auto text = ReadTextFile(config_path_)) loaded_text_ = std::move(*text);
}

bool DatapathModeSource::Reload(const char* trigger, bool force) {
  if (config_path_.empty()) return false;
  auto text = ReadTextFile(config_path_);
  if (!text) {
    if (force) {
      ++rejected_;
      DG_LOG_WARNING("config", "%s: %s; datapath.mode stays %s", trigger,
                     text.error().Message().c_str(),
                     std::string(DatapathModeName(datapath_.datapath_mode())).c_str());
    }
    return false;
  }
  if (!force && *text == loaded_text_) return false;
  loaded_text_ = *text;  // a bad version is reported once, not every second
  auto config = ParseGatewayConfig(*text, config_path_);
  if (!config) {
    ++rejected_;
    DG_LOG_WARNING("config", "%s: %s; datapath.mode stays %s", trigger,
                   config.error().Message().c_str(),
                   std::string(DatapathModeName(datapath_.datapath_mode())).c_str());
    return false;
  }
  if (config->datapath_mode == datapath_.datapath_mode()) return false;
  datapath_.PublishDatapathMode(config->datapath_mode);
  DG_LOG_INFO("config", "%s: datapath.mode is now %s", trigger,
              std::string(DatapathModeName(config->datapath_mode)).c_str());
  return true;
}

}  // namespace dg
