#include "crypto/x25519.h"

#include <sodium.h>

namespace mqseal::internal::x25519 {

static_assert(kSecretKeySize == crypto_scalarmult_SCALARBYTES, "scalar size");
static_assert(kPublicKeySize == crypto_scalarmult_BYTES, "point size");
static_assert(kPublicKeySize == crypto_box_PUBLICKEYBYTES && kSecretKeySize == crypto_box_SECRETKEYBYTES,
              "crypto_box key pairs are X25519 key pairs");

Status generate(uint8_t public_key[kPublicKeySize], uint8_t secret_key[kSecretKeySize]) {
  if (crypto_box_keypair(public_key, secret_key) != 0) return Errc::crypto_failure;
  return {};
}

Status public_of(const uint8_t secret_key[kSecretKeySize], uint8_t public_key[kPublicKeySize]) {
  if (crypto_scalarmult_base(public_key, secret_key) != 0) return Errc::crypto_failure;
  return {};
}

bool valid_public_key(const uint8_t public_key[kPublicKeySize]) noexcept {
  // Any scalar will do: clamping makes it a multiple of the cofactor, so a
  // low-order point always gives the all-zero result, which libsodium refuses.
  uint8_t scalar[kSecretKeySize] = {1};
  uint8_t out[kSharedSize];
  const bool ok = crypto_scalarmult(out, scalar, public_key) == 0;
  sodium_memzero(out, sizeof out);
  return ok;
}

Status agree(const uint8_t secret_key[kSecretKeySize], const uint8_t public_key[kPublicKeySize],
             uint8_t shared[kSharedSize]) {
  if (crypto_scalarmult(shared, secret_key, public_key) != 0) {
    sodium_memzero(shared, kSharedSize);
    return Errc::authentication_failed;
  }
  return {};
}

}  // namespace mqseal::internal::x25519
