#include "mqseal/keyring.h"

#include <sodium.h>

#include <memory>
#include <utility>

#include "crypto/signature.h"
#include "crypto/x25519.h"
#include "keys/key_access.h"
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

const char* name(KeyKind kind) noexcept {
  switch (kind) {
    case KeyKind::symmetric: return "symmetric";
    case KeyKind::signing: return "signing";
    case KeyKind::trusted_signer: return "trusted_signer";
    case KeyKind::recipient: return "recipient";
    case KeyKind::recipient_public: return "recipient_public";
  }
  return "unknown";
}

static_assert(kSignerPublicKeySize == internal::ed25519::kPublicKeySize, "public key size");
static_assert(kSigningSeedSize == internal::ed25519::kSeedSize && kSigningSeedSize == kKeySize,
              "a seed is held as a Key");

Status Keyring::Impl::check_new(std::string_view name, KeyId id) const {
  if (!internal::valid_key_name(name)) {
    return Error(Errc::invalid_argument, "key and signer names are 1-64 characters of [A-Za-z0-9_.-]");
  }
  if (id == 0) return Error(Errc::invalid_argument, "key ID 0 is reserved");
  if (find(id) != nullptr) return Error(Errc::invalid_argument, "key ID already in use");
  if (entries.size() >= kMaxKeyringKeys) return Error(Errc::invalid_argument, "keyring is full");
  return {};
}

Result<Keyring::Impl::Entry> Keyring::Impl::signing_entry(const uint8_t seed[kSigningSeedSize]) {
  Result<internal::Secret> secret = internal::Secret::allocate(internal::ed25519::kSecretKeySize);
  if (!secret) return std::move(secret).error();
  Entry entry;
  entry.kind = KeyKind::signing;
  SignerPublicKey pk{};
  if (Status s = internal::ed25519::keypair_from_seed(seed, pk.data(), secret->data()); !s) return s.error();
  entry.public_key = pk;
  entry.signing = std::move(*secret);
  return entry;
}

Result<Keyring::Impl::Entry> Keyring::Impl::recipient_entry(const uint8_t secret[kRecipientSecretKeySize]) {
  Result<internal::Secret> copy = internal::Secret::copy_of(ByteView(secret, kRecipientSecretKeySize));
  if (!copy) return std::move(copy).error();
  Entry entry;
  entry.kind = KeyKind::recipient;
  SignerPublicKey pk{};
  if (Status s = internal::x25519::public_of(secret, pk.data()); !s) return s.error();
  // A scalar whose public key is low order (clamping makes that impossible)
  // or the zero scalar would seal to nobody: refused like a bad public key.
  if (!internal::x25519::valid_public_key(pk.data())) return Error(Errc::invalid_argument, "unusable X25519 secret");
  entry.public_key = pk;
  entry.signing = std::move(*copy);
  return entry;
}

Keyring::Keyring() : impl_(std::make_unique<Impl>()) {}
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;
Keyring::~Keyring() = default;

Status Keyring::add_with_id(std::string_view name, KeyId id, Key key,
                            std::optional<PassphraseParams> passphrase) {
  if (Status s = impl_->check_new(name, id); !s) return s;
  Impl::Entry entry;
  entry.name = std::string(name);
  entry.id = id;
  entry.state = impl_->primary_of(name) == nullptr ? KeyState::primary : KeyState::active;
  entry.key = std::move(key);
  entry.passphrase = passphrase;
  impl_->append(std::move(entry));
  return {};
}

KeyId Keyring::Impl::fresh_id() const {
  KeyId id = 0;
  do {
    id = randombytes_random();
  } while (id == 0 || find(id) != nullptr);
  return id;
}

Result<KeyId> Keyring::add(std::string_view name, Key key) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  const KeyId id = impl_->fresh_id();
  if (Status s = add_with_id(name, id, std::move(key)); !s) return s.error();
  return id;
}

Status Keyring::add_signing_key_with_id(std::string_view signer, KeyId id, const Key& seed) {
  if (Status s = internal::ensure_sodium(); !s) return s;
  if (Status s = impl_->check_new(signer, id); !s) return s;
  const uint8_t* seed_bytes = internal::KeyAccess::bytes(seed);
  if (seed_bytes == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  Result<Impl::Entry> entry = Impl::signing_entry(seed_bytes);
  if (!entry) return std::move(entry).error();
  entry->name = std::string(signer);
  entry->id = id;
  entry->state = impl_->primary_of(signer, KeyKind::signing) == nullptr ? KeyState::primary : KeyState::active;
  impl_->append(std::move(*entry));
  return {};
}

Result<KeyId> Keyring::generate_signing_key(std::string_view signer) {
  Result<Key> seed = Key::generate();
  if (!seed) return std::move(seed).error();
  const KeyId id = impl_->fresh_id();
  if (Status s = add_signing_key_with_id(signer, id, *seed); !s) return s.error();
  return id;
}

Status Keyring::add_trusted_signer(std::string_view signer, KeyId id, ByteView public_key) {
  if (Status s = internal::ensure_sodium(); !s) return s;
  if (public_key.size() != kSignerPublicKeySize) {
    return Error(Errc::invalid_argument, "an Ed25519 public key is exactly 32 bytes");
  }
  if (!internal::ed25519::valid_public_key(public_key.data())) {
    return Error(Errc::invalid_argument, "not a valid Ed25519 public key");
  }
  if (Status s = impl_->check_new(signer, id); !s) return s;
  Impl::Entry entry;
  entry.name = std::string(signer);
  entry.id = id;
  entry.kind = KeyKind::trusted_signer;
  entry.state = KeyState::active;
  SignerPublicKey pk{};
  std::copy(public_key.begin(), public_key.end(), pk.begin());
  entry.public_key = pk;
  impl_->append(std::move(entry));
  return {};
}

Status Keyring::add_retired_trusted_signer(std::string_view signer, KeyId id) {
  if (Status s = impl_->check_new(signer, id); !s) return s;
  Impl::Entry entry;
  entry.name = std::string(signer);
  entry.id = id;
  entry.kind = KeyKind::trusted_signer;
  entry.state = KeyState::retired;  // no public key: nothing verifies with it
  impl_->append(std::move(entry));
  return {};
}

Status Keyring::add_recipient_key_with_id(std::string_view recipient, KeyId id, const Key& secret) {
  if (Status s = internal::ensure_sodium(); !s) return s;
  if (Status s = impl_->check_new(recipient, id); !s) return s;
  const uint8_t* bytes = internal::KeyAccess::bytes(secret);
  if (bytes == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  Result<Impl::Entry> entry = Impl::recipient_entry(bytes);
  if (!entry) return std::move(entry).error();
  entry->name = std::string(recipient);
  entry->id = id;
  entry->state =
      impl_->primary_of(recipient, KeyKind::recipient) == nullptr ? KeyState::primary : KeyState::active;
  impl_->append(std::move(*entry));
  return {};
}

Result<KeyId> Keyring::generate_recipient_key(std::string_view recipient) {
  Result<Key> secret = Key::generate();  // 32 CSPRNG bytes: an X25519 scalar (clamped when used)
  if (!secret) return std::move(secret).error();
  const KeyId id = impl_->fresh_id();
  if (Status s = add_recipient_key_with_id(recipient, id, *secret); !s) return s.error();
  return id;
}

Status Keyring::add_recipient_public(std::string_view recipient, KeyId id, ByteView public_key) {
  if (Status s = internal::ensure_sodium(); !s) return s;
  if (public_key.size() != kRecipientPublicKeySize) {
    return Error(Errc::invalid_argument, "an X25519 public key is exactly 32 bytes");
  }
  if (!internal::x25519::valid_public_key(public_key.data())) {
    return Error(Errc::invalid_argument, "a low-order X25519 public key");
  }
  if (Status s = impl_->check_new(recipient, id); !s) return s;
  Impl::Entry entry;
  entry.name = std::string(recipient);
  entry.id = id;
  entry.kind = KeyKind::recipient_public;
  entry.state =
      impl_->primary_of(recipient, KeyKind::recipient_public) == nullptr ? KeyState::primary : KeyState::active;
  SignerPublicKey pk{};
  std::copy(public_key.begin(), public_key.end(), pk.begin());
  entry.public_key = pk;
  impl_->append(std::move(entry));
  return {};
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
  if (entry->kind == KeyKind::trusted_signer) {
    return Error(Errc::invalid_argument, "a trusted signer's key only verifies: nothing to promote");
  }
  if (Impl::Entry* old = impl_->primary_of(entry->name, entry->kind)) old->state = KeyState::active;
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
  entry->signing = internal::Secret();  // sodium_free wipes them
  entry->public_key.reset();
  return {};
}

Result<KeyId> Keyring::primary(std::string_view name) const {
  const Impl::Entry* entry = impl_->primary_of(name);
  if (entry == nullptr) return Errc::no_primary_key;
  return entry->id;
}

Result<KeyId> Keyring::primary_signing_key(std::string_view signer) const {
  const Impl::Entry* entry = impl_->primary_of(signer, KeyKind::signing);
  if (entry == nullptr) return Errc::no_primary_key;
  return entry->id;
}

Result<SignerPublicKey> Keyring::public_key(KeyId id) const {
  const Impl::Entry* entry = impl_->find(id);
  if (entry == nullptr || entry->kind == KeyKind::symmetric) return Errc::unknown_key;
  if (!entry->public_key) return Errc::key_retired;  // only a retired key has none
  return *entry->public_key;
}

KeyInfo Keyring::Impl::info_of(const Entry& e) {
  return KeyInfo{e.name, e.id, e.state, e.passphrase, e.kind, e.public_key};
}

Result<KeyInfo> Keyring::info(KeyId id) const {
  const Impl::Entry* entry = impl_->find(id);
  if (entry == nullptr) return Errc::unknown_key;
  return Impl::info_of(*entry);
}

std::vector<KeyInfo> Keyring::list() const {
  std::vector<KeyInfo> out;
  out.reserve(impl_->entries.size());
  for (const Impl::Entry& e : impl_->entries) out.push_back(Impl::info_of(e));
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
    c.kind = e.kind;
    c.public_key = e.public_key;
    if (e.key) {
      Result<Key> k = e.key->clone();
      if (!k) return std::move(k).error();
      c.key = std::move(*k);
    }
    if (e.signing.data() != nullptr) {
      Result<internal::Secret> sk = e.signing.clone();
      if (!sk) return std::move(sk).error();
      c.signing = std::move(*sk);
    }
    copy.impl_->append(std::move(c));
  }
  return copy;
}

internal::KeyringEntryView internal::KeyringAccess::find(const Keyring& keyring, KeyId id) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->find(id);
  // A signing or trusted key's ID is no symmetric key: never derive from a seed.
  if (e == nullptr || e->kind != KeyKind::symmetric) return {};
  return {&e->name, e->state, e->key ? &*e->key : nullptr};
}

internal::SignerView internal::KeyringAccess::find_signer(const Keyring& keyring, KeyId id) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->find(id);
  // Only Ed25519 keys verify: never a symmetric key, never an X25519 key.
  if (e == nullptr || (e->kind != KeyKind::signing && e->kind != KeyKind::trusted_signer)) return {};
  return {&e->name, e->state, e->public_key ? e->public_key->data() : nullptr};
}

internal::SigningKeyView internal::KeyringAccess::primary_signing(const Keyring& keyring,
                                                                  std::string_view signer) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->primary_of(signer, KeyKind::signing);
  if (e == nullptr) return {};
  return {e->id, e->signing.data()};
}

internal::SigningKeyView internal::KeyringAccess::signing_key(const Keyring& keyring, KeyId id) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->find(id);
  if (e == nullptr || e->kind != KeyKind::signing || e->state == KeyState::retired) return {};
  return {e->id, e->signing.data()};
}

internal::RecipientView internal::KeyringAccess::find_recipient(const Keyring& keyring, KeyId id) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->find(id);
  if (e == nullptr || e->kind != KeyKind::recipient) return {};
  return {e->id, &e->name, e->state, e->signing.data(), e->public_key ? e->public_key->data() : nullptr};
}

internal::RecipientView internal::KeyringAccess::sealing_recipient(const Keyring& keyring,
                                                                   std::string_view recipient) noexcept {
  const Keyring::Impl::Entry* e = keyring.impl_->primary_of(recipient, KeyKind::recipient_public);
  if (e == nullptr) e = keyring.impl_->primary_of(recipient, KeyKind::recipient);
  if (e == nullptr || !e->public_key) return {};
  return {e->id, &e->name, e->state, nullptr, e->public_key->data()};
}

const std::string* internal::KeyringAccess::only_signer(const Keyring& keyring) noexcept {
  const std::string* found = nullptr;
  for (const Keyring::Impl::Entry& e : keyring.impl_->entries) {
    if (e.kind != KeyKind::signing || e.state == KeyState::retired) continue;
    if (found != nullptr && *found != e.name) return nullptr;
    found = &e.name;
  }
  return found;
}

}  // namespace mqseal
