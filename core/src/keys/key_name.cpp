#include "keys/key_name.h"

#include <algorithm>

#include "mqseal/keyring.h"

namespace mqseal::internal {

bool valid_key_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxKeyNameSize) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

}  // namespace mqseal::internal
