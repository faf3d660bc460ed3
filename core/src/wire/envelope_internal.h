// Private: the deterministic core of the envelope, which Sealer and the topic
// key resolver use and mqseal::hazmat (mqseal/hazmat/envelope.h) exposes for
// known-answer tests (the contracts are those in that header); and the body of
// open_with_key, for the Opener, which has parsed the header and validated the
// topic already.
#ifndef MQSEAL_SRC_ENVELOPE_INTERNAL_H_
#define MQSEAL_SRC_ENVELOPE_INTERNAL_H_

#include "base/out_buffer.h"
#include "mqseal/envelope.h"

namespace mqseal::internal {

[[nodiscard]] Status derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]);
// Into a vector or caller memory (base/out_buffer.h), under aead::seal's contract.
// `subkey`, for seal_with_header and open_body: null, or the XChaCha20
// subkey of the envelope's nonce, HChaCha20(topic_key, header.sender) (every
// version and suite starts its nonce with the 16-byte sender; v3's is its
// session and 8 zero bytes), which the caller keeps per sender (crypto/aead.h).
[[nodiscard]] Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload, OutBuffer& out,
                                      const uint8_t* subkey = nullptr);
[[nodiscard]] inline Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                             const EnvelopeHeader& header, ByteView payload,
                                             std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return seal_with_header(topic_key, topic, header, payload, to);
}
// The subkey a sender's envelopes of `suite` under `topic_key` share, which
// seal_with_header and open_body take as `subkey`: suites 1 and 2 (and v3),
// HChaCha20(topic_key, sender), the XChaCha20 subkey; suite 5, the session's
// AES-256 key (crypto/aes256gcm.h: unsupported_suite where the CPU lacks
// AES-NI). 32 bytes either way.
[[nodiscard]] Status derive_sender_subkey(uint8_t suite, const uint8_t topic_key[kKeySize], const SenderId& sender,
                                          uint8_t subkey[kKeySize]);
// v3: the full time is read against `now_ms` (compact_timestamp_ms); v1/v2
// ignore it.
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, uint64_t now_ms, std::vector<uint8_t>& out);

// Verifies and decrypts an envelope whose header parse_header() accepted as
// `header`, for a topic of at most kMaxTopicSize bytes, under aead::open's
// contract: invalid_argument (overlap, `out` untouched; caller memory too
// small, `out` cleared), or authentication_failed (`out` cleared). Suite 2:
// the AEAD part only (the signature is verify_signature's; the Opener calls
// that first). v3: header.timestamp_ms must be the full time as the receiver
// reads it (compact_timestamp_ms), not the parsed field.
[[nodiscard]] Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                               ByteView envelope, const EnvelopeHeader& header, OutBuffer& out,
                               const uint8_t* subkey = nullptr);
[[nodiscard]] inline Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      ByteView envelope, const EnvelopeHeader& header,
                                      std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return open_body(topic_key, topic, envelope, header, to);
}

// The associated data of every version: header[0..header_ad_size) ||
// u16be(len(topic)) || topic, in `stack` (kStackAdSize bytes) if it fits,
// else in `heap`; `ad_size` gets its size.
inline constexpr size_t kTopicLengthSize = 2;
// Associated data up to this size is built on the stack; longer topics
// (rare: MQTT allows 65535 bytes) use the heap.
inline constexpr size_t kStackAdSize = 512;
const uint8_t* build_ad(const uint8_t* header, size_t header_ad_size, std::string_view topic, uint8_t* stack,
                        std::vector<uint8_t>& heap, size_t& ad_size);

// parse_header() into `header`, which must be default-constructed (the
// fields a version or suite does not have are left as they are): the
// Opener's way, which spares a copy of the header per message. On failure
// `header` holds whatever was read before the error.
[[nodiscard]] Status parse_header_into(ByteView envelope, EnvelopeHeader& header);

// Envelope v3, compact (docs/SPEC.md, section 4d; core/src/wire/compact_envelope.cpp).
// parse_header_into's work once the first byte says v3: malformed (shorter
// than kEnvelopeOverheadCompact, unknown flags).
[[nodiscard]] Status parse_compact_header(ByteView envelope, EnvelopeHeader& header);
// seal_with_header for header.version kEnvelopeVersionCompact:
// invalid_argument unless suite is 1, flags known, sequence at most
// kCompactMaxSequence and sender's last 8 bytes zero.
[[nodiscard]] Status seal_compact(const uint8_t topic_key[kKeySize], std::string_view topic,
                                  const EnvelopeHeader& header, ByteView payload, OutBuffer& out,
                                  const uint8_t* subkey);
// open_body for a v3 envelope, whose full time the receiver read as
// `timestamp_ms` (compact_timestamp_ms): authentication_failed unless it is
// the sealer's, to the second.
[[nodiscard]] Status open_compact_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                                       ByteView envelope, uint64_t timestamp_ms, OutBuffer& out,
                                       const uint8_t* subkey);

// Suite 2 (docs/SPEC.md, section 4a; core/src/wire/signed_envelope.cpp).
// The 64-byte message suite 2 signs is kSignedDomain || digest, where digest =
// BLAKE2b-512(personal "mqseal signature", u16be(len(topic)) || topic ||
// envelope without its signature).
inline constexpr size_t kSignedDigestSize = 64;
// seal_with_header() wrote a suite 2 envelope (its header, ciphertext and tag)
// into `envelope`: appends the signature under `secret_key` (libsodium's
// 64-byte Ed25519 secret key). crypto_failure, or invalid_argument when
// caller memory has no room for the signature (needed() says how much):
// `envelope` cleared.
[[nodiscard]] Status append_signature(const uint8_t secret_key[64], std::string_view topic,
                                      OutBuffer& envelope);
[[nodiscard]] inline Status append_signature(const uint8_t secret_key[64], std::string_view topic,
                                             std::vector<uint8_t>& envelope) {
  OutBuffer to(envelope);
  return append_signature(secret_key, topic, to);
}
// authentication_failed unless the last kSignatureSize bytes of a suite 2
// envelope (parse_header() accepted it) sign the rest for `topic` under
// `public_key`.
[[nodiscard]] Status verify_signature(const uint8_t public_key[32], std::string_view topic, ByteView envelope);

// Suite 4 (docs/SPEC.md, section 4c; core/src/wire/signed_envelope.cpp):
// sign, then seal. `header` is the envelope's first kHeaderSizeRecipient
// bytes as they will be (encode_sealed_header) or are on the wire.
void encode_sealed_header(const EnvelopeHeader& header, uint8_t out[kHeaderSizeRecipient]);
// `inner` = signer_key_id || signature || payload: writes its signature
// (bytes 4 to 68) over topic, header, signer_key_id and payload.
[[nodiscard]] Status sign_sealed(const uint8_t secret_key[64], std::string_view topic,
                                 const uint8_t header[kHeaderSizeRecipient], uint8_t* inner, size_t inner_size);
// authentication_failed unless `inner` (at least kSignedSealedInnerSize
// bytes) carries a valid signature under `public_key`.
[[nodiscard]] Status verify_sealed(const uint8_t public_key[32], std::string_view topic,
                                   const uint8_t header[kHeaderSizeRecipient], ByteView inner);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
