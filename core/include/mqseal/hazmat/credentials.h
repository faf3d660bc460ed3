// mqseal/hazmat/credentials.h: the deterministic core of CONNECT tokens, for
// known-answer tests only (target mqseal::hazmat; never included by
// mqseal/mqseal.h or any everyday header).
//
// Everyday code calls mqseal::make_connect_token (mqseal/credentials.h),
// which draws a fresh random nonce for every token. Every use is spelled
// mqseal::hazmat::, so that a search for "hazmat" finds all of them.
#ifndef MQSEAL_HAZMAT_CREDENTIALS_H_
#define MQSEAL_HAZMAT_CREDENTIALS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mqseal/credentials.h"
#include "mqseal/error.h"
#include "mqseal/key.h"

namespace mqseal::hazmat {

// The token make_connect_token would make with this nonce and this absolute
// expiry (seconds since 1970 UTC): a nonce used twice makes the second token
// a replay. invalid_argument for the names make_connect_token refuses (a
// username not of a provisioned one's form, a client ID that is not an MQTT
// string).
[[nodiscard]] Result<std::string> make_connect_token_with_nonce(
    const Key& device_secret, std::string_view username, std::string_view client_id,
    uint64_t expiry_s, const std::array<uint8_t, kTokenNonceSize>& nonce);

}  // namespace mqseal::hazmat

#endif  // MQSEAL_HAZMAT_CREDENTIALS_H_
