// mqseal/hazmat/envelope.h: the deterministic core of the envelope, for
// known-answer tests and independent implementations only (target
// mqseal::hazmat; never included by mqseal/mqseal.h or any everyday header).
//
// Everything here takes or gives raw per-topic key bytes, or lets the caller
// choose the nonce. Everyday code uses Sealer and Opener (mqseal/sealer.h,
// mqseal/opener.h), which derive keys inside guarded memory and pick a fresh
// (sender, sequence) for every message. Every use is spelled mqseal::hazmat::,
// so that a search for "hazmat" finds all of them.
#ifndef MQSEAL_HAZMAT_ENVELOPE_H_
#define MQSEAL_HAZMAT_ENVELOPE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/envelope.h"
#include "mqseal/error.h"
#include "mqseal/key.h"
#include "mqseal/keyring.h"

namespace mqseal::hazmat {

// The per-topic key (docs/SPEC.md, "Per-topic keys"): raw key bytes out.
// `out` gets kKeySize bytes; callers own wiping it. invalid_argument for a
// moved-from key.
[[nodiscard]] Status derive_topic_key(const Key& rule_key, std::string_view topic,
                                      uint8_t out[kKeySize]);

// Seals `payload` with the header as given: calling this twice with the same
// (sender, sequence) under one key destroys confidentiality. Writes the
// header's version (1 or 2; v1 has no flags, so header.flags must be 0
// there). `out` is resized to the envelope's size. Errors: invalid_argument
// for a payload inside `out`'s buffer (`out` is then left as it was) and for
// an unknown version or flags; payload_too_large; invalid_topic. `out` is
// left empty on any failure but the first.
[[nodiscard]] Status seal_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                      const EnvelopeHeader& header, ByteView payload,
                                      std::vector<uint8_t>& out);

// Suite 2: seal_with_header (header.suite kSuiteSignedSender, which writes
// header.signer_key_id into the header), then the Ed25519 signature
// (docs/SPEC.md, section 4a) by the signing key pair of `signing_keys` that
// header.signer_key_id names (invalid_argument if it names none, or is
// retired). Deterministic: Ed25519 signatures are.
[[nodiscard]] Status seal_signed_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                             const EnvelopeHeader& header, ByteView payload,
                                             const Keyring& signing_keys, std::vector<uint8_t>& out);

// Suite 3 (docs/SPEC.md, section 4b), with a chosen ephemeral secret: the
// ephemeral public key, the session key and `topic`'s topic key of a sealing
// session with X25519 scalar `ephemeral_secret` sealing to
// `recipient_public`. Seal with seal_with_header (header.suite
// kSuiteSealedToRecipient, header.ephemeral the public key given here,
// header.key_id the recipient key's ID). Reusing an ephemeral secret outside
// a test makes sessions linkable and, with a repeated (sender, sequence),
// destroys confidentiality. invalid_argument for a public key that is not 32
// bytes; authentication_failed for a low-order one. Callers wipe the outputs.
[[nodiscard]] Status derive_recipient_keys(const Key& ephemeral_secret, ByteView recipient_public,
                                           std::string_view topic, uint8_t ephemeral_public[kEphemeralKeySize],
                                           uint8_t session_key[kKeySize], uint8_t topic_key[kKeySize]);

// Suite 4 (docs/SPEC.md, section 4c): signs signer_key_id || payload with
// the signing key pair of `signing_keys` that header.signer_key_id names
// (invalid_argument if none, or retired), then seals signer_key_id ||
// signature || payload with seal_with_header (header.suite
// kSuiteSignedSealed; topic_key and header.ephemeral from
// derive_recipient_keys). Deterministic.
[[nodiscard]] Status seal_signed_sealed_with_header(const uint8_t topic_key[kKeySize], std::string_view topic,
                                                    const EnvelopeHeader& header, ByteView payload,
                                                    const Keyring& signing_keys, std::vector<uint8_t>& out);

// Authenticates and decrypts an envelope of either version under a raw
// per-topic key; `out` gets the payload. The header's structure errors as
// parse_header; then authentication_failed on any mismatch (altered byte,
// wrong key, another topic). No replay checks (Opener does those). For suite
// 2, the AEAD only: the signature is NOT checked (Opener checks it).
// invalid_argument, with `out` left as it was, for an envelope inside `out`'s
// buffer; on any other failure `out` is left empty.
// A compact envelope (v3) is invalid_argument here: its full time is read
// against a receiver's clock, so it needs the overload below.
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, std::vector<uint8_t>& out);
// The same, any version; a v3 envelope's time read against `now_ms`
// (compact_timestamp_ms): authentication_failed unless that is the time it
// was sealed at, to the second.
[[nodiscard]] Status open_with_key(const uint8_t topic_key[kKeySize], std::string_view topic,
                                   ByteView envelope, uint64_t now_ms, std::vector<uint8_t>& out);

}  // namespace mqseal::hazmat

#endif  // MQSEAL_HAZMAT_ENVELOPE_H_
