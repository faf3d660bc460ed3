// Private: MQTT's UTF-8 strings (MQTT 3.1.1 section 1.5.3, MQTT 5.0 section
// 1.5.4), the form of every topic, username and client ID on the wire. A
// conforming broker delivers no other: a topic, a token's client ID or a
// username that is not one can never arrive.
#ifndef MQSEAL_SRC_BASE_MQTT_STRING_H_
#define MQSEAL_SRC_BASE_MQTT_STRING_H_

#include <cstddef>
#include <string_view>

namespace mqseal::internal {

inline constexpr size_t kMaxMqttStringSize = 65535;  // its length is two bytes on the wire

// Why `s` is not an MQTT string, or null if it is one (the empty string is):
// "is longer than 65535 bytes", "contains U+0000", or "is not well-formed
// UTF-8" (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF). MQTT forbids each of them.
const char* mqtt_string_problem(std::string_view s) noexcept;

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_MQTT_STRING_H_
