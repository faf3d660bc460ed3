#include "crypto/blake2b.h"

#include <sodium.h>

namespace mqseal::internal {

static_assert(sizeof(Blake2bPersonal) == crypto_generichash_blake2b_PERSONALBYTES + 1, "personalisation");

Status blake2b_personal(uint8_t* out, size_t out_size, ByteView key, ByteView message,
                        const Blake2bPersonal& personal) {
  if (crypto_generichash_blake2b_salt_personal(out, out_size, message.data(), message.size(), key.data(),
                                               key.size(), nullptr,
                                               reinterpret_cast<const unsigned char*>(personal)) != 0) {
    return Errc::crypto_failure;
  }
  return {};
}

Status blake2b_personal_parts(uint8_t* out, size_t out_size, const ByteView* parts, size_t part_count,
                              const Blake2bPersonal& personal) {
  crypto_generichash_blake2b_state state;
  if (crypto_generichash_blake2b_init_salt_personal(&state, nullptr, 0, out_size, nullptr,
                                                    reinterpret_cast<const unsigned char*>(personal)) != 0) {
    return Errc::crypto_failure;
  }
  for (size_t i = 0; i < part_count; ++i) {
    if (crypto_generichash_blake2b_update(&state, parts[i].data(), parts[i].size()) != 0) {
      return Errc::crypto_failure;
    }
  }
  if (crypto_generichash_blake2b_final(&state, out, out_size) != 0) return Errc::crypto_failure;
  return {};
}

}  // namespace mqseal::internal
