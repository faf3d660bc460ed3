#include "mqseal/envelope.h"

#include <cstring>

#include "crypto/aead.h"
#include "crypto/aes256gcm.h"
#include "crypto/blake2b.h"
#include "keys/key_access.h"
#include "mqseal/topic.h"
#include "wire/envelope_internal.h"
#include "base/sodium_util.h"

namespace mqseal {

static_assert(kNonceSize == internal::aead::kNonceSize, "nonce size");
static_assert(kTagSize == internal::aead::kTagSize, "tag size");

namespace {

// Offsets in a v2 header; a v1 header has no flags byte, so every field
// after the suite sits one byte earlier (Layout below).
constexpr size_t kOffsetVersion = 0;
constexpr size_t kOffsetSuite = 1;
constexpr size_t kOffsetFlags = 2;

// Where the fields of one version's header are. The associated data covers
// the header up to the nonce; the nonce itself (sender and sequence) is
// authenticated by the AEAD as its nonce: any change to it changes the key
// stream and the Poly1305 key, so the tag fails.
struct Layout {
  size_t key_id;
  size_t signer;  // suite 2: the signer's key ID; 0 (none) in suite 1
  size_t timestamp;
  size_t nonce;  // = sender; also the size of the header's associated part
  size_t sequence;
  size_t header;  // header size: the ciphertext starts here
  size_t trailer;  // bytes after the tag: the signature in suite 2
};
constexpr Layout kLayoutV2{3, 0, 7, kAssociatedHeaderSize, kAssociatedHeaderSize + kSenderIdSize, kHeaderSize, 0};
constexpr Layout kLayoutV1{2, 0, 6, kAssociatedHeaderSizeV1, kAssociatedHeaderSizeV1 + kSenderIdSize,
                           kHeaderSizeV1, 0};
constexpr Layout kLayoutSigned{3, 7, 11, kAssociatedHeaderSizeSigned, kAssociatedHeaderSizeSigned + kSenderIdSize,
                               kHeaderSizeSigned, kSignatureSize};
// Suite 3: the ephemeral public key sits at kAssociatedHeaderSize, between
// timestamp_ms and the nonce.
constexpr Layout kLayoutRecipient{3, 0, 7, kAssociatedHeaderSizeRecipient,
                                  kAssociatedHeaderSizeRecipient + kSenderIdSize, kHeaderSizeRecipient, 0};
constexpr size_t kOffsetEphemeral = kAssociatedHeaderSize;
static_assert(kLayoutRecipient.sequence + kSequenceSize == kLayoutRecipient.header, "suite 3 header layout");
static_assert(kLayoutV2.sequence + kSequenceSize == kLayoutV2.header, "v2 header layout");
static_assert(kLayoutV1.sequence + kSequenceSize == kLayoutV1.header, "v1 header layout");
static_assert(kLayoutSigned.sequence + kSequenceSize == kLayoutSigned.header, "suite 2 header layout");
static_assert(kLayoutV2.timestamp + 8 == kLayoutV2.nonce, "v2: the nonce follows the timestamp");
static_assert(kLayoutV1.timestamp + 8 == kLayoutV1.nonce, "v1: the nonce follows the timestamp");
static_assert(kLayoutSigned.signer + kSignerKeyIdSize == kLayoutSigned.timestamp, "suite 2: signer, then timestamp");
static_assert(kLayoutSigned.timestamp + 8 == kLayoutSigned.nonce, "suite 2: the nonce follows the timestamp");

constexpr const Layout& layout(uint8_t version, uint8_t suite) {
  if (suite == kSuiteSignedSender) return kLayoutSigned;
  if (suite == kSuiteSealedToRecipient || suite == kSuiteSignedSealed) return kLayoutRecipient;
  return version == kEnvelopeVersionV1 ? kLayoutV1 : kLayoutV2;
}

// Personalisation for the per-topic key derivation: exactly 16 bytes.
constexpr internal::Blake2bPersonal kTopicKeyPersonal = "mqseal topic key";

void write_header(const EnvelopeHeader& h, const Layout& at, uint8_t* out) {
  out[kOffsetVersion] = h.version;
  out[kOffsetSuite] = h.suite;
  if (h.version != kEnvelopeVersionV1) out[kOffsetFlags] = h.flags;
  internal::store_be32(out + at.key_id, h.key_id);
  if (at.signer != 0) internal::store_be32(out + at.signer, h.signer_key_id);
  if (at.nonce == kAssociatedHeaderSizeRecipient) std::memcpy(out + kOffsetEphemeral, h.ephemeral.data(), kEphemeralKeySize);
  internal::store_be64(out + at.timestamp, h.timestamp_ms);
  std::memcpy(out + at.nonce, h.sender.data(), kSenderIdSize);
  internal::store_be64(out + at.sequence, h.sequence);
}

// Suite 5 (docs/SPEC.md, section 4e): AES-256-GCM under the subkey of
// (topic key, header.sender), the caller's `subkey` if it holds it.
Status seal_aes(const uint8_t topic_key[kKeySize], const EnvelopeHeader& header, ByteView ad, ByteView header_bytes,
                ByteView payload, internal::OutBuffer& out, const uint8_t* subkey) {
  uint8_t derived[internal::aes256gcm::kSubkeySize];
  internal::ScopedWipe wipe(derived, sizeof derived);
  if (subkey == nullptr) {
    if (Status s = internal::aead::check_buffers(payload, kMaxPayloadSize, out); !s) return s;
    if (Status s = internal::aes256gcm::derive_subkey(topic_key, header.sender.data(), derived); !s) {
      out.clear();
      return s;
    }
    subkey = derived;
  }
  return internal::aes256gcm::seal(subkey, header.sequence, ad, header_bytes, payload, kMaxPayloadSize, out);
}

Status open_aes(const uint8_t topic_key[kKeySize], const EnvelopeHeader& header, ByteView ad, ByteView sealed,
                internal::OutBuffer& out, const uint8_t* subkey) {
  uint8_t derived[internal::aes256gcm::kSubkeySize];
  internal::ScopedWipe wipe(derived, sizeof derived);
  if (subkey == nullptr) {
    if (internal::overlaps(sealed.data(), sealed.size(), out.region(), out.region_size())) {
      return Error(Errc::invalid_argument, "the input may not live in the output buffer");
    }
    if (Status s = internal::aes256gcm::derive_subkey(topic_key, header.sender.data(), derived); !s) {
      out.clear();
      return s;
    }
    subkey = derived;
  }
  return internal::aes256gcm::open(subkey, header.sequence, ad, sealed, out);
}

}  // namespace

const uint8_t* internal::build_ad(const uint8_t* header, size_t header_ad_size, std::string_view topic,
                                  uint8_t* stack, std::vector<uint8_t>& heap, size_t& ad_size) {
  ad_size = header_ad_size + kTopicLengthSize + topic.size();
  uint8_t* ad = stack;
  if (ad_size > kStackAdSize) {
    heap.resize(ad_size);
    ad = heap.data();
  }
  std::memcpy(ad, header, header_ad_size);
  ad[header_ad_size] = static_cast<uint8_t>(topic.size() >> 8);
  ad[header_ad_size + 1] = static_cast<uint8_t>(topic.size());
  std::memcpy(ad + header_ad_size + kTopicLengthSize, topic.data(), topic.size());
  return ad;
}

Result<EnvelopeHeader> parse_header(ByteView envelope) {
  EnvelopeHeader h;
  if (Status s = internal::parse_header_into(envelope, h); !s) return s.error();
  return h;
}

Status internal::parse_header_into(ByteView envelope, EnvelopeHeader& h) {
  if (envelope.size() < kMinEnvelopeSize) return Error(Errc::malformed, "shorter than an envelope");
  if (envelope.size() > kMaxEnvelopeSize) return Error(Errc::malformed, "larger than MQTT allows");
  h.version = envelope[kOffsetVersion];
  if ((h.version & kVersionMask) == kEnvelopeVersionCompact) return internal::parse_compact_header(envelope, h);
  if (h.version != kEnvelopeVersion && h.version != kEnvelopeVersionV1) {
    return Errc::unsupported_version;
  }
  if (envelope.size() < envelope_overhead(h.version)) {
    return Error(Errc::malformed, "shorter than an envelope");
  }
  h.suite = envelope[kOffsetSuite];
  const bool signed_suite = h.suite == kSuiteSignedSender && h.version == kEnvelopeVersion;
  const bool recipient_suite =
      (h.suite == kSuiteSealedToRecipient || h.suite == kSuiteSignedSealed) && h.version == kEnvelopeVersion;
  const bool aes_suite = h.suite == kSuiteAes256Gcm && h.version == kEnvelopeVersion;
  if (h.suite != kSuiteXChaCha20Poly1305 && !signed_suite && !recipient_suite && !aes_suite) {
    return Errc::unsupported_suite;
  }
  if (signed_suite && envelope.size() < kEnvelopeOverheadSigned) {
    return Error(Errc::malformed, "shorter than a signed envelope");
  }
  if (recipient_suite && envelope.size() < envelope_overhead(h.version, h.suite)) {
    return Error(Errc::malformed, "shorter than a suite 3 or 4 envelope");
  }
  h.flags = h.version == kEnvelopeVersionV1 ? 0 : envelope[kOffsetFlags];
  if ((h.flags & ~kKnownFlags) != 0) return Error(Errc::malformed, "unknown flags");
  const Layout& at = layout(h.version, h.suite);
  h.key_id = internal::load_be32(envelope.data() + at.key_id);
  if (at.signer != 0) h.signer_key_id = internal::load_be32(envelope.data() + at.signer);
  if (recipient_suite) std::memcpy(h.ephemeral.data(), envelope.data() + kOffsetEphemeral, kEphemeralKeySize);
  h.timestamp_ms = internal::load_be64(envelope.data() + at.timestamp);
  std::memcpy(h.sender.data(), envelope.data() + at.nonce, kSenderIdSize);
  h.sequence = internal::load_be64(envelope.data() + at.sequence);
  if (aes_suite && h.sequence > kAes256GcmMaxSequence) return Error(Errc::malformed, "a suite 5 sequence above 2^32 - 1");
  return {};
}

Status internal::derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]) {
  const uint8_t* key = internal::KeyAccess::bytes(rule_key);
  if (key == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  return internal::blake2b_personal(out, kKeySize, ByteView(key, kKeySize), topic, kTopicKeyPersonal);
}

Status internal::derive_sender_subkey(uint8_t suite, const uint8_t topic_key[kKeySize], const SenderId& sender,
                                      uint8_t subkey[kKeySize]) {
  static_assert(internal::aes256gcm::kSubkeySize == kKeySize && internal::aead::kSubkeySize == kKeySize,
                "one subkey size for the resolver's cache");
  if (suite == kSuiteAes256Gcm) return internal::aes256gcm::derive_subkey(topic_key, sender.data(), subkey);
  return internal::aead::derive_subkey(topic_key, sender.data(), subkey);
}

Status internal::seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                  const EnvelopeHeader& header, ByteView payload, OutBuffer& out,
                                  const uint8_t* subkey) {
  if (topic.size() > kMaxTopicSize) {
    out.clear();
    return Errc::invalid_topic;
  }
  if (header.version == kEnvelopeVersionCompact) {
    return internal::seal_compact(topic_key, topic, header, payload, out, subkey);
  }
  const bool v1 = header.version == kEnvelopeVersionV1;
  if ((!v1 && header.version != kEnvelopeVersion) || (header.flags & ~kKnownFlags) != 0 ||
      (v1 && header.flags != 0) ||
      (header.suite != kSuiteXChaCha20Poly1305 &&
       ((header.suite != kSuiteSignedSender && header.suite != kSuiteSealedToRecipient &&
         header.suite != kSuiteSignedSealed && header.suite != kSuiteAes256Gcm) || v1)) ||
      (header.suite == kSuiteAes256Gcm && header.sequence > kAes256GcmMaxSequence)) {
    out.clear();
    return Error(Errc::invalid_argument, "no such envelope version, suite or flags");
  }
  const Layout& at = layout(header.version, header.suite);
  if (header.suite != kSuiteXChaCha20Poly1305 && payload.size() > kMaxEnvelopeSize - (at.header + kTagSize + at.trailer)) {
    out.clear();
    return Errc::payload_too_large;
  }
  uint8_t header_bytes[kMaxHeaderSize];
  write_header(header, at, header_bytes);
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  if (header.suite == kSuiteAes256Gcm) {
    // Suite 5: the whole header is associated data; the AES key is the
    // session's subkey, derived here if the caller holds none.
    const uint8_t* ad = internal::build_ad(header_bytes, at.header, topic, stack_ad, heap_ad, ad_size);
    return seal_aes(topic_key, header, ByteView(ad, ad_size), ByteView(header_bytes, at.header), payload, out, subkey);
  }
  const uint8_t* ad = internal::build_ad(header_bytes, at.nonce, topic, stack_ad, heap_ad, ad_size);
  return internal::aead::seal(topic_key, header_bytes + at.nonce, ByteView(ad, ad_size),
                              ByteView(header_bytes, at.header), payload, kMaxPayloadSize, out, subkey);
}

namespace internal {
Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                 const EnvelopeHeader& header, OutBuffer& out, const uint8_t* subkey) {
  if (header.version == kEnvelopeVersionCompact) {
    return open_compact_body(topic_key, topic, envelope, header.timestamp_ms, out, subkey);
  }
  const Layout& at = layout(header.version, header.suite);
  uint8_t stack_ad[kStackAdSize];
  std::vector<uint8_t> heap_ad;
  size_t ad_size = 0;
  if (header.suite == kSuiteAes256Gcm) {
    const uint8_t* ad = build_ad(envelope.data(), at.header, topic, stack_ad, heap_ad, ad_size);
    return open_aes(topic_key, header, ByteView(ad, ad_size),
                    ByteView(envelope.data() + at.header, envelope.size() - at.header), out, subkey);
  }
  const uint8_t* ad = build_ad(envelope.data(), at.nonce, topic, stack_ad, heap_ad, ad_size);
  return aead::open(topic_key, envelope.data() + at.nonce, ByteView(ad, ad_size),
                    ByteView(envelope.data() + at.header, envelope.size() - at.header - at.trailer), out, subkey);
}
}  // namespace internal

Status internal::open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                               uint64_t now_ms, std::vector<uint8_t>& out) {
  Result<EnvelopeHeader> header = parse_header(envelope);
  if (!header) {
    out.clear();
    return std::move(header).error();
  }
  if (topic.size() > kMaxTopicSize) {
    out.clear();
    return Errc::invalid_topic;
  }
  if (header->version == kEnvelopeVersionCompact) header->timestamp_ms = compact_timestamp_ms(header->timestamp_ms, now_ms);
  return internal::open_body(topic_key, topic, envelope, *header, out);
}

}  // namespace mqseal
