#include "control/metric_snapshot.h"

#include <boost/json/array.hpp>
#include <charconv>
#include <map>
#include <utility>

#include "control/prometheus_text.h"

namespace dg {
namespace {

std::string_view KindName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCounter:
      return "counter";
    case MetricKind::kGauge:
      return "gauge";
    case MetricKind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string DoubleText(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// Replaces a whole-segment "{label}" by the row's value for that label and marks the
// label used; any other text is literal.
class LabelSubstitution {
 public:
  LabelSubstitution(const MetricGroupLayout& layout, const MetricRow& row)
      : layout_(layout), row_(row), used_(layout.labels.size()) {}

  std::string operator()(std::string_view text) {
    if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::string(text);
    const std::string_view label = text.substr(1, text.size() - 2);
    for (size_t i = 0; i < layout_.labels.size(); ++i) {
      if (layout_.labels[i] == label) {
        used_[i] = true;
        return row_.label_values[i];
      }
    }
    return std::string(text);
  }

  // The label the container and line did not name, if any: its value keys the value.
  const std::string* UnusedLabelValue() const {
    for (size_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) return &row_.label_values[i];
    }
    return nullptr;
  }

 private:
  const MetricGroupLayout& layout_;
  const MetricRow& row_;
  std::vector<bool> used_;
};

// Walks (creating) one path segment: "name", "{label}" or "name[k={label},...]".
boost::json::object& Descend(boost::json::object& current, std::string_view segment,
                             LabelSubstitution& substitute) {
  const size_t open = segment.find('[');
  const std::string key = substitute(segment.substr(0, open));
  boost::json::value& child = current[key];
  if (open == std::string_view::npos) {
    if (!child.is_object()) child = boost::json::object();
    return child.as_object();
  }
  if (!child.is_array()) child = boost::json::array();
  std::vector<std::pair<std::string, std::string>> selector;
  std::string_view pairs = segment.substr(open + 1, segment.size() - open - 2);
  while (!pairs.empty()) {
    const size_t comma = pairs.find(',');
    const std::string_view pair = pairs.substr(0, comma);
    const size_t equals = pair.find('=');
    selector.emplace_back(std::string(pair.substr(0, equals)), substitute(pair.substr(equals + 1)));
    pairs = comma == std::string_view::npos ? std::string_view() : pairs.substr(comma + 1);
  }
  boost::json::array& elements = child.as_array();
  for (boost::json::value& element : elements) {
    boost::json::object* object = element.if_object();
    if (object == nullptr) continue;
    bool matches = true;
    for (const auto& [name, value] : selector) {
      const boost::json::value* member = object->if_contains(name);
      matches = matches && member != nullptr && member->is_string() && member->as_string() == value;
    }
    if (matches) return *object;
  }
  boost::json::object created;
  for (const auto& [name, value] : selector) created[name] = value;
  return elements.emplace_back(std::move(created)).as_object();
}

boost::json::value JsonValue(const MetricValue& value) {
  if (const auto* integer = std::get_if<uint64_t>(&value)) return *integer;
  if (const auto* real = std::get_if<double>(&value)) return *real;
  const auto& histogram = std::get<HistogramValue>(value);
  return boost::json::object{{"count", histogram.Count()},
                             {"sum", histogram.sum},
                             {"upper_bounds", boost::json::array(histogram.upper_bounds.begin(),
                                                                 histogram.upper_bounds.end())},
                             {"bucket_counts", boost::json::array(histogram.bucket_counts.begin(),
                                                                  histogram.bucket_counts.end())}};
}

std::string TextValue(std::string_view key, const MetricValue& value) {
  std::string text(key);
  if (const auto* integer = std::get_if<uint64_t>(&value))
    return text + "=" + std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&value)) return text + "=" + DoubleText(*real);
  const auto& histogram = std::get<HistogramValue>(value);
  return text + "_count=" + std::to_string(histogram.Count()) + " " + text +
         "_sum=" + DoubleText(histogram.sum);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    const size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    text = at == std::string_view::npos ? std::string_view() : text.substr(at + 1);
  }
  return parts;
}

}  // namespace

uint64_t HistogramValue::Count() const {
  uint64_t count = 0;
  for (uint64_t bucket : bucket_counts) count += bucket;
  return count;
}

void MetricSnapshot::Add(size_t metric, std::vector<std::string> label_values, MetricValue value) {
  rows_[metric].push_back(MetricRow{std::move(label_values), std::move(value)});
}

void WriteMetricsJson(const MetricSnapshot& snapshot, boost::json::object& document) {
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricSpec& spec = kMetricSpecs[m];
    const MetricGroupLayout& layout = LayoutOf(spec.group);
    for (const MetricRow& row : snapshot.rows(m)) {
      LabelSubstitution substitute(layout, row);
      boost::json::object* place = &document;
      for (std::string_view segment : Split(layout.json_container, '.'))
        place = &Descend(*place, segment, substitute);
      std::vector<std::string_view> key_path = Split(spec.json_key, '.');
      const std::string_view key = key_path.back();
      key_path.pop_back();
      for (std::string_view segment : key_path) place = &Descend(*place, segment, substitute);
      if (const std::string* keyed_by = substitute.UnusedLabelValue()) {
        place = &Descend(*place, key, substitute);
        (*place)[*keyed_by] = JsonValue(row.value);
      } else {
        (*place)[key] = JsonValue(row.value);
      }
    }
  }
}

std::string RenderPrometheusText(const MetricSnapshot& snapshot) {
  PrometheusText out;
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricSpec& spec = kMetricSpecs[m];
    if (snapshot.rows(m).empty()) continue;
    const MetricGroupLayout& layout = LayoutOf(spec.group);
    out.Family(spec.name, KindName(spec.kind), spec.help);
    for (const MetricRow& row : snapshot.rows(m)) {
      MetricLabels labels;
      for (size_t i = 0; i < layout.labels.size(); ++i)
        labels.emplace_back(layout.labels[i], row.label_values[i]);
      if (const auto* integer = std::get_if<uint64_t>(&row.value)) {
        out.Sample(spec.name, labels, *integer);
      } else if (const auto* real = std::get_if<double>(&row.value)) {
        out.Sample(spec.name, labels, *real);
      } else {
        const auto& histogram = std::get<HistogramValue>(row.value);
        out.Histogram(spec.name, labels, histogram.upper_bounds, histogram.bucket_counts,
                      histogram.sum);
      }
    }
  }
  return out.text();
}

std::string RenderMetricsText(const MetricSnapshot& snapshot) {
  std::vector<std::string> lines;
  std::map<std::string, size_t> line_of_prefix;
  for (size_t m = 0; m < kMetricCount; ++m) {
    const MetricSpec& spec = kMetricSpecs[m];
    const MetricGroupLayout& layout = LayoutOf(spec.group);
    for (const MetricRow& row : snapshot.rows(m)) {
      LabelSubstitution substitute(layout, row);
      std::string prefix;
      for (std::string_view word : Split(layout.text_line, ' ')) {
        // "class={class}" substitutes the part after '='.
        const size_t equals = word.find('=');
        const std::string expanded =
            equals == std::string_view::npos
                ? substitute(word)
                : std::string(word.substr(0, equals + 1)) + substitute(word.substr(equals + 1));
        prefix += (prefix.empty() ? "" : " ") + expanded;
      }
      const std::string* keyed_by = substitute.UnusedLabelValue();
      const std::string entry =
          TextValue(keyed_by ? std::string_view(*keyed_by) : spec.json_key, row.value);
      if (prefix.empty()) {
        lines.push_back(std::string(KindName(spec.kind)) + " " + entry);
        continue;
      }
      auto [at, inserted] = line_of_prefix.emplace(prefix, lines.size());
      if (inserted) lines.push_back(prefix);
      lines[at->second] += " " + entry;
    }
  }
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

}  // namespace dg
