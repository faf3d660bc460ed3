#include <mqseal/opener.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <thread>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

std::array<uint8_t, kNonceSize> nonce_of(const std::vector<uint8_t>& env) {
  std::array<uint8_t, kNonceSize> n{};
  std::copy(env.begin() + kAssociatedHeaderSize, env.begin() + kAssociatedHeaderSize + kNonceSize, n.begin());
  return n;
}

TEST(Sealer, SealsUnderThePrimaryKeyOfTheRule) {
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  std::vector<uint8_t> env = take(sealer.seal("plant/7/telemetry", std::string_view("21.5")));
  EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.key_id, take(keys->primary("telemetry")));
  EXPECT_EQ(h.sender, sealer.sender());
  EXPECT_EQ(h.sequence, 0u);
  EXPECT_NEAR(static_cast<double>(h.timestamp_ms), static_cast<double>(system_time_ms()), 5000.0);
  env = take(sealer.seal("plant/7/cmd/valve", std::string_view("open")));
  h = take(parse_header(env));
  EXPECT_EQ(h.key_id, take(keys->primary("commands")));
  EXPECT_EQ(h.sequence, 1u);  // one counter per session, across topics
}

TEST(Sealer, FailsClosed) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  std::vector<uint8_t> out = {1, 2, 3};
  EXPECT_EQ(sealer.seal("plant/7/status", std::string_view("x"), out).error(), Errc::no_rule);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sealer.seal("plant/+/telemetry", std::string_view("x")).error(), Errc::invalid_topic);
  EXPECT_EQ(sealer.seal("", std::string_view("x")).error(), Errc::invalid_topic);
  // A rule whose key name has no primary key.
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("#", "absent"));
  Sealer orphan = take(Sealer::create(policy, testing::plant_keys()));
  EXPECT_EQ(orphan.seal("a", std::string_view("x")).error(), Errc::no_primary_key);
}

TEST(Sealer, PlaintextRulePassesThrough) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  EXPECT_EQ(take(sealer.seal("public/news", std::string_view("hi"))), testing::bytes_of("hi"));
}

TEST(Sealer, RejectsBadOptions) {
  SealerOptions o;
  o.topic_cache_capacity = 0;
  EXPECT_EQ(Sealer::create(testing::plant_policy(), testing::plant_keys(), o).error(),
            Errc::invalid_argument);
  EXPECT_EQ(Sealer::create(testing::plant_policy(), nullptr).error(), Errc::invalid_argument);
}

TEST(Sealer, SealedPayloadIsNotInTheEnvelope) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  const std::string secret = "the-secret-reading-0123456789";
  std::vector<uint8_t> env = take(sealer.seal("plant/1/telemetry", secret));
  EXPECT_EQ(std::search(env.begin(), env.end(), secret.begin(), secret.end()), env.end());
}

TEST(Sealer, EightThreadsNeverRepeatANonce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  std::vector<std::vector<std::array<uint8_t, kNonceSize>>> nonces(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> env;
      const std::string topic = "plant/" + std::to_string(t % 3) + "/telemetry";
      nonces[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        if (!sealer.seal(topic, std::string_view("x"), env)) return;
        nonces[t].push_back(nonce_of(env));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<std::array<uint8_t, kNonceSize>> all;
  for (auto& v : nonces) {
    ASSERT_EQ(v.size(), static_cast<size_t>(kPerThread));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads) * kPerThread);
}

TEST(Sealer, TimestampsNeverDecreaseAsTheSequenceGrows) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> seen(kThreads);  // (sequence, timestamp)
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> env;
      for (int i = 0; i < kPerThread; ++i) {
        if (!sealer.seal("plant/1/telemetry", std::string_view("x"), env)) return;
        EnvelopeHeader h = take(parse_header(env));
        seen[t].emplace_back(h.sequence, h.timestamp_ms);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<std::pair<uint64_t, uint64_t>> all;
  for (auto& v : seen) all.insert(all.end(), v.begin(), v.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::sort(all.begin(), all.end());
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_LE(all[i - 1].second, all[i].second) << "sequence " << all[i].first;
  }
}

// Issue 14, item 3: the wall clock steps back within a session.
TEST(Sealer, TimestampsNeverDecreaseWhenTheClockStepsBack) {
  auto now = std::make_shared<uint64_t>(1'800'000'000'000);
  SealerOptions options;
  options.clock = [now] { return *now; };
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys(), options));
  const uint64_t first = take(parse_header(take(sealer.seal("plant/1/telemetry", std::string_view("a"))))).timestamp_ms;
  EXPECT_EQ(first, *now);
  *now -= 10'000;
  const uint64_t second = take(parse_header(take(sealer.seal("plant/1/telemetry", std::string_view("b"))))).timestamp_ms;
  EXPECT_GE(second, first);
  *now += 20'000;
  const uint64_t third = take(parse_header(take(sealer.seal("plant/1/telemetry", std::string_view("c"))))).timestamp_ms;
  EXPECT_EQ(third, *now);
}

TEST(Sealer, NewSessionPerSealerSoRebootsNeverRepeatNonces) {
  // A reboot loses all state; what is left is a new Sealer on the same keys.
  auto keys = testing::plant_keys();
  Sealer before = take(Sealer::create(testing::plant_policy(), keys));
  Sealer after = take(Sealer::create(testing::plant_policy(), keys));
  EXPECT_NE(before.sender(), after.sender());
  std::vector<uint8_t> a = take(before.seal("plant/1/telemetry", std::string_view("x")));
  std::vector<uint8_t> b = take(after.seal("plant/1/telemetry", std::string_view("x")));
  EXPECT_NE(nonce_of(a), nonce_of(b));
}

TEST(Sealer, ForkedChildDrawsANewSession) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  std::vector<uint8_t> parent_env = take(sealer.seal("plant/1/telemetry", std::string_view("x")));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Result<std::vector<uint8_t>> env = sealer.seal("plant/1/telemetry", std::string_view("x"));
    if (env) (void)!write(fds[1], env->data() + 14, kNonceSize);
    _exit(env ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::array<uint8_t, kNonceSize> child_nonce{};
  ASSERT_EQ(read(fds[0], child_nonce.data(), kNonceSize), static_cast<ssize_t>(kNonceSize));
  close(fds[0]);
  close(fds[1]);
  std::vector<uint8_t> parent_next = take(sealer.seal("plant/1/telemetry", std::string_view("x")));
  EXPECT_NE(child_nonce, nonce_of(parent_next));  // the parent's next nonce
  EXPECT_NE(std::vector<uint8_t>(child_nonce.begin(), child_nonce.begin() + kSenderIdSize),
            std::vector<uint8_t>(parent_env.begin() + 14, parent_env.begin() + 14 + kSenderIdSize));
}

TEST(Sealer, CacheEvictionKeepsWorking) {
  SealerOptions o;
  o.topic_cache_capacity = 2;
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys, o));
  Opener opener = take(Opener::create(testing::plant_policy(), keys));
  for (int round = 0; round < 3; ++round) {
    for (int t = 0; t < 5; ++t) {
      const std::string topic = "plant/" + std::to_string(t) + "/telemetry";
      std::vector<uint8_t> env = take(sealer.seal(topic, std::string_view("v")));
      EXPECT_EQ(take(opener.open(topic, env)).payload, testing::bytes_of("v")) << topic;
    }
  }
}

TEST(Sealer, RejectsOversizedPayloadWithoutReadingIt) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  static const uint8_t byte = 0;
  EXPECT_EQ(sealer.seal("plant/1/telemetry", ByteView(&byte, kMaxPayloadSize + 1)).error(),
            Errc::payload_too_large);
}

// The largest payload, exactly kMaxPayloadSize bytes, is sealed: its envelope
// is exactly the largest MQTT payload.
TEST(Sealer, SealsAPayloadOfExactlyTheMaximumSize) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  const std::vector<uint8_t> payload(kMaxPayloadSize, 0x5a);
  std::vector<uint8_t> env;
  testing::expect_ok(sealer.seal("plant/1/telemetry", payload, env));
  EXPECT_EQ(env.size(), kMaxEnvelopeSize);
}

// Sealing into caller memory (what the Python binding does with a new bytes
// object) gives an envelope that opens, at the sizes of both AEAD backends,
// and a plaintext rule's payload unchanged; what is left unused stays as it was.
TEST(Sealer, SealsIntoCallerMemory) {
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  Opener opener = take(Opener::create(testing::plant_policy(), keys));
  for (size_t n : {size_t{0}, size_t{64}, size_t{65536}}) {
    const std::vector<uint8_t> payload(n, 0x5a);
    std::vector<uint8_t> out(sealed_size(n) + 1, 0xee);
    size_t size = 1;
    testing::expect_ok(sealer.seal("plant/1/telemetry", payload, out.data(), out.size(), size));
    EXPECT_EQ(size, sealed_size(n));
    EXPECT_EQ(out.back(), 0xee);
    out.resize(size);
    EXPECT_EQ(take(opener.open("plant/1/telemetry", out)).payload, payload);
  }
  std::vector<uint8_t> out(8, 0xee);
  size_t size = 0;
  testing::expect_ok(sealer.seal("public/news", std::string_view("hi"), out.data(), out.size(), size));
  EXPECT_EQ(size, 2u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 2), testing::bytes_of("hi"));
}

// A failed seal into caller memory leaves none of its bytes behind, and a
// payload inside that memory is refused without touching it.
TEST(Sealer, FailedSealIntoCallerMemoryLeavesNothing) {
  Sealer sealer = take(Sealer::create(testing::plant_policy(), testing::plant_keys()));
  const std::vector<uint8_t> payload(2048, 0x5a);
  std::vector<uint8_t> out(sealed_size(payload.size()) - 1, 0xee);
  size_t size = 1;
  EXPECT_EQ(sealer.seal("plant/1/telemetry", payload, out.data(), out.size(), size).error(),
            Errc::invalid_argument);
  EXPECT_EQ(size, sealed_size(payload.size()));  // what it needs
  EXPECT_EQ(std::count(out.begin(), out.end(), 0), static_cast<long>(out.size()));
  out.assign(out.size(), 0xee);
  EXPECT_EQ(sealer.seal("plant/7/status", payload, out.data(), out.size(), size).error(), Errc::no_rule);
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(std::count(out.begin(), out.end(), 0), static_cast<long>(out.size()));
  std::vector<uint8_t> buffer(4096, 0x33);
  const std::vector<uint8_t> original = buffer;
  EXPECT_EQ(sealer.seal("plant/1/telemetry", ByteView(buffer.data() + 8, 64), buffer.data(), buffer.size(), size)
                .error(),
            Errc::invalid_argument);
  EXPECT_EQ(buffer, original);
}

// sealed_size(topic, n) is exactly the size seal() makes, for every suite,
// the compact envelope and a plaintext rule, up to each rule's largest
// payload; it needs no key and uses no sequence number, and refuses as
// seal() does.
TEST(Sealer, SealedSizeIsTheSizeSealMakesUnderEveryRule) {
  auto keys = testing::plant_keys();
  (void)take(keys->generate_signing_key("device-7"));
  (void)take(keys->generate_recipient_key("backend"));
  TopicPolicy policy = testing::plant_policy();
  testing::expect_ok(policy.add_signed_rule("signed/+", "telemetry", {"device-7"}));
  testing::expect_ok(policy.add_recipient_rule("sealed/+", "backend"));
  testing::expect_ok(policy.add_signed_recipient_rule("private/+", "backend", {"device-7"}));
  testing::expect_ok(policy.add_compact_rule("field/+", "telemetry"));
  testing::expect_ok(policy.add_rule("orphan/+", "absent"));  // no such key
  Sealer sealer = take(Sealer::create(policy, keys));
  struct Case {
    const char* topic;
    size_t overhead;
    size_t max_payload;
  };
  const Case cases[] = {
      {"plant/1/telemetry", kEnvelopeOverhead, kMaxPayloadSize},
      {"signed/1", kEnvelopeOverheadSigned, kMaxSignedPayloadSize},
      {"sealed/1", kEnvelopeOverheadRecipient, kMaxRecipientPayloadSize},
      {"private/1", kEnvelopeOverheadSignedSealed, kMaxSignedSealedPayloadSize},
      {"field/1", kEnvelopeOverheadCompact, kMaxPayloadSize},  // capped by seal()'s own check
      {"public/news", 0, kMaxPayloadSize},
  };
  for (const Case& c : cases) {
    for (size_t n : {size_t{0}, size_t{64}, size_t{65536}}) {
      EXPECT_EQ(take(sealer.sealed_size(c.topic, n)), n + c.overhead) << c.topic << " " << n;
    }
    EXPECT_EQ(take(sealer.sealed_size(c.topic, c.max_payload)), c.max_payload + c.overhead) << c.topic;
    EXPECT_EQ(sealer.sealed_size(c.topic, c.max_payload + 1).error(), Errc::payload_too_large) << c.topic;
  }
  // No sequence number was used: the first seal is sequence 0, into exactly
  // the size said, and one byte less is too small.
  for (const Case& c : cases) {
    const std::vector<uint8_t> payload(64, 0x5a);
    const size_t needed = take(sealer.sealed_size(c.topic, payload.size()));
    std::vector<uint8_t> out(needed);
    size_t size = 0;
    EXPECT_EQ(sealer.seal(c.topic, payload, out.data(), needed - 1, size).error(), Errc::invalid_argument) << c.topic;
    testing::expect_ok(sealer.seal(c.topic, payload, out.data(), out.size(), size));
    EXPECT_EQ(size, needed) << c.topic;
    if (&c == &cases[0]) {
      EXPECT_EQ(take(parse_header(out)).sequence, 0u);
    }
  }
  // The rule alone decides: a rule without a key has a size, seal() then refuses.
  EXPECT_EQ(take(sealer.sealed_size("orphan/1", 5)), 5 + kEnvelopeOverhead);
  EXPECT_EQ(sealer.seal("orphan/1", std::string_view("hello")).error(), Errc::no_primary_key);
  EXPECT_EQ(sealer.sealed_size("plant/+/telemetry", 1).error(), Errc::invalid_topic);
  EXPECT_EQ(sealer.sealed_size("plant/7/status", 1).error(), Errc::no_rule);
  // Above kMaxPayloadSize before the topic, as seal().
  EXPECT_EQ(sealer.sealed_size("plant/7/status", kMaxPayloadSize + 1).error(), Errc::payload_too_large);
}

}  // namespace
}  // namespace mqseal
