// Private: the only way core code reaches key bytes.
#ifndef MQSEAL_SRC_KEY_ACCESS_H_
#define MQSEAL_SRC_KEY_ACCESS_H_

#include <string>
#include <string_view>

#include "base/secret.h"
#include "mqseal/key.h"

namespace mqseal::internal {

struct KeyAccess {
  // kKeySize bytes, or null for a moved-from key.
  static const uint8_t* bytes(const Key& key) noexcept { return key.bytes_ ? key.bytes_->data() : nullptr; }
  // A Key made of `secret`, which holds exactly kKeySize bytes.
  static Key adopt(Secret secret);
  // Key material as the keyring and credentials files write it: exactly
  // 2 * kKeySize hex digits, decoded straight into guarded memory.
  // invalid_argument otherwise.
  [[nodiscard]] static Result<Key> from_hex(std::string_view hex);
  // Appends the key's bytes as lower-case hex to `out`, leaving no other
  // copy (reserve `out` so that it does not reallocate either).
  static void append_hex(const Key& key, std::string& out);
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_KEY_ACCESS_H_
