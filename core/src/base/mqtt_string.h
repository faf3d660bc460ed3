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

// Why `s` cannot be a name (client ID, username) in a CONNECT that mosquitto
// 2.0 accepts, or null: mqtt_string_problem's reasons, and "contains a
// control character (U+0001 to U+001F, U+007F to U+009F)" or "contains a
// Unicode noncharacter (U+FDD0 to U+FDEF, or U+FFFE or U+FFFF of any plane)".
// MQTT says a string SHOULD NOT hold those (3.1.1 section 1.5.3, 5.0 section
// 1.5.4); mosquitto's UTF-8 check refuses them in every string it reads
// (lib/utf8_mosq.c, lines 97-107 at v2.0.11) and closes the connection of a
// CONNECT holding one before any plugin sees it. Topics are judged by
// mqtt_string_problem only: other brokers may carry such topics, and a
// sealed message on one is no worse than a plain one.
const char* connect_name_problem(std::string_view s) noexcept;

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_MQTT_STRING_H_
