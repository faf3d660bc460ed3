#include "mqseal/keyring.h"

#include <sodium.h>

#include <memory>
#include <utility>

#include "keys/keyring_access.h"
#include "keys/keyring_impl.h"
#include "keys/key_name.h"
#include "base/sodium_util.h"

namespace mqseal {

const char* name(KeyState state) noexcept {
  switch (state) {
    case KeyState::primary: return "primary";
    case KeyState::active: return "active";
    case KeyState::retired: return "retired";
  }
  return "unknown";
}

Keyring::Keyring() : impl_(std::make_unique<Impl>()) {}
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;
Keyring::~Keyring() = default;

Status Keyring::add_with_id(std::string_view name, KeyId id, Key key,
                            std::optional<PassphraseParams> passphrase) {
  if (!internal::valid_key_name(name)) {
    return Error(Errc::invalid_argument, "key names are 1-64 characters of [A-Za-z0-9_.-]");
  }
  if (id == 0) return Error(Errc::invalid_argument, "key ID 0 is reserved");
  if (impl_->find(id) != nullptr) return Error(Errc::invalid_argument, "key ID already in use");
  if (impl_->entries.size() >= kMaxKeyringKeys) {
    return Error(Errc::invalid_argument, "keyring is full");
  }
  Impl::Entry entry;
  entry.name = std::string(name);
  entry.id = id;
  entry.state = impl_->primary_of(name) == nullptr ? KeyState::primary : KeyState::active;
  entry.key = std::move(key);
  entry.passphrase = passphrase;
  impl_->entries.push_back(std::move(entry));
  return {};
}

Result<KeyId> Keyring::add(std::string_view name, Key key) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  KeyId id = 0;
  do {
    id = randombytes_random();
  } while (id == 0 || impl_->find(id) != nullptr);
  if (Status s = add_with_id(name, id, std::move(key)); !s) return s.error();
  return id;
}

Result<KeyId> Keyring::generate(std::string_view name) {
  Result<Key> key = Key::generate();
  if (!key) return std::move(key).error();
  return add(name, std::move(*key));
}

Status Keyring::promote(KeyId id) {
  Impl::Entry* entry = impl_->find(id);
  if (entry == nullptr) return Errc::unknown_key;
  if (entry->state == KeyState::retired) return Errc::key_retired;
  if (Impl::Entry* old = impl_->primary_of(entry->name)) old->state = KeyState::active;
  entry->state = KeyState::primary;
  return {};
}

Status Keyring::retire(KeyId id) {
  Impl::Entry* entry = impl_->find(id);
  if (entry == nullptr) return Errc::unknown_key;
  if (entry->state == KeyState::primary) {
    return Error(Errc::invalid_argument, "cannot retire a primary key: promote another first");
  }
  entry->state = KeyState::retired;
  entry->key.reset();  // Key's destructor wipes the bytes
  return {};
}

Result<KeyId> Keyring::primary(std::string_view name) const {
  const Impl::Entry* entry = impl_->primary_of(name);
  if (entry == nullptr) return Errc::no_primary_key;
  return entry->id;
}

Result<KeyInfo> Keyring::info(KeyId id) const {
  const Impl::Entry* entry = impl_->find(id);
  if (entry == nullptr) return Errc::unknown_key;
  return KeyInfo{entry->name, entry->id, entry->state, entry->passphrase};
}

std::vector<KeyInfo> Keyring::list() const {
  std::vector<KeyInfo> out;
  out.reserve(impl_->entries.size());
  for (const Impl::Entry& e : impl_->entries) out.push_back({e.name, e.id, e.state, e.passphrase});
  return out;
}

size_t Keyring::size() const noexcept { return impl_->entries.size(); }

Result<Keyring> Keyring::clone() const {
  Keyring copy;
  for (const Impl::Entry& e : impl_->entries) {
    Impl::Entry c;
    c.name = e.name;
    c.id = e.id;
    c.state = e.state;
    c.passphrase = e.passphrase;
    if (e.key) {
      Result<Key> k = e.key->clone();
      if (!k) return std::move(k).error();
      c.key = std::move(*k);
    }
    copy.impl_->entries.push_back(std::move(c));
  }
  return copy;
}

internal::KeyringEntryView internal::KeyringAccess::find(const Keyring& keyring, KeyId id) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->find(id);
  if (e == nullptr) return {};
  return {&e->name, e->state, e->key ? &*e->key : nullptr};
}

}  // namespace mqseal
