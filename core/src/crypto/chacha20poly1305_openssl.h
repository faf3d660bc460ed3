// Private: the bulk half of XChaCha20-Poly1305 (IETF) on OpenSSL 3's EVP
// ChaCha20-Poly1305, for aead.cpp only. Built only with MQSEAL_WITH_OPENSSL
// (core/CMakeLists.txt); no OpenSSL type leaves this file's .cpp.
//
// XChaCha20-Poly1305 = ChaCha20-Poly1305 (RFC 8439) under the subkey
// HChaCha20(key, nonce[0..16)) with the 12-byte nonce 0x00000000 ||
// nonce[16..24): libsodium computes the subkey (crypto_core_hchacha20), OpenSSL
// the rest, and the bytes are those of
// crypto_aead_xchacha20poly1305_ietf_encrypt (tests/aead_backends_test.cpp).
// A caller holding that subkey already passes it as `subkey` (crypto/aead.h);
// null: derived per call.
//
// Each thread that calls encrypt() or decrypt() keeps two EVP contexts (under
// 1 KiB) from its first call until it exits, unkeyed between calls: no key
// material of a finished call stays in OpenSSL's memory
// (tests/aead_openssl_memory_test.cpp). A thread may exit, or call, after
// OpenSSL's own clean-up at exit (tests/aead_openssl_exit_test.cpp; the .cpp
// says why that is safe). Not async-signal-safe.
#ifndef MQSEAL_SRC_CRYPTO_CHACHA20POLY1305_OPENSSL_H_
#define MQSEAL_SRC_CRYPTO_CHACHA20POLY1305_OPENSSL_H_

#include <cstddef>
#include <cstdint>

#include "mqseal/bytes.h"
#include "mqseal/key.h"

namespace mqseal::internal::aead::openssl {

inline constexpr size_t kXNonceSize = 24;
inline constexpr size_t kTagSize = 16;
// EVP takes int lengths: longer inputs are refused (false), never truncated.
inline constexpr size_t kMaxLength = 0x7fffffff;

// True if this process's OpenSSL provides ChaCha20-Poly1305 (decided once).
// Not in every configuration: a FIPS-only provider set, for one, refuses it;
// aead.cpp then stays on libsodium for every size (the same bytes).
[[nodiscard]] bool usable() noexcept;

// ciphertext (plaintext.size() bytes) and tag of `plaintext` under
// XChaCha20-Poly1305(key, nonce), authenticating `ad`. False on any OpenSSL
// failure, with `ciphertext` and `tag` zeroed.
[[nodiscard]] bool encrypt(uint8_t* ciphertext, uint8_t tag[kTagSize], ByteView plaintext, ByteView ad,
                           const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize],
                           const uint8_t* subkey = nullptr) noexcept;

// plaintext (ciphertext.size() bytes) of `ciphertext` if `tag` authenticates
// it and `ad` (OpenSSL compares the tag in constant time). False on a
// mismatch or any OpenSSL failure, with `plaintext` zeroed: the unverified
// plaintext it held is gone before this returns.
[[nodiscard]] bool decrypt(uint8_t* plaintext, ByteView ciphertext, const uint8_t tag[kTagSize], ByteView ad,
                           const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize],
                           const uint8_t* subkey = nullptr) noexcept;

}  // namespace mqseal::internal::aead::openssl

#endif  // MQSEAL_SRC_CRYPTO_CHACHA20POLY1305_OPENSSL_H_
