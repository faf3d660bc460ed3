// Private: suite 2 (signed sender) for Sealer and Opener (docs/SPEC.md,
// sections 2a and 4a): which key signs, which public key verifies, and
// whether the signer may publish on the topic. Kept apart from sealer.cpp and
// opener.cpp so that those stay about sessions and ordering.
#ifndef MQSEAL_SRC_SESSION_SIGNED_SENDER_H_
#define MQSEAL_SRC_SESSION_SIGNED_SENDER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "mqseal/envelope.h"
#include "mqseal/keyring.h"
#include "mqseal/policy.h"

namespace mqseal::internal {

inline constexpr size_t kSigningSecretSize = 64;  // libsodium's Ed25519 secret key

// The suite a rule requires, as the envelope's suite byte.
inline uint8_t suite_of(const TopicRule& rule) noexcept { return static_cast<uint8_t>(rule.suite); }

// Sealing on a signed rule: the signer is `configured` (SealerOptions::signer)
// or, if that is empty, the keyring's only signer name. Checks that it may
// publish on `topic` (unauthorized_signer), then copies its primary signing
// key into `secret_key` (the caller wipes it) and sets header.suite and
// header.signer_key_id. no_primary_key when there is no signer or it has no
// primary signing key.
[[nodiscard]] Status prepare_signing(const Keyring& keyring, const TopicRule& rule, std::string_view topic,
                                     const std::string& configured, EnvelopeHeader& header,
                                     uint8_t secret_key[kSigningSecretSize]);

// find_signer's suite 2 half: the signer key ID must name a signing key
// pair or trusted signer key of the keyring (unknown_signer; key_retired):
// its public key is copied to `public_key` and its name to `signer`.
[[nodiscard]] Status find_signing_key(const Keyring& keyring, const EnvelopeHeader& header,
                                      uint8_t public_key[kSignerPublicKeySize], std::string& signer);

// Opening: the envelope's suite must be the rule's (wrong_suite_for_topic);
// for suite 2, find_signing_key. Inline: every message of every suite passes
// the suite check, and only suite 2's makes a call.
[[nodiscard]] inline Status find_signer(const Keyring& keyring, const TopicRule& rule, const EnvelopeHeader& header,
                                        uint8_t public_key[kSignerPublicKeySize], std::string& signer) {
  if (header.suite != suite_of(rule)) return Errc::wrong_suite_for_topic;
  if (header.suite != kSuiteSignedSender) return {};
  return find_signing_key(keyring, header, public_key, signer);
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SESSION_SIGNED_SENDER_H_
