#include "session/signed_sender.h"

#include <cstring>

#include "keys/keyring_access.h"
#include "wire/envelope_internal.h"

namespace mqseal::internal {

static_assert(static_cast<uint8_t>(Suite::symmetric) == kSuiteXChaCha20Poly1305, "suite 1");
static_assert(static_cast<uint8_t>(Suite::signed_sender) == kSuiteSignedSender, "suite 2");

Status prepare_signing(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                       const std::string& configured, EnvelopeHeader& header,
                       uint8_t secret_key[kSigningSecretSize]) {
  const std::string* signer = configured.empty() ? KeyringAccess::only_signer(keyring) : &configured;
  if (signer == nullptr) {
    return Error(Errc::no_primary_key, "a signed rule needs SealerOptions::signer or exactly one signer in the keyring");
  }
  if (!signer_authorized(rule, topic, *signer)) return Errc::unauthorized_signer;
  const SigningKeyView key = KeyringAccess::primary_signing(keyring, *signer);
  if (key.id == 0) return Error(Errc::no_primary_key, "the signer has no primary signing key");
  std::memcpy(secret_key, key.secret_key, kSigningSecretSize);
  header.suite = kSuiteSignedSender;
  header.signer_key_id = key.id;
  return {};
}

Status find_signing_key(const Keyring& keyring, const EnvelopeHeader& header,
                        uint8_t public_key[kSignerPublicKeySize], std::string& signer) {
  if (header.signer_key_id == 0) return Errc::unknown_signer;
  const SignerView found = KeyringAccess::find_signer(keyring, header.signer_key_id);
  if (found.name == nullptr) return Errc::unknown_signer;
  if (found.state == KeyState::retired) return Errc::key_retired;
  std::memcpy(public_key, found.public_key, kSignerPublicKeySize);
  signer = *found.name;
  return {};
}

}  // namespace mqseal::internal
