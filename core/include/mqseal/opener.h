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
// suite, and its envelope version (compact rules: v3 only; others: never v3),
// are the ones the rule requires (wrong_suite_for_topic); for a signed
// rule (suite 2), its signer key ID names a signing or trusted signer key
// (unknown_signer, key_retired), the signature verifies
// (authentication_failed) and the rule authorises that signer on the topic
// (unauthorized_signer); the AEAD tag under the topic's derived key, with
// header and topic as associated data (authentication_failed); then, only
// for authentic messages, the replay guard (duplicate, replay, expired,
// not_yet_valid, retained_refused), in the verified signer's own partition
// for suite 2. No plaintext leaves open() unless every check passed.
//
// Suite 3 (a recipient rule; docs/SPEC.md, section 4b): the key ID must name
// a recipient key pair of the rule's recipient name (a recipient public key
// opens nothing: unknown_key); the keys are derived from the envelope's
// ephemeral public key and the pair's secret (or taken from a bounded cache
// of sessions that already opened), then the AEAD as above, then the replay
// guard in the recipient name's partition, with the stream of (ephemeral
// key, sender), a partition that keeps tombstones of the streams it evicts
// (ReplayOptions::max_evicted_streams). A suite 3 message is not
// authenticated to any sender: anyone with the recipient's public key can
// seal one.
//
// Suite 4 (signed and sealed; docs/SPEC.md, section 4c): suite 3's checks
// and decryption, then, from inside the ciphertext, the signer (as suite 2:
// unknown_signer, key_retired), its signature (authentication_failed) and
// authorisation (unauthorized_signer); replay state in the verified
// signer's partition. Only then does the session enter the cache.
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
// Shared replay state (OpenerOptions::replay_store set; docs/SPEC.md section
// 6, "Shared replay state"). Consumers behind one MQTT shared subscription
// ($share/group/...) each see only some of a sender's sequence numbers, and
// the broker may redeliver an unacknowledged QoS 1 message to another member,
// far below that member's highest sequence. So with a store, the store alone
// decides "seen before", per message, and the Opener keeps no window of its
// own (a local window would refuse as `replay` a message far below its top
// that no member accepted, and only saves a round trip for duplicates, which
// are rare):
//   - the age rules stay local (not_yet_valid, expired, retained_refused),
//     judged at the latest time this Opener has judged at (a clock stepping
//     back does not bring back what a memory or file store forgot; a Redis
//     store forgets by elapsed time: there a step back of more than its
//     max_clock_difference_s + 1 s is a clock difference that large,
//     mqseal/replay_store.h);
//   - then the message claims ("message:" and OpenerOptions::replay_group,
//     the consumer group's name, required: groups sharing a store keep
//     their claims apart; its replay partition: the key name,
//     or for a signed message (suite 2) the byte 0x01 and its signer's name;
//     BLAKE2b-128 of sender || sequence || topic) until timestamp + max_age +
//     max_future_skew.
//     first_use: accepted. seen: `duplicate` (a redelivery to another member,
//     or a replay: dropped quietly, as a QoS 1 redelivery is);
//   - a retained message (judged as retained, see above) older than max_age
//     claims nothing: the broker gives it to every new subscriber, and no live
//     copy of it can be accepted any more. A younger one claims like a live
//     message (it may be a copy of one), so a member whose own subscription
//     brings it the retained copy of a message the group accepted live sees
//     `duplicate`: give subscriptions whose members each need the retained
//     state an Opener without the store;
//   - a store error is returned as it is (io_error, capacity_exceeded, ...):
//     the message is refused, neither accepted nor `duplicate` (fail closed).
//     With QoS 1 the application sees a refused message; it was not claimed,
//     so a later redelivery may still be accepted once, never twice;
//   - bounds: each partition (key name, or signer) holds at most
//     max_claims_per_key_name live claims in the store; past that its new
//     messages are capacity_exceeded until its older claims expire; no other
//     partition is affected. create() refuses a store whose capacity() (per
//     kind of claim: another group's, or a token verifier's, claims in a
//     shared store take none of it) is below (partitions) x that quota: the key names of suite 1 rules, the
//     signers listed in signed rules and, if a signed rule has a {signer}
//     level, every signer name the keyring holds a key of (a keyring given to
//     set_keyring later is not counted again: size the store for the signers
//     you expect, or a full store refuses every new claim). create() also
//     refuses (invalid_argument) replay options under which a claim would be
//     kept longer than kMaxRedisClaimLifetimeS (366 days; a Redis store
//     refuses every such claim): max_age_ms + 2 x max_future_skew_ms must be
//     at most (kMaxRedisClaimLifetimeS - 2) x 1000, with any store.
// The members' clocks must agree to within max_future_skew_ms: a member whose
// clock is further ahead makes the store forget claims that a member behind it
// would still accept by age.
//
// Thread safety: open() and set_keyring() may be called concurrently. An
// open() under way when set_keyring() returns finishes under the keys it
// took from the old keyring when it began (for suite 4, the signer is looked
// up after decryption, in the keyring current then), as if it had finished
// first; nothing it derived from them enters a cache afterwards (subkeys of
// topic keys; suite 3 and 4 sessions, tests/recipient_test.cpp
// "AnOpenRacingSetKeyring...").
#ifndef MQSEAL_OPENER_H_
#define MQSEAL_OPENER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/envelope.h"
#include "mqseal/error.h"
#include "mqseal/keyring.h"
#include "mqseal/policy.h"
#include "mqseal/options.h"
#include "mqseal/replay_guard.h"

namespace mqseal {

namespace internal {
class OutBuffer;
struct RecipientOpening;  // core/src/session/recipient_session.h
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
  // Suites 2 and 4: the verified signer's name and signing key ID; empty and
  // 0 otherwise. Also after a refused open (the overloads that fill an
  // Opened&): see open() below.
  std::string signer;
  KeyId signer_key_id = 0;
};

class Opener {
 public:
  // The Opener keeps a copy of the policy and shares the keyring,
  // which must not be modified while shared (rotate with set_keyring).
  // invalid_argument for a null keyring, bad replay options, a
  // cache capacity outside 1..kMaxTopicCacheCapacity, or a replay store too
  // small for the policy's key names (above); crypto_failure if
  // libsodium cannot start.
  [[nodiscard]] static Result<Opener> create(const TopicPolicy& policy,
                                             std::shared_ptr<const Keyring> keyring,
                                             OpenerOptions options = {});
  Opener(Opener&&) noexcept;
  Opener& operator=(Opener&&) noexcept;
  ~Opener();

  // Opens into `out`, reusing out.payload's capacity. On failure `out` is
  // left with an empty payload (except when the envelope lives in
  // out.payload: invalid_argument, and out.payload is left as it is),
  // `sealed` and `retained` false, and its
  // `signer` and `signer_key_id` name the verified signer if the refusal came
  // after the signature verified (suites 2 and 4: unauthorized_signer, the
  // replay guard's or the replay store's refusals, and in suite 2 a failed
  // AEAD tag); otherwise (no signature checked, or one that did not verify)
  // they are empty and 0: never a name the envelope merely claims. A named
  // signer signed these bytes at some time; anyone may re-send them, so a
  // refusal's signer is not who sent this delivery (docs/SECURITY.md). Its other
  // fields are left as they were. The Result overload returns the error alone.
  // The envelope is never modified, and must not
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
  // seen the message), so the call may be made again with that much. `out`
  // after a failure: as above.
  [[nodiscard]] Status open(std::string_view topic, ByteView envelope, const Delivery& delivery,
                            uint8_t* payload, size_t capacity, size_t& size, Opened& out);

  // Swaps in another keyring (rotation); replay state is kept.
  void set_keyring(std::shared_ptr<const Keyring> keyring);

  // Its own replay state (none is recorded in it with a replay store).
  const ReplayGuard& replay_guard() const noexcept;
  // Suite 3: sealing sessions whose derived keys are cached now (at most
  // OpenerOptions::recipient_session_capacity).
  size_t recipient_sessions() const;
  // Whether the session of this recipient key ID and ephemeral public key
  // (an envelope's header) has its keys cached: its next envelope pays no
  // key agreement. For tests and diagnostics; no secret is revealed.
  bool recipient_session_cached(KeyId recipient, const std::array<uint8_t, kEphemeralKeySize>& ephemeral) const;
  // Whether it was created with OpenerOptions::replay_store: then every
  // sealed message costs a claim (a file write, a network round trip).
  bool shares_replay_state() const noexcept;

 private:
  struct Impl;
  explicit Opener(std::unique_ptr<Impl> impl) noexcept;
  Status open_to(std::string_view topic, ByteView envelope, const Delivery& delivery,
                 internal::OutBuffer& payload, Opened& out);
  Status open_into(std::string_view topic, ByteView envelope, const Delivery& delivery,
                   internal::OutBuffer& payload, Opened& out);
  Status open_signed_sealed(const TopicRule& rule, std::string_view topic, ByteView envelope,
                            EnvelopeHeader& header, internal::RecipientOpening& keys,
                            internal::OutBuffer& payload, Opened& out);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqseal

#endif  // MQSEAL_OPENER_H_
