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

struct TopicRule {
  std::string filter;
  std::string key_name;  // empty for a plaintext rule
  bool plaintext = false;
  std::optional<RetainedRule> retained;  // unset: the receiver's default
};

class TopicPolicy {
 public:
  // invalid_filter, invalid_argument (bad key name, duplicate filter, or more
  // than kMaxPolicyRules rules).
  [[nodiscard]] Status add_rule(std::string_view filter, std::string_view key_name);
  // The same, with this rule's own treatment of retained messages.
  [[nodiscard]] Status add_rule(std::string_view filter, std::string_view key_name,
                                RetainedRule retained);
  [[nodiscard]] Status add_plaintext_rule(std::string_view filter);

  // The winning rule for a concrete topic: invalid_topic, or no_rule.
  [[nodiscard]] Result<const TopicRule*> resolve(std::string_view topic) const;

  const std::vector<TopicRule>& rules() const noexcept { return rules_; }

 private:
  [[nodiscard]] Status add(TopicRule rule);
  std::vector<TopicRule> rules_;
};

}  // namespace mqseal

#endif  // MQSEAL_POLICY_H_
