#include "mqseal/policy.h"

#include <algorithm>
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
  if (level == "+" || level == kSignerLevel) return kPlus;
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

// The filter with every {signer} level written as '+', and the index of the
// last such level (-1: none) and how many there are.
std::string match_filter(std::string_view filter, int& signer_level, int& signer_levels) {
  std::string out;
  signer_level = -1;
  signer_levels = 0;
  size_t pos = 0;
  for (int index = 0;; ++index) {
    const size_t end = std::min(filter.find('/', pos), filter.size());
    const std::string_view level = filter.substr(pos, end - pos);
    if (level == kSignerLevel) {
      out += '+';
      signer_level = index;
      ++signer_levels;
    } else {
      out += level;
    }
    if (end == filter.size()) return out;
    out += '/';
    pos = end + 1;
  }
}

TopicRule make_rule(std::string_view filter, std::string_view key_name, bool plaintext,
                    std::optional<RetainedRule> retained) {
  TopicRule rule;
  rule.filter = std::string(filter);
  rule.key_name = std::string(key_name);
  rule.plaintext = plaintext;
  rule.retained = retained;
  return rule;
}

}  // namespace

bool signer_authorized(const TopicRule& rule, std::string_view topic, std::string_view signer) noexcept {
  if (rule.suite != Suite::signed_sender && rule.suite != Suite::signed_sealed) return false;
  for (const std::string& name : rule.signers) {
    if (name == signer) return true;
  }
  if (rule.signer_level < 0) return false;
  size_t pos = 0;
  for (int index = 0; index < rule.signer_level; ++index) {
    pos = topic.find('/', pos);
    if (pos == std::string_view::npos) return false;
    ++pos;
  }
  const size_t end = std::min(topic.find('/', pos), topic.size());
  return topic.substr(pos, end - pos) == signer;
}

Status TopicPolicy::add(TopicRule rule) {
  if (rule.retained && rule.retained->policy != RetainedPolicy::accept_within_age &&
      rule.retained->policy != RetainedPolicy::refuse) {
    return Error(Errc::invalid_argument, "unknown retained policy");
  }
  if (Status s = validate_filter(rule.filter); !s) return s;
  if (!rule.plaintext && !internal::valid_key_name(rule.key_name)) {
    return Error(Errc::invalid_argument, "key names are 1-64 characters of [A-Za-z0-9_.-]");
  }
  int signer_levels = 0;
  std::string matching = match_filter(rule.filter, rule.signer_level, signer_levels);
  if (rule.suite == Suite::signed_sender || rule.suite == Suite::signed_sealed) {
    if (signer_levels > 1) return Error(Errc::invalid_argument, "a filter holds at most one {signer} level");
    if (rule.signers.size() > kMaxRuleSigners) return Error(Errc::invalid_argument, "too many signers");
    for (size_t i = 0; i < rule.signers.size(); ++i) {
      if (!internal::valid_key_name(rule.signers[i])) {
        return Error(Errc::invalid_argument, "signer names are 1-64 characters of [A-Za-z0-9_.-]");
      }
      for (size_t j = 0; j < i; ++j) {
        if (rule.signers[j] == rule.signers[i]) return Error(Errc::invalid_argument, "a signer listed twice");
      }
    }
    if (rule.signers.empty() && rule.signer_level < 0) {
      return Error(Errc::invalid_argument, "a signed rule names its signers or has a {signer} level");
    }
  } else if (signer_levels > 0) {
    return Error(Errc::invalid_filter, "a {signer} level is only for signed rules");
  }
  if (rules_.size() >= kMaxPolicyRules) return Error(Errc::invalid_argument, "too many rules");
  for (const std::string& existing : match_filters_) {
    if (existing == matching) {
      return Error(Errc::invalid_argument, "a rule for this filter exists already");
    }
  }
  rules_.push_back(std::move(rule));
  match_filters_.push_back(std::move(matching));
  return {};
}

Status TopicPolicy::add_rule(std::string_view filter, std::string_view key_name) {
  return add(make_rule(filter, key_name, false, std::nullopt));
}

Status TopicPolicy::add_rule(std::string_view filter, std::string_view key_name,
                             RetainedRule retained) {
  return add(make_rule(filter, key_name, false, retained));
}

Status TopicPolicy::add_compact_rule(std::string_view filter, std::string_view key_name,
                                     std::optional<RetainedRule> retained) {
  TopicRule rule = make_rule(filter, key_name, false, retained);
  rule.compact = true;
  return add(std::move(rule));
}

Status TopicPolicy::add_aes256gcm_rule(std::string_view filter, std::string_view key_name,
                                       std::optional<RetainedRule> retained) {
  TopicRule rule = make_rule(filter, key_name, false, retained);
  rule.suite = Suite::aes256gcm;
  return add(std::move(rule));
}

Status TopicPolicy::add_plaintext_rule(std::string_view filter) {
  return add(make_rule(filter, {}, true, std::nullopt));
}

Status TopicPolicy::add_signed_rule(std::string_view filter, std::string_view key_name,
                                    std::vector<std::string> signers, std::optional<RetainedRule> retained) {
  TopicRule rule = make_rule(filter, key_name, false, retained);
  rule.suite = Suite::signed_sender;
  rule.signers = std::move(signers);
  return add(std::move(rule));
}

Status TopicPolicy::add_recipient_rule(std::string_view filter, std::string_view recipient,
                                       std::optional<RetainedRule> retained) {
  TopicRule rule = make_rule(filter, recipient, false, retained);
  rule.suite = Suite::sealed_to_recipient;
  return add(std::move(rule));
}

Status TopicPolicy::add_signed_recipient_rule(std::string_view filter, std::string_view recipient,
                                              std::vector<std::string> signers, std::optional<RetainedRule> retained) {
  TopicRule rule = make_rule(filter, recipient, false, retained);
  rule.suite = Suite::signed_sealed;
  rule.signers = std::move(signers);
  return add(std::move(rule));
}

Result<const TopicRule*> TopicPolicy::resolve(std::string_view topic) const {
  if (Status s = validate_topic(topic); !s) return s.error();
  const TopicRule* best = nullptr;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (topic_matches(match_filters_[i], topic) &&
        (best == nullptr || more_specific(rules_[i].filter, best->filter))) {
      best = &rules_[i];
    }
  }
  if (best == nullptr) return Errc::no_rule;
  return best;
}

}  // namespace mqseal
