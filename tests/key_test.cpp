#include <mqseal/key.h>
#include <gtest/gtest.h>

#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

PassphraseParams cheap_params() {
  // The smallest limits libsodium allows keep the test fast; real keys use
  // PassphraseParams::generate() (INTERACTIVE).
  PassphraseParams p;
  for (size_t i = 0; i < p.salt.size(); ++i) p.salt[i] = static_cast<uint8_t>(i);
  p.opslimit = 1;
  p.memlimit = 8192;
  return p;
}

TEST(Key, GeneratedKeysDiffer) {
  Key a = take(Key::generate());
  Key b = take(Key::generate());
  EXPECT_FALSE(a.same_bytes(b));
  EXPECT_TRUE(a.same_bytes(a));
}

TEST(Key, FromBytesChecksTheSize) {
  std::vector<uint8_t> bytes(kKeySize, 0x42);
  Key k = take(Key::from_bytes(bytes));
  EXPECT_TRUE(k.same_bytes(take(Key::from_bytes(bytes))));
  bytes.push_back(0);
  EXPECT_EQ(Key::from_bytes(bytes).error(), Errc::invalid_argument);
  EXPECT_EQ(Key::from_bytes(ByteView()).error(), Errc::invalid_argument);
}

TEST(Key, CloneAndMoveKeepTheBytes) {
  Key a = take(Key::generate());
  Key b = take(a.clone());
  EXPECT_TRUE(a.same_bytes(b));
  Key c = std::move(b);
  EXPECT_TRUE(a.same_bytes(c));
  EXPECT_FALSE(b.same_bytes(a));  // NOLINT: a moved-from key matches nothing
  EXPECT_EQ(b.clone().error(), Errc::invalid_argument);  // NOLINT
}

TEST(Key, PassphraseIsDeterministicPerSalt) {
  PassphraseParams p = cheap_params();
  Key a = take(Key::from_passphrase("correct horse battery staple", p));
  Key b = take(Key::from_passphrase("correct horse battery staple", p));
  EXPECT_TRUE(a.same_bytes(b));
  EXPECT_FALSE(a.same_bytes(take(Key::from_passphrase("correct horse battery stapler", p))));
  p.salt[0] ^= 1;
  EXPECT_FALSE(a.same_bytes(take(Key::from_passphrase("correct horse battery staple", p))));
}

TEST(Key, PassphraseParamsAreChecked) {
  PassphraseParams p = cheap_params();
  p.opslimit = 0;
  EXPECT_EQ(Key::from_passphrase("x", p).error(), Errc::invalid_argument);
  p = cheap_params();
  p.memlimit = 1;
  EXPECT_EQ(Key::from_passphrase("x", p).error(), Errc::invalid_argument);
  PassphraseParams generated = take(PassphraseParams::generate());
  EXPECT_TRUE(generated.valid());
  EXPECT_NE(generated.salt, take(PassphraseParams::generate()).salt);
}

}  // namespace
}  // namespace mqseal
