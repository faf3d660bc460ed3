// Suite 2's signature (docs/SPEC.md, section 4a): encrypt, then sign.
//
//   digest = BLAKE2b-512(no key, personal "mqseal signature",
//                        u16be(len(T)) || T || envelope[0 .. len - 64))
//   signature = Ed25519-Sign(signer's secret key, kSignedDomain || digest)
//
// Hashing first keeps both ends from copying the envelope (Ed25519 signs one
// contiguous message; the Opener's envelope is the caller's const buffer) and
// costs one BLAKE2b pass, cheaper than the SHA-512 passes Ed25519 would make
// over a long message itself (docs/PERFORMANCE.md).
//
// Suite 4 (section 4c) signs first, then seals: the signature and
// signer_key_id travel inside the ciphertext, so only the recipient learns
// who signed; the header (recipient key ID, ephemeral key, sender,
// sequence) is signed, so a recipient cannot re-seal a device's signed
// payload to someone else as if the device had.
#include <cstring>

#include "crypto/blake2b.h"
#include "crypto/signature.h"
#include "wire/envelope_internal.h"
#include "base/sodium_util.h"

namespace mqseal::internal {

namespace {

constexpr Blake2bPersonal kSignedDigestPersonal = "mqseal signature";
// What the signature covers, before the digest: the envelope format and
// suite, so that no other message an mqseal signing key ever signs (a rekey
// message, say) can be taken for an envelope's, or the other way round.
constexpr char kSignedDomain[] = "mqseal envelope v2 suite 2 signature";
constexpr size_t kSignedDomainSize = sizeof kSignedDomain - 1;  // no terminator
constexpr size_t kSignedMessageSize = kSignedDomainSize + kSignedDigestSize;
constexpr size_t kTopicLengthSize = 2;
// Suite 4 (section 4c): sign, then seal; the same digest personalisation,
// its own domain string.
constexpr char kSignedSealedDomain[] = "mqseal envelope v2 suite 4 signature";
constexpr size_t kSealedMessageSize = sizeof kSignedSealedDomain - 1 + kSignedDigestSize;
static_assert(kSealedMessageSize == kSignedMessageSize, "both suites sign 100 bytes");

// kSignedSealedDomain || BLAKE2b-512(u16be(len(T)) || T || header ||
// signer_key_id || payload), inner = signer_key_id || signature || payload.
Status sealed_message(std::string_view topic, const uint8_t header[kHeaderSizeRecipient], const uint8_t* inner,
                      size_t inner_size, uint8_t message[kSealedMessageSize]) {
  const uint8_t length[kTopicLengthSize] = {static_cast<uint8_t>(topic.size() >> 8),
                                            static_cast<uint8_t>(topic.size())};
  const ByteView parts[] = {ByteView(length, sizeof length), ByteView(topic), ByteView(header, kHeaderSizeRecipient),
                            ByteView(inner, kSignerKeyIdSize),
                            ByteView(inner + kSignedSealedInnerSize, inner_size - kSignedSealedInnerSize)};
  std::memcpy(message, kSignedSealedDomain, sizeof kSignedSealedDomain - 1);
  return blake2b_personal_parts(message + sizeof kSignedSealedDomain - 1, kSignedDigestSize, parts, 5,
                                kSignedDigestPersonal);
}

static_assert(kSignatureSize == ed25519::kSignatureSize, "signature size");

// kSignedDomain || digest of (topic, signed part) into `message`.
Status signed_message(std::string_view topic, ByteView signed_part, uint8_t message[kSignedMessageSize]) {
  const uint8_t length[kTopicLengthSize] = {static_cast<uint8_t>(topic.size() >> 8),
                                            static_cast<uint8_t>(topic.size())};
  const ByteView parts[] = {ByteView(length, sizeof length), ByteView(topic), signed_part};
  std::memcpy(message, kSignedDomain, kSignedDomainSize);
  return blake2b_personal_parts(message + kSignedDomainSize, kSignedDigestSize, parts, 3,
                                kSignedDigestPersonal);
}

}  // namespace

Status append_signature(const uint8_t secret_key[ed25519::kSecretKeySize], std::string_view topic,
                        OutBuffer& envelope) {
  const size_t signed_size = envelope.size();
  uint8_t message[kSignedMessageSize];
  uint8_t signature[kSignatureSize];
  Status s = signed_message(topic, ByteView(envelope.data(), signed_size), message);
  if (s) s = ed25519::sign(secret_key, ByteView(message, sizeof message), signature);
  if (s && !envelope.take(signed_size + kSignatureSize)) s = OutBuffer::too_small();
  if (!s) {
    envelope.clear();
    return s;
  }
  std::memcpy(envelope.data() + signed_size, signature, kSignatureSize);
  return {};
}

Status verify_signature(const uint8_t public_key[ed25519::kPublicKeySize], std::string_view topic,
                        ByteView envelope) {
  if (envelope.size() < kEnvelopeOverheadSigned) return Errc::malformed;
  const size_t signed_size = envelope.size() - kSignatureSize;
  uint8_t message[kSignedMessageSize];
  if (Status s = signed_message(topic, envelope.subview(0, signed_size), message); !s) return s;
  return ed25519::verify(public_key, ByteView(message, sizeof message), envelope.data() + signed_size);
}

void encode_sealed_header(const EnvelopeHeader& h, uint8_t out[kHeaderSizeRecipient]) {
  out[0] = h.version;
  out[1] = h.suite;
  out[2] = h.flags;
  store_be32(out + 3, h.key_id);
  store_be64(out + 7, h.timestamp_ms);
  std::memcpy(out + kAssociatedHeaderSize, h.ephemeral.data(), kEphemeralKeySize);
  std::memcpy(out + kAssociatedHeaderSizeRecipient, h.sender.data(), kSenderIdSize);
  store_be64(out + kAssociatedHeaderSizeRecipient + kSenderIdSize, h.sequence);
}

Status sign_sealed(const uint8_t secret_key[ed25519::kSecretKeySize], std::string_view topic,
                   const uint8_t header[kHeaderSizeRecipient], uint8_t* inner, size_t inner_size) {
  uint8_t message[kSealedMessageSize];
  if (Status s = sealed_message(topic, header, inner, inner_size, message); !s) return s;
  return ed25519::sign(secret_key, ByteView(message, sizeof message), inner + kSignerKeyIdSize);
}

Status verify_sealed(const uint8_t public_key[ed25519::kPublicKeySize], std::string_view topic,
                     const uint8_t header[kHeaderSizeRecipient], ByteView inner) {
  if (inner.size() < kSignedSealedInnerSize) return Errc::malformed;
  uint8_t message[kSealedMessageSize];
  if (Status s = sealed_message(topic, header, inner.data(), inner.size(), message); !s) return s;
  return ed25519::verify(public_key, ByteView(message, sizeof message), inner.data() + kSignerKeyIdSize);
}

}  // namespace mqseal::internal
