// Private: the deterministic core of make_connect_token, which
// mqseal::hazmat (mqseal/hazmat/credentials.h) exposes for known-answer
// tests. The contract is the one in mqseal/hazmat/credentials.h.
#ifndef MQSEAL_SRC_CREDENTIALS_INTERNAL_H_
#define MQSEAL_SRC_CREDENTIALS_INTERNAL_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mqseal/credentials.h"

namespace mqseal::internal {

Result<std::string> make_connect_token_with_nonce(const Key& device_secret, std::string_view username,
                                                  std::string_view client_id, uint64_t expiry_s,
                                                  const std::array<uint8_t, kTokenNonceSize>& nonce);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_CREDENTIALS_INTERNAL_H_
