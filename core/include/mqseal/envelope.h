// mqseal/envelope.h: the wire format of a sealed payload (docs/SPEC.md).
//
// Envelope v2, suite 1 (XChaCha20-Poly1305 under a per-topic key), what
// a Sealer writes on a topic whose rule does not require signatures:
//
//   offset size field
//        0    1 version      0x02
//        1    1 suite        0x01
//        2    1 flags        bit 0: sealed to be retained; other bits 0
//        3    4 key_id       big endian
//        7    8 timestamp_ms big endian, sender's clock, ms since 1970 UTC
//       15   16 sender       random per sealing session
//       31    8 sequence     big endian, per sealing session
//       39    n ciphertext   n = payload size
//   39 + n   16 tag          Poly1305
//
// The AEAD nonce is sender || sequence (24 bytes). The associated data is the
// header bytes before the nonce (version to timestamp_ms, flags included, so
// the publisher's intent to retain is authenticated), then the topic's length
// as 2 bytes big endian, then the topic; the AEAD authenticates the nonce
// itself. Envelope v1 is the same without the flags byte (a 38-byte header):
// receivers still open it, as a message sealed to be delivered live.
//
// Suite 2 (signed sender; docs/SPEC.md, section 4a) adds the signer's key ID
// after key_id (offsets from timestamp_ms on move up by 4: a 43-byte header)
// and a 64-byte Ed25519 signature after the tag: 123 bytes of overhead.
//
// Envelope v3, the compact envelope (docs/SPEC.md, section 4d): suite 1's
// cryptography with shortened fields, 36 bytes of overhead, on the topics of
// a compact rule (TopicPolicy::add_compact_rule) only:
//
//   offset size field
//        0    1 version_flags 0x03 | flags << 4 (bit 4: sealed to be retained)
//        1    4 key_id        big endian
//        5    3 time_s        sender's clock, seconds since 1970 UTC mod 2^24
//        8    8 session       random per sealing session
//       16    4 sequence      big endian, per sealing session, < 2^32
//       20    n ciphertext
//   20 + n   16 tag
//
// The nonce is session || 12 zero bytes || sequence (24 bytes); the
// associated data is bytes 0 to 7, the topic's length (2 bytes) and the topic.
//
// Suite 5 (AES-256-GCM; docs/SPEC.md, section 4e) has suite 1's layout and
// 55 bytes of overhead, with the suite byte 0x05.
//
// Suite 3 (sealed to a recipient; docs/SPEC.md, section 4b) puts the
// sealing session's 32-byte ephemeral X25519 public key after timestamp_ms
// (so in the associated data; key_id is the recipient key's ID): a 71-byte
// header, 87 bytes of overhead.
//
// Most users never touch this header: Sealer and Opener do it all. It is
// public for tools that inspect envelopes without a key (the broker plugin,
// `mqseal inspect`). The deterministic core (sealing with a chosen header,
// raw per-topic keys), for known-answer tests only, is in
// mqseal/hazmat/envelope.h (target mqseal::hazmat).
#ifndef MQSEAL_ENVELOPE_H_
#define MQSEAL_ENVELOPE_H_

#include <cstddef>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/key.h"

namespace mqseal {

inline constexpr uint8_t kEnvelopeVersion = 2;    // what Sealer writes
inline constexpr uint8_t kEnvelopeVersionV1 = 1;  // still opened: no flags byte
// The compact envelope: written on compact rules only. On the wire its first
// byte holds the version in its low 4 bits and the flags in its high 4 bits.
inline constexpr uint8_t kEnvelopeVersionCompact = 3;
inline constexpr uint8_t kVersionMask = 0x0f;
inline constexpr unsigned kCompactFlagsShift = 4;
// Envelope v2 flags. The publisher sealed the message to be retained: only
// such a message is judged by the retained rules when delivered from a
// broker's retained store (docs/SPEC.md, section 6).
inline constexpr uint8_t kFlagRetain = 0x01;
inline constexpr uint8_t kKnownFlags = kFlagRetain;  // any other bit: malformed
// Suite 1: XChaCha20-Poly1305, key derived per topic from a shared key.
inline constexpr uint8_t kSuiteXChaCha20Poly1305 = 1;
// Suite 2 (envelope v2 only): suite 1's encryption, plus the signer's key ID
// in the header and an Ed25519 signature after the tag (docs/SPEC.md,
// section 4a).
inline constexpr uint8_t kSuiteSignedSender = 2;
// Suite 3 (envelope v2 only): sealed to a recipient's X25519 public key,
// under a key derived per sealing session from an ephemeral key agreement
// (docs/SPEC.md, section 4b).
inline constexpr uint8_t kSuiteSealedToRecipient = 3;
// Suite 4 (envelope v2 only): signed, then sealed to a recipient: suite 3's
// header and encryption over signer_key_id || signature || payload
// (docs/SPEC.md, section 4c).
inline constexpr uint8_t kSuiteSignedSealed = 4;
// Suite 5 (envelope v2 only): suite 1's header and key derivation, sealed
// with AES-256-GCM under a subkey per topic key and sealing session, the
// 12-byte nonce 0^4 || sequence, the whole 39-byte header in the associated
// data; sequences below 2^32 (docs/SPEC.md, section 4e). Only on CPUs with
// AES-NI and PCLMULQDQ: refused elsewhere (unsupported_suite).
inline constexpr uint8_t kSuiteAes256Gcm = 5;
// Suite 5's sequences are at most this: a larger one is malformed.
inline constexpr uint64_t kAes256GcmMaxSequence = 0xffffffffull;

inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kSequenceSize = 8;
inline constexpr size_t kTagSize = 16;
// Header bytes in the associated data: version, suite, flags, key_id,
// timestamp_ms; then the nonce.
inline constexpr size_t kAssociatedHeaderSize = 1 + 1 + 1 + 4 + 8;                  // 15
inline constexpr size_t kHeaderSize = kAssociatedHeaderSize + kNonceSize;           // 39
inline constexpr size_t kEnvelopeOverhead = kHeaderSize + kTagSize;                 // 55
// Envelope v1: no flags byte.
inline constexpr size_t kAssociatedHeaderSizeV1 = kAssociatedHeaderSize - 1;        // 14
inline constexpr size_t kHeaderSizeV1 = kHeaderSize - 1;                            // 38
inline constexpr size_t kEnvelopeOverheadV1 = kEnvelopeOverhead - 1;                // 54
// Suite 2: the signer's key ID after key_id (so in the associated data), and
// an Ed25519 signature after the tag.
inline constexpr size_t kSignerKeyIdSize = 4;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kAssociatedHeaderSizeSigned = kAssociatedHeaderSize + kSignerKeyIdSize;  // 19
inline constexpr size_t kHeaderSizeSigned = kAssociatedHeaderSizeSigned + kNonceSize;             // 43
inline constexpr size_t kEnvelopeOverheadSigned = kHeaderSizeSigned + kTagSize + kSignatureSize;   // 123
// Envelope v3 (compact): version and flags in one byte, key_id, 3 bytes of
// seconds, an 8-byte session ID, a 4-byte sequence; the 16-byte tag.
inline constexpr size_t kCompactTimeSize = 3;
inline constexpr size_t kCompactSessionSize = 8;
inline constexpr size_t kCompactSequenceSize = 4;
inline constexpr size_t kAssociatedHeaderSizeCompact = 1 + 4 + kCompactTimeSize;                           // 8
inline constexpr size_t kHeaderSizeCompact =
    kAssociatedHeaderSizeCompact + kCompactSessionSize + kCompactSequenceSize;                              // 20
inline constexpr size_t kEnvelopeOverheadCompact = kHeaderSizeCompact + kTagSize;                          // 36
// A compact session seals at most this many messages (sequences 0 to
// 2^32 - 1); the Sealer then starts a new session, never wraps.
inline constexpr uint64_t kCompactMaxSequence = 0xffffffffull;
// time_s counts seconds modulo 2^24 (194 days); receivers read it as the
// latest such second at most kCompactTimeAhead seconds after their clock.
inline constexpr uint64_t kCompactTimeModulus = 1ull << 24;
inline constexpr uint64_t kCompactTimeAhead = 1ull << 20;  // 12.1 days
// Suite 3: the ephemeral X25519 public key after timestamp_ms.
inline constexpr size_t kEphemeralKeySize = 32;
inline constexpr size_t kAssociatedHeaderSizeRecipient = kAssociatedHeaderSize + kEphemeralKeySize;  // 47
inline constexpr size_t kHeaderSizeRecipient = kAssociatedHeaderSizeRecipient + kNonceSize;          // 71
inline constexpr size_t kEnvelopeOverheadRecipient = kHeaderSizeRecipient + kTagSize;                // 87
inline constexpr size_t kMaxHeaderSize = kHeaderSizeRecipient;  // the longest header of any suite
// Suite 4: inside the ciphertext, before the payload.
inline constexpr size_t kSignedSealedInnerSize = kSignerKeyIdSize + kSignatureSize;                    // 68
inline constexpr size_t kEnvelopeOverheadSignedSealed = kEnvelopeOverheadRecipient + kSignedSealedInnerSize;  // 155
// No envelope of any version is shorter.
inline constexpr size_t kMinEnvelopeSize = kEnvelopeOverheadCompact;
// MQTT's largest packet is 268435455 bytes; no envelope can be larger.
inline constexpr size_t kMaxEnvelopeSize = 268435455;
inline constexpr size_t kMaxPayloadSize = kMaxEnvelopeSize - kEnvelopeOverhead;
inline constexpr size_t kMaxSignedPayloadSize = kMaxEnvelopeSize - kEnvelopeOverheadSigned;
inline constexpr size_t kMaxRecipientPayloadSize = kMaxEnvelopeSize - kEnvelopeOverheadRecipient;
inline constexpr size_t kMaxSignedSealedPayloadSize = kMaxEnvelopeSize - kEnvelopeOverheadSignedSealed;

static_assert(kSenderIdSize + kSequenceSize == kNonceSize, "nonce = sender || sequence");

struct EnvelopeHeader {
  uint8_t version = kEnvelopeVersion;
  uint8_t suite = kSuiteXChaCha20Poly1305;
  uint8_t flags = 0;  // v2 and v3 (kFlagRetain); 0 in a v1 header
  KeyId key_id = 0;
  KeyId signer_key_id = 0;  // suite 2 only: the signing key's ID; 0 otherwise
  // v3: as parsed, (time_s mod 2^24) * 1000; the Opener reconstructs the
  // full time (compact_timestamp_ms). Sealing v3 writes timestamp_ms / 1000
  // mod 2^24.
  // suite 3 only: the sealing session's ephemeral X25519 public key
  std::array<uint8_t, kEphemeralKeySize> ephemeral{};
  uint64_t timestamp_ms = 0;
  // v3: the session ID, then 8 zero bytes (so the nonce is still sender ||
  // sequence as 8 bytes).
  SenderId sender{};
  uint64_t sequence = 0;
};

// Size of the envelope that seals `payload_size` bytes.
constexpr size_t sealed_size(size_t payload_size) noexcept {
  return payload_size + kEnvelopeOverhead;
}

// Bytes of header and tag around the payload in an envelope of `version`
// (1, 2, or 3, or the first byte of a v3 envelope) and suite 1; header, tag
// and signature in suite 2.
constexpr size_t envelope_overhead(uint8_t version, uint8_t suite = kSuiteXChaCha20Poly1305) noexcept {
  if ((version & kVersionMask) == kEnvelopeVersionCompact) return kEnvelopeOverheadCompact;
  if (suite == kSuiteSignedSender) return kEnvelopeOverheadSigned;
  if (suite == kSuiteSealedToRecipient) return kEnvelopeOverheadRecipient;
  if (suite == kSuiteSignedSealed) return kEnvelopeOverheadSignedSealed;
  return version == kEnvelopeVersionV1 ? kEnvelopeOverheadV1 : kEnvelopeOverhead;
}

// Reads the header without any key. Checks only structure, in this order:
// malformed (shorter than kMinEnvelopeSize, or longer than kMaxEnvelopeSize),
// unsupported_version (the first byte neither 1 nor 2 nor, with any high
// 4 bits, 3), malformed (a v1 or v2 envelope shorter than its overhead),
// unsupported_suite (v2: not 1 to 5; v1: not 1), malformed (a suite 2
// envelope shorter than kEnvelopeOverheadSigned, a suite 3 one shorter than
// kEnvelopeOverheadRecipient, a suite 4 one shorter than
// kEnvelopeOverheadSignedSealed), malformed (unknown v2 or v3 flags),
// malformed (a suite 5 sequence above kAes256GcmMaxSequence). A v3
// envelope has no suite byte: its suite is 1. For suite 4, signer_key_id is
// inside the ciphertext: 0 here.
// A header that parses proves nothing until the envelope is opened.
[[nodiscard]] Result<EnvelopeHeader> parse_header(ByteView envelope);

// The full timestamp of a v3 header as parsed (`field_ms`, its time_s * 1000)
// for a receiver whose clock reads `now_ms`: the latest second congruent to
// time_s modulo 2^24 that is at most kCompactTimeAhead seconds after now,
// in ms (docs/SPEC.md, section 4d). 0 if there is none (a clock before 1970
// plus 2^24 s - 2^20 s with a time_s that would lie before 1970).
[[nodiscard]] uint64_t compact_timestamp_ms(uint64_t field_ms, uint64_t now_ms) noexcept;

}  // namespace mqseal

#endif  // MQSEAL_ENVELOPE_H_
