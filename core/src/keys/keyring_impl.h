// Private: the inside of a Keyring, shared by keyring.cpp and keyring_file.cpp.
#ifndef MQSEAL_SRC_KEYRING_IMPL_H_
#define MQSEAL_SRC_KEYRING_IMPL_H_

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/secret.h"
#include "mqseal/keyring.h"

namespace mqseal {

struct Keyring::Impl {
  struct Entry {
    std::string name;
    KeyId id = 0;
    KeyState state = KeyState::active;
    std::optional<Key> key;  // symmetric; empty once retired
    std::optional<PassphraseParams> passphrase;
    KeyKind kind = KeyKind::symmetric;
    // signing: libsodium's 64-byte Ed25519 secret key (seed || public key);
    // recipient: the 32-byte X25519 scalar; empty otherwise and once retired.
    internal::Secret signing;
    std::optional<SignerPublicKey> public_key;  // all but symmetric; empty once retired
  };
  std::vector<Entry> entries;  // only ever appended to: indices are stable
  std::unordered_map<KeyId, size_t> by_id;  // ID -> index in entries

  void append(Entry entry) {
    by_id.emplace(entry.id, entries.size());
    entries.push_back(std::move(entry));
  }
  Entry* find(KeyId id) {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &entries[it->second];
  }
  const Entry* find(KeyId id) const { return const_cast<Impl*>(this)->find(id); }
  Entry* primary_of(std::string_view name, KeyKind kind = KeyKind::symmetric) {
    for (Entry& e : entries) {
      if (e.state == KeyState::primary && e.kind == kind && e.name == name) return &e;
    }
    return nullptr;
  }
  const Entry* primary_of(std::string_view name, KeyKind kind = KeyKind::symmetric) const {
    return const_cast<Impl*>(this)->primary_of(name, kind);
  }
  // The checks every added entry passes (name, ID, room): invalid_argument.
  Status check_new(std::string_view name, KeyId id) const;
  // A signing entry from its seed (the key pair derived, the secret half in
  // guarded memory); the caller fills name, ID and state.
  static Result<Entry> signing_entry(const uint8_t seed[kSigningSeedSize]);
  // A recipient key pair from its X25519 scalar (public half derived, the
  // scalar in guarded memory); the caller fills name, ID and state.
  static Result<Entry> recipient_entry(const uint8_t secret[kRecipientSecretKeySize]);
  // One recipient-x25519 line (`with_secret`) or recipient-public-x25519 line.
  static void append_recipient_line(const Entry& e, bool with_secret, std::string& out);
  KeyId fresh_id() const;
  // One signing-ed25519 line (`as` signing) or trusted-ed25519 line (`as`
  // trusted_signer: the public half only) for `e`, appended to `out`.
  static void append_signature_line(const Entry& e, KeyKind as, std::string& out);  // random, not 0, not taken (libsodium started)
  static KeyInfo info_of(const Entry& e);
};

}  // namespace mqseal

#endif  // MQSEAL_SRC_KEYRING_IMPL_H_
