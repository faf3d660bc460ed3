// Private: the only way core code reaches key bytes.
#ifndef MQSEAL_SRC_KEY_ACCESS_H_
#define MQSEAL_SRC_KEY_ACCESS_H_

#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/secret_arena.h"
#include "mqseal/key.h"

namespace mqseal::internal {

struct KeyAccess {
  // kKeySize bytes, or null for a moved-from key.
  static const uint8_t* bytes(const Key& key) noexcept { return key.bytes_; }
  // A Key made of `secret`, which holds exactly kKeySize bytes.
  static Key adopt(Secret secret);
  // Key material as the keyring and credentials files write it: exactly
  // 2 * kKeySize hex digits, decoded straight into guarded memory.
  // invalid_argument otherwise.
  [[nodiscard]] static Result<Key> from_hex(std::string_view hex);
  // As above, into the next slot of `arena` (whose slots are kKeySize): no
  // mapping of its own. The slot is used up (and zero) even on failure.
  [[nodiscard]] static Result<Key> from_hex(std::string_view hex, SecretArena& arena);
  // A copy of `key` in the next slot of `arena` (slots of kKeySize).
  // invalid_argument for a moved-from key; crypto_failure if the arena has
  // no guarded memory.
  [[nodiscard]] static Result<Key> copy_into(const Key& key, SecretArena& arena);
  // Appends the key's bytes as lower-case hex to `out`, leaving no other
  // copy (reserve `out` so that it does not reallocate either).
  static void append_hex(const Key& key, std::string& out);
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_KEY_ACCESS_H_
