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
// Envelope v2 flags. The publisher sealed the message to be retained: only
// such a message is judged by the retained rules when delivered from a
// broker's retained store (docs/SPEC.md, section 6).
inline constexpr uint8_t kFlagRetain = 0x01;
inline constexpr uint8_t kKnownFlags = kFlagRetain;  // any other bit: malformed
// Suite 1: XChaCha20-Poly1305, key derived per topic from a shared key.
inline constexpr uint8_t kSuiteXChaCha20Poly1305 = 1;
// Suite 2 (envelope v2 only): suite 1's encryption, plus the signer's key ID
// in the header and an Ed25519 signature after the tag (docs/SPEC.md,
// section 4a). Reserved: 3 (sealed to a recipient's public key), 4 (signed
// and sealed to a recipient).
inline constexpr uint8_t kSuiteSignedSender = 2;
// Suite 3 (envelope v2 only): sealed to a recipient's X25519 public key,
// under a key derived per sealing session from an ephemeral key agreement
// (docs/SPEC.md, section 4b).
inline constexpr uint8_t kSuiteSealedToRecipient = 3;
// Suite 4 (envelope v2 only): signed, then sealed to a recipient: suite 3's
// header and encryption over signer_key_id || signature || payload
// (docs/SPEC.md, section 4c).
inline constexpr uint8_t kSuiteSignedSealed = 4;

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
inline constexpr size_t kMinEnvelopeSize = kEnvelopeOverheadV1;
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
  uint8_t flags = 0;  // v2 only (kFlagRetain); 0 in a v1 header
  KeyId key_id = 0;
  KeyId signer_key_id = 0;  // suite 2 only: the signing key's ID; 0 otherwise
  // suite 3 only: the sealing session's ephemeral X25519 public key
  std::array<uint8_t, kEphemeralKeySize> ephemeral{};
  uint64_t timestamp_ms = 0;
  SenderId sender{};
  uint64_t sequence = 0;
};

// Size of the envelope that seals `payload_size` bytes.
constexpr size_t sealed_size(size_t payload_size) noexcept {
  return payload_size + kEnvelopeOverhead;
}

// Bytes of header and tag around the payload in an envelope of `version`
// (1 or 2) and suite 1; header, tag and signature in suite 2.
constexpr size_t envelope_overhead(uint8_t version, uint8_t suite = kSuiteXChaCha20Poly1305) noexcept {
  if (suite == kSuiteSignedSender) return kEnvelopeOverheadSigned;
  if (suite == kSuiteSealedToRecipient) return kEnvelopeOverheadRecipient;
  if (suite == kSuiteSignedSealed) return kEnvelopeOverheadSignedSealed;
  return version == kEnvelopeVersionV1 ? kEnvelopeOverheadV1 : kEnvelopeOverhead;
}

// Reads the header without any key. Checks only structure, in this order:
// malformed (shorter than kMinEnvelopeSize, or longer than kMaxEnvelopeSize),
// unsupported_version (neither 1 nor 2), malformed (a v2 envelope shorter
// than kEnvelopeOverhead), unsupported_suite (v2: not 1 to 4; v1:
// not 1), malformed (a suite 2 envelope shorter than
// kEnvelopeOverheadSigned, a suite 3 one shorter than
// kEnvelopeOverheadRecipient, a suite 4 one shorter than
// kEnvelopeOverheadSignedSealed), malformed (unknown v2 flags).
// For suite 4, signer_key_id is inside the ciphertext: 0 here.
// A header that parses proves nothing until the envelope is opened.
[[nodiscard]] Result<EnvelopeHeader> parse_header(ByteView envelope);

}  // namespace mqseal

#endif  // MQSEAL_ENVELOPE_H_
