#include "crypto/signature.h"

#include <sodium.h>

namespace mqseal::internal::ed25519 {

static_assert(kSeedSize == crypto_sign_SEEDBYTES, "seed size");
static_assert(kPublicKeySize == crypto_sign_PUBLICKEYBYTES, "public key size");
static_assert(kSecretKeySize == crypto_sign_SECRETKEYBYTES, "secret key size");
static_assert(kSignatureSize == crypto_sign_BYTES, "signature size");

Status keypair_from_seed(const uint8_t seed[kSeedSize], uint8_t public_key[kPublicKeySize],
                         uint8_t secret_key[kSecretKeySize]) {
  if (crypto_sign_seed_keypair(public_key, secret_key, seed) != 0) return Errc::crypto_failure;
  return {};
}

bool valid_public_key(const uint8_t public_key[kPublicKeySize]) noexcept {
  return crypto_core_ed25519_is_valid_point(public_key) == 1;
}

Status sign(const uint8_t secret_key[kSecretKeySize], ByteView message, uint8_t signature[kSignatureSize]) {
  if (crypto_sign_detached(signature, nullptr, message.data(), message.size(), secret_key) != 0) {
    return Errc::crypto_failure;
  }
  return {};
}

Status verify(const uint8_t public_key[kPublicKeySize], ByteView message,
              const uint8_t signature[kSignatureSize]) {
  if (crypto_sign_verify_detached(signature, message.data(), message.size(), public_key) != 0) {
    return Errc::authentication_failed;
  }
  return {};
}

}  // namespace mqseal::internal::ed25519
