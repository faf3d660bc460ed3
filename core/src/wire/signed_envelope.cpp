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
                        std::vector<uint8_t>& envelope) {
  uint8_t message[kSignedMessageSize];
  uint8_t signature[kSignatureSize];
  Status s = signed_message(topic, ByteView(envelope), message);
  if (s) s = ed25519::sign(secret_key, ByteView(message, sizeof message), signature);
  if (!s) {
    envelope.clear();
    return s;
  }
  envelope.insert(envelope.end(), signature, signature + kSignatureSize);
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

}  // namespace mqseal::internal
