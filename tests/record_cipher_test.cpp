#include <mqseal/record_cipher.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

struct Fixture {
  std::shared_ptr<Keyring> keys = std::make_shared<Keyring>();
  Fixture() {
    (void)take(keys->generate("local"));
    (void)take(keys->generate("other"));
  }
  RecordCipher cipher(std::string_view purpose = "store") {
    return take(RecordCipher::create(keys, "local", purpose));
  }
};

Errc open_error(const RecordCipher& c, std::string_view ad, const std::vector<uint8_t>& record) {
  std::vector<uint8_t> out;
  Status s = c.open(ad, record, out);
  return s ? static_cast<Errc>(0) : s.error().code();
}

TEST(RecordCipher, RoundTripBoundToSlotAndPurpose) {
  Fixture f;
  RecordCipher c = f.cipher();
  std::vector<uint8_t> record;
  testing::expect_ok(c.seal(std::string_view("slot-1"), std::string_view("in flight"), record));
  EXPECT_EQ(record.size(), kRecordOverhead + 9);
  std::vector<uint8_t> out;
  testing::expect_ok(c.open(std::string_view("slot-1"), record, out));
  EXPECT_EQ(out, testing::bytes_of("in flight"));
  EXPECT_EQ(open_error(c, "slot-2", record), Errc::authentication_failed);
  EXPECT_EQ(open_error(f.cipher("another purpose"), "slot-1", record), Errc::authentication_failed);
  std::vector<uint8_t> again;
  testing::expect_ok(c.seal(std::string_view("slot-1"), std::string_view("in flight"), again));
  EXPECT_NE(record, again);  // fresh nonce per record
}

TEST(RecordCipher, EveryBitFlipAndTruncationIsRefused) {
  Fixture f;
  RecordCipher c = f.cipher();
  std::vector<uint8_t> record;
  testing::expect_ok(c.seal(std::string_view("k"), std::vector<uint8_t>(40, 7), record));
  for (size_t bit = 0; bit < record.size() * 8; ++bit) {
    std::vector<uint8_t> flipped = record;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(open_error(c, "k", flipped), static_cast<Errc>(0)) << bit;
  }
  for (size_t n = 0; n < record.size(); ++n) {
    EXPECT_NE(open_error(c, "k", std::vector<uint8_t>(record.begin(), record.begin() + static_cast<long>(n))),
              static_cast<Errc>(0))
        << n;
  }
}

TEST(RecordCipher, FollowsKeyRotation) {
  Fixture f;
  std::vector<uint8_t> old_record;
  testing::expect_ok(f.cipher().seal(std::string_view("k"), std::string_view("old"), old_record));
  KeyId old_id = take(f.keys->primary("local"));
  KeyId new_id = take(f.keys->generate("local"));
  testing::expect_ok(f.keys->promote(new_id));
  std::vector<uint8_t> out;
  testing::expect_ok(f.cipher().open(std::string_view("k"), old_record, out));  // old key still active
  std::vector<uint8_t> new_record;
  testing::expect_ok(f.cipher().seal(std::string_view("k"), std::string_view("new"), new_record));
  testing::expect_ok(f.keys->retire(old_id));
  EXPECT_EQ(open_error(f.cipher(), "k", old_record), Errc::key_retired);
  testing::expect_ok(f.cipher().open(std::string_view("k"), new_record, out));
  EXPECT_EQ(out, testing::bytes_of("new"));
  // A record naming a key of another name.
  new_record[4] = static_cast<uint8_t>(take(f.keys->primary("other")));
  new_record[3] = static_cast<uint8_t>(take(f.keys->primary("other")) >> 8);
  new_record[2] = static_cast<uint8_t>(take(f.keys->primary("other")) >> 16);
  new_record[1] = static_cast<uint8_t>(take(f.keys->primary("other")) >> 24);
  EXPECT_EQ(open_error(f.cipher(), "k", new_record), Errc::wrong_key_for_topic);
}

TEST(RecordCipher, BadArguments) {
  Fixture f;
  EXPECT_EQ(RecordCipher::create(nullptr, "local", "p").error(), Errc::invalid_argument);
  EXPECT_EQ(RecordCipher::create(f.keys, "bad name", "p").error(), Errc::invalid_argument);
  EXPECT_EQ(RecordCipher::create(f.keys, "local", "").error(), Errc::invalid_argument);
  EXPECT_EQ(RecordCipher::create(f.keys, "local", std::string(kMaxRecordPurposeSize + 1, 'p')).error(),
            Errc::invalid_argument);
  RecordCipher absent = take(RecordCipher::create(f.keys, "absent", "p"));
  std::vector<uint8_t> out;
  EXPECT_EQ(absent.seal(std::string_view("k"), std::string_view("x"), out).error(), Errc::no_primary_key);
  std::vector<uint8_t> record(kRecordOverhead, 0);
  EXPECT_EQ(open_error(f.cipher(), "k", record), Errc::unsupported_version);
  record[0] = kRecordVersion;
  EXPECT_EQ(open_error(f.cipher(), "k", record), Errc::unknown_key);
}

// One contract with Sealer::seal: a failed seal leaves `out` empty, so that a
// caller reusing it never writes a stale record.
TEST(RecordCipher, FailedSealClearsOutput) {
  Fixture f;
  std::vector<uint8_t> out(kRecordOverhead + 1, 0x5a);
  RecordCipher absent = take(RecordCipher::create(f.keys, "absent", "p"));
  EXPECT_EQ(absent.seal(std::string_view("k"), std::string_view("x"), out).error(), Errc::no_primary_key);
  EXPECT_TRUE(out.empty());
  out.assign(kRecordOverhead + 1, 0x5a);
  // A view claiming a size past the limit; nothing may be read from it. On the
  // stack, so that it does not claim to overlap `out` on the heap.
  const uint8_t byte = 0;
  EXPECT_EQ(f.cipher().seal(std::string_view("k"), ByteView(&byte, (size_t{1} << 30) + 1), out).error(),
            Errc::payload_too_large);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace mqseal
