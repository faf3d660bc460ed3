#include <mqseal/error.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mqseal {
namespace {

TEST(Error, EveryCodeHasANameAndAMessage) {
  std::set<std::string> names;
  for (int v = static_cast<int>(Errc::invalid_argument); v <= static_cast<int>(Errc::wrong_suite_for_topic); ++v) {
    const auto code = static_cast<Errc>(v);
    EXPECT_STRNE(name(code), "unknown") << v;
    EXPECT_STRNE(message(code), "unknown error") << v;
    names.insert(name(code));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Errc::wrong_suite_for_topic));  // all distinct
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

// Status and Error cost one machine word when there is no detail.
static_assert(sizeof(Status) == sizeof(void*), "a Status is one word");
static_assert(sizeof(Error) == sizeof(void*), "an Error is one word");

TEST(Error, DetailIsEmptyWithoutOne) {
  EXPECT_EQ(Error(Errc::replay).detail(), "");
  EXPECT_EQ(Error(Errc::replay, "").detail(), "");
  EXPECT_EQ(Error(Errc::replay, "").message(), message(Errc::replay));
  EXPECT_EQ(Error(Errc::parse_error, "line 3").detail(), "line 3");
  EXPECT_EQ(Error(Errc::parse_error, "line 3").code(), Errc::parse_error);
}

TEST(Error, CopiesCarryTheDetail) {
  Error original(Errc::parse_error, "line 3");
  Error copy = original;
  EXPECT_EQ(copy.code(), Errc::parse_error);
  EXPECT_EQ(copy.detail(), "line 3");
  EXPECT_NE(&copy.detail(), &original.detail());  // its own detail
  Error assigned = Errc::replay;
  assigned = original;
  EXPECT_EQ(assigned.message(), original.message());
  assigned = assigned;  // self-assignment keeps it
  EXPECT_EQ(assigned.detail(), "line 3");
  Error plain = Errc::duplicate;
  assigned = plain;
  EXPECT_EQ(assigned, Errc::duplicate);
  EXPECT_EQ(assigned.detail(), "");
  EXPECT_EQ(original.detail(), "line 3");
}

TEST(Error, MovedFromKeepsItsCodeWithoutDetail) {
  Error original(Errc::parse_error, "line 3");
  Error moved = std::move(original);
  EXPECT_EQ(moved.detail(), "line 3");
  EXPECT_EQ(original.code(), Errc::parse_error);  // NOLINT: a moved-from Error stays valid
  EXPECT_EQ(original.detail(), "");
  Error target(Errc::io_error, "old");
  target = std::move(moved);
  EXPECT_EQ(target.message(), "file is not in the expected format: line 3");
  EXPECT_EQ(moved.code(), Errc::parse_error);  // NOLINT
  original = target;  // a moved-from Error can be assigned to
  EXPECT_EQ(original.detail(), "line 3");
}

TEST(Status, CarriesAnErrorWithItsDetail) {
  Status failed = Error(Errc::parse_error, "line 3");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().detail(), "line 3");
  Status copy = failed;
  EXPECT_EQ(copy.error().detail(), "line 3");
  Status moved = std::move(failed);
  EXPECT_EQ(moved.error().message(), "file is not in the expected format: line 3");
  EXPECT_FALSE(failed);  // NOLINT: moved-from keeps its code
  EXPECT_EQ(failed.error(), Errc::parse_error);
  Status ok;
  Status ok_moved = std::move(ok);
  EXPECT_TRUE(ok_moved);
  EXPECT_TRUE(ok);  // NOLINT
  copy = Status();
  EXPECT_TRUE(copy);
  // Errc's zero value (not a code) is still a failure, never success.
  EXPECT_FALSE(Status(static_cast<Errc>(0)));
  Result<int> result = Error(Errc::io_error, "disk");
  EXPECT_EQ(result.error().detail(), "disk");
}

TEST(ResultDeathTest, ValueOfFailureAborts) {
  Result<int> bad = Errc::malformed;
  EXPECT_DEATH((void)bad.value(), "failed Result");
}

}  // namespace
}  // namespace mqseal
