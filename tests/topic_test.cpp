#include <mqseal/topic.h>
#include <gtest/gtest.h>

#include <string>

namespace mqseal {
namespace {

TEST(Topic, ValidNames) {
  for (const char* t : {"a", "a/b", "/", "a//b", "/a", "a/", "$SYS/broker", "plant/7/telemetry",
                        "caf\xc3\xa9", "\xf0\x9f\x98\x80", " "}) {
    EXPECT_TRUE(validate_topic(t)) << t;
  }
}

TEST(Topic, InvalidNames) {
  EXPECT_EQ(validate_topic("").error(), Errc::invalid_topic);
  EXPECT_EQ(validate_topic("a/+").error(), Errc::invalid_topic);
  EXPECT_EQ(validate_topic("a/#").error(), Errc::invalid_topic);
  EXPECT_EQ(validate_topic("a+b").error(), Errc::invalid_topic);
  EXPECT_EQ(validate_topic(std::string("a\0b", 3)).error(), Errc::invalid_topic);
  EXPECT_EQ(validate_topic(std::string(kMaxTopicSize + 1, 'a')).error(), Errc::invalid_topic);
  EXPECT_TRUE(validate_topic(std::string(kMaxTopicSize, 'a')));
  for (const char* bad_utf8 : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                               "\xe2\x82", "\x80"}) {
    EXPECT_EQ(validate_topic(bad_utf8).error(), Errc::invalid_topic) << bad_utf8;
  }
}

TEST(Topic, Filters) {
  for (const char* f : {"#", "+", "a/#", "a/+/b", "+/+", "/+", "a//#", "$SYS/#", "a/b"}) {
    EXPECT_TRUE(validate_filter(f)) << f;
  }
  for (const char* f : {"", "a#", "a/#/b", "a+/b", "a/b+", "##", "++", "#/a"}) {
    EXPECT_EQ(validate_filter(f).error(), Errc::invalid_filter) << f;
  }
}

struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
};

TEST(Topic, MatchingFollowsTheMqttSpec) {
  const MatchCase cases[] = {
      {"a/b", "a/b", true},        {"a/b", "a/c", false},       {"a/b", "a/b/c", false},
      {"a/+", "a/b", true},        {"a/+", "a/b/c", false},     {"a/+", "a", false},
      {"a/+", "a/", true},         {"+/b", "/b", true},         {"+", "a", true},
      {"+", "/a", false},          {"#", "a/b/c", true},        {"a/#", "a", true},
      {"a/#", "a/b/c", true},      {"a/#", "ab", false},        {"a/+/c", "a/b/c", true},
      {"a/+/c", "a/b/d", false},   {"+/+", "/", true},          {"#", "$SYS/x", false},
      {"+/x", "$SYS/x", false},    {"$SYS/#", "$SYS/x", true},  {"a//b", "a//b", true},
      {"a/+/#", "a/b", true},      {"a/+/#", "a", false},       {"a/b/#", "a/b", true},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches) << c.filter << " vs " << c.topic;
  }
}

}  // namespace
}  // namespace mqseal
