#include "control/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace dg {
namespace {

void AppendEscaped(std::string& out, std::string_view value, bool is_help) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && !is_help) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string FormatDouble(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

}  // namespace

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  AppendEscaped(text_, help, true);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::WriteSeries(std::string_view name, std::string_view suffix,
                                 const MetricLabels& labels,
                                 const std::pair<std::string_view, std::string>* extra_label) {
  text_ += name;
  text_ += suffix;
  if (labels.empty() && extra_label == nullptr) {
    text_ += ' ';
    return;
  }
  text_ += '{';
  bool first = true;
  auto write_label = [&](std::string_view key, std::string_view value) {
    if (!first) text_ += ',';
    first = false;
    text_ += key;
    text_ += "=\"";
    AppendEscaped(text_, value, false);
    text_ += '"';
  };
  for (const auto& [key, value] : labels) write_label(key, value);
  if (extra_label != nullptr) write_label(extra_label->first, extra_label->second);
  text_ += "} ";
}

void PrometheusText::Sample(std::string_view name, const MetricLabels& labels, uint64_t value) {
  WriteSeries(name, "", labels, nullptr);
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  text_.append(buffer, result.ptr);
  text_ += '\n';
}

void PrometheusText::Sample(std::string_view name, const MetricLabels& labels, double value) {
  WriteSeries(name, "", labels, nullptr);
  text_ += FormatDouble(value);
  text_ += '\n';
}

void PrometheusText::Histogram(std::string_view name, const MetricLabels& labels,
                               const std::vector<double>& upper_bounds,
                               const std::vector<uint64_t>& bucket_counts, double sum) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= upper_bounds.size() && b < bucket_counts.size(); ++b) {
    cumulative += bucket_counts[b];
    const std::pair<std::string_view, std::string> le{
        "le", b < upper_bounds.size() ? FormatDouble(upper_bounds[b]) : std::string("+Inf")};
    WriteSeries(name, "_bucket", labels, &le);
    text_ += std::to_string(cumulative);
    text_ += '\n';
  }
  WriteSeries(name, "_sum", labels, nullptr);
  text_ += FormatDouble(sum);
  text_ += '\n';
  WriteSeries(name, "_count", labels, nullptr);
  text_ += std::to_string(cumulative);
  text_ += '\n';
}

}  // namespace dg
