// mqseal::hazmat (target mqseal::hazmat): the library's deterministic cores,
// for known-answer tests. Only this target defines these symbols, so code
// that includes a hazmat header without linking mqseal::hazmat does not link.
#include "mqseal/hazmat/credentials.h"
#include "mqseal/hazmat/envelope.h"

#include <algorithm>

#include "connect/credentials_internal.h"
#include "base/sodium_util.h"
#include "crypto/x25519.h"
#include "keys/key_access.h"
#include "keys/keyring_access.h"
#include "session/recipient_session.h"
#include "wire/envelope_internal.h"

namespace mqseal::hazmat {

namespace {
// The signing key pair header.signer_key_id names, if the header is of `suite`.
internal::SigningKeyView signing_key_of(const Keyring& keys, const EnvelopeHeader& header, uint8_t suite) {
  if (header.suite != suite) return {};
  return internal::KeyringAccess::signing_key(keys, header.signer_key_id);
}
}  // namespace

Status derive_topic_key(const Key& rule_key, std::string_view topic, uint8_t out[kKeySize]) {
  return internal::derive_topic_key(rule_key, topic, out);
}

Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                        const EnvelopeHeader& header, ByteView payload, std::vector<uint8_t>& out) {
  return internal::seal_with_header(topic_key, topic, header, payload, out);
}

Status seal_signed_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                               const EnvelopeHeader& header, ByteView payload, const Keyring& signing_keys,
                               std::vector<uint8_t>& out) {
  const internal::SigningKeyView key = signing_key_of(signing_keys, header, kSuiteSignedSender);
  if (key.secret_key == nullptr) {
    out.clear();
    return Error(Errc::invalid_argument, "a suite 2 header naming a signing key pair of the keyring");
  }
  out.reserve(payload.size() + kEnvelopeOverheadSigned);
  if (Status s = internal::seal_with_header(topic_key, topic, header, payload, out); !s) return s;
  return internal::append_signature(key.secret_key, topic, out);
}

Status derive_recipient_keys(const Key& ephemeral_secret, ByteView recipient_public, std::string_view topic,
                             uint8_t ephemeral_public[kEphemeralKeySize], uint8_t session_key[kKeySize],
                             uint8_t topic_key[kKeySize]) {
  const uint8_t* secret = internal::KeyAccess::bytes(ephemeral_secret);
  if (secret == nullptr || recipient_public.size() != kRecipientPublicKeySize) {
    return Error(Errc::invalid_argument, "a key and a 32-byte X25519 public key");
  }
  if (Status s = internal::ensure_sodium(); !s) return s;
  if (Status s = internal::x25519::public_of(secret, ephemeral_public); !s) return s;
  uint8_t shared[internal::x25519::kSharedSize];
  internal::ScopedWipe wipe(shared, sizeof shared);
  if (Status s = internal::x25519::agree(secret, recipient_public.data(), shared); !s) return s;
  if (Status s = internal::derive_session_key(shared, ephemeral_public, recipient_public.data(), session_key); !s) {
    return s;
  }
  return internal::derive_session_topic_key(session_key, topic, topic_key);
}

Status seal_signed_sealed_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload, const Keyring& signing_keys,
                                      std::vector<uint8_t>& out) {
  const internal::SigningKeyView key = signing_key_of(signing_keys, header, kSuiteSignedSealed);
  if (key.secret_key == nullptr) {
    out.clear();
    return Error(Errc::invalid_argument, "a suite 4 header naming a signing key pair of the keyring");
  }
  std::vector<uint8_t> inner(kSignedSealedInnerSize + payload.size());
  internal::store_be32(inner.data(), header.signer_key_id);
  std::copy(payload.begin(), payload.end(), inner.begin() + kSignedSealedInnerSize);
  uint8_t header_bytes[kHeaderSizeRecipient];
  internal::encode_sealed_header(header, header_bytes);
  if (Status s = internal::sign_sealed(key.secret_key, topic, header_bytes, inner.data(), inner.size()); !s) {
    out.clear();
    return s;
  }
  return internal::seal_with_header(topic_key, topic, header, inner, out);
}

Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                     std::vector<uint8_t>& out) {
  if (!envelope.empty() && (envelope[0] & kVersionMask) == kEnvelopeVersionCompact) {
    out.clear();
    return Error(Errc::invalid_argument, "a compact envelope is opened against the receiver's time (now_ms)");
  }
  return internal::open_with_key(topic_key, topic, envelope, 0, out);
}

Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic, ByteView envelope,
                     uint64_t now_ms, std::vector<uint8_t>& out) {
  return internal::open_with_key(topic_key, topic, envelope, now_ms, out);
}

Result<std::string> make_connect_token_with_nonce(const Key& device_secret, std::string_view username,
                                                  std::string_view client_id, uint64_t expiry_s,
                                                  const std::array<uint8_t, kTokenNonceSize>& nonce) {
  return internal::make_connect_token_with_nonce(device_secret, username, client_id, expiry_s, nonce);
}

}  // namespace mqseal::hazmat
