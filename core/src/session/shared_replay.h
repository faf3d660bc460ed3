// Private: the receiving side's replay rules when an Opener shares its replay
// state through a ReplayStore (OpenerOptions::replay_store; the rules are in
// mqseal/opener.h, "Shared replay state", and docs/SPEC.md section 6).
#ifndef MQSEAL_SRC_SESSION_SHARED_REPLAY_H_
#define MQSEAL_SRC_SESSION_SHARED_REPLAY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/keyring.h"
#include "mqseal/options.h"
#include "mqseal/policy.h"
#include "mqseal/replay_guard.h"
#include "mqseal/replay_store.h"

namespace mqseal::internal {

// The claims' namespace in a store that token claims ("token") may share is
// this, ':' and the consumer group (OpenerOptions::replay_group).
inline constexpr std::string_view kMessageClaimNamespace = "message";
static_assert(kMessageClaimNamespace.size() + 1 + kMaxReplayGroupSize <= kMaxReplayNamespaceSize,
              "message:<group> fits a claim's namespace");
// A signed message's partition is this byte and its signer's name, as the
// replay guard's: no key name starts with it, so the two kinds never share one.
inline constexpr char kSignerClaimPartitionTag = '\x01';

// What a message claims: BLAKE2b-128, personalised "mqseal-msg-claim", no
// key, of sender (16 bytes) || sequence (8 bytes, big-endian) || topic.
[[nodiscard]] Result<ReplayId> message_claim_id(const SenderId& sender, uint64_t sequence, std::string_view topic);

// How long a message's claim is kept, in whole seconds: timestamp + max_age
// + max_future_skew, rounded up, saturated (never wraps to forget early).
uint64_t message_keep_until_s(uint64_t timestamp_ms, const ReplayOptions& options) noexcept;

class SharedReplay {
 public:
  // invalid_argument for a quota outside 1..kMaxClaimsPerKeyName or a store
  // whose capacity() is below (partitions) x quota, the partitions being the
  // key names of the policy's suite 1 rules and the signers of its signed
  // rules: those listed, and, if a rule has a {signer} level, every signer
  // name `keyring` holds a key of (a keyring given later to set_keyring is
  // not counted again).
  [[nodiscard]] static Status validate(const OpenerOptions& options, const TopicPolicy& policy,
                                       const Keyring& keyring);

  SharedReplay(std::shared_ptr<ReplayStore> store, size_t max_claims_per_key_name, std::string_view group)
      : store_(std::move(store)),
        quota_(max_claims_per_key_name),
        name_space_(std::string(kMessageClaimNamespace) + ":" + std::string(group)) {}

  // In place of ReplayGuard::check for one authenticated message: the age
  // rules of `guard` (check_age), then a claim in the store for all but
  // retained messages older than max_age, in the guard's partition (the key
  // name, or for a signed message the tag and its signer). Records nothing
  // locally.
  [[nodiscard]] Status check(const ReplayGuard& guard, const MessageFacts& message, uint64_t now_ms);

 private:
  std::shared_ptr<ReplayStore> store_;
  size_t quota_;
  std::string name_space_;  // "message:<group>"
  // The latest time this Opener judged at: a clock stepping back judges at
  // it instead, so it never brings back a claim the store forgot.
  std::atomic<uint64_t> latest_ms_{0};
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SESSION_SHARED_REPLAY_H_
