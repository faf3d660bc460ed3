#include "mqseal/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "key_access.h"
#include "mqseal/topic.h"
#include "envelope_internal.h"
#include "sodium_util.h"

namespace mqseal {

static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");

namespace {

constexpr size_t kOffsetVersion = 0;
constexpr size_t kOffsetSuite = 1;
constexpr size_t kOffsetKeyId = 2;
constexpr size_t kOffsetTimestamp = 6;
constexpr size_t kOffsetSender = 14;
constexpr size_t kOffsetSequence = kOffsetSender + kSenderIdSize;  // 30
constexpr size_t kOffsetNonce = kOffsetSender;
static_assert(kOffsetSequence + kSequenceSize == kHeaderSize, "header layout");
// The associated data covers the header up to the nonce. The nonce itself
// (sender and sequence) is authenticated by the AEAD as its nonce: any change
// to it changes the key stream and the Poly1305 key, so the tag fails.
constexpr size_t kAdHeaderSize = kAssociatedHeaderSize;
static_assert(kAdHeaderSize == kOffsetNonce, "associated data stops at the nonce");

constexpr size_t kTopicLengthSize = 2;
// Associated data up to this size is built on the stack; longer topics
// (rare: MQTT allows 65535 bytes) use the heap.
constexpr size_t kStackAdSize = 512;

// Personalisation for the per-topic key derivation: exactly 16 bytes.
constexpr char kTopicKeyPersonal[crypto_generichash_blake2b_PERSONALBYTES + 1] = "mqseal topic key";
static_assert(sizeof kTopicKeyPersonal - 1 == crypto_generichash_blake2b_PERSONALBYTES,
              "personalisation is 16 bytes");

void write_header(const EnvelopeHeader& h, uint8_t* out) {
  out[kOffsetVersion] = h.version;
  out[kOffsetSuite] = h.suite;
  internal::store_be32(out + kOffsetKeyId, h.key_id);
  internal::store_be64(out + kOffsetTimestamp, h.timestamp_ms);
  std::memcpy(out + kOffsetSender, h.sender.data(), kSenderIdSize);
  internal::store_be64(out + kOffsetSequence, h.sequence);
}

// header[0..14) || u16be(len(topic)) || topic, in `stack` if it fits, else
// in `heap`.
const uint8_t* build_ad(const uint8_t* header, std::string_view topic, uint8_t* stack,
                        std::vector<uint8_t>& heap, size_t& ad_size) {
  ad_size = kAdHeaderSize + kTopicLengthSize + topic.size();
  uint8_t* ad = stack;
  if (ad_size > kStackAdSize) {
    heap.resize(ad_size);
    ad = heap.data();
  }
  std::memcpy(ad, header, kAdHeaderSize);
  ad[kAdHeaderSize] = static_cast<uint8_t>(topic.size() >> 8);
  ad[kAdHeaderSize + 1] = static_cast<uint8_t>(topic.size());
  std::memcpy(ad + kAdHeaderSize + kTopicLengthSize, topic.data(), topic.size());
  return ad;
}

}  // namespace

namespace internal {
Errc read_header(ByteView envelope, EnvelopeHeader& h) noexcept {
  if (envelope.size() < kEnvelopeOverhead || envelope.size() > kMaxEnvelopeSize) {
    return Errc::malformed;
  }
  h.version = envelope[kOffsetVersion];
  if (h.version != kEnvelopeVersion) return Errc::unsupported_version;
  h.suite = envelope[kOffsetSuite];
  if (h.suite != kSuiteXChaCha20Poly1305) return Errc::unsupported_suite;
  h.key_id = load_be32(envelope.data() + kOffsetKeyId);
  h.timestamp_ms = load_be64(envelope.data() + kOffsetTimestamp);
  std::memcpy(h.sender.data(), envelope.data() + kOffsetSender, kSenderIdSize);
  h.sequence = load_be64(envelope.data() + kOffsetSequence);
  return Errc{};
}
}  // namespace internal

Result<EnvelopeHeader> parse_header(ByteView envelope) {
  EnvelopeHeader h;
  const Errc code = internal::read_header(envelope, h);
  if (code == Errc::malformed) {
    return Error(Errc::malformed, envelope.size() < kEnvelopeOverhead ? "shorter than 54 bytes"
                                                                      : "larger than MQTT allows");
  }
  if (code != Errc{}) return code;
  return h;
}

Status derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]) {
  const uint8_t* key = KeyAccess::bytes(rule_key);
  if (key == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  if (crypto_generichash_blake2b_salt_personal(
          out, kKeySize, reinterpret_cast<const unsigned char*>(topic.data()), topic.size(), key,
          kKeySize, nullptr, reinterpret_cast<const unsigned char*>(kTopicKeyPersonal)) != 0) {
    return Errc::crypto_failure;
  }
  return {};
}

Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                        const EnvelopeHeader& header, ByteView payload, std::vector<uint8_t>& out) {
  if (internal::overlaps(payload.data(), payload.size(), out.data(), out.capacity())) {
    return Error(Errc::invalid_argument, "payload may not live in the output buffer");
  }
  if (payload.size() > kMaxPayloadSize) {
    out.clear();
    return Errc::payload_too_large;
  }
  if (topic.size() > kMaxTopicSize) {
    out.clear();
    return Errc::invalid_topic;
  }
  out.resize(sealed_size(payload.size()));
  write_header(header, out.data());
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  const uint8_t* ad = build_ad(out.data(), topic, stack_ad, heap_ad, ad_size);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kHeaderSize, &written, payload.data(),
                                             payload.size(), ad, ad_size, nullptr,
                                             out.data() + kOffsetNonce, topic_key);
  return {};
}

Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                     std::vector<uint8_t>& out) {
  if (internal::overlaps(envelope.data(), envelope.size(), out.data(), out.capacity())) {
    return Error(Errc::invalid_argument, "envelope may not live in the output buffer");
  }
  if (envelope.size() < kEnvelopeOverhead || envelope.size() > kMaxEnvelopeSize) {
    out.clear();
    return Errc::malformed;
  }
  if (topic.size() > kMaxTopicSize) {
    out.clear();
    return Errc::invalid_topic;
  }
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  const uint8_t* ad = build_ad(envelope.data(), topic, stack_ad, heap_ad, ad_size);
  // Not cleared first: a caller that reuses `out` for same-size messages
  // pays no zero-fill. Decryption overwrites every byte, or `out` is cleared.
  out.resize(envelope.size() - kEnvelopeOverhead);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr,
                                                 envelope.data() + kHeaderSize,
                                                 envelope.size() - kHeaderSize, ad, ad_size,
                                                 envelope.data() + kOffsetNonce, topic_key) != 0) {
    out.clear();
    return Errc::authentication_failed;
  }
  return {};
}

}  // namespace mqseal
