#include "base/hex.h"

#include <sodium.h>

namespace mqseal::internal {

std::string hex_encode(ByteView bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');  // sodium_bin2hex writes a NUL
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

bool hex_decode(std::string_view text, uint8_t* out, size_t out_size) {
  size_t written = 0;
  const char* end = nullptr;
  return text.size() == out_size * 2 &&
         sodium_hex2bin(out, out_size, text.data(), text.size(), nullptr, &written, &end) == 0 &&
         written == out_size && end == text.data() + text.size();
}

}  // namespace mqseal::internal
