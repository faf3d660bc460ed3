// mqseal/replay_guard.h: duplicate, replay and age checks on the receiving side.
//
// Every envelope names its sender (a random ID drawn once per sealing
// session, so a rebooted device is simply a new sender), a sequence number
// that grows by one per message the session seals, and the sender's
// timestamp. MQTT keeps messages in order per topic only, so the guard keeps
// one window per stream, a stream being a (sender, topic) pair: the highest
// sequence seen on it and a bitmap of the kReplayWindow sequence numbers
// below that.
//
//   - a sequence above the highest seen is accepted and slides the window;
//   - a sequence inside the window that was not seen is accepted (reordering);
//   - a sequence inside the window that was seen is `duplicate` (QoS 1
//     redelivery: normal, report it quietly and drop the message);
//   - a sequence below the window is `replay`;
//   - a timestamp older than max_age is `expired`, and one more than
//     max_future_skew ahead of the receiver's clock is `not_yet_valid`.
//
// Partitions: all state (streams, table bound, watermark) is kept per key
// name, the name of the key the message was sealed under
// (MessageFacts::key_name), or, for a signed message (suite 2), per verified
// signer (MessageFacts::signer). Whoever holds one key name's key can move
// only that partition's state, so nothing it sends can make a message sealed
// under another key name fail, nor any signed message; a signer moves only
// its own. docs/SECURITY.md states what each can do within its partition.
//
// Retained messages are, by MQTT's design, delivered again to every new
// subscriber, possibly long after they were sealed, so they obey their own
// policy: refused, or accepted up to retained_max_age. Only a message its
// publisher sealed to be retained (an authenticated flag of envelope v2) and
// that arrives with the retain flag is judged as retained
// (MessageFacts::retained); a message sealed as live is judged as live
// whatever flag it arrives with. One young enough to be accepted as a live
// message is checked exactly as a live one; an older one (its live copy
// would be expired) is a `duplicate` if the window holds it and has seen it,
// and is otherwise accepted.
//
// Memory is bounded: at most max_streams streams are tracked per partition,
// each costing kReplayStateBytes (plus the nodes of a hash table and of an
// ordered tree, about 100 bytes), and the guard keeps a copy of the previous
// message's topic (the Opener's topics are at most kMaxTopicSize bytes).
// The tables hash a stream with SipHash-2-4 under a random key of the
// guard's, so senders cannot choose streams that share a bucket.
// When a partition's table is full, its streams whose newest message is
// older than max_age are dropped first (any replay of theirs is refused as
// expired anyway); then its least recently seen stream (the one whose last
// accepted message reached the guard before every other stream's) is
// dropped and the partition raises its watermark to that stream's newest
// timestamp. Each costs O(log max_streams) (an ordered tree by newest
// timestamp, a list in the order streams were seen), not a scan. A stream
// the partition does not know is accepted only with a timestamp above the
// watermark, and a stream remembers the watermark it started under and
// refuses anything at or below it, so eviction never reopens a replay. No
// accepted timestamp is more than max_future_skew ahead of the receiver's
// clock when accepted, so neither is the watermark.
//
// Except in a partition anyone may seal into (MessageFacts::public_sealers:
// suite 3's recipient names): there the least recently seen stream leaves a
// tombstone (its top, floor and newest timestamp; at most
// max_evicted_streams) instead of raising the watermark, and its next
// message is judged against the tombstone (a sequence above its top is
// accepted whatever the watermark). Only when the tombstones are full does
// the one with the lowest timestamp go into the watermark (and those past
// max_age first). So a flood of valid fresh sessions refuses no honest
// message until it has more than max_streams + max_evicted_streams streams
// dated at or after that message (docs/SPEC.md, section 4b).
//
// Only authenticated messages may reach check(): the Opener calls it after
// the AEAD tag verified, so a forger cannot fill the table, and a partition
// exists only for a key name that sealed an authentic message.
//
// Thread safety: all methods may be called concurrently.
#ifndef MQSEAL_REPLAY_GUARD_H_
#define MQSEAL_REPLAY_GUARD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "mqseal/bytes.h"
#include "mqseal/clock.h"
#include "mqseal/error.h"
#include "mqseal/policy.h"

namespace mqseal {

inline constexpr uint64_t kReplayWindow = 1024;  // sequence numbers per stream
// Per stream: sender ID, topic hash, its keyed hash, top sequence, floor,
// newest timestamp, two links of the list by last seen, its place in the
// tree by newest timestamp, window.
// Per tombstone: sender ID, topic hash, its keyed hash, top sequence, floor,
// newest timestamp (plus two containers' nodes, about 100 bytes).
inline constexpr size_t kReplayTombstoneBytes = kSenderIdSize + 8 + 8 + 8 + 8 + 8;
inline constexpr size_t kReplayStateBytes = kSenderIdSize + 8 + 8 + 8 + 8 + 8 + 2 * 8 + 8 + kReplayWindow / 8 + 8;  // 216: the window is a ring of 17 words

struct ReplayOptions {
  uint64_t max_age_ms = 5 * 60 * 1000;        // 5 minutes
  uint64_t max_future_skew_ms = 60 * 1000;    // tolerated clock skew, 1 minute
  // For messages sealed to be retained, unless their topic's rule says
  // otherwise (TopicRule::retained).
  RetainedPolicy retained = RetainedPolicy::accept_within_age;
  uint64_t retained_max_age_ms = kDefaultRetainedMaxAgeMs;
  size_t max_streams = 4096;  // (sender, topic) pairs tracked at once, per key name
  // Suite 3 partitions only (MessageFacts::public_sealers): streams evicted
  // from the table that are remembered (tombstones, kReplayTombstoneBytes
  // each) instead of raising the watermark, per recipient name. 0: none.
  size_t max_evicted_streams = 65536;
  // invalid_argument unless max_age_ms >= 1, max_streams in 1..2^24,
  // max_evicted_streams in 0..2^24.
  [[nodiscard]] Status validate() const;
};

struct MessageFacts {
  std::string_view topic;     // the topic the message arrived on
  std::string_view key_name;  // the partition (suite 1): the name of the key it was sealed under
  // Suite 2: the verified signer's name. When set, it is the partition
  // instead of the key name: a partition of its own, apart from every key
  // name's and every other signer's, so that no holder of the topic key and
  // no other signer can move this signer's replay state.
  std::string_view signer;
  SenderId sender{};
  uint64_t sequence = 0;
  uint64_t timestamp_ms = 0;
  // Suite 3: anyone with the recipient's public key seals into this
  // partition (key_name), so a stream its table evicts is remembered on its
  // own (a tombstone) rather than raising the watermark that every new
  // stream meets: a flood of fresh sessions cannot refuse honest ones.
  bool public_sealers = false;
  // Judged as retained: sealed to be retained and delivered with the retain
  // flag (the Opener sets it only when both hold).
  bool retained = false;
  // The topic rule's own treatment of retained messages; null: the options'.
  const RetainedRule* retained_rule = nullptr;
};

namespace internal {
struct ReplayGuardProbe;  // tests only: core/src/session/replay_guard_probe.h
}  // namespace internal

class ReplayGuard {
 public:
  // invalid_argument for options that do not validate().
  [[nodiscard]] static Result<ReplayGuard> create(ReplayOptions options = {});

  ReplayGuard(ReplayGuard&&) noexcept;
  ReplayGuard& operator=(ReplayGuard&&) noexcept;
  ~ReplayGuard();

  // Checks one authenticated message against the state at time `now_ms` and,
  // if it is accepted, records it. duplicate, replay, expired, not_yet_valid,
  // retained_refused, or success; capacity_exceeded for a key name beyond
  // the 4096th (kMaxPolicyRules: no policy has more key names), or for a
  // signer without a partition while 4096 signers (kMaxKeyringKeys: no one
  // keyring trusts more) each have one with a message accepted within
  // max_age. Otherwise, at that bound, the new signer takes the partition of
  // the signer whose latest message is the oldest, whose timestamp becomes
  // the starting watermark of every signer partition made afterwards
  // (docs/SPEC.md, section 6): keyrings replaced over a receiver's life may
  // name any number of signers.
  [[nodiscard]] Status check(const MessageFacts& message, uint64_t now_ms);
  // Only the age rules of check() (not_yet_valid, retained_refused,
  // expired), against no state and recording nothing: what an Opener sharing
  // a replay store (OpenerOptions::replay_store) still judges locally.
  [[nodiscard]] Status check_age(const MessageFacts& message, uint64_t now_ms) const;

  size_t tracked_streams() const;  // in all partitions
  uint64_t watermark_ms(std::string_view key_name = {}) const;  // of one key name's partition
  uint64_t signer_watermark_ms(std::string_view signer) const;   // of one signer's partition
  const ReplayOptions& options() const noexcept;

 private:
  friend struct internal::ReplayGuardProbe;
  struct Impl;
  explicit ReplayGuard(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqseal

#endif  // MQSEAL_REPLAY_GUARD_H_
