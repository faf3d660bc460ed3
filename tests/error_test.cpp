#include <mqseal/error.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mqseal {
namespace {

TEST(Error, EveryCodeHasANameAndAMessage) {
  std::set<std::string> names;
  for (int v = static_cast<int>(Errc::invalid_argument); v <= static_cast<int>(Errc::capacity_exceeded); ++v) {
    const auto code = static_cast<Errc>(v);
    EXPECT_STRNE(name(code), "unknown") << v;
    EXPECT_STRNE(message(code), "unknown error") << v;
    names.insert(name(code));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Errc::capacity_exceeded));  // all distinct
}

TEST(Error, MessageAppendsDetail) {
  EXPECT_EQ(Error(Errc::parse_error, "line 3: bad").message(),
            "file is not in the expected format: line 3: bad");
  EXPECT_EQ(Error(Errc::duplicate).message(), message(Errc::duplicate));
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 7);
  Result<int> bad = Errc::unknown_key;
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Errc::unknown_key);
  Result<int> moved = std::move(bad);
  EXPECT_EQ(moved.error(), Errc::unknown_key);
  moved = Result<int>(3);
  EXPECT_EQ(moved.value(), 3);
}

TEST(Status, DefaultIsSuccess) {
  Status ok;
  EXPECT_TRUE(ok);
  Status failed = Errc::replay;
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.error(), Errc::replay);
}

TEST(ResultDeathTest, ValueOfFailureAborts) {
  Result<int> bad = Errc::malformed;
  EXPECT_DEATH((void)bad.value(), "failed Result");
}

}  // namespace
}  // namespace mqseal
