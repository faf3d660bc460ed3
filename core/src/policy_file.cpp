#include "mqseal/policy_file.h"

#include <toml++/toml.h>

#include <fstream>

namespace mqseal {

namespace {

constexpr int64_t kPolicyFileVersion = 1;

Error at(const toml::node& node, const std::string& what) {
  const toml::source_region& where = node.source();
  return Error(Errc::parse_error, "line " + std::to_string(where.begin.line) + ": " + what);
}

// `retained = "accept" | "refuse"` and `retained_max_age_ms = N` (with
// "accept" only): the rule's own treatment of retained messages.
Status retained_rule(const toml::table& rule, std::optional<RetainedRule>& out) {
  const toml::node* policy = rule.get("retained");
  const toml::node* max_age = rule.get("retained_max_age_ms");
  if (policy == nullptr) {
    if (max_age != nullptr) return at(*max_age, "'retained_max_age_ms' needs 'retained = \"accept\"'");
    return {};
  }
  const std::optional<std::string> word = policy->value<std::string>();
  RetainedRule r;
  if (word == "refuse") {
    if (max_age != nullptr) return at(*max_age, "'retained_max_age_ms' needs 'retained = \"accept\"'");
    r.policy = RetainedPolicy::refuse;
  } else if (word == "accept") {
    if (max_age != nullptr) {
      const std::optional<int64_t> ms = max_age->value_exact<int64_t>();
      if (!ms || *ms < 1) return at(*max_age, "'retained_max_age_ms' must be a positive integer");
      r.max_age_ms = static_cast<uint64_t>(*ms);
    }
  } else {
    return at(*policy, "'retained' must be \"accept\" or \"refuse\"");
  }
  out = r;
  return {};
}

Status add_rule(TopicPolicy& policy, const toml::table& rule) {
  for (const auto& [key, value] : rule) {
    if (key != "filter" && key != "key" && key != "plaintext" && key != "retained" &&
        key != "retained_max_age_ms") {
      return at(value, "unknown rule field '" + std::string(key.str()) + "'");
    }
  }
  const std::optional<std::string> filter = rule["filter"].value<std::string>();
  if (!filter) return at(rule, "rule needs a string 'filter'");
  const toml::node* key = rule.get("key");
  const toml::node* plaintext = rule.get("plaintext");
  if ((key == nullptr) == (plaintext == nullptr)) {
    return at(rule, "rule needs exactly one of 'key' or 'plaintext = true'");
  }
  Status added;
  if (key != nullptr) {
    const std::optional<std::string> name = key->value<std::string>();
    if (!name) return at(*key, "'key' must be a string");
    std::optional<RetainedRule> retained;
    if (Status s = retained_rule(rule, retained); !s) return s;
    added = retained ? policy.add_rule(*filter, *name, *retained) : policy.add_rule(*filter, *name);
  } else {
    if (plaintext->value<bool>() != std::optional<bool>(true)) {
      return at(*plaintext, "'plaintext' may only be true");
    }
    if (rule.contains("retained") || rule.contains("retained_max_age_ms")) {
      return at(rule, "a plaintext rule has no retained policy: its messages pass through as they are");
    }
    added = policy.add_plaintext_rule(*filter);
  }
  if (!added) return at(rule, added.error().message());
  return {};
}

}  // namespace

Result<TopicPolicy> parse_policy(std::string_view text) {
  if (text.size() > kMaxPolicyFileSize) return Error(Errc::parse_error, "policy file too large");
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Error(Errc::parse_error, "line " + std::to_string(e.source().begin.line) + ": " +
                                        std::string(e.description()));
  }
  for (const auto& [key, value] : root) {
    if (key != "version" && key != "rule") {
      return at(value, "unknown top-level field '" + std::string(key.str()) + "'");
    }
  }
  if (root.contains("version") && root["version"].value<int64_t>() != kPolicyFileVersion) {
    return at(*root.get("version"), "unsupported policy file version (this build reads 1)");
  }
  TopicPolicy policy;
  const toml::node* rules = root.get("rule");
  if (rules == nullptr) return policy;
  const toml::array* array = rules->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return at(*rules, "'rule' must be an array of tables ([[rule]])");
  }
  for (const toml::node& rule : *array) {
    if (Status s = add_rule(policy, *rule.as_table()); !s) return s.error();
  }
  return policy;
}

Result<TopicPolicy> load_policy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::io_error, "cannot open " + path);
  std::string text;
  char chunk[4096];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPolicyFileSize) return Error(Errc::parse_error, "policy file too large");
  }
  if (in.bad()) return Error(Errc::io_error, "cannot read " + path);
  Result<TopicPolicy> policy = parse_policy(text);
  if (!policy) {
    return Error(policy.error().code(), path + ": " + policy.error().detail());
  }
  return policy;
}

}  // namespace mqseal
