#include <mqseal/envelope.h>
#include <mqseal/hazmat/envelope.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

struct Fixture {
  Key rule_key = take(Key::generate());
  uint8_t topic_key[kKeySize] = {};
  EnvelopeHeader header;
  Fixture() {
    testing::expect_ok(hazmat::derive_topic_key(rule_key, "a/b", topic_key));
    header.key_id = 0x01020304;
    header.timestamp_ms = 1700000000000;
    header.sender.fill(0xab);
    header.sequence = 42;
  }
  std::vector<uint8_t> seal(ByteView payload) {
    std::vector<uint8_t> out;
    testing::expect_ok(hazmat::seal_with_header(topic_key, "a/b", header, payload, out));
    return out;
  }
};

TEST(Envelope, LayoutIsAsSpecified) {
  Fixture f;
  std::vector<uint8_t> env = f.seal(std::string_view("hello"));
  ASSERT_EQ(env.size(), 5 + kEnvelopeOverhead);
  EXPECT_EQ(kHeaderSize, 39u);
  EXPECT_EQ(kEnvelopeOverhead, 55u);
  EXPECT_EQ(env[0], 2);
  EXPECT_EQ(env[1], kSuiteXChaCha20Poly1305);
  EXPECT_EQ(env[2], 0);  // flags: sealed as live
  EXPECT_EQ(std::vector<uint8_t>(env.begin() + 3, env.begin() + 7),
            (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(std::vector<uint8_t>(env.begin() + 15, env.begin() + 31), std::vector<uint8_t>(16, 0xab));
  EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.key_id, f.header.key_id);
  EXPECT_EQ(h.timestamp_ms, f.header.timestamp_ms);
  EXPECT_EQ(h.sender, f.header.sender);
  EXPECT_EQ(h.sequence, f.header.sequence);
}

TEST(Envelope, EveryBitFlipOfA100ByteMessageIsRefused) {
  Fixture f;
  const std::vector<uint8_t> payload(100, 0x5a);
  const std::vector<uint8_t> env = f.seal(payload);
  std::vector<uint8_t> out;
  testing::expect_ok(hazmat::open_with_key(f.topic_key, "a/b", env, out));
  EXPECT_EQ(out, payload);
  for (size_t bit = 0; bit < env.size() * 8; ++bit) {
    std::vector<uint8_t> flipped = env;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    Status s = hazmat::open_with_key(f.topic_key, "a/b", flipped, out);
    ASSERT_FALSE(s) << "bit " << bit;
    // Version, suite and unknown flag bits fail the header's structure check;
    // everything else, the retain flag included, fails authentication.
    const bool structural = bit < 16 || (bit / 8 == 2 && bit % 8 != 0);
    if (!structural) {
      EXPECT_EQ(s.error(), Errc::authentication_failed) << "bit " << bit;
    }
    EXPECT_TRUE(out.empty());
  }
}

TEST(Envelope, EveryTruncationIsRefused) {
  Fixture f;
  const std::vector<uint8_t> env = f.seal(std::vector<uint8_t>(100, 1));
  std::vector<uint8_t> out;
  for (size_t n = 0; n < env.size(); ++n) {
    const ByteView cut(env.data(), n);
    Status s = hazmat::open_with_key(f.topic_key, "a/b", cut, out);
    ASSERT_FALSE(s) << n;
    EXPECT_EQ(s.error(), n < kEnvelopeOverhead ? Errc::malformed : Errc::authentication_failed);
    if (n < kEnvelopeOverhead) {
      EXPECT_EQ(parse_header(cut).error(), Errc::malformed);
    }
  }
}

TEST(Envelope, BoundToItsTopic) {
  Fixture f;
  const std::vector<uint8_t> env = f.seal(std::string_view("x"));
  std::vector<uint8_t> out;
  // Same key bytes, other topic in the associated data: refused.
  EXPECT_EQ(hazmat::open_with_key(f.topic_key, "a/c", env, out).error(), Errc::authentication_failed);
  // The other topic's derived key: refused too.
  uint8_t other[kKeySize];
  testing::expect_ok(hazmat::derive_topic_key(f.rule_key, "a/c", other));
  EXPECT_EQ(hazmat::open_with_key(other, "a/c", env, out).error(), Errc::authentication_failed);
}

TEST(Envelope, TopicKeysAreDistinctPerTopicAndKey) {
  Key k1 = take(Key::generate());
  Key k2 = take(Key::generate());
  uint8_t a[kKeySize], b[kKeySize], c[kKeySize];
  testing::expect_ok(hazmat::derive_topic_key(k1, "t/1", a));
  testing::expect_ok(hazmat::derive_topic_key(k1, "t/2", b));
  testing::expect_ok(hazmat::derive_topic_key(k2, "t/1", c));
  EXPECT_NE(std::vector<uint8_t>(a, a + kKeySize), std::vector<uint8_t>(b, b + kKeySize));
  EXPECT_NE(std::vector<uint8_t>(a, a + kKeySize), std::vector<uint8_t>(c, c + kKeySize));
}

TEST(Envelope, UnknownVersionAndSuite) {
  Fixture f;
  std::vector<uint8_t> env = f.seal(std::string_view("x"));
  env[0] = 4;  // 3, with any flags in the high 4 bits, is the compact envelope
  EXPECT_EQ(parse_header(env).error(), Errc::unsupported_version);
  env[0] = 0;
  EXPECT_EQ(parse_header(env).error(), Errc::unsupported_version);
  env[0] = kEnvelopeVersion;
  env[1] = 6;  // no such suite (5 is AES-256-GCM: tests/aes256gcm_test.cpp)
  EXPECT_EQ(parse_header(env).error(), Errc::unsupported_suite);
  env[1] = kSuiteSignedSealed;  // suite 4, but shorter than its header, signer, signature and tag
  EXPECT_EQ(parse_header(env).error(), Errc::malformed);
  env[1] = kSuiteSealedToRecipient;  // suite 3, but shorter than its header and tag
  EXPECT_EQ(parse_header(env).error(), Errc::malformed);
  env[1] = kSuiteSignedSender;  // suite 2, but shorter than its header, tag and signature
  EXPECT_EQ(parse_header(env).error(), Errc::malformed);
  env.resize(kEnvelopeOverheadSigned - 1);
  EXPECT_EQ(parse_header(env).error(), Errc::malformed);
  env.resize(kEnvelopeOverheadSigned);
  EXPECT_TRUE(parse_header(env));
  env[0] = kEnvelopeVersionV1;  // suite 2 exists only in envelope v2
  EXPECT_EQ(parse_header(env).error(), Errc::unsupported_suite);
  env[1] = kSuiteSealedToRecipient;  // and suite 3
  env.resize(kEnvelopeOverheadRecipient);
  EXPECT_EQ(parse_header(env).error(), Errc::unsupported_suite);
  env[0] = kEnvelopeVersion;
  EXPECT_TRUE(parse_header(env));
  env.resize(kEnvelopeOverheadRecipient - 1);
  EXPECT_EQ(parse_header(env).error(), Errc::malformed);
}

TEST(Envelope, RetainFlagIsInTheHeaderAndAuthenticated) {
  Fixture f;
  f.header.flags = kFlagRetain;
  std::vector<uint8_t> env = f.seal(std::string_view("x"));
  EXPECT_EQ(env[2], kFlagRetain);
  EXPECT_EQ(take(parse_header(env)).flags, kFlagRetain);
  std::vector<uint8_t> out;
  testing::expect_ok(hazmat::open_with_key(f.topic_key, "a/b", env, out));
  env[2] = 0;  // a relay turning a retained message into a live one, or back
  EXPECT_EQ(hazmat::open_with_key(f.topic_key, "a/b", env, out).error(), Errc::authentication_failed);
  for (const int unknown : {0x02, 0x80, 0xff}) {
    env[2] = static_cast<uint8_t>(unknown);
    EXPECT_EQ(parse_header(env).error(), Errc::malformed) << unknown;
  }
  f.header.flags = 0x04;
  EXPECT_EQ(hazmat::seal_with_header(f.topic_key, "a/b", f.header, std::string_view("x"), out).error(),
            Errc::invalid_argument);
}

TEST(Envelope, VersionOneStillOpens) {
  Fixture f;
  f.header.version = kEnvelopeVersionV1;
  std::vector<uint8_t> env = f.seal(std::string_view("hello"));
  ASSERT_EQ(env.size(), 5 + kEnvelopeOverheadV1);
  EXPECT_EQ(env[0], 1);
  EXPECT_EQ(std::vector<uint8_t>(env.begin() + 2, env.begin() + 6), (std::vector<uint8_t>{1, 2, 3, 4}));
  EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.version, kEnvelopeVersionV1);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.key_id, f.header.key_id);
  EXPECT_EQ(h.sequence, f.header.sequence);
  std::vector<uint8_t> out;
  testing::expect_ok(hazmat::open_with_key(f.topic_key, "a/b", env, out));
  EXPECT_EQ(out, testing::bytes_of("hello"));
  // A v1 header has no flags: sealing one with flags is refused.
  f.header.flags = kFlagRetain;
  EXPECT_EQ(hazmat::seal_with_header(f.topic_key, "a/b", f.header, std::string_view("x"), out).error(),
            Errc::invalid_argument);
  // 54 bytes is a whole v1 envelope but a short v2 one.
  std::vector<uint8_t> short_v2(kEnvelopeOverheadV1, 0);
  short_v2[0] = kEnvelopeVersion;
  short_v2[1] = kSuiteXChaCha20Poly1305;
  EXPECT_EQ(parse_header(short_v2).error(), Errc::malformed);
}

TEST(Envelope, EmptyAndLongTopicsAndPayloads) {
  Fixture f;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> empty = f.seal(ByteView());
  EXPECT_EQ(empty.size(), kEnvelopeOverhead);
  testing::expect_ok(hazmat::open_with_key(f.topic_key, "a/b", empty, out));
  EXPECT_TRUE(out.empty());
  // A topic longer than the stack buffer for associated data takes the heap path.
  const std::string long_topic(4000, 't');
  std::vector<uint8_t> env;
  testing::expect_ok(hazmat::seal_with_header(f.topic_key, long_topic, f.header, std::string_view("p"), env));
  testing::expect_ok(hazmat::open_with_key(f.topic_key, long_topic, env, out));
  EXPECT_EQ(out, testing::bytes_of("p"));
  EXPECT_EQ(hazmat::open_with_key(f.topic_key, long_topic + "x", env, out).error(), Errc::authentication_failed);
}

// The associated data is header[0..15) || u16be(len(topic)) || topic
// (docs/SPEC.md, section 4), checked here with libsodium directly for topic
// lengths that need both bytes of the length (the vectors' topics are all
// shorter than 256 bytes).
TEST(Envelope, AssociatedDataHoldsBothBytesOfTheTopicLength) {
  ASSERT_GE(sodium_init(), 0);
  Fixture f;
  for (const size_t size : {size_t{256}, size_t{300}, size_t{4000}}) {
    const std::string topic(size, 't');
    std::vector<uint8_t> env;
    testing::expect_ok(hazmat::seal_with_header(f.topic_key, topic, f.header, std::string_view("p"), env));
    std::vector<uint8_t> ad(env.begin(), env.begin() + kAssociatedHeaderSize);
    ad.push_back(static_cast<uint8_t>(size >> 8));
    ad.push_back(static_cast<uint8_t>(size & 0xff));
    ad.insert(ad.end(), topic.begin(), topic.end());
    uint8_t plain[1] = {};
    unsigned long long plain_size = 0;
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_size, nullptr, env.data() + kHeaderSize,
                                                         env.size() - kHeaderSize, ad.data(), ad.size(),
                                                         env.data() + kAssociatedHeaderSize, f.topic_key),
              0)
        << size;
    EXPECT_EQ(plain_size, 1u);
    EXPECT_EQ(plain[0], 'p');
  }
}

// Exactly kMaxPayloadSize bytes is sealed, into exactly kMaxEnvelopeSize.
TEST(Envelope, APayloadOfExactlyTheMaximumSizeIsSealed) {
  Fixture f;
  const std::vector<uint8_t> payload(kMaxPayloadSize, 0x5a);
  std::vector<uint8_t> env;
  testing::expect_ok(hazmat::seal_with_header(f.topic_key, "a/b", f.header, payload, env));
  EXPECT_EQ(env.size(), kMaxEnvelopeSize);
}

TEST(Envelope, OversizedInputsAreRefusedWithoutReading) {
  Fixture f;
  std::vector<uint8_t> out;
  // The views claim sizes past the limits; nothing may be read from them.
  static const uint8_t byte = 0;
  EXPECT_EQ(hazmat::seal_with_header(f.topic_key, "a/b", f.header, ByteView(&byte, kMaxPayloadSize + 1), out)
                .error(),
            Errc::payload_too_large);
  EXPECT_EQ(parse_header(ByteView(&byte, kMaxEnvelopeSize + 1)).error(), Errc::malformed);
}

TEST(Envelope, OutputMayNotAliasInput) {
  Fixture f;
  std::vector<uint8_t> buffer = f.seal(std::string_view("abc"));
  const std::vector<uint8_t> original = buffer;
  EXPECT_EQ(hazmat::open_with_key(f.topic_key, "a/b", buffer, buffer).error(), Errc::invalid_argument);
  EXPECT_EQ(buffer, original);  // the caller's bytes are untouched
  EXPECT_EQ(hazmat::seal_with_header(f.topic_key, "a/b", f.header, buffer, buffer).error(),
            Errc::invalid_argument);
  EXPECT_EQ(buffer, original);
}

}  // namespace
}  // namespace mqseal
