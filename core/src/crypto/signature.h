// Private: the one signature of mqseal, Ed25519 (libsodium crypto_sign_*,
// RFC 8032 "pure" Ed25519), for suite 2 envelopes (docs/SPEC.md, section 4a).
// A signing key is kept as libsodium's 64-byte secret key (seed || public
// key) in guarded memory by its owner (keys/); nothing here allocates.
#ifndef MQSEAL_SRC_CRYPTO_SIGNATURE_H_
#define MQSEAL_SRC_CRYPTO_SIGNATURE_H_

#include <cstddef>
#include <cstdint>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal::internal::ed25519 {

inline constexpr size_t kSeedSize = 32;
inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSecretKeySize = 64;  // seed || public key, libsodium's form
inline constexpr size_t kSignatureSize = 64;

// The key pair of a 32-byte seed (deterministic). crypto_failure if
// libsodium refuses.
[[nodiscard]] Status keypair_from_seed(const uint8_t seed[kSeedSize], uint8_t public_key[kPublicKeySize],
                                       uint8_t secret_key[kSecretKeySize]);

// True for a public key that is a canonical encoding of a point on the curve,
// in the prime-order subgroup and not of small order (libsodium's
// crypto_core_ed25519_is_valid_point).
[[nodiscard]] bool valid_public_key(const uint8_t public_key[kPublicKeySize]) noexcept;

// crypto_sign_detached: the 64-byte signature of `message`.
[[nodiscard]] Status sign(const uint8_t secret_key[kSecretKeySize], ByteView message,
                          uint8_t signature[kSignatureSize]);

// crypto_sign_verify_detached: authentication_failed unless `signature` is
// a valid signature of `message` under `public_key`.
[[nodiscard]] Status verify(const uint8_t public_key[kPublicKeySize], ByteView message,
                            const uint8_t signature[kSignatureSize]);

}  // namespace mqseal::internal::ed25519

#endif  // MQSEAL_SRC_CRYPTO_SIGNATURE_H_
