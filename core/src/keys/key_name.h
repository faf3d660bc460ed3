// Private: what a key name may be, for the keyring, the topic policy and the
// record cipher (docs/SPEC.md, "Keyring file").
#ifndef MQSEAL_SRC_KEYS_KEY_NAME_H_
#define MQSEAL_SRC_KEYS_KEY_NAME_H_

#include <string_view>

namespace mqseal::internal {

// 1..kMaxKeyNameSize (mqseal/keyring.h) characters of [A-Za-z0-9_.-].
bool valid_key_name(std::string_view name) noexcept;

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_KEYS_KEY_NAME_H_
