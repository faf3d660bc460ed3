// Private: the header reader behind parse_header, for the open path, where a
// Result's construction and destruction showed up in the profile.
#ifndef MQSEAL_SRC_ENVELOPE_INTERNAL_H_
#define MQSEAL_SRC_ENVELOPE_INTERNAL_H_

#include "mqseal/envelope.h"

namespace mqseal::internal {

// Errc{} (value 0) on success; malformed, unsupported_version or
// unsupported_suite otherwise.
Errc read_header(ByteView envelope, EnvelopeHeader& header) noexcept;

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_ENVELOPE_INTERNAL_H_
