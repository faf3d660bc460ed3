// mqseal/options.h: how a Sealer and an Opener are set up.
//
// Kept apart from sealer.h and opener.h so that code needing only a setting
// (the topic cache bounds, say) does not depend on either class.
#ifndef MQSEAL_OPTIONS_H_
#define MQSEAL_OPTIONS_H_

#include <cstddef>
#include <memory>
#include <string>

#include "mqseal/clock.h"
#include "mqseal/replay_guard.h"
#include "mqseal/replay_store.h"

namespace mqseal {

// Concrete topics whose derived keys a Sealer or Opener keeps cached (least
// recently used go): a warm topic pays no policy scan and no derivation.
// The cache's guarded memory (sodium_malloc: locked against swapping where
// the system allows) grows with the topics it holds, never past the
// capacity: 4 KiB at creation (an Opener's first 21 topics, a Sealer's
// first 31), then regions doubling; a receiver or sender of a handful of
// topics locks 4 KiB, not memory for the whole capacity.
inline constexpr size_t kDefaultTopicCacheCapacity = 1024;
inline constexpr size_t kMaxTopicCacheCapacity = 1 << 20;

inline constexpr uint64_t kDefaultRecipientSessionMaxAgeMs = 60ull * 60 * 1000;  // one hour
// Suite 3: session keys (one per sealing session a receiver hears from) an
// Opener keeps derived (least recently used go; see OpenerOptions).
inline constexpr size_t kDefaultRecipientSessionCapacity = 1024;
inline constexpr size_t kMaxRecipientSessionCapacity = 1 << 20;

struct SealerOptions {
  // Concrete topics whose derived keys stay cached, 1..kMaxTopicCacheCapacity.
  // Per topic, two keys, each with the XChaCha20 subkey of this session's
  // sender (suites 1 and 2, compact envelopes): 128 bytes of guarded memory
  // per topic held (allocated as topics arrive, above).
  size_t topic_cache_capacity = kDefaultTopicCacheCapacity;
  // Where timestamps come from (mqseal/clock.h); empty: system_time_ms().
  // Whatever it returns, a session's timestamps never decrease.
  Clock clock;
  // The signer name this sealer signs as on signed rules (suite 2), with
  // that name's primary signing key. Empty: the keyring's only signer name,
  // if its signing key pairs that are not retired are all of one name (a
  // device's keyring).
  std::string signer;
  // Suites 3 and 4 (sealed to a recipient): at the first suite 3 or 4 seal
  // once the session is this old (by its messages' timestamps and the
  // clock), the ephemeral key pair is replaced and the old secret wiped;
  // also at set_keyring(), at end_recipient_session(), after fork() and at
  // destruction. No timer: the age is checked only inside that next seal,
  // so an idle sealer keeps the secret until one of these. A device taken over while running can open
  // what it sealed in its current session: messages spanning less than this
  // many ms by their timestamps, which on an idle device may all be older
  // than this. 0: never by age.
  uint64_t recipient_session_max_age_ms = kDefaultRecipientSessionMaxAgeMs;
};

// An Opener sharing a replay store: the most live message claims one key
// name may hold in it (a claim lives max_age + max_future_skew past its
// message's timestamp, so this is about the messages per key name the group
// accepts in that time), and the most it may be set to.
inline constexpr size_t kDefaultMaxClaimsPerKeyName = size_t{1} << 20;
inline constexpr size_t kMaxClaimsPerKeyName = size_t{1} << 26;
// An Opener sharing a replay store names its consumer group
// (OpenerOptions::replay_group): 1 to this many characters of A-Z a-z 0-9 . _ -
inline constexpr size_t kMaxReplayGroupSize = 48;

struct OpenerOptions {
  ReplayOptions replay;
  // Concrete topics whose derived keys stay cached, 1..kMaxTopicCacheCapacity.
  // Per topic, two keys, each with the XChaCha20 subkeys of the last two
  // senders whose envelopes authenticated under it (suites 1 and 2, compact
  // envelopes; a third sender replaces the less recently used, whose next
  // message then costs one HChaCha20 again, never a failure): 192 bytes of
  // guarded memory per topic held (allocated as topics arrive, above). A
  // topic and its keys are cached once an envelope on it authenticated:
  // forged envelopes on new topics neither grow the cache nor evict from it.
  size_t topic_cache_capacity = kDefaultTopicCacheCapacity;
  // Empty (the default): the Opener's own replay guard, in its memory, as
  // described in mqseal/replay_guard.h. Set: a group of Openers sharing this
  // store (consumers behind one MQTT shared subscription, $share/group/...)
  // accepts each message once in total, whichever member it reaches
  // (mqseal/opener.h, "Shared replay state"; docs/SPEC.md section 6).
  // With a store, replay.max_age_ms + 2 x replay.max_future_skew_ms is at
  // most (kMaxRedisClaimLifetimeS - 2) x 1000 (about 366 days), or create()
  // refuses it.
  std::shared_ptr<ReplayStore> replay_store;
  // With a replay store: the consumer group's name, required (create()
  // refuses an empty or bad one: invalid_argument), 1 to kMaxReplayGroupSize
  // characters of A-Z a-z 0-9 . _ - (the shared subscription's group name,
  // say). The group's claims are kept apart from every other group's (claim
  // namespace "message:<group>", with its own capacity in a Redis store), so
  // two groups or applications sharing one store each accept a message once.
  // Every member of one group gives the same name (and policy and quota);
  // members with different names accept each message once each.
  std::string replay_group;
  // With a replay store: each key name's quota of live claims in it (each
  // signer's, for signed messages), 1..kMaxClaimsPerKeyName. When a key
  // name's live claims fill it, its next new message is refused
  // (capacity_exceeded) until claims of its older messages pass their
  // keep_until; no other key name or signer is affected.
  size_t max_claims_per_key_name = kDefaultMaxClaimsPerKeyName;
  // Suite 3: sealing sessions whose derived keys stay cached,
  // 1..kMaxRecipientSessionCapacity. Only a message that opened inserts an
  // entry; when full, the least recently used entry goes and its session's
  // next message pays one X25519 again. A flood of fresh ephemeral keys costs
  // one X25519 each to refuse and changes nothing here. 96 bytes of guarded
  // memory per session held, allocated as sessions arrive (none until the
  // first suite 3 or 4 message opens, then 4 KiB for 42 of them).
  size_t recipient_session_capacity = kDefaultRecipientSessionCapacity;
};

}  // namespace mqseal

#endif  // MQSEAL_OPTIONS_H_
