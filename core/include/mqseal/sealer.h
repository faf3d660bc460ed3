// mqseal/sealer.h: seal payloads for publishing.
//
//   auto keys = std::make_shared<mqseal::Keyring>(*mqseal::Keyring::load("device.keys"));
//   mqseal::TopicPolicy policy;
//   (void)policy.add_rule("plant/+/telemetry", "telemetry");
//   auto sealer = mqseal::Sealer::create(policy, keys);
//   auto envelope = sealer->seal("plant/7/telemetry", payload);   // hand to any broker
//
// seal() finds the rule for the topic, takes the primary key of the rule's
// key name, derives (once, then cached) the topic's own key, and encrypts
// with XChaCha20-Poly1305. The envelope names the key, the sealing session
// and a sequence number, and is bound to the topic: opened under any other
// topic it fails. For a topic covered by a plaintext rule, seal() returns the
// payload unchanged.
//
// Nonces: a Sealer draws a random 16-byte session ID from the CSPRNG when it
// is created (and again in a child after fork()), and numbers its messages
// with a 64-bit counter taken under its lock. The nonce is session ID ||
// counter, so no two messages share one, across threads, processes and
// reboots, and sealing costs no system call. docs/SPEC.md, "Nonces", gives
// the argument. On a compact rule (TopicPolicy::add_compact_rule) the
// envelope carries the first 8 bytes of the session ID and a 4-byte counter:
// once the counter reaches 2^32 the Sealer starts a new session (new random
// ID, counter 0) instead of wrapping (docs/SPEC.md, section 4d).
//
// Thread safety: seal() and set_keyring() may be called concurrently from
// any number of threads.
#ifndef MQSEAL_SEALER_H_
#define MQSEAL_SEALER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/keyring.h"
#include "mqseal/options.h"
#include "mqseal/policy.h"

namespace mqseal {

namespace internal {
class OutBuffer;
}  // namespace internal

// How the publisher will publish the message: MQTT's retain flag, as the
// publisher means it. Sealed into the envelope (and authenticated), so that
// a message published live can never be passed off as a retained one later.
enum class Publish : uint8_t {
  live = 0,      // an ordinary publish (retain flag clear)
  retained = 1,  // published with the retain flag: new subscribers get it later
};

class Sealer {
 public:
  // The Sealer keeps a copy of the policy and shares the keyring,
  // which must not be modified while shared (rotate with set_keyring).
  // invalid_argument for a null keyring or a cache capacity outside
  // 1..kMaxTopicCacheCapacity; crypto_failure if libsodium cannot start.
  [[nodiscard]] static Result<Sealer> create(const TopicPolicy& policy,
                                             std::shared_ptr<const Keyring> keyring,
                                             SealerOptions options = {});
  Sealer(Sealer&&) noexcept;
  Sealer& operator=(Sealer&&) noexcept;
  ~Sealer();

  // Seals `payload` for `topic` into `out` (resized; its capacity is reused,
  // so a caller that keeps `out` allocates nothing per message). Publish the
  // envelope with the retain flag exactly when `publish` is
  // Publish::retained: receivers judge a message sealed as live by the live
  // rules whatever flag it arrives with (docs/SPEC.md, section 6).
  // invalid_topic, no_rule, no_primary_key, payload_too_large, nonce_exhausted.
  // On failure `out` is cleared.
  [[nodiscard]] Status seal(std::string_view topic, ByteView payload, std::vector<uint8_t>& out,
                            Publish publish = Publish::live);
  [[nodiscard]] Result<std::vector<uint8_t>> seal(std::string_view topic, ByteView payload,
                                                  Publish publish = Publish::live);

  // The same into memory the caller provides: `out`, `capacity` bytes, at
  // least sealed_size(topic, payload.size()) below; `size` gets the
  // envelope's size. For callers that
  // allocate the result themselves (the Python binding seals straight into a
  // new `bytes` object): nothing is copied out of a vector. The errors above,
  // and invalid_argument when `capacity` is too small or `payload` lies in
  // the `capacity` bytes at `out`. On failure the `capacity` bytes are
  // zeroed, except for a `payload` inside them (left untouched), and `size`
  // is 0, or, when `capacity` was too small, the size needed.
  [[nodiscard]] Status seal(std::string_view topic, ByteView payload, uint8_t* out, size_t capacity,
                            size_t& size, Publish publish = Publish::live);

  // The exact size of the envelope seal() makes of `payload_size` bytes for
  // `topic`, known from the topic's rule alone: payload_size plus the rule's
  // overhead (kEnvelopeOverhead, kEnvelopeOverheadCompact, ...Signed,
  // ...Recipient or ...SignedSealed in mqseal/envelope.h), or payload_size
  // under a plaintext rule. So a caller allocates the memory for seal() once.
  // Uses no key, sequence number or session state, and may be called
  // concurrently with seal(); the policy never changes, so the size holds
  // until the Sealer is destroyed. payload_too_large (above kMaxPayloadSize,
  // then for the rule, as seal() checks), invalid_topic, no_rule. seal() can
  // still refuse for the keyring's reasons (no_primary_key, a signer's).
  [[nodiscard]] Result<size_t> sealed_size(std::string_view topic, size_t payload_size);

  // Swaps in another keyring (rotation): messages sealed after the call use
  // its primary keys. The cache of derived keys is flushed. A seal() under
  // way finishes with the keys it took under the old keyring and puts none
  // back: the Sealer derives and keeps keys (suite 3's session included)
  // only under its lock.
  void set_keyring(std::shared_ptr<const Keyring> keyring);

  // Ends the suite 3 and 4 sealing session now: its ephemeral secret and
  // every key derived from it (session keys, the last topic's key and its
  // cached XChaCha20 subkey) are wiped (sodium_free), so nothing in this
  // process can open what it sealed; the next suite 3 or 4 message draws a
  // new ephemeral key pair. Without this call that happens only at a seal
  // after SealerOptions::recipient_session_max_age_ms, at set_keyring() or
  // when the Sealer is destroyed: a device that stops sealing to a recipient
  // (going idle, say) calls it to bound how long the secret lives.
  // The sender ID and sequence carry on (docs/SPEC.md, section 4b).
  void end_recipient_session();

  // This session's sender ID, as written into every envelope.
  SenderId sender() const;

 private:
  struct Impl;
  explicit Sealer(std::unique_ptr<Impl> impl) noexcept;
  Status seal_to(std::string_view topic, ByteView payload, internal::OutBuffer& out, Publish publish);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqseal

#endif  // MQSEAL_SEALER_H_
