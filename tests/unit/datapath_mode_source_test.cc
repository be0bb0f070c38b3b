#include "control/datapath_mode_source.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_datapath.h"

namespace dg {
namespace {

using testing::FakeDatapath;
using testing::TempDir;

class DatapathModeSourceTest : public ::testing::Test {
 protected:
  TempDir dir_;
  FakeDatapath datapath_;
  std::string path_ = dir_.Write("gateway.yaml", "datapath: {mode: enforce}\n");
  DatapathModeSource source_{path_, datapath_};
};

TEST_F(DatapathModeSourceTest, ChangedFileSwitchesToObserve) {
  dir_.Write("gateway.yaml", "datapath: {mode: observe}\n");
  EXPECT_TRUE(source_.Reload("file change", false));
  EXPECT_EQ(datapath_.datapath_mode(), DatapathMode::kObserve);
}

TEST_F(DatapathModeSourceTest, UnchangedFileDoesNotRepublish) {
  const uint64_t generation = datapath_.policy_generation();
  EXPECT_FALSE(source_.Reload("file change", false));
  EXPECT_FALSE(source_.Reload("SIGHUP", true));
  EXPECT_EQ(datapath_.policy_generation(), generation);
}

TEST_F(DatapathModeSourceTest, InvalidFileKeepsTheModeAndIsCounted) {
  datapath_.PublishDatapathMode(DatapathMode::kObserve);
  dir_.Write("gateway.yaml", "datapath: {mode: sometimes}\n");
  EXPECT_FALSE(source_.Reload("file change", false));
  EXPECT_EQ(datapath_.datapath_mode(), DatapathMode::kObserve);
  EXPECT_EQ(source_.rejected(), 1u);
}

TEST_F(DatapathModeSourceTest, InvalidFileIsReportedOncePerVersion) {
  dir_.Write("gateway.yaml", "datapath: {mode: sometimes}\n");
  source_.Reload("file change", false);
  source_.Reload("file change", false);
  EXPECT_EQ(source_.rejected(), 1u);
}

TEST_F(DatapathModeSourceTest, ModeRemovedFromTheFileReturnsToTheDefault) {
  datapath_.PublishDatapathMode(DatapathMode::kObserve);
  dir_.Write("gateway.yaml", "datapath: {burst: 32}\n");
  EXPECT_TRUE(source_.Reload("SIGHUP", true));
  EXPECT_EQ(datapath_.datapath_mode(), kDefaultDatapathMode);
}

TEST(DatapathModeSourceWithoutFileTest, NothingToReload) {
  FakeDatapath datapath;
  DatapathModeSource source("", datapath);
  EXPECT_FALSE(source.Reload("SIGHUP", true));
  EXPECT_EQ(source.rejected(), 0u);
}

}  // namespace
}  // namespace dg
