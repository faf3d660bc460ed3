#include <mqseal/policy.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace mqseal {
namespace {

std::string winner(const TopicPolicy& policy, const char* topic) {
  Result<const TopicRule*> rule = policy.resolve(topic);
  return rule ? (*rule)->filter : std::string("error:") + name(rule.error().code());
}

TEST(TopicPolicy, FailsClosed) {
  TopicPolicy policy = testing::plant_policy();
  EXPECT_EQ(policy.resolve("plant/7/status").error(), Errc::no_rule);
  EXPECT_EQ(policy.resolve("other").error(), Errc::no_rule);
  EXPECT_EQ(TopicPolicy().resolve("a").error(), Errc::no_rule);
  EXPECT_EQ(policy.resolve("plant/+/telemetry").error(), Errc::invalid_topic);
}

TEST(TopicPolicy, PlaintextOnlyWhereNamed) {
  TopicPolicy policy = testing::plant_policy();
  EXPECT_TRUE((*policy.resolve("public/news"))->plaintext);
  EXPECT_FALSE((*policy.resolve("plant/1/telemetry"))->plaintext);
  EXPECT_EQ((*policy.resolve("plant/1/cmd/valve/open"))->key_name, "commands");
}

TEST(TopicPolicy, MostSpecificWinsWhateverTheOrder) {
  const char* filters[] = {"#", "plant/#", "plant/+/cmd/#", "plant/7/#", "plant/7/cmd/valve",
                           "plant/+/+/valve", "+/7/cmd/valve"};
  // Every rotation of the insertion order gives the same answers.
  for (size_t start = 0; start < std::size(filters); ++start) {
    TopicPolicy policy;
    for (size_t i = 0; i < std::size(filters); ++i) {
      testing::expect_ok(policy.add_rule(filters[(start + i) % std::size(filters)], "k"));
    }
    EXPECT_EQ(winner(policy, "plant/7/cmd/valve"), "plant/7/cmd/valve");
    EXPECT_EQ(winner(policy, "plant/7/cmd/pump"), "plant/7/#");
    EXPECT_EQ(winner(policy, "plant/8/cmd/pump"), "plant/+/cmd/#");
    EXPECT_EQ(winner(policy, "plant/8/x/valve"), "plant/+/+/valve");
    EXPECT_EQ(winner(policy, "plant/8/x"), "plant/#");
    EXPECT_EQ(winner(policy, "site/7/cmd/valve"), "+/7/cmd/valve");
    EXPECT_EQ(winner(policy, "elsewhere"), "#");
    EXPECT_EQ(winner(policy, "$SYS/load"), "error:no_rule");  // wildcards skip $ topics
  }
}

TEST(TopicPolicy, ExactBeatsHashOnParentLevel) {
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("a/#", "wide"));
  testing::expect_ok(policy.add_rule("a", "exact"));
  EXPECT_EQ(winner(policy, "a"), "a");
  EXPECT_EQ(winner(policy, "a/b"), "a/#");
}

TEST(TopicPolicy, RejectsBadRules) {
  TopicPolicy policy;
  EXPECT_EQ(policy.add_rule("a/#/b", "k").error(), Errc::invalid_filter);
  EXPECT_EQ(policy.add_rule("a", "").error(), Errc::invalid_argument);
  EXPECT_EQ(policy.add_rule("a", "bad name").error(), Errc::invalid_argument);
  testing::expect_ok(policy.add_rule("a", "k"));
  EXPECT_EQ(policy.add_rule("a", "k2").error(), Errc::invalid_argument);
  EXPECT_EQ(policy.add_plaintext_rule("a").error(), Errc::invalid_argument);
  EXPECT_EQ(policy.rules().size(), 1u);
}

TEST(TopicPolicy, BoundedRuleCount) {
  TopicPolicy policy;
  for (size_t i = 0; i < kMaxPolicyRules; ++i) {
    ASSERT_TRUE(policy.add_rule("t/" + std::to_string(i), "k"));
  }
  EXPECT_EQ(policy.add_rule("t/x", "k").error(), Errc::invalid_argument);
}

}  // namespace
}  // namespace mqseal
