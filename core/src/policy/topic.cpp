#include "mqseal/topic.h"

#include <algorithm>
#include <cstdint>

namespace mqseal {

namespace {

// Well-formed UTF-8 per RFC 3629 (no overlongs, no surrogates, <= U+10FFFF),
// and no U+0000, which MQTT forbids in strings.
const char* utf8_problem(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == 0) return "contains U+0000";
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; cp = c & 0x07; }
    else return "is not well-formed UTF-8";
    if (s.size() - i < len) return "is not well-formed UTF-8";
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return "is not well-formed UTF-8";
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return "is not well-formed UTF-8";
    }
    i += len;
  }
  return nullptr;
}

const char* common_problem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxTopicSize) return "is longer than 65535 bytes";
  return utf8_problem(s);
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
