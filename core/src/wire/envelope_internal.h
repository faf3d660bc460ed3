// Private: the deterministic core of the envelope, which Sealer and the topic
// key resolver use and mqseal::hazmat (mqseal/hazmat/envelope.h) exposes for
// known-answer tests (the contracts are those in that header); and the body of
// open_with_key, for the Opener, which has parsed the header and validated the
// topic already.
#ifndef MQSEAL_SRC_ENVELOPE_INTERNAL_H_
#define MQSEAL_SRC_ENVELOPE_INTERNAL_H_

#include "mqseal/envelope.h"

namespace mqseal::internal {

[[nodiscard]] Status derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]);
[[nodiscard]] Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload, std::vector<uint8_t>& out);
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, std::vector<uint8_t>& out);

// Verifies and decrypts an envelope whose header parse_header() accepted as
// `header`, for a topic of at most kMaxTopicSize bytes, under aead::open's
// contract: invalid_argument (overlap, `out` untouched), or
// authentication_failed (`out` cleared). Suite 2: the AEAD part only (the
// signature is verify_signed's; the Opener calls that first).
[[nodiscard]] Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                               ByteView envelope, const EnvelopeHeader& header, std::vector<uint8_t>& out);

// Suite 2 (docs/SPEC.md, section 4a; core/src/wire/signed_envelope.cpp).
// The 64-byte message suite 2 signs is kSignedDomain || digest, where digest =
// BLAKE2b-512(personal "mqseal signature", u16be(len(topic)) || topic ||
// envelope without its signature).
inline constexpr size_t kSignedDigestSize = 64;
// seal_with_header() wrote a suite 2 envelope (its header, ciphertext and tag)
// into `envelope`: appends the signature under `secret_key` (libsodium's
// 64-byte Ed25519 secret key). crypto_failure, `envelope` cleared.
[[nodiscard]] Status append_signature(const uint8_t secret_key[64], std::string_view topic,
                                      std::vector<uint8_t>& envelope);
// authentication_failed unless the last kSignatureSize bytes of a suite 2
// envelope (parse_header() accepted it) sign the rest for `topic` under
// `public_key`.
[[nodiscard]] Status verify_signature(const uint8_t public_key[32], std::string_view topic, ByteView envelope);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
