// Private: how Sealer and Opener look keys up in a Keyring.
#ifndef MQSEAL_SRC_KEYRING_ACCESS_H_
#define MQSEAL_SRC_KEYRING_ACCESS_H_

#include <string>

#include "mqseal/keyring.h"

namespace mqseal::internal {

struct KeyringEntryView {
  const std::string* name = nullptr;
  KeyState state = KeyState::retired;
  const Key* key = nullptr;  // null when retired
};

struct KeyringAccess {
  // The entry with this ID, or a view with a null name if there is none.
  static KeyringEntryView find(const Keyring& keyring, KeyId id) noexcept;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_KEYRING_ACCESS_H_
