// Private: the one AEAD seal and open of mqseal, XChaCha20-Poly1305 (IETF),
// under envelopes (docs/SPEC.md) and records at rest. One contract for both:
//   - invalid_argument when the plaintext (seal) or the sealed bytes and
//     nonce (open) lie in out's buffer; `out` is left untouched (it holds
//     the caller's input). The header and associated data are not checked:
//     callers build them in buffers of their own;
//   - any other failure leaves `out` empty (a vector) or zeroed (caller
//     memory, base/out_buffer.h); caller memory too small for the result is
//     such a failure, with invalid_argument.
// Another suite (signatures, sealing to a public key, an OpenSSL AEAD) is
// another file next to this one with this contract, chosen by the suite byte.
//
// Two backends compute the same bytes: libsodium for every size, and, in a
// core built with OpenSSL 3 (MQSEAL_WITH_OPENSSL), the libsodium subkey
// (HChaCha20) with OpenSSL's EVP ChaCha20-Poly1305 for inputs of at least
// kOpensslMinSize bytes, where it is faster (docs/PERFORMANCE.md).
//
// XChaCha20-Poly1305 is ChaCha20-Poly1305 (IETF) under the subkey
// HChaCha20(key, nonce[0..16)) with the nonce 0^4 || nonce[16..24). A caller
// that already holds that subkey (a session's sender makes nonce[0..16)
// constant: session/topic_key_resolver.h caches it) passes it as `subkey`,
// and neither backend derives it again: the same bytes, one HChaCha20 less.
// Given a `subkey`, neither backend reads `key`: the Opener then passes a
// zeroed one, its topic key never leaving guarded memory
// (tests/aead_backends_test.cpp, WithTheSubkeyTheKeyIsNotRead).
// `subkey` null: derived per call. A `subkey` that is not HChaCha20(key,
// nonce[0..16)) seals bytes nobody else opens and opens nothing sealed
// under `key`: the tests with a key rotation catch a stale one.
#ifndef MQSEAL_SRC_CRYPTO_AEAD_H_
#define MQSEAL_SRC_CRYPTO_AEAD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/key.h"
#include "base/out_buffer.h"
#include "base/sodium_util.h"

namespace mqseal::internal::aead {

inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kTagSize = 16;

// Where seal() and open() switch from libsodium to OpenSSL (when built with
// it), in plaintext bytes: below it libsodium is faster, at and above it
// OpenSSL (measured, docs/PERFORMANCE.md).
inline constexpr size_t kOpensslMinSize = 1024;

enum class Backend : uint8_t { libsodium, openssl };

// True for libsodium always; for openssl in a core built with it whose
// OpenSSL provides ChaCha20-Poly1305 (not a FIPS-only one, say: then every
// size stays on libsodium).
[[nodiscard]] bool available(Backend backend) noexcept;

// The backend seal() and open() use for a plaintext of `size` bytes.
[[nodiscard]] Backend backend_for(size_t size) noexcept;

// The checks seal() begins with, for a caller that must make them before
// other work: invalid_argument (overlap, `out` untouched), payload_too_large
// above `max_input` (`out` cleared). Inline: the hot path makes it twice.
[[nodiscard]] inline Status check_buffers(ByteView input, size_t max_input, OutBuffer& out) {
  if (overlaps(input.data(), input.size(), out.region(), out.region_size())) {
    return Error(Errc::invalid_argument, "the input may not live in the output buffer");
  }
  if (input.size() > max_input) {
    out.clear();
    return Errc::payload_too_large;
  }
  return {};
}
[[nodiscard]] inline Status check_buffers(ByteView input, size_t max_input, std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return check_buffers(input, max_input, to);
}

// out = header || ciphertext || tag, the plaintext encrypted under `key` and
// `nonce`, authenticating `ad`. check_buffers(plaintext, max_plaintext, out)
// first. Reads each plaintext byte once (the tag is computed over the
// ciphertext written).
// The HChaCha20 subkey size (the same as a key).
inline constexpr size_t kSubkeySize = kKeySize;

// HChaCha20(key, nonce[0..16)) into `subkey`: what seal() and open() take as
// `subkey`, for every nonce that starts with the same 16 bytes.
[[nodiscard]] Status derive_subkey(const uint8_t key[kKeySize], const uint8_t nonce_prefix[16],
                                   uint8_t subkey[kSubkeySize]) noexcept;

[[nodiscard]] Status seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                          ByteView header, ByteView plaintext, size_t max_plaintext, OutBuffer& out,
                          const uint8_t* subkey = nullptr);
[[nodiscard]] inline Status seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                                 ByteView header, ByteView plaintext, size_t max_plaintext,
                                 std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return seal(key, nonce, ad, header, plaintext, max_plaintext, to);
}

// seal() on the given backend, for the cross-checks
// (tests/aead_backends_test.cpp): crypto_failure, `out` cleared, for an
// unavailable backend or any failure inside it.
[[nodiscard]] Status seal_with(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize],
                               ByteView ad, ByteView header, ByteView plaintext, size_t max_plaintext,
                               std::vector<uint8_t>& out);

// out = the plaintext of `sealed` (ciphertext || tag): invalid_argument when
// `sealed` or the nonce lies in out's buffer; authentication_failed for any
// mismatch, or a `sealed` shorter than a tag. `out` keeps its size until
// decryption overwrites every byte: reusing it for same-size messages pays no
// zero-fill.
[[nodiscard]] Status open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                          ByteView sealed, OutBuffer& out, const uint8_t* subkey = nullptr);
[[nodiscard]] inline Status open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                                 ByteView sealed, std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return open(key, nonce, ad, sealed, to);
}

// open() on the given backend: authentication_failed, `out` cleared, for an
// unavailable backend as for a mismatch.
[[nodiscard]] Status open_with(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize],
                               ByteView ad, ByteView sealed, std::vector<uint8_t>& out);

}  // namespace mqseal::internal::aead

#endif  // MQSEAL_SRC_CRYPTO_AEAD_H_
