// Private: how Sealer and Opener look keys up in a Keyring.
#ifndef MQSEAL_SRC_KEYRING_ACCESS_H_
#define MQSEAL_SRC_KEYRING_ACCESS_H_

#include <string>
#include <string_view>

#include "mqseal/keyring.h"

namespace mqseal::internal {

struct KeyringEntryView {
  const std::string* name = nullptr;
  KeyState state = KeyState::retired;
  const Key* key = nullptr;  // null when retired
};

// A signing key pair's or a trusted signer's public half.
struct SignerView {
  const std::string* name = nullptr;  // the signer name; null: no such signer key
  KeyState state = KeyState::retired;
  const uint8_t* public_key = nullptr;  // kSignerPublicKeySize bytes; null when retired
};

struct SigningKeyView {
  KeyId id = 0;                         // 0: the signer has no primary signing key
  const uint8_t* secret_key = nullptr;  // libsodium's 64-byte Ed25519 secret key
};

// Suite 3: a recipient key pair (opening) or the public key sealed to.
struct RecipientView {
  KeyId id = 0;                         // 0: none
  const std::string* name = nullptr;    // the recipient name
  KeyState state = KeyState::retired;
  const uint8_t* secret_key = nullptr;  // X25519 scalar; null for a public key, or retired
  const uint8_t* public_key = nullptr;  // null when retired
};

struct KeyringAccess {
  // The recipient key pair with this ID (a view with a null name for none,
  // and for a recipient public key: it cannot open).
  static RecipientView find_recipient(const Keyring& keyring, KeyId id) noexcept;
  // The public key a sealer seals to for `recipient`: its primary recipient
  // public key, else the primary of its key pairs (id 0: none).
  static RecipientView sealing_recipient(const Keyring& keyring, std::string_view recipient) noexcept;
  // The symmetric key with this ID, or a view with a null name if there is
  // none (signing and trusted keys are not symmetric keys).
  static KeyringEntryView find(const Keyring& keyring, KeyId id) noexcept;
  // The signing key pair or trusted signer key with this ID (null name: none).
  static SignerView find_signer(const Keyring& keyring, KeyId id) noexcept;
  // The primary signing key pair of a signer name.
  static SigningKeyView primary_signing(const Keyring& keyring, std::string_view signer) noexcept;
  // The signing key pair with this ID (not retired); a zero view otherwise.
  static SigningKeyView signing_key(const Keyring& keyring, KeyId id) noexcept;
  // The one signer name the keyring has signing key pairs (not retired) for;
  // null if none or several.
  static const std::string* only_signer(const Keyring& keyring) noexcept;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_KEYRING_ACCESS_H_
