// Envelope v3, the compact envelope (docs/SPEC.md, section 4d): suite 1's
// XChaCha20-Poly1305 under the topic key, with a 20-byte header.
#include <cstring>

#include "base/sodium_util.h"
#include "crypto/aead.h"
#include "mqseal/envelope.h"
#include "mqseal/topic.h"
#include "wire/envelope_internal.h"

namespace mqseal {

namespace {

constexpr size_t kOffsetKeyId = 1;
constexpr size_t kOffsetTime = kOffsetKeyId + 4;                           // 5
constexpr size_t kOffsetSession = kOffsetTime + kCompactTimeSize;          // 8
constexpr size_t kOffsetSequence = kOffsetSession + kCompactSessionSize;   // 16
static_assert(kOffsetSession == kAssociatedHeaderSizeCompact, "the associated header ends at the session");
static_assert(kOffsetSequence + kCompactSequenceSize == kHeaderSizeCompact, "v3 header layout");
static_assert(kCompactSessionSize + kCompactSequenceSize < kNonceSize, "the nonce pads the session and sequence");
constexpr uint64_t kMsPerSecond = 1000;

// nonce = session || zero bytes || sequence (u32be): the suite 1 nonce of the
// 16-byte sender session || 8 zero bytes and the 64-bit sequence. Injective
// in (session, sequence).
void compact_nonce(const uint8_t* session, const uint8_t* sequence, uint8_t nonce[kNonceSize]) {
  std::memset(nonce, 0, kNonceSize);
  std::memcpy(nonce, session, kCompactSessionSize);
  std::memcpy(nonce + kNonceSize - kCompactSequenceSize, sequence, kCompactSequenceSize);
}

// The associated part of the header, then the full time in seconds as
// 8 bytes big endian: the time the envelope carries only modulo 2^24 is
// authenticated in full, so a receiver that reads it in the wrong 2^24-second
// epoch (a replay 194 days later) fails the tag.
constexpr size_t kAssociatedPrefixSize = kAssociatedHeaderSizeCompact + 8;
void associated_prefix(const uint8_t* header, uint64_t timestamp_ms, uint8_t out[kAssociatedPrefixSize]) {
  std::memcpy(out, header, kAssociatedHeaderSizeCompact);
  internal::store_be64(out + kAssociatedHeaderSizeCompact, timestamp_ms / kMsPerSecond);
}

}  // namespace

uint64_t compact_timestamp_ms(uint64_t field_ms, uint64_t now_ms) noexcept {
  const uint64_t field = (field_ms / kMsPerSecond) % kCompactTimeModulus;
  const uint64_t limit = now_ms / kMsPerSecond + kCompactTimeAhead;
  // The latest second <= limit that is congruent to `field` modulo 2^24.
  const uint64_t back = (limit + kCompactTimeModulus - field) % kCompactTimeModulus;
  if (back > limit) return 0;
  return (limit - back) * kMsPerSecond;
}

Status internal::parse_compact_header(ByteView envelope, EnvelopeHeader& h) {
  if (envelope.size() < kEnvelopeOverheadCompact) return Error(Errc::malformed, "shorter than an envelope");
  const uint8_t first = envelope[0];
  h.version = kEnvelopeVersionCompact;
  h.suite = kSuiteXChaCha20Poly1305;
  h.flags = static_cast<uint8_t>(first >> kCompactFlagsShift);
  if ((h.flags & ~kKnownFlags) != 0) return Error(Errc::malformed, "unknown flags");
  const uint8_t* p = envelope.data();
  h.key_id = load_be32(p + kOffsetKeyId);
  uint64_t seconds = 0;
  for (size_t i = 0; i < kCompactTimeSize; ++i) seconds = (seconds << 8) | p[kOffsetTime + i];
  h.timestamp_ms = seconds * kMsPerSecond;
  std::memcpy(h.sender.data(), p + kOffsetSession, kCompactSessionSize);  // the rest stays zero
  h.sequence = load_be32(p + kOffsetSequence);
  return {};
}

Status internal::seal_compact(const uint8_t topic_key[kKeySize], std::string_view topic,
                              const EnvelopeHeader& header, ByteView payload, OutBuffer& out,
                              const uint8_t* subkey) {
  if (topic.size() > kMaxTopicSize) {
    out.clear();
    return Errc::invalid_topic;
  }
  bool padded = true;  // the sender's bytes after the session are zero
  for (size_t i = kCompactSessionSize; i < kSenderIdSize; ++i) padded = padded && header.sender[i] == 0;
  if (header.suite != kSuiteXChaCha20Poly1305 || (header.flags & ~kKnownFlags) != 0 ||
      header.sequence > kCompactMaxSequence || !padded) {
    out.clear();
    return Error(Errc::invalid_argument, "no such compact envelope: suite, flags, sequence or sender");
  }
  uint8_t h[kHeaderSizeCompact];
  h[0] = static_cast<uint8_t>(kEnvelopeVersionCompact | (header.flags << kCompactFlagsShift));
  store_be32(h + kOffsetKeyId, header.key_id);
  uint64_t seconds = (header.timestamp_ms / kMsPerSecond) % kCompactTimeModulus;
  for (size_t i = kCompactTimeSize; i-- > 0;) {
    h[kOffsetTime + i] = static_cast<uint8_t>(seconds);
    seconds >>= 8;
  }
  std::memcpy(h + kOffsetSession, header.sender.data(), kCompactSessionSize);
  store_be32(h + kOffsetSequence, static_cast<uint32_t>(header.sequence));
  uint8_t nonce[kNonceSize];
  compact_nonce(h + kOffsetSession, h + kOffsetSequence, nonce);
  uint8_t prefix[kAssociatedPrefixSize];
  associated_prefix(h, header.timestamp_ms, prefix);
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  const uint8_t* ad = build_ad(prefix, sizeof prefix, topic, stack_ad, heap_ad, ad_size);
  return aead::seal(topic_key, nonce, ByteView(ad, ad_size), ByteView(h, kHeaderSizeCompact), payload,
                    kMaxEnvelopeSize - kEnvelopeOverheadCompact, out, subkey);
}

Status internal::open_compact_body(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                                   uint64_t timestamp_ms, OutBuffer& out, const uint8_t* subkey) {
  uint8_t nonce[kNonceSize];
  compact_nonce(envelope.data() + kOffsetSession, envelope.data() + kOffsetSequence, nonce);
  uint8_t prefix[kAssociatedPrefixSize];
  associated_prefix(envelope.data(), timestamp_ms, prefix);
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  const uint8_t* ad = build_ad(prefix, sizeof prefix, topic, stack_ad, heap_ad, ad_size);
  return aead::open(topic_key, nonce, ByteView(ad, ad_size),
                    ByteView(envelope.data() + kHeaderSizeCompact, envelope.size() - kHeaderSizeCompact), out, subkey);
}

}  // namespace mqseal
