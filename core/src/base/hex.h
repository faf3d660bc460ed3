// Private: hex text as the keyring and credentials files and the CLI write it
// (lower case) and read it (exactly two digits per byte, either case).
#ifndef MQSEAL_SRC_BASE_HEX_H_
#define MQSEAL_SRC_BASE_HEX_H_

#include <string>
#include <string_view>

#include "mqseal/bytes.h"

namespace mqseal::internal {

std::string hex_encode(ByteView bytes);  // not for secret bytes: see hex_append
// Appends the hex text to `out` and nowhere else: for secret bytes, into an
// `out` reserved so that it does not reallocate, and wiped by its owner.
void hex_append(std::string& out, ByteView bytes);
// false unless `text` is exactly out_size * 2 hex digits (out may be partly written).
[[nodiscard]] bool hex_decode(std::string_view text, uint8_t* out, size_t out_size);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_HEX_H_
