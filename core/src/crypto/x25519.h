// Private: the one key agreement of mqseal, X25519 (libsodium
// crypto_scalarmult / crypto_scalarmult_base), for suite 3 envelopes
// (docs/SPEC.md, section 4b). Secrets are the caller's (guarded memory);
// nothing here allocates.
#ifndef MQSEAL_SRC_CRYPTO_X25519_H_
#define MQSEAL_SRC_CRYPTO_X25519_H_

#include <cstddef>
#include <cstdint>

#include "mqseal/error.h"

namespace mqseal::internal::x25519 {

inline constexpr size_t kSecretKeySize = 32;
inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSharedSize = 32;

// A fresh key pair from the CSPRNG (crypto_box_keypair's scalar and its
// public key). crypto_failure if libsodium refuses.
[[nodiscard]] Status generate(uint8_t public_key[kPublicKeySize], uint8_t secret_key[kSecretKeySize]);

// The public key of a secret scalar (crypto_scalarmult_base).
[[nodiscard]] Status public_of(const uint8_t secret_key[kSecretKeySize], uint8_t public_key[kPublicKeySize]);

// False for a public key whose product with any scalar is the all-zero point
// (the low-order points, on which crypto_scalarmult fails).
[[nodiscard]] bool valid_public_key(const uint8_t public_key[kPublicKeySize]) noexcept;

// crypto_scalarmult(secret, public): authentication_failed when libsodium
// refuses (a low-order public key: the result would be all zeros).
[[nodiscard]] Status agree(const uint8_t secret_key[kSecretKeySize], const uint8_t public_key[kPublicKeySize],
                           uint8_t shared[kSharedSize]);

}  // namespace mqseal::internal::x25519

#endif  // MQSEAL_SRC_CRYPTO_X25519_H_
