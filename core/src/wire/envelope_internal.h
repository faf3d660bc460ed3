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
[[nodiscard]] Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload, OutBuffer& out);
[[nodiscard]] inline Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                             const EnvelopeHeader& header, ByteView payload,
                                             std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return seal_with_header(topic_key, topic, header, payload, to);
}
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, std::vector<uint8_t>& out);

// Verifies and decrypts an envelope whose header parse_header() accepted with
// this version, for a topic of at most kMaxTopicSize bytes, under
// aead::open's contract: invalid_argument (overlap, `out` untouched; caller
// memory too small, `out` cleared), or authentication_failed (`out` cleared).
[[nodiscard]] Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                               ByteView envelope, uint8_t version, OutBuffer& out);
[[nodiscard]] inline Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      ByteView envelope, uint8_t version, std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return open_body(topic_key, topic, envelope, version, to);
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
