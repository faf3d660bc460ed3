// mqseal/opener.h: open sealed payloads on receipt.
//
//   auto opener = mqseal::Opener::create(policy, keys);
//   auto opened = opener->open(message_topic, envelope, {message_retained});
//   if (opened) use(opened->payload);
//   else if (opened.error() == mqseal::Errc::duplicate) { /* QoS 1 redelivery: drop quietly */ }
//   else log_refused(opened.error().message());
//
// open() checks, in order: the topic has a rule (no_rule) and is sealed under
// it; the envelope's structure (malformed, unsupported_version,
// unsupported_suite); its key ID is in the keyring (unknown_key, key_retired)
// and belongs to the key name of the topic's rule (wrong_key_for_topic); its
// suite is the one the rule requires (wrong_suite_for_topic); for a signed
// rule (suite 2), its signer key ID names a signing or trusted signer key
// (unknown_signer, key_retired), the signature verifies
// (authentication_failed) and the rule authorises that signer on the topic
// (unauthorized_signer); the AEAD tag under the topic's derived key, with
// header and topic as associated data (authentication_failed); then, only
// for authentic messages, the replay guard (duplicate, replay, expired,
// not_yet_valid, retained_refused), in the verified signer's own partition
// for suite 2. No plaintext leaves open() unless every check passed.
//
// Retained messages: only an envelope its publisher sealed to be retained
// (Sealer::seal with Publish::retained) and that arrives with the retain flag
// is judged by the retained rules (the topic rule's RetainedRule, or the
// replay options'); anything else, v1 envelopes included, is judged as a live
// message, so a live message replayed as retained expires after max_age.
//
// For a topic covered by a plaintext rule, open() returns the payload as it
// came, with `sealed` false.
//
// Thread safety: open() and set_keyring() may be called concurrently.
#ifndef MQSEAL_OPENER_H_
#define MQSEAL_OPENER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/keyring.h"
#include "mqseal/policy.h"
#include "mqseal/options.h"
#include "mqseal/replay_guard.h"

namespace mqseal {

namespace internal {
class OutBuffer;
}  // namespace internal

// What the transport says about a message; none of it is authenticated.
struct Delivery {
  bool retained = false;  // the MQTT retain flag on delivery
  uint64_t now_ms = 0;    // receiver's time; 0 means system_time_ms()
};

struct Opened {
  std::vector<uint8_t> payload;
  bool sealed = false;  // false only for plaintext-rule topics
  KeyId key_id = 0;
  uint64_t timestamp_ms = 0;
  SenderId sender{};
  uint64_t sequence = 0;
  // Sealed to be retained and delivered from the broker's retained store
  // (judged by the retained rules).
  bool retained = false;
  // Suite 2: the verified signer's name and signing key ID; empty and 0 otherwise.
  std::string signer;
  KeyId signer_key_id = 0;
};

class Opener {
 public:
  // The Opener keeps a copy of the policy and shares the keyring,
  // which must not be modified while shared (rotate with set_keyring).
  // invalid_argument for a null keyring, bad replay options or a
  // cache capacity outside 1..kMaxTopicCacheCapacity; crypto_failure if
  // libsodium cannot start.
  [[nodiscard]] static Result<Opener> create(const TopicPolicy& policy,
                                             std::shared_ptr<const Keyring> keyring,
                                             OpenerOptions options = {});
  Opener(Opener&&) noexcept;
  Opener& operator=(Opener&&) noexcept;
  ~Opener();

  // Opens into `out`, reusing out.payload's capacity. On failure `out` is
  // left with an empty payload. The envelope is never modified, and must not
  // change during the call: it is read twice (tag, then decryption), so copy
  // one that another thread may write (the Python binding does).
  [[nodiscard]] Status open(std::string_view topic, ByteView envelope, const Delivery& delivery,
                            Opened& out);
  [[nodiscard]] Result<Opened> open(std::string_view topic, ByteView envelope,
                                    const Delivery& delivery = {});

  // The same with the payload written into memory the caller provides:
  // `payload`, `capacity` bytes: a sealed topic's payload is envelope.size()
  // - envelope_overhead(version) bytes, a plaintext topic's the whole
  // envelope (envelope.size() bytes always suffice); `size` gets its size,
  // `out` everything else (out.payload is left empty). For callers that
  // allocate the result themselves (the Python binding opens straight into a
  // new `bytes` object). The errors above, and invalid_argument when
  // `capacity` is too small or the envelope lies in the `capacity` bytes at
  // `payload`. On failure the `capacity` bytes are zeroed (no byte of an
  // unverified or refused payload stays), except for an envelope inside them
  // (left untouched), and `size` is 0, or, when `capacity` was too small, the
  // size needed: nothing else has happened then (the replay guard has not
  // seen the message), so the call may be made again with that much.
  [[nodiscard]] Status open(std::string_view topic, ByteView envelope, const Delivery& delivery,
                            uint8_t* payload, size_t capacity, size_t& size, Opened& out);

  // Swaps in another keyring (rotation); replay state is kept.
  void set_keyring(std::shared_ptr<const Keyring> keyring);

  const ReplayGuard& replay_guard() const noexcept;

 private:
  struct Impl;
  explicit Opener(std::unique_ptr<Impl> impl) noexcept;
  Status open_to(std::string_view topic, ByteView envelope, const Delivery& delivery,
                 internal::OutBuffer& payload, Opened& out);
  Status open_into(std::string_view topic, ByteView envelope, const Delivery& delivery,
                   internal::OutBuffer& payload, Opened& out);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqseal

#endif  // MQSEAL_OPENER_H_
