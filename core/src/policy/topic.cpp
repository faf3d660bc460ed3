#include "mqseal/topic.h"

#include <algorithm>
#include <cstdint>

#include "base/mqtt_string.h"

namespace mqseal {

namespace {

static_assert(kMaxTopicSize == internal::kMaxMqttStringSize, "a topic is an MQTT string");

const char* common_problem(std::string_view s) {
  if (s.empty()) return "is empty";
  return internal::mqtt_string_problem(s);
}

}  // namespace

Status validate_topic(std::string_view topic) {
  if (const char* problem = common_problem(topic)) return Error(Errc::invalid_topic, problem);
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return Error(Errc::invalid_topic, "topic names may not contain '+' or '#'");
  }
  return {};
}

Status validate_filter(std::string_view filter) {
  if (const char* problem = common_problem(filter)) return Error(Errc::invalid_filter, problem);
  size_t start = 0;
  while (true) {
    const size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = filter.substr(start, last ? std::string_view::npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
      return Error(Errc::invalid_filter, "a wildcard must stand alone in its level");
    }
    if (level == "#" && !last) return Error(Errc::invalid_filter, "'#' must be the last level");
    if (last) return {};
    start = slash + 1;
  }
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  size_t f = 0;
  size_t t = 0;
  while (true) {
    const size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") return true;  // matches the parent level and everything below
    const size_t t_end = std::min(topic.find('/', t), topic.size());
    if (f_level != "+" && f_level != topic.substr(t, t_end - t)) return false;
    const bool filter_last = f_end == filter.size();
    const bool topic_last = t_end == topic.size();
    if (filter_last || topic_last) {
      if (filter_last && topic_last) return true;
      // "a/#" matches "a": the filter's next level is a final '#'.
      return topic_last && filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

}  // namespace mqseal
