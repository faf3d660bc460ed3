#include <mqseal/policy_file.h>
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace mqseal {
namespace {

TEST(PolicyFile, ParsesRules) {
  Result<TopicPolicy> policy = parse_policy(R"(
version = 1

[[rule]]
filter = "plant/+/telemetry"
key = "telemetry"

[[rule]]
filter = "public/#"
plaintext = true
)");
  ASSERT_TRUE(policy) << policy.error().message();
  EXPECT_EQ((*policy->resolve("plant/3/telemetry"))->key_name, "telemetry");
  EXPECT_TRUE((*policy->resolve("public/x"))->plaintext);
  EXPECT_EQ(policy->resolve("plant/3/other").error(), Errc::no_rule);
}

TEST(PolicyFile, EmptyFileIsAnEmptyPolicy) {
  Result<TopicPolicy> policy = parse_policy("");
  ASSERT_TRUE(policy);
  EXPECT_TRUE(policy->rules().empty());
}

TEST(PolicyFile, RejectsWhatItDoesNotUnderstand) {
  struct Case {
    const char* text;
    Errc code;
    const char* says;
  };
  const Case cases[] = {
      {"version = 2\n", Errc::parse_error, "version"},
      {"versio = 1\n", Errc::parse_error, "unknown top-level field 'versio'"},
      {"[[rule]]\nfilter = \"a\"\n", Errc::parse_error, "exactly one"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\nplaintext = true\n", Errc::parse_error, "exactly one"},
      {"[[rule]]\nfilter = \"a\"\nplaintext = false\n", Errc::parse_error, "only be true"},
      {"[[rule]]\nfilter = \"a\"\nkey = 3\n", Errc::parse_error, "must be a string"},
      {"[[rule]]\nkey = \"k\"\n", Errc::parse_error, "filter"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\nplaintxt = true\n", Errc::parse_error, "plaintxt"},
      {"[[rule]]\nfilter = \"a/#/b\"\nkey = \"k\"\n", Errc::parse_error, "line 1"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\n[[rule]]\nfilter = \"a\"\nkey = \"j\"\n",
       Errc::parse_error, "exists already"},
      {"rule = 3\n", Errc::parse_error, "array of tables"},
      {"[[rule]\n", Errc::parse_error, "line 1"},
      {"\xff\xfe = 1\n", Errc::parse_error, "line 1"},
  };
  for (const Case& c : cases) {
    Result<TopicPolicy> policy = parse_policy(c.text);
    ASSERT_FALSE(policy) << c.text;
    EXPECT_EQ(policy.error(), c.code) << c.text;
    EXPECT_NE(policy.error().message().find(c.says), std::string::npos)
        << c.text << " -> " << policy.error().message();
  }
}

TEST(PolicyFile, RandomMutationsGiveTypedErrorsOnly) {
  const std::string text =
      "version = 1\n[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n"
      "[[rule]]\nfilter = \"public/#\"\nplaintext = true\n";
  ASSERT_TRUE(parse_policy(text));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = text;
    for (int e = 0; e < 1 + static_cast<int>(rng() % 3); ++e) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    Result<TopicPolicy> r = parse_policy(mutated);
    if (!r) {
      const Errc c = r.error().code();
      EXPECT_TRUE(c == Errc::parse_error || c == Errc::invalid_filter) << r.error().message();
    }
  }
}

TEST(PolicyFile, RetainedPolicyPerRule) {
  Result<TopicPolicy> policy = parse_policy(
      "[[rule]]\nfilter = \"plant/+/cmd/#\"\nkey = \"commands\"\nretained = \"refuse\"\n"
      "[[rule]]\nfilter = \"plant/+/state\"\nkey = \"state\"\nretained = \"accept\"\n"
      "retained_max_age_ms = 86400000\n"
      "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n");
  ASSERT_TRUE(policy) << policy.error().message();
  const std::vector<TopicRule>& rules = policy->rules();
  ASSERT_EQ(rules.size(), 3u);
  ASSERT_TRUE(rules[0].retained);
  EXPECT_EQ(rules[0].retained->policy, RetainedPolicy::refuse);
  ASSERT_TRUE(rules[1].retained);
  EXPECT_EQ(rules[1].retained->policy, RetainedPolicy::accept_within_age);
  EXPECT_EQ(rules[1].retained->max_age_ms, 86400000u);
  EXPECT_FALSE(rules[2].retained);
  for (const char* bad : {
           "retained = \"sometimes\"\n",
           "retained = true\n",
           "retained_max_age_ms = 5\n",
           "retained = \"refuse\"\nretained_max_age_ms = 5\n",
           "retained = \"accept\"\nretained_max_age_ms = 0\n",
           "retained = \"accept\"\nretained_max_age_ms = -3\n",
           "retained = \"accept\"\nretained_max_age_ms = 1.5\n",
       }) {
    const std::string text = std::string("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\n") + bad;
    EXPECT_EQ(parse_policy(text).error(), Errc::parse_error) << bad;
  }
  EXPECT_EQ(parse_policy("[[rule]]\nfilter = \"p/#\"\nplaintext = true\nretained = \"refuse\"\n").error(),
            Errc::parse_error);
}

TEST(PolicyFile, LoadsFromDisk) {
  testing::TempDir dir;
  testing::write_file(dir.file("p.toml"), "[[rule]]\nfilter = \"#\"\nkey = \"all\"\n", 0644);
  Result<TopicPolicy> policy = load_policy(dir.file("p.toml"));
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->rules().size(), 1u);
  EXPECT_EQ(load_policy(dir.file("none.toml")).error(), Errc::io_error);
  testing::write_file(dir.file("big.toml"), std::string(kMaxPolicyFileSize + 1, '#'), 0644);
  EXPECT_EQ(load_policy(dir.file("big.toml")).error(), Errc::parse_error);
}

}  // namespace
}  // namespace mqseal
