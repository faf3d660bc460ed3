// mqseal/policy.h: which key protects which topic.
//
// A TopicPolicy is a list of rules, each an MQTT topic filter and either a key
// name from the keyring or, when asked for by name, plaintext:
//
//   mqseal::TopicPolicy policy;
//   policy.add_rule("plant/+/telemetry", "telemetry");
//   policy.add_rule("plant/+/cmd/#", "commands");
//   policy.add_plaintext_rule("public/#");
//
// Precedence: the most specific matching filter wins, whatever the order the
// rules were added in. Two filters that match the same topic are compared
// level by level from the left; at the first level where they differ, a
// literal level beats '+', and '+' beats '#'. For "plant/7/cmd/valve",
// "plant/7/#" beats "plant/+/cmd/#" (level 2: literal beats '+'), and
// "plant/+/cmd/#" beats "plant/#". Adding the same filter twice is an error,
// so the order is total and the answer never depends on insertion order.
//
// Fail closed: a topic no rule matches gets no_rule; nothing is sent or
// accepted in plaintext unless a plaintext rule names it.
//
// Each concrete topic gets its own key, derived from the rule's key (see
// docs/SPEC.md, "Per-topic keys"), so one provisioned secret covers a topic
// tree while no two topics share an encryption key.
//
// Retained messages: a rule may say how receivers treat the messages its
// publishers sealed to be retained (RetainedRule); command topics typically
// refuse them:
//
//   policy.add_rule("plant/+/cmd/#", "commands", mqseal::RetainedRule{mqseal::RetainedPolicy::refuse});
//
// A rule without one uses the receiver's default (ReplayOptions).
//
// Signed sender (suite 2; docs/SPEC.md, sections 2a and 4a): a rule may
// require every message on it to be signed, and say who may sign. Either by
// name, or with a filter level written {signer}, which matches like '+' and
// must equal the verified signer's name, so that one rule lets each device
// publish only under its own level:
//
//   policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", {});
//   policy.add_signed_rule("plant/+/cmd/#", "commands", {"backend"});
//
// Sealed to a recipient (suite 3; docs/SPEC.md, section 4b): a device that
// holds only the backend's public key seals so that only the backend opens:
//
//   policy.add_recipient_rule("plant/+/report", "backend");
//
// and signed too (suite 4, section 4c), each device under its own level:
//
//   policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {});
//
// AES-256-GCM (suite 5; docs/SPEC.md, section 4e): suite 1's guarantees with
// a cipher that is faster for small messages on CPUs with AES-NI and
// PCLMULQDQ (server-to-server traffic), refused on others:
//
//   policy.add_aes256gcm_rule("backend/+/events", "events");
//
// A receiver refuses an envelope of any suite other than its rule's
// (wrong_suite_for_topic): there is no downgrade.
//
// Compact envelope (envelope v3; docs/SPEC.md, section 4d): a rule may ask
// for suite 1 in 36 bytes of overhead instead of 55, for constrained links:
//
//   policy.add_compact_rule("field/+/reading", "telemetry");
//
// Same guarantees as suite 1 within its bounds (sessions of at most 2^32
// messages, at most 2^16 sessions per topic key for a nonce-collision
// probability below 2^-33). A receiver refuses a v1/v2 envelope on a compact
// rule and a compact envelope on any other (wrong_suite_for_topic).
//
// Thread safety: const methods may run concurrently; add_* needs exclusive
// access. Policies are small; build one, then share it as
// std::shared_ptr<const TopicPolicy>.
#ifndef MQSEAL_POLICY_H_
#define MQSEAL_POLICY_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/error.h"

namespace mqseal {

inline constexpr size_t kMaxPolicyRules = 4096;
inline constexpr uint64_t kDefaultRetainedMaxAgeMs = 7ull * 24 * 60 * 60 * 1000;  // 7 days

// What a receiver does with a message its publisher sealed to be retained
// and the broker delivered from its retained store (docs/SPEC.md, section 6).
enum class RetainedPolicy : uint8_t {
  accept_within_age = 1,  // accept it up to RetainedRule::max_age_ms old
  refuse = 2,             // refuse it (retained_refused)
};

struct RetainedRule {
  RetainedPolicy policy = RetainedPolicy::accept_within_age;
  uint64_t max_age_ms = kDefaultRetainedMaxAgeMs;  // used with accept_within_age
};

// The envelope suite a rule requires (the suite byte, docs/SPEC.md section 4).
enum class Suite : uint8_t {
  symmetric = 1,      // suite 1: sealed under the topic key by any holder of it
  signed_sender = 2,  // suite 2: suite 1 plus an authorised signer's Ed25519 signature
  // suite 3: sealed to the X25519 public key of the recipient named by the
  // rule's key_name; only that recipient's private key opens. It does not
  // say who sealed (anyone with the public key can).
  sealed_to_recipient = 3,
  // suite 4: signed by an authorised signer, then sealed to the recipient
  // (docs/SPEC.md, section 4c): signers and {signer} as suite 2's.
  signed_sealed = 4,
  // suite 5: as suite 1 (any holder of the topic key), sealed with
  // AES-256-GCM instead (docs/SPEC.md, section 4e): for CPUs with AES-NI and
  // PCLMULQDQ, where it is the faster cipher for small messages. Sealer and
  // Opener refuse a policy with such a rule elsewhere (unsupported_suite).
  aes256gcm = 5,
};

// A filter level that matches like '+' and must equal the verified signer's
// name (signed rules only; at most one per filter).
inline constexpr std::string_view kSignerLevel = "{signer}";
// Signer names one signed rule may list.
inline constexpr size_t kMaxRuleSigners = 4096;

struct TopicRule {
  std::string filter;    // as given; a signed rule's may hold one {signer} level
  std::string key_name;  // empty for a plaintext rule; suite 3: the recipient name
  bool plaintext = false;
  std::optional<RetainedRule> retained;  // unset: the receiver's default
  Suite suite = Suite::symmetric;        // signed_sender: every message signed
  std::vector<std::string> signers;      // signed rules: the signer names authorised on every topic
  // Signed rules: the index (from 0) of the filter's {signer} level; -1: none.
  int signer_level = -1;
  // Suite 1 rules only: envelopes are envelope v3, the compact envelope.
  bool compact = false;
};

// Whether a message on `topic` (which the rule's filter matches) verified as
// signed by `signer` may be accepted under this signed rule: the signer is
// listed, or `topic`'s level at signer_level is exactly its name. False for a
// rule that is not signed.
bool signer_authorized(const TopicRule& rule, std::string_view topic, std::string_view signer) noexcept;

class TopicPolicy {
 public:
  // invalid_filter, invalid_argument (bad key name, duplicate filter, or more
  // than kMaxPolicyRules rules).
  [[nodiscard]] Status add_rule(std::string_view filter, std::string_view key_name);
  // The same, with this rule's own treatment of retained messages.
  [[nodiscard]] Status add_rule(std::string_view filter, std::string_view key_name,
                                RetainedRule retained);
  [[nodiscard]] Status add_plaintext_rule(std::string_view filter);
  // A signed rule (suite 2). `signers` lists the signer names authorised on
  // every topic the filter matches; the filter may also hold one {signer}
  // level. invalid_filter; invalid_argument for a bad key or signer name, a
  // name listed twice, more than kMaxRuleSigners names, a second {signer}
  // level, or neither a name nor a {signer} level (nobody could publish),
  // and as add_rule.
  [[nodiscard]] Status add_signed_rule(std::string_view filter, std::string_view key_name,
                                       std::vector<std::string> signers,
                                       std::optional<RetainedRule> retained = std::nullopt);
  // A rule sealed to a recipient (suite 3): every topic it wins is sealed to
  // the primary recipient public key (or key pair) named `recipient` and
  // opened only with that recipient's private key. Errors as add_rule.
  [[nodiscard]] Status add_recipient_rule(std::string_view filter, std::string_view recipient,
                                          std::optional<RetainedRule> retained = std::nullopt);
  // Signed and sealed to a recipient (suite 4): sealed as add_recipient_rule,
  // signed inside the ciphertext by a signer authorised as add_signed_rule
  // says (listed, or the filter's {signer} level). Errors as add_signed_rule.
  [[nodiscard]] Status add_signed_recipient_rule(std::string_view filter, std::string_view recipient,
                                                 std::vector<std::string> signers,
                                                 std::optional<RetainedRule> retained = std::nullopt);

  // A suite 5 rule: as add_rule, sealed with AES-256-GCM. Any CPU may build
  // the policy; Sealer::create and Opener::create refuse it where the CPU
  // has no AES-NI and PCLMULQDQ (unsupported_suite).
  [[nodiscard]] Status add_aes256gcm_rule(std::string_view filter, std::string_view key_name,
                                          std::optional<RetainedRule> retained = std::nullopt);

  // A suite 1 rule whose envelopes are compact (envelope v3). As add_rule.
  [[nodiscard]] Status add_compact_rule(std::string_view filter, std::string_view key_name,
                                        std::optional<RetainedRule> retained = std::nullopt);

  // The winning rule for a concrete topic: invalid_topic, or no_rule.
  [[nodiscard]] Result<const TopicRule*> resolve(std::string_view topic) const;

  const std::vector<TopicRule>& rules() const noexcept { return rules_; }

 private:
  [[nodiscard]] Status add(TopicRule rule);
  std::vector<TopicRule> rules_;
  // Per rule, the filter MQTT-matching uses: {signer} levels written as '+'.
  std::vector<std::string> match_filters_;
};

}  // namespace mqseal

#endif  // MQSEAL_POLICY_H_
