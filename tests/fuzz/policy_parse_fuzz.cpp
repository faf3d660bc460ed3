// Fuzz target: parse_policy, the TOML policy file (docs/SPEC.md, "Policy
// file", toml++ underneath), on arbitrary text.
//
// Crashes on: anything the sanitizers catch (toml++ included: it is
// compiled into this target), on an undocumented error code, and on a
// parsed policy that finds no rule for a topic one of its own filters matches.
#include <string>

#include "fuzz_support.h"
#include "mqseal/policy_file.h"

namespace {

using mqseal::fuzz::check;

// A concrete topic the filter matches: '+' becomes "x", a trailing '#' "x".
std::string instance(const std::string& filter) {
  std::string topic;
  for (char c : filter) topic += (c == '+' || c == '#') ? std::string("x") : std::string(1, c);
  return topic;
}

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  return {
      {"policy", bytes_of("version = 1\n\n"
                          "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n\n"
                          "[[rule]]\nfilter = \"plant/+/cmd/#\"\nkey = \"commands\"\n\n"
                          "[[rule]]\nfilter = \"plant/7/#\"\nkey = \"plant7\"\n\n"
                          "[[rule]]\nfilter = \"public/#\"\nplaintext = true\n")},
      {"inline", bytes_of("rule = [ { filter = \"#\", key = \"all\" }, { filter = \"$SYS/#\", plaintext = true } ]\n")},
      {"empty", bytes_of("")},
      {"wrong-version", bytes_of("version = 2\n")},
      {"unknown-field", bytes_of("[[rule]]\nfilter = \"a\"\nkey = \"k\"\ncolour = \"red\"\n")},
      {"both", bytes_of("[[rule]]\nfilter = \"a/b\"\nkey = \"k\"\nplaintext = false\n")},
  };
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mqseal::Result<mqseal::TopicPolicy> parsed = mqseal::parse_policy(text);
  if (!parsed) {
    check(parsed.error().code() == mqseal::Errc::parse_error ||
              parsed.error().code() == mqseal::Errc::invalid_filter ||
              parsed.error().code() == mqseal::Errc::invalid_argument,
          "parse_policy failed with an undocumented error code");
    return 0;
  }
  check(parsed->rules().size() <= mqseal::kMaxPolicyRules, "more rules than kMaxPolicyRules");
  for (const mqseal::TopicRule& rule : parsed->rules()) {
    const std::string topic = instance(rule.filter);
    mqseal::Result<const mqseal::TopicRule*> resolved = parsed->resolve(topic);
    check(resolved.ok(), "no rule for a topic a rule's own filter matches");
    check((*resolved)->plaintext || !(*resolved)->key_name.empty(), "a sealed rule without a key name");
  }
  return 0;
}
