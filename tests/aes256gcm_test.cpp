// Suite 5, AES-256-GCM (docs/SPEC.md, section 4e): the bytes against an
// AES-256-GCM computed here from the spec's definitions with libsodium's own
// calls, suite 1's guarantees through Sealer and Opener (moved, altered,
// forged, replayed, downgraded), the session bounds, and the refusal on a
// CPU without AES-NI (simulated: this machine has it).
#include <mqseal/envelope.h>
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/policy_file.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "crypto/aes256gcm.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;
namespace aes = internal::aes256gcm;

constexpr uint64_t kNow = 1'764'000'000'000;  // ms, 2025-11-24
constexpr std::string_view kTopic = "backend/7/events";

// Skips a test on a CPU where libsodium has no AES-256-GCM: there, the
// refusal tests below still run (they need no AES-NI).
// (sodium_init() first: it is what reads the CPU's features.)
#define MQSEAL_NEED_AES()                                                                   \
  if (sodium_init() < 0 || crypto_aead_aes256gcm_is_available() != 1) GTEST_SKIP() << "no AES-NI here"

TopicPolicy aes_policy() {
  TopicPolicy policy;
  testing::expect_ok(policy.add_aes256gcm_rule("backend/+/events", "telemetry"));
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  return policy;
}

SealerOptions at(uint64_t ms) {
  SealerOptions o;
  o.clock = [ms] { return ms; };
  return o;
}

Errc code_of(const Status& s) { return s ? static_cast<Errc>(0) : s.error().code(); }

// A rule key's topic key for kTopic (wiped with it) and a suite 5 header
// under key ID 9: the deterministic core's inputs.
struct RawTopicKey {
  Key rule_key = take(Key::generate());
  uint8_t topic_key[kKeySize] = {};
  EnvelopeHeader header;
  RawTopicKey() {
    testing::expect_ok(hazmat::derive_topic_key(rule_key, kTopic, topic_key));
    header.suite = kSuiteAes256Gcm;
    header.key_id = 9;
  }
  ~RawTopicKey() { sodium_memzero(topic_key, sizeof topic_key); }
  RawTopicKey(const RawTopicKey&) = delete;
  RawTopicKey& operator=(const RawTopicKey&) = delete;
};

// Restores the real answer and limits after each test that changed them.
class Aes256Gcm : public ::testing::Test {
 protected:
  void TearDown() override {
    aes::set_available_for_testing(true);
    aes::set_session_limits_for_testing(aes::SessionLimits{});
  }
};

TEST_F(Aes256Gcm, TheEnvelopeIsSpecSection4eComputedHere) {
  MQSEAL_NEED_AES();
  const Key rule_key = take(Key::generate());
  uint8_t topic_key[kKeySize];
  ASSERT_TRUE(hazmat::derive_topic_key(rule_key, kTopic, topic_key));
  EnvelopeHeader h;
  h.suite = kSuiteAes256Gcm;
  h.flags = kFlagRetain;
  h.key_id = 0x01020304;
  h.timestamp_ms = kNow;
  for (size_t i = 0; i < h.sender.size(); ++i) h.sender[i] = static_cast<uint8_t>(0xa0 + i);
  h.sequence = 0x0000000012345678;
  const std::string payload = "21.5 C";
  std::vector<uint8_t> env;
  ASSERT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of(payload), env));
  ASSERT_EQ(env.size(), payload.size() + kEnvelopeOverhead);
  EXPECT_EQ(env[0], kEnvelopeVersion);
  EXPECT_EQ(env[1], kSuiteAes256Gcm);
  // From the spec: subkey = BLAKE2b-256(key = topic key, sender, personal
  // "mqseal aes256gcm"); IV = 0^4 || be64(sequence); ad = the 39-byte header
  // || be16(len(topic)) || topic.
  uint8_t subkey[32];
  static const unsigned char personal[16] = {'m', 'q', 's', 'e', 'a', 'l', ' ', 'a',
                                             'e', 's', '2', '5', '6', 'g', 'c', 'm'};
  ASSERT_EQ(crypto_generichash_blake2b_salt_personal(subkey, sizeof subkey, h.sender.data(), h.sender.size(),
                                                     topic_key, sizeof topic_key, nullptr, personal),
            0);
  uint8_t iv[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78};
  std::vector<uint8_t> ad(env.begin(), env.begin() + kHeaderSize);
  ad.push_back(0);
  ad.push_back(static_cast<uint8_t>(kTopic.size()));
  ad.insert(ad.end(), kTopic.begin(), kTopic.end());
  std::vector<uint8_t> expected(payload.size() + 16);
  unsigned long long written = 0;
  ASSERT_EQ(crypto_aead_aes256gcm_encrypt(expected.data(), &written,
                                          reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                                          ad.data(), ad.size(), nullptr, iv, subkey),
            0);
  EXPECT_EQ(std::vector<uint8_t>(env.begin() + kHeaderSize, env.end()), expected);
  // The header fields where suite 1 has them.
  const EnvelopeHeader parsed = take(parse_header(env));
  EXPECT_EQ(parsed.suite, kSuiteAes256Gcm);
  EXPECT_EQ(parsed.key_id, h.key_id);
  EXPECT_EQ(parsed.sender, h.sender);
  EXPECT_EQ(parsed.sequence, h.sequence);
  EXPECT_EQ(parsed.flags, kFlagRetain);
  std::vector<uint8_t> opened;
  ASSERT_TRUE(hazmat::open_with_key(topic_key, kTopic, env, opened));
  EXPECT_EQ(std::string(opened.begin(), opened.end()), payload);
  sodium_memzero(topic_key, sizeof topic_key);
  sodium_memzero(subkey, sizeof subkey);
}

TEST_F(Aes256Gcm, EveryAlteredByteAndEveryOtherTopicIsRefused) {
  MQSEAL_NEED_AES();
  RawTopicKey raw;
  const uint8_t* topic_key = raw.topic_key;
  EnvelopeHeader& h = raw.header;
  h.timestamp_ms = kNow;
  h.sequence = 3;
  std::vector<uint8_t> env;
  ASSERT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("payload"), env));
  std::vector<uint8_t> out;
  for (size_t i = 0; i < env.size(); ++i) {
    for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
      std::vector<uint8_t> bad = env;
      bad[i] ^= bit;
      const Status s = hazmat::open_with_key(topic_key, kTopic, bad, out);
      EXPECT_FALSE(s) << "byte " << i << " bit " << int(bit);
      EXPECT_TRUE(out.empty());
    }
  }
  EXPECT_EQ(code_of(hazmat::open_with_key(topic_key, "backend/8/events", env, out)), Errc::authentication_failed);
  // A truncated or extended one.
  std::vector<uint8_t> longer = env;
  longer.push_back(0);
  EXPECT_EQ(code_of(hazmat::open_with_key(topic_key, kTopic, longer, out)), Errc::authentication_failed);
  std::vector<uint8_t> shorter(env.begin(), env.end() - 1);
  EXPECT_EQ(code_of(hazmat::open_with_key(topic_key, kTopic, shorter, out)), Errc::authentication_failed);
}

TEST_F(Aes256Gcm, SequencesStopAtTwoToThe32) {
  MQSEAL_NEED_AES();
  RawTopicKey raw;
  const uint8_t* topic_key = raw.topic_key;
  EnvelopeHeader& h = raw.header;
  h.sequence = kAes256GcmMaxSequence;  // the last of a session
  std::vector<uint8_t> env;
  ASSERT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env));
  std::vector<uint8_t> out;
  EXPECT_TRUE(hazmat::open_with_key(topic_key, kTopic, env, out));
  h.sequence = kAes256GcmMaxSequence + 1;  // never written, never read
  EXPECT_EQ(code_of(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env)),
            Errc::invalid_argument);
  EXPECT_TRUE(env.empty());
  // The same bytes as the last envelope, but with a 33-bit sequence: malformed
  // before any key is used.
  h.sequence = kAes256GcmMaxSequence;
  ASSERT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env));
  env[kAssociatedHeaderSize + kSenderIdSize + 3] = 1;  // sequence byte 3: 2^32
  EXPECT_EQ(parse_header(env).error().code(), Errc::malformed);
  EXPECT_EQ(code_of(hazmat::open_with_key(topic_key, kTopic, env, out)), Errc::malformed);
  // Suite 1 keeps its 64-bit sequences.
  h.suite = kSuiteXChaCha20Poly1305;
  h.sequence = kAes256GcmMaxSequence + 1;
  EXPECT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env));
}

TEST_F(Aes256Gcm, SealerAndOpenerKeepSuiteOnesGuarantees) {
  MQSEAL_NEED_AES();
  const auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(aes_policy(), keys, at(kNow)));
  Opener opener = take(Opener::create(aes_policy(), keys));
  const std::vector<uint8_t> env = take(sealer.seal(kTopic, testing::bytes_of("payload")));
  EXPECT_EQ(env.size(), 7 + kEnvelopeOverhead);
  EXPECT_EQ(env[1], kSuiteAes256Gcm);
  EXPECT_EQ(take(sealer.sealed_size(kTopic, 7)), env.size());
  const Opened opened = take(opener.open(kTopic, env, Delivery{false, kNow}));
  EXPECT_TRUE(opened.sealed);
  EXPECT_EQ(std::string(opened.payload.begin(), opened.payload.end()), "payload");
  // Replayed: refused, and what a second copy of the same message is called.
  EXPECT_EQ(opener.open(kTopic, env, Delivery{false, kNow}).error().code(), Errc::duplicate);
  // Moved to another topic of the same rule.
  const std::vector<uint8_t> env2 = take(sealer.seal(kTopic, testing::bytes_of("second")));
  EXPECT_EQ(opener.open("backend/8/events", env2, Delivery{false, kNow}).error().code(),
            Errc::authentication_failed);
  // ...and the original still opens where it belongs (the forgery left no state).
  EXPECT_TRUE(opener.open(kTopic, env2, Delivery{false, kNow}));
  // Many messages, one session: each opens once, in order and out of it.
  std::vector<std::vector<uint8_t>> many;
  for (int i = 0; i < 50; ++i) many.push_back(take(sealer.seal(kTopic, testing::bytes_of(std::to_string(i)))));
  for (int i = 49; i >= 0; --i) {
    const Opened o = take(opener.open(kTopic, many[static_cast<size_t>(i)], Delivery{false, kNow}));
    EXPECT_EQ(std::string(o.payload.begin(), o.payload.end()), std::to_string(i));
  }
  // A forged tag on a fresh sequence: refused, and the genuine message after it opens.
  std::vector<uint8_t> next = take(sealer.seal(kTopic, testing::bytes_of("next")));
  std::vector<uint8_t> forged = next;
  forged.back() ^= 1;
  EXPECT_EQ(opener.open(kTopic, forged, Delivery{false, kNow}).error().code(), Errc::authentication_failed);
  EXPECT_TRUE(opener.open(kTopic, next, Delivery{false, kNow}));
}

TEST_F(Aes256Gcm, NoDowngradeEitherWay) {
  MQSEAL_NEED_AES();
  const auto keys = testing::plant_keys();
  // The same filter and key name, once as suite 1 and once as suite 5: an
  // envelope of either suite is refused on the other's rule.
  TopicPolicy suite1;
  testing::expect_ok(suite1.add_rule("backend/+/events", "telemetry"));
  Sealer aes_sealer = take(Sealer::create(aes_policy(), keys, at(kNow)));
  Sealer chacha_sealer = take(Sealer::create(suite1, keys, at(kNow)));
  Opener aes_opener = take(Opener::create(aes_policy(), keys));
  Opener chacha_opener = take(Opener::create(suite1, keys));
  const std::vector<uint8_t> by_aes = take(aes_sealer.seal(kTopic, testing::bytes_of("x")));
  const std::vector<uint8_t> by_chacha = take(chacha_sealer.seal(kTopic, testing::bytes_of("x")));
  EXPECT_EQ(by_chacha[1], kSuiteXChaCha20Poly1305);
  EXPECT_EQ(aes_opener.open(kTopic, by_chacha, Delivery{false, kNow}).error().code(), Errc::wrong_suite_for_topic);
  EXPECT_EQ(chacha_opener.open(kTopic, by_aes, Delivery{false, kNow}).error().code(), Errc::wrong_suite_for_topic);
  // A suite 1 envelope with its suite byte rewritten to 5 names the right
  // suite but fails the tag: the suite byte is authenticated.
  std::vector<uint8_t> relabelled = by_chacha;
  relabelled[1] = kSuiteAes256Gcm;
  EXPECT_EQ(aes_opener.open(kTopic, relabelled, Delivery{false, kNow}).error().code(), Errc::authentication_failed);
  EXPECT_TRUE(aes_opener.open(kTopic, by_aes, Delivery{false, kNow}));
  EXPECT_TRUE(chacha_opener.open(kTopic, by_chacha, Delivery{false, kNow}));
}

TEST_F(Aes256Gcm, ASessionPastItsBoundsStartsANewSenderThatOpens) {
  MQSEAL_NEED_AES();
  const auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(aes_policy(), keys, at(kNow)));
  Opener opener = take(Opener::create(aes_policy(), keys));
  // Three messages per session.
  aes::set_session_limits_for_testing(aes::SessionLimits{2, aes::kMaxSessionBytes});
  std::vector<EnvelopeHeader> headers;
  for (int i = 0; i < 7; ++i) {
    const std::vector<uint8_t> env = take(sealer.seal(kTopic, testing::bytes_of("m")));
    headers.push_back(take(parse_header(env)));
    EXPECT_TRUE(opener.open(kTopic, env, Delivery{false, kNow})) << i;
  }
  EXPECT_EQ(headers[0].sequence, 0u);
  EXPECT_EQ(headers[2].sequence, 2u);
  EXPECT_EQ(headers[2].sender, headers[0].sender);
  EXPECT_EQ(headers[3].sequence, 0u);  // a new session: new sender, new subkey
  EXPECT_NE(headers[3].sender, headers[2].sender);
  EXPECT_NE(headers[6].sender, headers[3].sender);
  // A byte budget: each message here counts 1 + 39 + 2 + 16 = 58 bytes, so
  // 150 bytes hold two of them.
  aes::set_session_limits_for_testing(aes::SessionLimits{aes::kMaxSequence, 150});
  Sealer by_bytes = take(Sealer::create(aes_policy(), keys, at(kNow)));
  std::vector<SenderId> senders;
  for (int i = 0; i < 5; ++i) {
    const std::vector<uint8_t> env = take(by_bytes.seal(kTopic, testing::bytes_of("m")));
    senders.push_back(take(parse_header(env)).sender);
    EXPECT_TRUE(opener.open(kTopic, env, Delivery{false, kNow})) << i;
  }
  EXPECT_EQ(senders[0], senders[1]);
  EXPECT_NE(senders[1], senders[2]);
  EXPECT_EQ(senders[2], senders[3]);
  EXPECT_NE(senders[3], senders[4]);
  // Suite 1 messages of the same session do not count against suite 5's bytes.
  Sealer mixed = take(Sealer::create(aes_policy(), keys, at(kNow)));
  const SenderId first = mixed.sender();
  for (int i = 0; i < 10; ++i) (void)take(mixed.seal("plant/1/telemetry", testing::bytes_of("0123456789abcdef")));
  (void)take(mixed.seal(kTopic, testing::bytes_of("m")));
  EXPECT_EQ(mixed.sender(), first);
}

TEST_F(Aes256Gcm, WithoutAesNiTheRuleIsRefusedWhenSealerOrOpenerIsMade) {
  ASSERT_GE(sodium_init(), 0);
  const auto keys = testing::plant_keys();
  aes::set_available_for_testing(false);
  // The policy itself builds anywhere (a tool may read it on any machine).
  TopicPolicy policy = aes_policy();
  Result<Sealer> sealer = Sealer::create(policy, keys);
  ASSERT_FALSE(sealer);
  EXPECT_EQ(sealer.error().code(), Errc::unsupported_suite);
  EXPECT_NE(sealer.error().message().find("AES-NI"), std::string::npos) << sealer.error().message();
  Result<Opener> opener = Opener::create(policy, keys);
  ASSERT_FALSE(opener);
  EXPECT_EQ(opener.error().code(), Errc::unsupported_suite);
  // A policy without a suite 5 rule is unaffected.
  EXPECT_TRUE(Sealer::create(testing::plant_policy(), keys));
  // The deterministic core refuses too, and never falls back.
  uint8_t topic_key[kKeySize] = {1};
  EnvelopeHeader h;
  h.suite = kSuiteAes256Gcm;
  h.key_id = 1;
  std::vector<uint8_t> env;
  EXPECT_EQ(code_of(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env)),
            Errc::unsupported_suite);
  EXPECT_TRUE(env.empty());
  if (crypto_aead_aes256gcm_is_available() == 1) {
    aes::set_available_for_testing(true);
    ASSERT_TRUE(hazmat::seal_with_header(topic_key, kTopic, h, testing::bytes_of("x"), env));
    aes::set_available_for_testing(false);
    std::vector<uint8_t> out;
    EXPECT_EQ(code_of(hazmat::open_with_key(topic_key, kTopic, env, out)), Errc::unsupported_suite);
    EXPECT_TRUE(out.empty());
  }
}

TEST_F(Aes256Gcm, ThePolicyFileSaysSuite5) {
  Result<TopicPolicy> policy = parse_policy(
      "[[rule]]\nfilter = \"backend/+/events\"\nkey = \"telemetry\"\nsuite = 5\n"
      "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n");
  ASSERT_TRUE(policy) << policy.error().message();
  EXPECT_EQ(take(policy->resolve(kTopic))->suite, Suite::aes256gcm);
  EXPECT_EQ(take(policy->resolve("plant/1/telemetry"))->suite, Suite::symmetric);
  // Suite 5 with signers, compact, or a recipient: refused.
  EXPECT_FALSE(parse_policy("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nsuite = 5\nsigners = \"x\"\n"));
  EXPECT_FALSE(parse_policy("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nsuite = 5\ncompact = true\n"));
  EXPECT_FALSE(parse_policy("[[rule]]\nfilter = \"a/#\"\nrecipient = \"r\"\nsuite = 5\n"));
  EXPECT_FALSE(parse_policy("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nsuite = 6\n"));
}

TEST_F(Aes256Gcm, CallerMemoryTooSmallOrOverlappingIsRefused) {
  MQSEAL_NEED_AES();
  const auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(aes_policy(), keys, at(kNow)));
  Opener opener = take(Opener::create(aes_policy(), keys));
  uint8_t buffer[128];
  size_t size = 0;
  const std::vector<uint8_t> payload(64, 0x5a);
  EXPECT_EQ(code_of(sealer.seal(kTopic, payload, buffer, payload.size() + kEnvelopeOverhead - 1, size)),
            Errc::invalid_argument);
  EXPECT_EQ(size, payload.size() + kEnvelopeOverhead);
  ASSERT_TRUE(sealer.seal(kTopic, payload, buffer, sizeof buffer, size));
  uint8_t plain[64];
  size_t plain_size = 0;
  Opened opened;
  ASSERT_TRUE(opener.open(kTopic, ByteView(buffer, size), Delivery{false, kNow}, plain, sizeof plain, plain_size,
                          opened));
  EXPECT_EQ(plain_size, payload.size());
  EXPECT_EQ(std::memcmp(plain, payload.data(), payload.size()), 0);
  // An envelope inside the output buffer: refused, the caller's bytes kept.
  std::vector<uint8_t> env = take(sealer.seal(kTopic, payload));
  const std::vector<uint8_t> copy = env;
  EXPECT_EQ(code_of(opener.open(kTopic, env, Delivery{false, kNow}, env.data(), env.size(), plain_size, opened)),
            Errc::invalid_argument);
  EXPECT_EQ(env, copy);
}

}  // namespace
}  // namespace mqseal
