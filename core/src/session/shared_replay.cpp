#include "session/shared_replay.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "base/saturating.h"
#include "base/sodium_util.h"
#include "crypto/blake2b.h"
#include "session/recipient_session.h"

namespace mqseal::internal {

namespace {

constexpr Blake2bPersonal kMessageClaimPersonal = "mqseal-msg-claim";
constexpr uint64_t kMsPerS = 1000;
constexpr uint64_t kClaimRoundingS = 2;  // keep_until rounded up, now down

}  // namespace

Result<ReplayId> message_claim_id(const SenderId& sender, uint64_t sequence, std::string_view topic) {
  std::vector<uint8_t> message(kSenderIdSize + sizeof sequence);
  std::copy(sender.begin(), sender.end(), message.begin());
  store_be64(message.data() + kSenderIdSize, sequence);
  message.insert(message.end(), topic.begin(), topic.end());
  ReplayId id;
  if (Status s = blake2b_personal(id.data(), id.size(), ByteView(), message, kMessageClaimPersonal); !s) {
    return s.error();
  }
  return id;
}

uint64_t message_keep_until_s(uint64_t timestamp_ms, const ReplayOptions& o) noexcept {
  const uint64_t until_ms = saturating_add(saturating_add(timestamp_ms, o.max_age_ms), o.max_future_skew_ms);
  return until_ms / kMsPerS + (until_ms % kMsPerS != 0 ? 1 : 0);
}

Status SharedReplay::validate(const OpenerOptions& options, const TopicPolicy& policy, const Keyring& keyring) {
  if (options.replay_store == nullptr) return {};
  const std::string& group = options.replay_group;
  const bool group_ok = !group.empty() && group.size() <= kMaxReplayGroupSize &&
                        std::all_of(group.begin(), group.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                 c == '.' || c == '_' || c == '-';
                        });
  if (!group_ok) {
    return Error(Errc::invalid_argument, "with a replay store, replay_group (the consumer group) is required: 1 to " +
                                             std::to_string(kMaxReplayGroupSize) +
                                             " characters of A-Z a-z 0-9 . _ -");
  }
  const size_t quota = options.max_claims_per_key_name;
  if (quota == 0 || quota > kMaxClaimsPerKeyName) {
    return Error(Errc::invalid_argument, "max_claims_per_key_name must be 1.." + std::to_string(kMaxClaimsPerKeyName));
  }
  // A claim is kept keep_until - now <= (max_age + 2 x skew) / 1000 + 2 s
  // (a timestamp up to skew ahead, both ends rounded to whole seconds).
  const ReplayOptions& r = options.replay;
  const uint64_t longest_ms = saturating_add(r.max_age_ms, saturating_add(r.max_future_skew_ms, r.max_future_skew_ms));
  if (longest_ms > (kMaxRedisClaimLifetimeS - kClaimRoundingS) * kMsPerS) {
    return Error(Errc::invalid_argument,
                 "with a replay store, a message's claim is kept at most " + std::to_string(kMaxRedisClaimLifetimeS) +
                     " s: max_age_ms + 2 x max_future_skew_ms must be at most " +
                     std::to_string((kMaxRedisClaimLifetimeS - kClaimRoundingS) * kMsPerS));
  }
  std::set<std::string> partitions;
  bool any_signer_level = false;
  for (const TopicRule& rule : policy.rules()) {
    if (rule.plaintext) continue;
    if (rule.suite == Suite::symmetric || rule.suite == Suite::sealed_to_recipient) {  // a key name; a recipient name, tagged
      partitions.insert(rule.suite == Suite::sealed_to_recipient ? kRecipientPartitionTag + rule.key_name
                                                                 : rule.key_name);
      continue;
    }
    for (const std::string& signer : rule.signers) partitions.insert(kSignerClaimPartitionTag + signer);
    any_signer_level = any_signer_level || rule.signer_level >= 0;
  }
  if (any_signer_level) {
    for (const KeyInfo& key : keyring.list()) {
      if (key.kind == KeyKind::signing || key.kind == KeyKind::trusted_signer) {
        partitions.insert(kSignerClaimPartitionTag + key.name);
      }
    }
  }
  // At most (kMaxPolicyRules x kMaxRuleSigners + keyring keys) x 2^26: no overflow.
  const size_t needed = partitions.size() * quota;
  if (options.replay_store->capacity() < needed) {
    return Error(Errc::invalid_argument, "the replay store holds " + std::to_string(options.replay_store->capacity()) +
                                             " claims; " + std::to_string(partitions.size()) +
                                             " key names and signers x max_claims_per_key_name need " +
                                             std::to_string(needed));
  }
  return {};
}

Status SharedReplay::check(const ReplayGuard& guard, const MessageFacts& m, uint64_t now_ms) {
  uint64_t judged = latest_ms_.load();
  while (judged < now_ms && !latest_ms_.compare_exchange_weak(judged, now_ms)) {
  }
  if (judged < now_ms) judged = now_ms;
  if (Status s = guard.check_age(m, judged); !s) return s;
  const ReplayOptions& o = guard.options();
  const uint64_t age = judged > m.timestamp_ms ? judged - m.timestamp_ms : 0;
  // An old retained message: by MQTT's design the broker gives it to every
  // new subscriber; no live copy of it can be accepted any more, so it claims
  // nothing (a young one might be a copy of a live one: it claims as one).
  if (m.retained && age > o.max_age_ms) return {};
  Result<ReplayId> id = message_claim_id(m.sender, m.sequence, m.topic);
  if (!id) return std::move(id).error();
  // The replay guard's partition: the key name, or the signer of a signed message.
  std::string signer_partition;
  if (!m.signer.empty()) signer_partition.append(1, kSignerClaimPartitionTag).append(m.signer);
  const ReplayClaim claim{name_space_, m.signer.empty() ? m.key_name : std::string_view(signer_partition),
                          *id, message_keep_until_s(m.timestamp_ms, o), judged / kMsPerS, quota_};
  Result<ClaimOutcome> claimed = store_->claim(claim);
  if (!claimed) return std::move(claimed).error();  // fail closed
  if (*claimed == ClaimOutcome::seen) return Errc::duplicate;
  // Another open of this Opener judged at a later time meanwhile, and its
  // claim may have let the store forget this message's earlier claim.
  if (latest_ms_.load() / kMsPerS > claim.keep_until_s) {
    return Error(Errc::expired, "the receiver's clock moved past the message's claim");
  }
  return {};
}

}  // namespace mqseal::internal
