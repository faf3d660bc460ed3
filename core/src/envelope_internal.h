// Private: the header reader behind parse_header, for the open path, where a
// Result's construction and destruction showed up in the profile; and the
// deterministic core of the envelope, which Sealer and the topic key resolver
// use and mqseal::hazmat (mqseal/hazmat/envelope.h) exposes for known-answer
// tests. The contracts are those in mqseal/hazmat/envelope.h.
#ifndef MQSEAL_SRC_ENVELOPE_INTERNAL_H_
#define MQSEAL_SRC_ENVELOPE_INTERNAL_H_

#include "mqseal/envelope.h"

namespace mqseal::internal {

Status derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]);
Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                        const EnvelopeHeader& header, ByteView payload, std::vector<uint8_t>& out);
Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                     std::vector<uint8_t>& out);

// Errc{} (value 0) on success; malformed, unsupported_version or
// unsupported_suite otherwise.
Errc read_header(ByteView envelope, EnvelopeHeader& header) noexcept;

// Verifies and decrypts an envelope whose header read_header() accepted with
// this version: authentication_failed, or invalid_topic for a topic longer
// than MQTT allows. `out` is cleared on failure.
Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                 uint8_t version, std::vector<uint8_t>& out);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
