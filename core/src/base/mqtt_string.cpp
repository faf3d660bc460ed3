#include "base/mqtt_string.h"

#include <cstdint>

namespace mqseal::internal {

namespace {

constexpr uint32_t kLastC0Control = 0x1F;
constexpr uint32_t kDelete = 0x7F;
constexpr uint32_t kLastC1Control = 0x9F;
constexpr uint32_t kFirstNoncharacterRun = 0xFDD0;  // U+FDD0..U+FDEF
constexpr uint32_t kLastNoncharacterRun = 0xFDEF;
constexpr uint32_t kPlaneEndNoncharacters = 0xFFFE;  // U+xFFFE and U+xFFFF of every plane

constexpr const char* kControl = "contains a control character (U+0001 to U+001F, U+007F to U+009F)";
constexpr const char* kNoncharacter =
    "contains a Unicode noncharacter (U+FDD0 to U+FDEF, or U+FFFE or U+FFFF of any plane)";

// mqtt_string_problem; with `names`, also the characters MQTT says a string
// SHOULD NOT hold, which mosquitto refuses.
const char* problem(std::string_view s, bool names) noexcept {
  if (s.size() > kMaxMqttStringSize) return "is longer than 65535 bytes";
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == 0) return "contains U+0000";
    if (c < 0x80) {
      if (names && (c <= kLastC0Control || c == kDelete)) return kControl;
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
    if (names && cp <= kLastC1Control) return kControl;
    if (names && ((cp >= kFirstNoncharacterRun && cp <= kLastNoncharacterRun) ||
                  (cp & kPlaneEndNoncharacters) == kPlaneEndNoncharacters)) {
      return kNoncharacter;
    }
    i += len;
  }
  return nullptr;
}

}  // namespace

const char* mqtt_string_problem(std::string_view s) noexcept { return problem(s, false); }

const char* connect_name_problem(std::string_view s) noexcept { return problem(s, true); }

}  // namespace mqseal::internal
