// dscpctl's text output: number and duration formatting, aligned tables and
// label: value blocks. Knows nothing about the gateway's documents.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/format.h"

namespace dg::dscpctl {

// Columns count code points, so "µs" is as wide as "us".
size_t DisplayWidth(std::string_view text);

std::string Seconds(double seconds);   // "2 s"
std::string Duration(double seconds);  // "12.3s", "4m05s", "1h02m03s", "2d03h04m05s"
std::string BitRate(double bits_per_second);
std::string Count(uint64_t value);
std::string Pps(double value);
std::string Mbps(double value);
std::string OrDash(std::string text);

// Standard per-hop behaviour names (RFC 2474, 2597, 3246, 5865).
std::string PhbName(int64_t dscp);

// Aligned columns; text left, numbers right.
class Table {
 public:
  struct Column {
    std::string header;
    bool right = false;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  void Print(std::FILE* out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Label: value lines with the values aligned.
class Fields {
 public:
  void Add(std::string label, std::string value);
  void Print(std::FILE* out) const;

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

}  // namespace dg::dscpctl
