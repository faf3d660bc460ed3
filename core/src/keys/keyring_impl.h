// Private: the inside of a Keyring, shared by keyring.cpp and keyring_file.cpp.
#ifndef MQSEAL_SRC_KEYRING_IMPL_H_
#define MQSEAL_SRC_KEYRING_IMPL_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/keyring.h"

namespace mqseal {

struct Keyring::Impl {
  struct Entry {
    std::string name;
    KeyId id = 0;
    KeyState state = KeyState::active;
    std::optional<Key> key;  // empty once retired
    std::optional<PassphraseParams> passphrase;
  };
  std::vector<Entry> entries;

  Entry* find(KeyId id) {
    for (Entry& e : entries) {
      if (e.id == id) return &e;
    }
    return nullptr;
  }
  const Entry* find(KeyId id) const { return const_cast<Impl*>(this)->find(id); }
  Entry* primary_of(std::string_view name) {
    for (Entry& e : entries) {
      if (e.state == KeyState::primary && e.name == name) return &e;
    }
    return nullptr;
  }
};

}  // namespace mqseal

#endif  // MQSEAL_SRC_KEYRING_IMPL_H_
