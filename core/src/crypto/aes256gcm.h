// Private: suite 5's AEAD (docs/SPEC.md, section 4e), AES-256-GCM from
// libsodium under a per-session subkey, with aead.h's contract for seal and
// open (overlap: invalid_argument, `out` untouched; any other failure: `out`
// cleared or zeroed).
//
// Only on a CPU with AES-NI and carry-less multiply (PCLMULQDQ), which is
// what libsodium's implementation needs and checks
// (crypto_aead_aes256gcm_is_available()). Elsewhere every call here is
// refused with unsupported_suite: there is no software fallback, slow or
// variable-time, and no silent switch to another cipher.
//
// The subkey makes the 96-bit GCM nonce a counter. Every sealing session
// draws a random 128-bit sender (section 5); the subkey is
//   BLAKE2b-256(key = topic key, message = sender, personal "mqseal aes256gcm")
// so each (topic key, session) pair has its own AES key, and the nonce
// 0^4 || sequence (the envelope's 8-byte sequence, big endian) never repeats
// under it: a session's sequence only grows. GCM's bounds are per AES key,
// so per (topic key, session): a Sealer keeps a session within
// kMaxSequence + 1 messages and kMaxSessionBytes of suite 5 plaintext and
// associated data, then starts a new one (sealer.cpp).
#ifndef MQSEAL_SRC_CRYPTO_AES256GCM_H_
#define MQSEAL_SRC_CRYPTO_AES256GCM_H_

#include <cstddef>
#include <cstdint>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/key.h"
#include "base/out_buffer.h"

namespace mqseal::internal::aes256gcm {

inline constexpr size_t kSubkeySize = kKeySize;  // AES-256
inline constexpr size_t kSenderSize = 16;        // the subkey's input: a session's sender
inline constexpr size_t kNonceSize = 12;         // GCM's 96-bit IV
inline constexpr size_t kNonceZeroSize = 4;      // the IV's first bytes, zero; then the sequence
inline constexpr size_t kTagSize = 16;
// Sequences 0 to kMaxSequence per session: a Sealer starts a new session
// before it would seal a suite 5 message with a larger one, and an Opener
// refuses one (malformed). 2^32 messages per AES key keep GCM's forgery
// bound (about messages x blocks per message / 2^128) negligible.
inline constexpr uint64_t kMaxSequence = 0xffffffffull;
// Suite 5 bytes per session (plaintext and associated data), at most: with
// kMaxSequence it bounds the 16-byte blocks one AES key processes to 2^34
// (2^32 full blocks, at most two partial and one length block per message),
// so GCM's confidentiality bound, about (blocks + messages + 1)^2 / 2^129,
// stays near 2^-60 (docs/SPEC.md, section 4e). The Sealer starts a new
// session before a message would exceed it.
inline constexpr uint64_t kMaxSessionBytes = 1ull << 36;  // 64 GiB

// The bounds a Sealer keeps each suite 5 session within: kMaxSequence and
// kMaxSessionBytes, unless a test lowered them (to see a session end
// without sealing 2^32 messages or 64 GiB). Not for production code.
struct SessionLimits {
  uint64_t max_sequence = kMaxSequence;
  uint64_t max_bytes = kMaxSessionBytes;
};
[[nodiscard]] SessionLimits session_limits() noexcept;
// Tests only: limits at most the defaults (larger values are clamped to them).
void set_session_limits_for_testing(SessionLimits limits) noexcept;

// True on a CPU where libsodium's AES-256-GCM runs (AES-NI and PCLMULQDQ),
// unless a test said otherwise (set_available_for_testing).
[[nodiscard]] bool available() noexcept;
// Tests only: pretend the CPU has no AES-NI (false) or restore the real
// answer (true). Not for production code.
void set_available_for_testing(bool available) noexcept;

// The error every call here returns where available() is false.
[[nodiscard]] Error unavailable_error();

// subkey = BLAKE2b-256(key = topic_key, sender, personal "mqseal aes256gcm").
// unsupported_suite where AES-256-GCM is not available.
[[nodiscard]] Status derive_subkey(const uint8_t topic_key[kKeySize], const uint8_t sender[kSenderSize],
                                   uint8_t subkey[kSubkeySize]);

// out = header || ciphertext || tag: AES-256-GCM under `subkey` with the
// nonce 0^4 || be64(sequence), authenticating `ad`. aead.h's seal contract
// (check_buffers first: invalid_argument, payload_too_large above
// `max_plaintext`); unsupported_suite where not available (`out` cleared).
// Reads each plaintext byte once.
[[nodiscard]] Status seal(const uint8_t subkey[kSubkeySize], uint64_t sequence, ByteView ad, ByteView header,
                          ByteView plaintext, size_t max_plaintext, OutBuffer& out);

// out = the plaintext of `sealed` (ciphertext || tag): aead.h's open
// contract (invalid_argument for overlap; authentication_failed for any
// mismatch or a `sealed` shorter than a tag, `out` cleared and no byte of
// unverified plaintext left in it); unsupported_suite where not available.
[[nodiscard]] Status open(const uint8_t subkey[kSubkeySize], uint64_t sequence, ByteView ad, ByteView sealed,
                          OutBuffer& out);

}  // namespace mqseal::internal::aes256gcm

#endif  // MQSEAL_SRC_CRYPTO_AES256GCM_H_
