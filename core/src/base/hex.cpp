#include "base/hex.h"

#include <sodium.h>

namespace mqseal::internal {

std::string hex_encode(ByteView bytes) {
  std::string out;
  hex_append(out, bytes);
  return out;
}

void hex_append(std::string& out, ByteView bytes) {
  const size_t start = out.size();
  out.resize(start + bytes.size() * 2 + 1);  // sodium_bin2hex writes a NUL
  sodium_bin2hex(out.data() + start, bytes.size() * 2 + 1, bytes.data(), bytes.size());
  out.pop_back();
}

bool hex_decode(std::string_view text, uint8_t* out, size_t out_size) {
  size_t written = 0;
  const char* end = nullptr;
  return text.size() == out_size * 2 &&
         sodium_hex2bin(out, out_size, text.data(), text.size(), nullptr, &written, &end) == 0 &&
         written == out_size && end == text.data() + text.size();
}

}  // namespace mqseal::internal
