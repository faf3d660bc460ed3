#include "mqseal/policy.h"

#include <string>

#include "keys/key_name.h"
#include "mqseal/topic.h"

namespace mqseal {

namespace {

// Rank of one filter level for precedence: lower is more specific. A filter
// that has run out of levels (it matched exactly) beats a final '#'.
enum LevelRank { kEnded = 0, kLiteral = 1, kPlus = 2, kHash = 3 };

LevelRank rank_at(std::string_view filter, size_t pos) {
  if (pos > filter.size()) return kEnded;
  const size_t end = std::min(filter.find('/', pos), filter.size());
  const std::string_view level = filter.substr(pos, end - pos);
  if (level == "#") return kHash;
  if (level == "+") return kPlus;
  return kLiteral;
}

// True if `a` is more specific than `b`. Both match the same topic and
// differ, so they differ in rank at some level.
bool more_specific(std::string_view a, std::string_view b) {
  size_t pa = 0;
  size_t pb = 0;
  while (pa <= a.size() || pb <= b.size()) {
    const LevelRank ra = rank_at(a, pa);
    const LevelRank rb = rank_at(b, pb);
    if (ra != rb) return ra < rb;
    pa = pa > a.size() ? pa : std::min(a.find('/', pa), a.size()) + 1;
    pb = pb > b.size() ? pb : std::min(b.find('/', pb), b.size()) + 1;
  }
  return false;
}

}  // namespace

Status TopicPolicy::add(TopicRule rule) {
  if (Status s = validate_filter(rule.filter); !s) return s;
  if (!rule.plaintext && !internal::valid_key_name(rule.key_name)) {
    return Error(Errc::invalid_argument, "key names are 1-64 characters of [A-Za-z0-9_.-]");
  }
  if (rules_.size() >= kMaxPolicyRules) return Error(Errc::invalid_argument, "too many rules");
  for (const TopicRule& existing : rules_) {
    if (existing.filter == rule.filter) {
      return Error(Errc::invalid_argument, "a rule for this filter exists already");
    }
  }
  rules_.push_back(std::move(rule));
  return {};
}

Status TopicPolicy::add_rule(std::string_view filter, std::string_view key_name) {
  return add(TopicRule{std::string(filter), std::string(key_name), false, std::nullopt});
}

Status TopicPolicy::add_rule(std::string_view filter, std::string_view key_name,
                             RetainedRule retained) {
  if (retained.policy != RetainedPolicy::accept_within_age &&
      retained.policy != RetainedPolicy::refuse) {
    return Error(Errc::invalid_argument, "unknown retained policy");
  }
  return add(TopicRule{std::string(filter), std::string(key_name), false, retained});
}

Status TopicPolicy::add_plaintext_rule(std::string_view filter) {
  return add(TopicRule{std::string(filter), std::string(), true, std::nullopt});
}

Result<const TopicRule*> TopicPolicy::resolve(std::string_view topic) const {
  if (Status s = validate_topic(topic); !s) return s.error();
  const TopicRule* best = nullptr;
  for (const TopicRule& rule : rules_) {
    if (topic_matches(rule.filter, topic) &&
        (best == nullptr || more_specific(rule.filter, best->filter))) {
      best = &rule;
    }
  }
  if (best == nullptr) return Errc::no_rule;
  return best;
}

}  // namespace mqseal
