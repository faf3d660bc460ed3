// Private: the body of open_with_key, for the Opener, which has parsed the
// header and validated the topic already.
#ifndef MQSEAL_SRC_ENVELOPE_INTERNAL_H_
#define MQSEAL_SRC_ENVELOPE_INTERNAL_H_

#include "mqseal/envelope.h"

namespace mqseal::internal {

// Verifies and decrypts an envelope whose header parse_header() accepted with
// this version, for a topic of at most kMaxTopicSize bytes, under
// aead::open's contract: invalid_argument (overlap, `out` untouched), or
// authentication_failed (`out` cleared).
[[nodiscard]] Status open_body(const uint8_t topic_key[kKeySize], std::string_view topic,
                               ByteView envelope, uint8_t version, std::vector<uint8_t>& out);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
