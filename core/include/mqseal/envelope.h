// mqseal/envelope.h: the wire format of a sealed payload (docs/SPEC.md).
//
// Envelope v1, suite 1 (XChaCha20-Poly1305 under a per-topic key):
//
//   offset size field
//        0    1 version      0x01
//        1    1 suite        0x01
//        2    4 key_id       big endian
//        6    8 timestamp_ms big endian, sender's clock, ms since 1970 UTC
//       14   16 sender       random per sealing session
//       30    8 sequence     big endian, per sealing session
//       38    n ciphertext   n = payload size
//   38 + n   16 tag          Poly1305
//
// The AEAD nonce is sender || sequence (24 bytes). The associated data is the
// first 14 header bytes (version to timestamp_ms), then the topic's length as
// 2 bytes big endian, then the topic; the AEAD authenticates the nonce itself. Most users never touch this header: Sealer and Opener do it all.
// It is public for tools that inspect envelopes without a key (the broker
// plugin, `mqseal inspect`) and for known-answer tests.
#ifndef MQSEAL_ENVELOPE_H_
#define MQSEAL_ENVELOPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/key.h"

namespace mqseal {

inline constexpr uint8_t kEnvelopeVersion = 1;
// Suite 1: XChaCha20-Poly1305, key derived per topic from a shared key.
// Reserved for later versions of this spec: 2 (signed sender), 3 (sealed to
// a recipient's public key).
inline constexpr uint8_t kSuiteXChaCha20Poly1305 = 1;

inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kSequenceSize = 8;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kHeaderSize = 1 + 1 + 4 + 8 + kSenderIdSize + kSequenceSize;  // 38
inline constexpr size_t kEnvelopeOverhead = kHeaderSize + kTagSize;                 // 54
// Header bytes in the associated data: version, suite, key_id, timestamp_ms.
inline constexpr size_t kAssociatedHeaderSize = 1 + 1 + 4 + 8;                      // 14
// MQTT's largest packet is 268435455 bytes; no envelope can be larger.
inline constexpr size_t kMaxEnvelopeSize = 268435455;
inline constexpr size_t kMaxPayloadSize = kMaxEnvelopeSize - kEnvelopeOverhead;

static_assert(kSenderIdSize + kSequenceSize == kNonceSize, "nonce = sender || sequence");

struct EnvelopeHeader {
  uint8_t version = kEnvelopeVersion;
  uint8_t suite = kSuiteXChaCha20Poly1305;
  KeyId key_id = 0;
  uint64_t timestamp_ms = 0;
  SenderId sender{};
  uint64_t sequence = 0;
};

// Size of the envelope that seals `payload_size` bytes.
constexpr size_t sealed_size(size_t payload_size) noexcept {
  return payload_size + kEnvelopeOverhead;
}

// Reads the header without any key. Checks only structure: malformed (shorter
// than kEnvelopeOverhead, or longer than kMaxEnvelopeSize),
// unsupported_version, unsupported_suite. A header that parses proves nothing
// until the envelope is opened.
[[nodiscard]] Result<EnvelopeHeader> parse_header(ByteView envelope);

// The per-topic key (docs/SPEC.md, "Per-topic keys"). `out` gets kKeySize
// bytes; callers own wiping it.
[[nodiscard]] Status derive_topic_key(const Key& rule_key, std::string_view topic,
                                      uint8_t out[kKeySize]);

// The deterministic core of sealing, exposed for known-answer tests and
// independent implementations. Everyday code uses Sealer, which picks a fresh
// (sender, sequence) for every message: calling this twice with the same
// header under one key destroys confidentiality. `out` is resized to
// sealed_size(payload.size()).
[[nodiscard]] Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload,
                                      std::vector<uint8_t>& out);

// Authenticates and decrypts; `out` gets the payload. authentication_failed
// on any mismatch (altered byte, wrong key, another topic). `out` is left
// empty on failure.
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, std::vector<uint8_t>& out);

}  // namespace mqseal

#endif  // MQSEAL_ENVELOPE_H_
