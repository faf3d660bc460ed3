// mqseal/topic.h: MQTT topic names and topic filters.
//
// Validation follows MQTT 3.1.1 section 4.7 and MQTT 5.0 section 4.7:
//   topic name:   1..65535 bytes of well-formed UTF-8, no U+0000, no '+' or '#'
//   topic filter: the same, except that '+' may stand alone in a level and
//                 '#' may stand alone in the last level
// Matching follows the same sections: '+' matches exactly one level, '#'
// matches the parent level and any number of levels below it, and a filter
// that starts with a wildcard does not match a topic that starts with '$'.
#ifndef MQSEAL_TOPIC_H_
#define MQSEAL_TOPIC_H_

#include <cstddef>
#include <string_view>

#include "mqseal/error.h"

namespace mqseal {

inline constexpr size_t kMaxTopicSize = 65535;

// invalid_topic with a detail saying what is wrong, or success.
[[nodiscard]] Status validate_topic(std::string_view topic);
// invalid_filter with a detail saying what is wrong, or success.
[[nodiscard]] Status validate_filter(std::string_view filter);

// True if `filter` matches `topic`. Both must already be valid.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

}  // namespace mqseal

#endif  // MQSEAL_TOPIC_H_
