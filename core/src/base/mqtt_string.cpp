#include "base/mqtt_string.h"

#include <cstdint>

namespace mqseal::internal {

const char* mqtt_string_problem(std::string_view s) noexcept {
  if (s.size() > kMaxMqttStringSize) return "is longer than 65535 bytes";
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

}  // namespace mqseal::internal
