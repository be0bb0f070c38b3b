#include "control/dscpctl/tables.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>

namespace dg::dscpctl {

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string Seconds(double seconds) { return Format("%g s", seconds); }

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return Format("%.1fs", seconds);
  auto total = static_cast<uint64_t>(seconds);
  const uint64_t days = total / 86400;
  const uint64_t hours = total / 3600 % 24;
  const uint64_t minutes = total / 60 % 60;
  const uint64_t secs = total % 60;
  if (days > 0) {
    return Format("%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", days, hours, minutes,
                  secs);
  }
  if (hours > 0) return Format("%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", hours, minutes, secs);
  return Format("%" PRIu64 "m%02" PRIu64 "s", minutes, secs);
}

std::string BitRate(double bits_per_second) {
  if (bits_per_second >= 1e9) return Format("%g Gbit/s", bits_per_second / 1e9);
  if (bits_per_second >= 1e6) return Format("%g Mbit/s", bits_per_second / 1e6);
  if (bits_per_second >= 1e3) return Format("%g kbit/s", bits_per_second / 1e3);
  return Format("%g bit/s", bits_per_second);
}

std::string Count(uint64_t value) { return Format("%" PRIu64, value); }
std::string Pps(double value) { return Format("%.1f", value); }
std::string Mbps(double value) { return Format("%.3f", value); }
std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

std::string PhbName(int64_t dscp) {
  if (dscp == 0) return "CS0 (best effort)";
  if (dscp == 46) return "EF";
  if (dscp == 44) return "VOICE-ADMIT";
  if (dscp > 0 && dscp < 64 && dscp % 8 == 0) return Format("CS%" PRId64, dscp / 8);
  if (dscp >= 10 && dscp <= 38 && dscp % 2 == 0) {
    const int64_t drop = dscp % 8 / 2;
    if (drop >= 1 && drop <= 3) return Format("AF%" PRId64 "%" PRId64, dscp / 8, drop);
  }
  return "-";
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::FILE* out) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = DisplayWidth(columns_[c].header);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  auto print_row = [&](auto cell_of) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      const std::string padding(widths[c] - DisplayWidth(cell), ' ');
      if (c > 0) line += "  ";
      line += columns_[c].right ? padding + cell : cell + padding;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
  };
  print_row([&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) {
    print_row([&](size_t c) -> const std::string& { return row[c]; });
  }
}

void Fields::Add(std::string label, std::string value) {
  lines_.emplace_back(std::move(label), std::move(value));
}

void Fields::Print(std::FILE* out) const {
  size_t width = 0;
  for (const auto& [label, value] : lines_) width = std::max(width, DisplayWidth(label));
  for (const auto& [label, value] : lines_) {
    std::fprintf(out, "%s:%s %s\n", label.c_str(),
                 std::string(width - DisplayWidth(label), ' ').c_str(), value.c_str());
  }
}

}  // namespace dg::dscpctl
