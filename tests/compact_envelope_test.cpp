// Envelope v3, the compact envelope (docs/SPEC.md, section 4d): size, layout,
// the rule's choice with no downgrade either way, refusals, replay behaviour
// as suite 1, and the reading of the 3-byte time.
#include <mqseal/envelope.h>
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

static_assert(kEnvelopeOverheadCompact <= 36, "issue 12: at most 36 bytes of overhead");
static_assert(kEnvelopeOverheadCompact == 36, "v3 layout");

constexpr uint64_t kNow = 1'764'000'000'000;  // ms, 2025-11-24
constexpr uint64_t kSecond = 1000;

TopicPolicy compact_policy() {
  TopicPolicy policy;
  testing::expect_ok(policy.add_compact_rule("field/+/reading", "telemetry"));
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  return policy;
}

// The same filters, every rule the full envelope.
TopicPolicy full_policy() {
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("field/+/reading", "telemetry"));
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  return policy;
}

SealerOptions at(uint64_t ms) {
  SealerOptions o;
  o.clock = [ms] { return ms; };
  return o;
}

struct Link {
  std::shared_ptr<Keyring> keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(compact_policy(), keys, at(kNow)));
  Opener opener = take(Opener::create(compact_policy(), keys));
  std::vector<uint8_t> seal(std::string_view payload, std::string_view topic = "field/7/reading",
                            Publish publish = Publish::live) {
    return take(sealer.seal(topic, payload, publish));
  }
  Errc open(const std::vector<uint8_t>& env, std::string_view topic = "field/7/reading", uint64_t now = kNow,
            bool retained = false) {
    Result<Opened> r = opener.open(topic, env, Delivery{retained, now});
    return r ? static_cast<Errc>(0) : r.error().code();
  }
};

TEST(CompactEnvelope, RoundTripWith36BytesOfOverhead) {
  Link link;
  for (size_t n : {0u, 1u, 20u, 1000u}) {
    const std::string payload(n, 'r');
    const std::vector<uint8_t> env = link.seal(payload);
    EXPECT_EQ(env.size(), n + 36);
    EXPECT_EQ(envelope_overhead(env[0]), 36u);
    Opened opened = take(link.opener.open("field/7/reading", env, Delivery{false, kNow}));
    EXPECT_EQ(std::string(opened.payload.begin(), opened.payload.end()), payload);
    EXPECT_TRUE(opened.sealed);
    EXPECT_EQ(opened.timestamp_ms, kNow);  // kNow is a whole second
  }
  // A full rule of the same policy still writes 55 bytes.
  EXPECT_EQ(link.seal("x", "plant/7/telemetry").size(), 1 + kEnvelopeOverhead);
}

TEST(CompactEnvelope, HeaderLayout) {
  Link link;
  const std::vector<uint8_t> env = link.seal("x");
  EXPECT_EQ(env[0], 0x03);
  EXPECT_EQ(link.seal("x", "field/7/reading", Publish::retained)[0], 0x13);
  const EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.version, kEnvelopeVersionCompact);
  EXPECT_EQ(h.suite, kSuiteXChaCha20Poly1305);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.sequence, 0u);
  EXPECT_EQ(h.timestamp_ms, (kNow / kSecond) % kCompactTimeModulus * kSecond);
  // The session is the first 8 bytes of the Sealer's sender; the rest is zero.
  const SenderId sender = link.sealer.sender();
  EXPECT_EQ(0, std::memcmp(h.sender.data(), sender.data(), kCompactSessionSize));
  EXPECT_EQ(0, std::memcmp(env.data() + 8, sender.data(), kCompactSessionSize));
  for (size_t i = kCompactSessionSize; i < kSenderIdSize; ++i) EXPECT_EQ(h.sender[i], 0);
  EXPECT_EQ(take(parse_header(link.seal("y"))).sequence, 2u);  // after the retained one
}

TEST(CompactEnvelope, NoDowngradeEitherWay) {
  auto keys = testing::plant_keys();
  Sealer compact = take(Sealer::create(compact_policy(), keys, at(kNow)));
  Sealer full = take(Sealer::create(full_policy(), keys, at(kNow)));
  Opener compact_opener = take(Opener::create(compact_policy(), keys));
  Opener full_opener = take(Opener::create(full_policy(), keys));
  const std::vector<uint8_t> small = take(compact.seal("field/7/reading", std::string_view("x")));
  const std::vector<uint8_t> big = take(full.seal("field/7/reading", std::string_view("x")));
  // A full envelope on a compact rule, and a compact one on a full rule:
  // refused before decryption, whatever the key.
  Result<Opened> r = compact_opener.open("field/7/reading", big, Delivery{false, kNow});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::wrong_suite_for_topic);
  r = full_opener.open("field/7/reading", small, Delivery{false, kNow});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::wrong_suite_for_topic);
  // Each opens where its rule wants it.
  EXPECT_TRUE(compact_opener.open("field/7/reading", small, Delivery{false, kNow}));
  EXPECT_TRUE(full_opener.open("field/7/reading", big, Delivery{false, kNow}));
}

TEST(CompactEnvelope, CompactIsRefusedOnASignedRule) {
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(compact_policy(), keys, at(kNow)));
  TopicPolicy signed_policy;
  testing::expect_ok(signed_policy.add_signed_rule("field/+/reading", "telemetry", {"device"}));
  Opener opener = take(Opener::create(signed_policy, keys));
  Result<Opened> r = opener.open("field/7/reading", take(sealer.seal("field/7/reading", std::string_view("x"))),
                                 Delivery{false, kNow});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::wrong_suite_for_topic);
}

TEST(CompactEnvelope, BoundToItsTopic) {
  Link link;
  EXPECT_EQ(link.open(link.seal("x"), "field/8/reading"), Errc::authentication_failed);
}

TEST(CompactEnvelope, EveryAlteredByteIsRefused) {
  Link link;
  const std::vector<uint8_t> env = link.seal("payload");
  for (size_t i = 0; i < env.size(); ++i) {
    for (int bit : {0x01, 0x80}) {
      std::vector<uint8_t> bad = env;
      bad[i] = static_cast<uint8_t>(bad[i] ^ bit);
      EXPECT_NE(link.open(bad), static_cast<Errc>(0)) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_EQ(link.open(env), static_cast<Errc>(0));  // the original, once
}

TEST(CompactEnvelope, AlteredHeaderFieldsAreRefusedAsSuite1) {
  Link link;
  const std::vector<uint8_t> env = link.seal("payload");
  auto flipped = [&](size_t at) {
    std::vector<uint8_t> bad = env;
    bad[at] ^= 0x01;
    return bad;
  };
  auto with_first = [&](uint8_t first) {
    std::vector<uint8_t> bad = env;
    bad[0] = first;
    return bad;
  };
  EXPECT_EQ(link.open(with_first(0x13)), Errc::authentication_failed);  // retain flag set in transit
  EXPECT_EQ(link.open(with_first(0x23)), Errc::malformed);              // unknown flag
  EXPECT_EQ(link.open(with_first(0x04)), Errc::unsupported_version);
  EXPECT_EQ(link.open(flipped(5)), Errc::authentication_failed);   // time
  EXPECT_EQ(link.open(flipped(7)), Errc::authentication_failed);   // time, last byte
  EXPECT_EQ(link.open(flipped(1)), Errc::unknown_key);             // key_id
  EXPECT_EQ(link.open(flipped(8)), Errc::authentication_failed);   // session
  EXPECT_EQ(link.open(flipped(19)), Errc::authentication_failed);  // sequence
  EXPECT_EQ(link.open(env), static_cast<Errc>(0));
}

TEST(CompactEnvelope, TruncatedIsRefused) {
  Link link;
  const std::vector<uint8_t> env = link.seal("payload");
  for (size_t n = 0; n < env.size(); ++n) {
    const std::vector<uint8_t> cut(env.begin(), env.begin() + static_cast<std::ptrdiff_t>(n));
    const Errc e = link.open(cut);
    EXPECT_EQ(e, n < kEnvelopeOverheadCompact ? Errc::malformed : Errc::authentication_failed) << n;
  }
  EXPECT_EQ(link.open(env), static_cast<Errc>(0));
}

TEST(CompactEnvelope, ReplayDuplicateAndReorderingAsSuite1) {
  Link link;
  const std::vector<uint8_t> a = link.seal("a");
  const std::vector<uint8_t> b = link.seal("b");
  const std::vector<uint8_t> c = link.seal("c");
  EXPECT_EQ(link.open(c), static_cast<Errc>(0));
  EXPECT_EQ(link.open(a), static_cast<Errc>(0));  // reordered: inside the window
  EXPECT_EQ(link.open(b), static_cast<Errc>(0));
  EXPECT_EQ(link.open(a), Errc::duplicate);
  EXPECT_EQ(link.open(c), Errc::duplicate);
  // The same sequence under another topic is another stream.
  EXPECT_EQ(link.open(link.seal("d", "field/8/reading"), "field/8/reading"), static_cast<Errc>(0));
}

TEST(CompactEnvelope, RebootedSenderIsANewSessionAcceptedAtOnce) {
  Link link;
  const std::vector<uint8_t> before = link.seal("a");
  EXPECT_EQ(link.open(before), static_cast<Errc>(0));
  // The device reboots: a new Sealer, a new session, its sequence from 0 again.
  Sealer rebooted = take(Sealer::create(compact_policy(), link.keys, at(kNow + kSecond)));
  const std::vector<uint8_t> after = take(rebooted.seal("field/7/reading", std::string_view("a")));
  EXPECT_EQ(take(parse_header(after)).sequence, 0u);
  EXPECT_EQ(link.open(after, "field/7/reading", kNow + kSecond), static_cast<Errc>(0));
  EXPECT_EQ(link.open(before, "field/7/reading", kNow + kSecond), Errc::duplicate);
  // Once older than max_age_ms, the old session's message is expired.
  EXPECT_EQ(link.open(before, "field/7/reading", kNow + 5 * 60 * kSecond + kSecond), Errc::expired);
}

TEST(CompactEnvelope, TimeIsJudgedAsSuite1) {
  Link link;
  const std::vector<uint8_t> env = link.seal("a");
  // Two minutes behind the sender: more than the minute of skew allowed.
  EXPECT_EQ(link.open(env, "field/7/reading", kNow - 2 * 60 * kSecond), Errc::not_yet_valid);
  EXPECT_EQ(link.open(env, "field/7/reading", kNow + 5 * 60 * kSecond + kSecond), Errc::expired);
  EXPECT_EQ(link.open(env, "field/7/reading", kNow + 5 * 60 * kSecond), static_cast<Errc>(0));
  // 2^24 s (194 days) later the 3-byte time has come round: the receiver
  // reads it as now, but the full time is authenticated, so the replay fails.
  EXPECT_EQ(link.open(env, "field/7/reading", kNow + kCompactTimeModulus * kSecond), Errc::authentication_failed);
  EXPECT_EQ(link.open(env, "field/7/reading", kNow - kCompactTimeModulus * kSecond), Errc::authentication_failed);
}

TEST(CompactEnvelope, RetainedIntentIsCarried) {
  Link link;
  const std::vector<uint8_t> env = link.seal("a", "field/7/reading", Publish::retained);
  Opened opened = take(link.opener.open("field/7/reading", env, Delivery{true, kNow + 3600 * kSecond}));
  EXPECT_TRUE(opened.retained);  // an hour old, accepted by the retained rules
  // Sealed live, delivered as retained an hour later: expired.
  EXPECT_EQ(link.open(link.seal("b"), "field/7/reading", kNow + 3600 * kSecond, true), Errc::expired);
}

TEST(CompactTimestamp, ReadsTheLatestSecondAtMost2To20AheadOfTheClock) {
  const uint64_t now_s = kNow / kSecond;
  auto field = [](uint64_t seconds) { return seconds % kCompactTimeModulus * kSecond; };
  EXPECT_EQ(compact_timestamp_ms(field(now_s), kNow), kNow);
  EXPECT_EQ(compact_timestamp_ms(field(now_s - 5), kNow), kNow - 5 * kSecond);
  EXPECT_EQ(compact_timestamp_ms(field(now_s + kCompactTimeAhead), kNow), kNow + kCompactTimeAhead * kSecond);
  // One second further ahead reads as about 182 days in the past.
  EXPECT_EQ(compact_timestamp_ms(field(now_s + kCompactTimeAhead + 1), kNow),
            kNow + (kCompactTimeAhead + 1) * kSecond - kCompactTimeModulus * kSecond);
  EXPECT_EQ(compact_timestamp_ms(field(now_s - (kCompactTimeModulus - kCompactTimeAhead) + 1), kNow),
            kNow - (kCompactTimeModulus - kCompactTimeAhead - 1) * kSecond);
  // The receiver's milliseconds do not matter, only its second.
  EXPECT_EQ(compact_timestamp_ms(field(now_s), kNow + 999), kNow);
  // Near 1970 a time that would lie before it reads as 0.
  EXPECT_EQ(compact_timestamp_ms(field(kCompactTimeModulus - 1), 0), 0u);
  EXPECT_EQ(compact_timestamp_ms(field(7), 0), 7 * kSecond);
}

TEST(CompactEnvelope, HazmatRefusesHeadersThatDoNotFit) {
  uint8_t topic_key[kKeySize] = {};
  EnvelopeHeader h;
  h.version = kEnvelopeVersionCompact;
  h.key_id = 1;
  std::vector<uint8_t> env;
  h.sequence = kCompactMaxSequence;  // the last sequence of a session
  EXPECT_TRUE(hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env));
  EXPECT_EQ(env.size(), 1 + kEnvelopeOverheadCompact);
  h.sequence = kCompactMaxSequence + 1;  // would wrap: never written
  Status s = hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(env.empty());
  h.sequence = 0;
  h.sender[kCompactSessionSize] = 1;  // a sender the 8-byte session cannot carry
  EXPECT_FALSE(hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env));
  h.sender = {};
  h.suite = kSuiteSignedSender;
  EXPECT_FALSE(hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env));
  h.suite = kSuiteXChaCha20Poly1305;
  h.flags = 0x02;
  EXPECT_FALSE(hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env));
}

TEST(CompactEnvelope, HazmatOpensAgainstTheReceiversTime) {
  uint8_t topic_key[kKeySize] = {7};
  EnvelopeHeader h;
  h.version = kEnvelopeVersionCompact;
  h.key_id = 1;
  h.timestamp_ms = kNow + 999;  // sealed in the second kNow / 1000
  std::vector<uint8_t> env;
  testing::expect_ok(hazmat::seal_with_header(topic_key, "t", h, std::string_view("x"), env));
  std::vector<uint8_t> out;
  testing::expect_ok(hazmat::open_with_key(topic_key, "t", env, kNow + 30 * kSecond, out));
  EXPECT_EQ(std::string(out.begin(), out.end()), "x");
  // Read in another 2^24-second epoch: the authenticated full time differs.
  Status s = hazmat::open_with_key(topic_key, "t", env, kNow + kCompactTimeModulus * kSecond, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::authentication_failed);
  // Without a time, refused outright.
  s = hazmat::open_with_key(topic_key, "t", env, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::invalid_argument);
}

TEST(CompactEnvelope, PolicyRuleCarriesTheChoice) {
  TopicPolicy policy = compact_policy();
  EXPECT_TRUE(take(policy.resolve("field/1/reading"))->compact);
  EXPECT_FALSE(take(policy.resolve("plant/1/telemetry"))->compact);
  EXPECT_FALSE(policy.add_compact_rule("field/+/reading", "other"));  // the same filter twice
  EXPECT_FALSE(policy.add_compact_rule("bad/#/x", "telemetry"));
}

}  // namespace
}  // namespace mqseal
