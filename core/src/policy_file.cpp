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

Status add_rule(TopicPolicy& policy, const toml::table& rule) {
  for (const auto& [key, value] : rule) {
    if (key != "filter" && key != "key" && key != "plaintext") {
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
    added = policy.add_rule(*filter, *name);
  } else {
    if (plaintext->value<bool>() != std::optional<bool>(true)) {
      return at(*plaintext, "'plaintext' may only be true");
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
