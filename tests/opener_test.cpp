#include <mqseal/hazmat/envelope.h>
#include <mqseal/credentials.h>
#include <mqseal/opener.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <atomic>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test_util.h"
#if MQSEAL_TEST_REDIS
#include "redis_server.h"
#endif

namespace mqseal {
namespace {

using testing::take;

struct Pair {
  std::shared_ptr<Keyring> keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  Opener opener = take(Opener::create(testing::plant_policy(), keys));
};

// A keyring whose "telemetry" and "commands" keys are known, so that a test
// can seal envelopes with chosen headers (hazmat::seal_with_header) as an insider.
struct KnownKeys {
  static constexpr KeyId kTelemetry = 0x7e1e0001;
  static constexpr KeyId kCommands = 0xc0dd0002;
  Key telemetry = take(Key::from_bytes(std::vector<uint8_t>(kKeySize, 0x11)));
  Key commands = take(Key::from_bytes(std::vector<uint8_t>(kKeySize, 0x22)));
  std::shared_ptr<Keyring> keys = std::make_shared<Keyring>();
  KnownKeys() {
    testing::expect_ok(keys->add_with_id("telemetry", kTelemetry, take(telemetry.clone())));
    testing::expect_ok(keys->add_with_id("commands", kCommands, take(commands.clone())));
  }
  std::vector<uint8_t> seal(const Key& key, std::string_view topic, const EnvelopeHeader& h) {
    uint8_t topic_key[kKeySize];
    testing::expect_ok(hazmat::derive_topic_key(key, topic, topic_key));
    std::vector<uint8_t> env;
    testing::expect_ok(hazmat::seal_with_header(topic_key, topic, h, std::string_view("x"), env));
    return env;
  }
};

Errc open_error(Opener& opener, std::string_view topic, const std::vector<uint8_t>& env,
                Delivery d = {}) {
  Result<Opened> r = opener.open(topic, env, d);
  return r ? static_cast<Errc>(0) : r.error().code();
}

TEST(Opener, OpensWhatTheSealerSealed) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("21.5")));
  Opened o = take(p.opener.open("plant/7/telemetry", env));
  EXPECT_EQ(o.payload, testing::bytes_of("21.5"));
  EXPECT_TRUE(o.sealed);
  EXPECT_EQ(o.sender, p.sealer.sender());
  EXPECT_EQ(o.key_id, take(p.keys->primary("telemetry")));
}

TEST(Opener, MovedToAnotherTopicFails) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("x")));
  // Same rule, same key name, another concrete topic.
  EXPECT_EQ(open_error(p.opener, "plant/8/telemetry", env), Errc::authentication_failed);
  // A topic under another key name.
  EXPECT_EQ(open_error(p.opener, "plant/7/cmd/valve", env), Errc::wrong_key_for_topic);
  // A topic no rule covers, and a plaintext topic (which passes bytes through
  // unopened, as the policy asked: never mistaken for an opened payload).
  EXPECT_EQ(open_error(p.opener, "plant/7/status", env), Errc::no_rule);
  Opened passed = take(p.opener.open("public/x", env));
  EXPECT_FALSE(passed.sealed);
  // The original still opens.
  EXPECT_TRUE(p.opener.open("plant/7/telemetry", env));
}

TEST(Opener, WrongKeyUnknownKeyRetiredKey) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("x")));
  // A receiver whose "telemetry" key has other bytes under the same ID.
  auto impostor = std::make_shared<Keyring>();
  testing::expect_ok(impostor->add_with_id("telemetry", take(p.keys->primary("telemetry")),
                                           take(Key::generate())));
  Opener wrong = take(Opener::create(testing::plant_policy(), impostor));
  EXPECT_EQ(open_error(wrong, "plant/7/telemetry", env), Errc::authentication_failed);
  // A receiver that never had the key ID.
  Opener stranger = take(Opener::create(testing::plant_policy(), testing::plant_keys()));
  EXPECT_EQ(open_error(stranger, "plant/7/telemetry", env), Errc::unknown_key);
  // A receiver that retired it.
  Keyring rotated = take(p.keys->clone());
  KeyId old_id = take(rotated.primary("telemetry"));
  testing::expect_ok(rotated.promote(take(rotated.generate("telemetry"))));
  testing::expect_ok(rotated.retire(old_id));
  p.opener.set_keyring(std::make_shared<Keyring>(std::move(rotated)));
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env), Errc::key_retired);
}

// Key ID 0 is no key's ID: an envelope naming it is unknown_key, even one an
// insider sealed with the topic's primary key (0 is how the sealer asks the
// resolver for the primary, which must not leak to the opener), in v2 and v1.
TEST(Opener, KeyIdZeroIsUnknown) {
  KnownKeys k;
  Opener opener = take(Opener::create(testing::plant_policy(), k.keys));
  const std::string topic = "plant/7/telemetry";
  for (const uint8_t version : {kEnvelopeVersion, kEnvelopeVersionV1}) {
    EnvelopeHeader h;
    h.version = version;
    h.key_id = 0;
    h.timestamp_ms = system_time_ms();
    h.sender.fill(0x42);
    h.sequence = version;
    EXPECT_EQ(open_error(opener, topic, k.seal(k.telemetry, topic, h), {false, h.timestamp_ms}),
              Errc::unknown_key)
        << int{version};
  }
}

TEST(Opener, DuplicateReplayAndExpiry) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("x")));
  ASSERT_TRUE(p.opener.open("plant/7/telemetry", env));
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env), Errc::duplicate);
  const uint64_t later = system_time_ms() + ReplayOptions{}.max_age_ms + 60'000;
  std::vector<uint8_t> env2 = take(p.sealer.seal("plant/7/telemetry", std::string_view("y")));
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env2, {false, later}), Errc::expired);
  // A sealed message that fell out of the replay window is a replay.
  std::vector<uint8_t> old = take(p.sealer.seal("plant/7/telemetry", std::string_view("old")));
  for (uint64_t i = 0; i <= kReplayWindow; ++i) {
    ASSERT_TRUE(p.opener.open("plant/7/telemetry",
                              take(p.sealer.seal("plant/7/telemetry", std::string_view("n")))));
  }
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", old), Errc::replay);
}

TEST(Opener, RetainedMessagesOpenLater) {
  Pair p;
  std::vector<uint8_t> env =
      take(p.sealer.seal("plant/7/telemetry", std::string_view("last"), Publish::retained));
  EXPECT_EQ(take(parse_header(env)).flags, kFlagRetain);
  const uint64_t next_day = system_time_ms() + 24ull * 3600 * 1000;
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env, {false, next_day}), Errc::expired);
  Opened o = take(p.opener.open("plant/7/telemetry", env, {true, next_day}));
  EXPECT_EQ(o.payload, testing::bytes_of("last"));
  EXPECT_TRUE(o.retained);
  EXPECT_TRUE(p.opener.open("plant/7/telemetry", env, {true, next_day}));  // every new subscriber
}

// A command published live, captured, and delivered again later with the
// retain flag set (by the broker, or by a client allowed to publish retained
// messages) must not open once it is older than max_age: the publisher's
// intent is sealed into the envelope.
TEST(Opener, ALiveMessageReplayedAsRetainedIsRefused) {
  Pair p;
  const std::string topic = "plant/7/cmd/valve/open";
  std::vector<uint8_t> command = take(p.sealer.seal(topic, std::string_view("open")));
  const uint64_t now = system_time_ms();
  ASSERT_TRUE(p.opener.open(topic, command, {false, now}));
  const uint64_t hour = 3600ull * 1000;
  EXPECT_EQ(open_error(p.opener, topic, command, {true, now + hour}), Errc::expired);
  // A receiver that starts six days later has no replay state at all.
  Opener fresh = take(Opener::create(testing::plant_policy(), p.keys));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(open_error(fresh, topic, command, {true, now + 6 * 24 * hour}), Errc::expired);
  }
  // Within max_age it is judged as the live message it is: a duplicate.
  EXPECT_EQ(open_error(p.opener, topic, command, {true, now + 1000}), Errc::duplicate);
  // A young live message first delivered with the flag opens, and is reported
  // as live: Opened::retained is the sealed intent, not the delivery flag.
  std::vector<uint8_t> second = take(p.sealer.seal(topic, std::string_view("close")));
  Opened o = take(p.opener.open(topic, second, {true, now + 2000}));
  EXPECT_FALSE(o.retained);
}

// MQTT 5 "retain as published": a retained publish reaches current
// subscribers live with the retain flag set. It is young, so it meets the
// window like any live message.
TEST(Opener, RetainAsPublishedDeliveriesOpenOnce) {
  Pair p;
  std::vector<uint8_t> env =
      take(p.sealer.seal("plant/7/telemetry", std::string_view("x"), Publish::retained));
  const uint64_t now = system_time_ms();
  EXPECT_TRUE(p.opener.open("plant/7/telemetry", env, {true, now}));
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env, {true, now + 10}), Errc::duplicate);
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env, {false, now + 20}), Errc::duplicate);
}

TEST(Opener, RetainedPolicyPerRule) {
  auto keys = testing::plant_keys();
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry",
                                     RetainedRule{RetainedPolicy::accept_within_age, 3600ull * 1000}));
  testing::expect_ok(policy.add_rule("plant/+/cmd/#", "commands", RetainedRule{RetainedPolicy::refuse}));
  Sealer sealer = take(Sealer::create(policy, keys));
  Opener opener = take(Opener::create(policy, keys));  // receiver default: accept for 7 days
  const uint64_t now = system_time_ms();
  std::vector<uint8_t> cmd = take(sealer.seal("plant/7/cmd/x", std::string_view("c"), Publish::retained));
  EXPECT_EQ(open_error(opener, "plant/7/cmd/x", cmd, {true, now + 1000}), Errc::retained_refused);
  EXPECT_TRUE(opener.open("plant/7/cmd/x", cmd, {false, now}));  // delivered live, it opens
  std::vector<uint8_t> t = take(sealer.seal("plant/7/telemetry", std::string_view("t"), Publish::retained));
  EXPECT_TRUE(opener.open("plant/7/telemetry", t, {true, now + 30ull * 60 * 1000}));
  EXPECT_EQ(open_error(opener, "plant/7/telemetry", t, {true, now + 2 * 3600ull * 1000}), Errc::expired);
}

// Envelope v1 (what deployed devices sealed before v2) cannot say whether it
// was meant to be retained: it still opens, as a live message.
TEST(Opener, VersionOneEnvelopesOpenAsLiveMessages) {
  KnownKeys k;
  Opener opener = take(Opener::create(testing::plant_policy(), k.keys));
  const std::string topic = "plant/7/telemetry";
  EnvelopeHeader h;
  h.version = kEnvelopeVersionV1;
  h.key_id = KnownKeys::kTelemetry;
  h.timestamp_ms = system_time_ms();
  h.sender.fill(0x42);
  h.sequence = 7;
  const std::vector<uint8_t> v1 = k.seal(k.telemetry, topic, h);
  Opened o = take(opener.open(topic, v1, {false, h.timestamp_ms}));
  EXPECT_EQ(o.payload, testing::bytes_of("x"));
  EXPECT_FALSE(o.retained);
  EXPECT_EQ(open_error(opener, topic, v1, {true, h.timestamp_ms + 1}), Errc::duplicate);
  Opener fresh = take(Opener::create(testing::plant_policy(), k.keys));
  EXPECT_EQ(open_error(fresh, topic, v1, {true, h.timestamp_ms + 3600ull * 1000}), Errc::expired);
}

// Issue 8, section 3: a holder of only the "commands" key floods a receiver
// from fresh random senders with timestamps at the allowed future skew. The
// stream table of its key name fills and its watermark rises; senders under
// "telemetry", tracked or new, must not notice.
TEST(Opener, AKeyHolderCannotLockOutAnotherKeysSenders) {
  KnownKeys k;
  OpenerOptions options;
  options.replay.max_streams = 64;
  Opener opener = take(Opener::create(testing::plant_policy(), k.keys, options));
  Sealer honest = take(Sealer::create(testing::plant_policy(), k.keys));
  const uint64_t now = system_time_ms();
  ASSERT_TRUE(opener.open("plant/8/telemetry", take(honest.seal("plant/8/telemetry", std::string_view("1"))),
                          {false, now}));
  // 4200 fresh senders: the scale of the attack measured against the default
  // table of 4096 streams, here against 64. Once the partition's watermark
  // has risen, the attacker's own later senders are refused too.
  size_t accepted = 0;
  for (uint32_t i = 0; i < 4200; ++i) {
    EnvelopeHeader h;
    h.key_id = KnownKeys::kCommands;
    h.timestamp_ms = now + options.replay.max_future_skew_ms - 1000;
    std::memcpy(h.sender.data(), &i, sizeof i);
    h.sender[15] = 0xa5;
    accepted += opener.open("plant/7/cmd/valve", k.seal(k.commands, "plant/7/cmd/valve", h), {false, now}) ? 1 : 0;
  }
  EXPECT_GE(accepted, options.replay.max_streams);
  EXPECT_GE(opener.replay_guard().watermark_ms("commands"), now);
  EXPECT_LE(opener.replay_guard().watermark_ms("commands"), now + options.replay.max_future_skew_ms);
  EXPECT_EQ(opener.replay_guard().watermark_ms("telemetry"), 0u);
  // The tracked honest stream, and a device under "telemetry" that just rebooted.
  EXPECT_TRUE(opener.open("plant/8/telemetry", take(honest.seal("plant/8/telemetry", std::string_view("2"))),
                          {false, now + 1}));
  Sealer rebooted = take(Sealer::create(testing::plant_policy(), k.keys));
  EXPECT_TRUE(opener.open("plant/9/telemetry", take(rebooted.seal("plant/9/telemetry", std::string_view("3"))),
                          {false, now + 2}));
}

// Issue 14: the replay guard must see only authenticated messages. A copy of
// m with one ciphertext byte flipped is refused as altered, and must not
// have entered the window: m itself still opens (not as a duplicate).
TEST(Opener, AnAlteredCopyDoesNotReachTheReplayGuard) {
  Pair p;
  const std::vector<uint8_t> m = take(p.sealer.seal("plant/7/telemetry", std::string_view("reading")));
  std::vector<uint8_t> altered = m;
  altered[kHeaderSize] ^= 0x01;
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", altered), Errc::authentication_failed);
  EXPECT_EQ(p.opener.replay_guard().tracked_streams(), 0u);
  EXPECT_EQ(take(p.opener.open("plant/7/telemetry", m)).payload, testing::bytes_of("reading"));
}

TEST(Opener, SenderRebootIsAcceptedWithoutManualSteps) {
  Pair p;
  ASSERT_TRUE(p.opener.open("plant/1/telemetry",
                            take(p.sealer.seal("plant/1/telemetry", std::string_view("a")))));
  // The device reboots: all its RAM is gone, a new Sealer starts at sequence 0.
  Sealer rebooted = take(Sealer::create(testing::plant_policy(), p.keys));
  std::vector<uint8_t> env = take(rebooted.seal("plant/1/telemetry", std::string_view("b")));
  EXPECT_EQ(take(parse_header(env)).sequence, 0u);
  EXPECT_EQ(take(p.opener.open("plant/1/telemetry", env)).payload, testing::bytes_of("b"));
}

TEST(Opener, RotationWhileMessagesAreInFlightLosesNone) {
  auto v1 = std::make_shared<Keyring>(take(testing::plant_keys()->clone()));
  Sealer sealer = take(Sealer::create(testing::plant_policy(), v1));
  Opener opener = take(Opener::create(testing::plant_policy(), v1));
  std::vector<std::vector<uint8_t>> in_flight;
  for (int i = 0; i < 50; ++i) {
    in_flight.push_back(take(sealer.seal("plant/1/telemetry", std::to_string(i))));
  }
  // Step 1: every receiver gets the new key (active), keeps the old.
  auto v2 = std::make_shared<Keyring>(take(v1->clone()));
  KeyId new_id = take(v2->generate("telemetry"));
  opener.set_keyring(v2);
  // Step 2: senders promote it.
  auto v3 = std::make_shared<Keyring>(take(v2->clone()));
  testing::expect_ok(v3->promote(new_id));
  sealer.set_keyring(v3);
  for (int i = 50; i < 100; ++i) {
    std::vector<uint8_t> env = take(sealer.seal("plant/1/telemetry", std::to_string(i)));
    EXPECT_EQ(take(parse_header(env)).key_id, new_id);
    in_flight.push_back(std::move(env));
  }
  // Deliver old and new interleaved: none is lost.
  for (size_t i = 0; i < 50; ++i) {
    for (size_t j : {i, i + 50}) {
      Result<Opened> o = opener.open("plant/1/telemetry", in_flight[j]);
      ASSERT_TRUE(o) << j << ": " << o.error().message();
      EXPECT_EQ(o->payload, testing::bytes_of(std::to_string(j)));
    }
  }
}

TEST(Opener, PlaintextTopicsAndBadInput) {
  Pair p;
  Opened o = take(p.opener.open("public/news", std::string_view("plain")));
  EXPECT_FALSE(o.sealed);
  EXPECT_EQ(o.payload, testing::bytes_of("plain"));
  EXPECT_EQ(open_error(p.opener, "plant/1/telemetry", testing::bytes_of("plain")), Errc::malformed);
  EXPECT_EQ(open_error(p.opener, "plant/1/telemetry", {}), Errc::malformed);
  EXPECT_EQ(open_error(p.opener, "plant/+/telemetry", {}), Errc::invalid_topic);
  std::vector<uint8_t> garbage(200, 0x01);
  EXPECT_EQ(open_error(p.opener, "plant/1/telemetry", garbage), Errc::unknown_key);
}

TEST(Opener, FailedOpenLeavesNoPlaintextAndKeepsTheInput) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("secret")));
  env.back() ^= 1;
  const std::vector<uint8_t> original = env;
  Opened out;
  out.payload = testing::bytes_of("previous");
  EXPECT_EQ(p.opener.open("plant/7/telemetry", env, {}, out).error(), Errc::authentication_failed);
  EXPECT_TRUE(out.payload.empty());
  EXPECT_FALSE(out.sealed);
  EXPECT_EQ(env, original);
}

// Opening into caller memory (what the Python binding does with a new bytes
// object): the payload and everything the envelope said, at the sizes of both
// AEAD backends, and a plaintext rule's payload as it came.
TEST(Opener, OpensIntoCallerMemory) {
  Pair p;
  for (size_t n : {size_t{0}, size_t{64}, size_t{65536}}) {
    const std::vector<uint8_t> payload(n, 0x5a);
    const std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", payload, Publish::retained));
    std::vector<uint8_t> to(env.size(), 0xee);
    Opened out;
    out.payload = testing::bytes_of("previous");
    size_t size = 1;
    testing::expect_ok(p.opener.open("plant/7/telemetry", env, Delivery{true, 0}, to.data(), to.size(), size, out));
    EXPECT_EQ(size, n);
    EXPECT_EQ(std::vector<uint8_t>(to.begin(), to.begin() + static_cast<long>(n)), payload);
    EXPECT_TRUE(out.payload.empty());
    EXPECT_TRUE(out.sealed);
    EXPECT_TRUE(out.retained);
    EXPECT_EQ(out.sender, p.sealer.sender());
    EXPECT_EQ(out.key_id, take(p.keys->primary("telemetry")));
  }
  std::vector<uint8_t> to(5, 0xee);
  Opened out;
  size_t size = 0;
  EXPECT_EQ(p.opener.open("public/news", std::string_view("plain"), {}, to.data(), 4, size, out).error(),
            Errc::invalid_argument);
  EXPECT_EQ(size, 5u);
  testing::expect_ok(p.opener.open("public/news", std::string_view("plain"), {}, to.data(), to.size(), size, out));
  EXPECT_EQ(size, 5u);
  EXPECT_EQ(to, testing::bytes_of("plain"));
  EXPECT_FALSE(out.sealed);
}

// A failed open into caller memory leaves no byte of the payload there: not
// for a forged envelope, nor for an authentic one the replay guard refuses
// after it was decrypted, nor for memory too small; an envelope inside that
// memory is refused without touching it.
TEST(Opener, FailedOpenIntoCallerMemoryLeavesNothing) {
  Pair p;
  const std::vector<uint8_t> payload(4096, 0x5a);
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", payload));
  std::vector<uint8_t> to(env.size(), 0xee);
  Opened out;
  size_t size = 0;
  testing::expect_ok(p.opener.open("plant/7/telemetry", env, {}, to.data(), to.size(), size, out));
  to.assign(to.size(), 0xee);
  size = 1;
  EXPECT_EQ(p.opener.open("plant/7/telemetry", env, {}, to.data(), to.size(), size, out).error(), Errc::duplicate);
  EXPECT_EQ(size, 0u);
  EXPECT_FALSE(out.sealed);
  EXPECT_EQ(std::count(to.begin(), to.end(), 0), static_cast<long>(to.size()));

  env = take(p.sealer.seal("plant/7/telemetry", payload));
  to.assign(payload.size() - 1, 0xee);
  EXPECT_EQ(p.opener.open("plant/7/telemetry", env, {}, to.data(), to.size(), size, out).error(),
            Errc::invalid_argument);
  EXPECT_EQ(size, payload.size());  // what it needs
  EXPECT_EQ(std::count(to.begin(), to.end(), 0), static_cast<long>(to.size()));
  to.assign(payload.size(), 0xee);
  testing::expect_ok(p.opener.open("plant/7/telemetry", env, {}, to.data(), to.size(), size, out));  // not spent
  EXPECT_EQ(to, payload);

  env = take(p.sealer.seal("plant/7/telemetry", payload));
  env[env.size() / 2] ^= 1;
  to.assign(env.size(), 0xee);
  EXPECT_EQ(p.opener.open("plant/7/telemetry", env, {}, to.data(), to.size(), size, out).error(),
            Errc::authentication_failed);
  EXPECT_EQ(std::count(to.begin(), to.end(), 0), static_cast<long>(to.size()));

  std::vector<uint8_t> buffer(env.size() + 64, 0x33);
  std::copy(env.begin(), env.end(), buffer.begin() + 32);
  const std::vector<uint8_t> original = buffer;
  EXPECT_EQ(p.opener.open("plant/7/telemetry", ByteView(buffer.data() + 32, env.size()), {}, buffer.data(),
                          buffer.size(), size, out)
                .error(),
            Errc::invalid_argument);
  EXPECT_EQ(buffer, original);
}

// Random bytes, and random mutations of valid envelopes, give typed errors
// only: never a crash, never plaintext. Deterministic seed; the sanitizer
// build of scripts/test runs it under ASan and UBSan.
TEST(Opener, RandomBytesAndMutationsGiveTypedErrorsOnly) {
  Pair p;
  std::mt19937_64 rng(20261125);
  std::vector<std::vector<uint8_t>> valid;
  for (size_t size : {0u, 1u, 64u, 300u}) {
    valid.push_back(take(p.sealer.seal("plant/3/telemetry", std::vector<uint8_t>(size, 0x33))));
  }
  Opened out;
  size_t opened = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> input;
    if (i % 2 == 0) {
      input.resize(rng() % 200);
      for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    } else {
      input = valid[rng() % valid.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        switch (rng() % 3) {
          case 0:
            if (!input.empty()) input[rng() % input.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
            break;
          case 1: input.resize(rng() % (input.size() + 1)); break;
          default: input.insert(input.begin() + static_cast<long>(rng() % (input.size() + 1)),
                                static_cast<uint8_t>(rng()));
        }
      }
    }
    Status s = p.opener.open("plant/3/telemetry", input, {}, out);
    if (s) {
      ++opened;  // only an unmodified valid envelope may open, and only once
      EXPECT_NE(std::find(valid.begin(), valid.end(), input), valid.end());
      continue;
    }
    EXPECT_TRUE(out.payload.empty());
    const Errc c = s.error().code();
    EXPECT_TRUE(c == Errc::malformed || c == Errc::unsupported_version ||
                c == Errc::unsupported_suite || c == Errc::unknown_key ||
                c == Errc::authentication_failed || c == Errc::duplicate)
        << name(c);
  }
  EXPECT_LE(opened, valid.size());
}

TEST(Opener, RotationUnderLoadLosesNothing) {
  auto keys = std::make_shared<Keyring>(take(testing::plant_keys()->clone()));
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  Opener opener = take(Opener::create(testing::plant_policy(), keys));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> opened{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      const std::string topic = "plant/" + std::to_string(t) + "/telemetry";
      std::vector<uint8_t> env;
      Opened out;
      while (!stop) {
        if (!sealer.seal(topic, std::string_view("x"), env)) { ++failures; continue; }
        if (opener.open(topic, env, {}, out)) ++opened;
        else ++failures;
      }
    });
  }
  // Rotate 50 times: receivers first learn the new key, then senders promote it.
  std::shared_ptr<Keyring> current = keys;
  for (int r = 0; r < 50; ++r) {
    auto learn = std::make_shared<Keyring>(take(current->clone()));
    KeyId next = take(learn->generate("telemetry"));
    opener.set_keyring(learn);
    auto promote = std::make_shared<Keyring>(take(learn->clone()));
    testing::expect_ok(promote->promote(next));
    sealer.set_keyring(promote);
    opener.set_keyring(promote);
    current = promote;
  }
  stop = true;
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(opened.load(), 0);
}

TEST(Opener, ConcurrentOpensAcceptEachMessageOnce) {
  Pair p;
  std::vector<std::vector<uint8_t>> envs;
  for (int i = 0; i < 2000; ++i) {
    envs.push_back(take(p.sealer.seal("plant/" + std::to_string(i % 7) + "/telemetry",
                                      std::string_view("x"))));
  }
  std::atomic<int> accepted{0};
  std::atomic<int> repeats{0};  // duplicate, or replay for a thread that fell behind the window
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {  // every thread delivers every message
      Opened out;
      for (size_t i = 0; i < envs.size(); ++i) {
        Status s = p.opener.open("plant/" + std::to_string(i % 7) + "/telemetry", envs[i], {}, out);
        if (s) ++accepted;
        else if (s.error() == Errc::duplicate || s.error() == Errc::replay) ++repeats;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 2000);
  EXPECT_EQ(repeats.load(), 3 * 2000);
}

// ---- Shared replay state (OpenerOptions::replay_store) ----

SealerOptions clocked(Clock clock) {
  SealerOptions options;
  options.clock = std::move(clock);
  return options;
}

// A sealer whose clock the test sets, and Openers sharing one store.
struct Group {
  std::shared_ptr<Keyring> keys = testing::plant_keys();
  uint64_t clock_ms = system_time_ms();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys, clocked([this] { return clock_ms; })));
  std::shared_ptr<ReplayStore> store;

  // Each member's store: `store`, or one opened per member (a connection of its own).
  std::function<std::shared_ptr<ReplayStore>()> open_store;

  explicit Group(std::shared_ptr<ReplayStore> s = take(memory_replay_store())) : store(std::move(s)) {}
  explicit Group(std::function<std::shared_ptr<ReplayStore>()> open) : open_store(std::move(open)) {}
  Opener member(size_t quota = kDefaultMaxClaimsPerKeyName, std::string group = "consumers") {
    OpenerOptions options;
    options.replay_store = open_store ? open_store() : store;
    options.replay_group = std::move(group);
    options.max_claims_per_key_name = quota;
    return take(Opener::create(testing::plant_policy(), keys, options));
  }
  std::vector<uint8_t> seal(std::string_view topic, Publish publish = Publish::live) {
    return take(sealer.seal(topic, std::string_view("x"), publish));
  }
  // Sealed at `t` by another sender (a session's timestamps never decrease).
  std::vector<uint8_t> seal_at(std::string_view topic, uint64_t t) {
    Sealer other = take(Sealer::create(testing::plant_policy(), keys, clocked([t] { return t; })));
    return take(other.seal(topic, std::string_view("x")));
  }
};

std::shared_ptr<ReplayStore> file_store(const testing::TempDir& dir, size_t capacity) {
  return take(open_file_replay_store(dir.file("replay"), FileReplayStoreOptions{capacity}));
}

// Each message reaches one member first (as a shared subscription spreads
// them) and then, as a redelivery or a re-injected copy, the other: accepted
// once over the group, duplicate the second time, in either order.
void expect_each_message_once(Group& g) {
  Opener a = g.member();
  Opener b = g.member();
  std::mt19937 rng(11);
  int accepted = 0;
  int duplicates = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string topic = "plant/" + std::to_string(i % 5) + "/telemetry";
    const std::vector<uint8_t> env = g.seal(topic);
    const bool a_first = (rng() & 1) != 0;
    for (Opener* o : {a_first ? &a : &b, a_first ? &b : &a}) {
      Result<Opened> r = o->open(topic, env);
      if (r) ++accepted;
      else if (r.error() == Errc::duplicate) ++duplicates;
    }
  }
  EXPECT_EQ(accepted, 300);
  EXPECT_EQ(duplicates, 300);
  EXPECT_EQ(a.replay_guard().tracked_streams() + b.replay_guard().tracked_streams(), 0u);
}

TEST(SharedReplay, EachMessageIsAcceptedOnceOverTwoOpenersSharingAMemoryStore) {
  Group g;
  expect_each_message_once(g);
}

TEST(SharedReplay, EachMessageIsAcceptedOnceOverTwoOpenersSharingAFileStore) {
  testing::TempDir dir;
  Group g(file_store(dir, 4 * kDefaultMaxClaimsPerKeyName));
  expect_each_message_once(g);
}

// Openers with their own guards (no store) accept a message once each: the
// failure the store is for.
TEST(SharedReplay, WithoutAStoreEachMemberAcceptsItAgain) {
  Pair p;
  Opener other = take(Opener::create(testing::plant_policy(), p.keys));
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("x")));
  EXPECT_TRUE(p.opener.open("plant/7/telemetry", env));
  EXPECT_TRUE(other.open("plant/7/telemetry", env));
}

// A member that saw sequences far above a message (the others got the
// messages in between) still accepts it the first time, once.
TEST(SharedReplay, ReorderingFarBeyondTheWindowIsAcceptedOnce) {
  Group g;
  Opener a = g.member();
  Opener b = g.member();
  const std::string topic = "plant/7/telemetry";
  const std::vector<uint8_t> early = g.seal(topic);
  for (uint64_t i = 0; i < 3 * kReplayWindow; ++i) {
    const std::vector<uint8_t> env = g.seal(topic);
    ASSERT_TRUE((i % 2 == 0 ? a : b).open(topic, env));
  }
  EXPECT_TRUE(a.open(topic, early));
  EXPECT_EQ(open_error(b, topic, early), Errc::duplicate);
  EXPECT_EQ(open_error(a, topic, early), Errc::duplicate);
}

// Quota reached: refused with the store's error, not accepted, not a
// duplicate; nothing is claimed, so once the key name's older claims expire
// the same message is accepted, once. Another key name is not affected.
TEST(SharedReplay, AFullQuotaRefusesWithTheStoresErrorAndClaimsNothing) {
  Group g;
  Opener a = g.member(2);
  Opener b = g.member(2);
  const std::string topic = "plant/7/telemetry";
  const uint64_t t0 = g.clock_ms;
  ASSERT_TRUE(a.open(topic, g.seal(topic), {false, t0}));
  ASSERT_TRUE(b.open(topic, g.seal(topic), {false, t0}));
  const std::vector<uint8_t> third = g.seal(topic);
  EXPECT_EQ(open_error(a, topic, third, {false, t0}), Errc::capacity_exceeded);
  EXPECT_EQ(open_error(b, topic, third, {false, t0}), Errc::capacity_exceeded);
  EXPECT_TRUE(b.open("plant/7/cmd/valve", g.seal("plant/7/cmd/valve"), {false, t0}));  // commands
  // The first two claims live until t0 + max_age + skew (rounded up to a second).
  const ReplayOptions o;
  g.clock_ms = t0 + o.max_age_ms + o.max_future_skew_ms - 500;
  const uint64_t later = t0 + o.max_age_ms + o.max_future_skew_ms + 2000;
  EXPECT_TRUE(a.open(topic, g.seal(topic), {false, later}));  // claims at `later`: the first two are forgotten
  g.clock_ms = later;
  const std::vector<uint8_t> fresh = g.seal(topic);
  EXPECT_TRUE(b.open(topic, fresh, {false, later}));
  EXPECT_EQ(open_error(a, topic, fresh, {false, later}), Errc::duplicate);
  // `third` is now expired by age, whatever the store says.
  EXPECT_EQ(open_error(a, topic, third, {false, later}), Errc::expired);
}

// A store that cannot write (here: a file store past the process's file size
// limit, a real EFBIG) refuses the message with io_error; once it can write
// again, the message is accepted once.
TEST(SharedReplay, AStoreThatCannotWriteRefusesTheMessage) {
  testing::TempDir dir;
  Group g(file_store(dir, 4 * kDefaultMaxClaimsPerKeyName));
  Opener a = g.member();
  Opener b = g.member();
  const std::string topic = "plant/7/telemetry";
  ASSERT_TRUE(a.open(topic, g.seal(topic)));
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("replay").c_str(), &st), 0);
  const std::vector<uint8_t> env = g.seal(topic);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(st.st_size);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  const Errc first = open_error(a, topic, env);
  const Errc second = open_error(b, topic, env);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(first, Errc::io_error);
  EXPECT_EQ(second, Errc::io_error);
  EXPECT_TRUE(b.open(topic, env));
  EXPECT_EQ(open_error(a, topic, env), Errc::duplicate);
}

// One file store given to a token verifier and to two consumer groups (in
// one process: a file store serves one). Each kind of claim (tokens, each
// group's messages) has its own capacity, as in a Redis store: the telemetry
// key's holder, sending all its quota allows, leaves the commands key's
// messages in both groups, and the device's logins, alone. (The capacity was
// one count over every kind: the 8 telemetry claims filled it for both.)
TEST(SharedReplay, OneKeysMessagesRefuseNoLoginAndNoOtherKeyInAFileStoreSharedByKinds) {
  testing::TempDir dir;
  constexpr size_t kQuota = 4;
  constexpr size_t kCapacity = 2 * kQuota;  // what each of them needs: 2 key names x 4, or 1 device x 8 tokens
  Group g(file_store(dir, kCapacity));
  Opener billing = g.member(kQuota, "billing");
  Opener dashboard = g.member(kQuota, "dashboard");
  const Key device_secret = take(Key::generate());
  Credentials credentials;
  testing::expect_ok(
      credentials.add(take(credential_record("device-7", device_secret, testing::cheap_passphrase_params()))));
  VerifierOptions verifier_options;
  verifier_options.replay_store = g.store;
  verifier_options.max_tokens_per_user = kCapacity;
  TokenVerifier verifier = take(TokenVerifier::create(std::move(credentials), verifier_options));

  const std::string telemetry = "plant/7/telemetry";
  for (size_t i = 0; i < kQuota; ++i) {
    const std::vector<uint8_t> env = g.seal(telemetry);
    ASSERT_TRUE(billing.open(telemetry, env)) << i;
    ASSERT_TRUE(dashboard.open(telemetry, env)) << i;
  }
  EXPECT_EQ(open_error(billing, telemetry, g.seal(telemetry)), Errc::capacity_exceeded) << "its own quota";
  const std::string command = "plant/7/cmd/valve";
  const std::vector<uint8_t> cmd = g.seal(command);
  EXPECT_TRUE(billing.open(command, cmd)) << "another key name's message";
  EXPECT_TRUE(dashboard.open(command, cmd)) << "another key name's message";
  for (size_t i = 0; i < kCapacity; ++i) {
    const std::string token = take(make_connect_token(device_secret, "device-7", "device-7"));
    EXPECT_TRUE(verifier.verify("device-7", "device-7", token)) << "login " << i;
  }
}

// Age rules stay local and claim nothing: an expired or future message does
// not use the key name's quota.
TEST(SharedReplay, AgeRulesAreJudgedBeforeTheStoreAndClaimNothing) {
  Group g;
  Opener a = g.member(1);
  const std::string topic = "plant/7/telemetry";
  const uint64_t now = g.clock_ms;
  const ReplayOptions o;
  EXPECT_EQ(open_error(a, topic, g.seal_at(topic, now - o.max_age_ms - 1), {false, now}), Errc::expired);
  EXPECT_EQ(open_error(a, topic, g.seal_at(topic, now + o.max_future_skew_ms + 1), {false, now}), Errc::not_yet_valid);
  EXPECT_TRUE(a.open(topic, g.seal(topic), {false, now}));
  EXPECT_EQ(open_error(a, topic, g.seal(topic), {false, now}), Errc::capacity_exceeded);
}

// Retained deliveries: a young one is a copy of a live message and claims as
// one; one older than max_age claims nothing and opens for every member
// (every new subscriber gets it, by MQTT's design), without using the quota.
TEST(SharedReplay, RetainedDeliveriesClaimOnlyWhileYoung) {
  Group g;
  Opener a = g.member(1);
  Opener b = g.member(1);
  const std::string topic = "plant/7/telemetry";
  const uint64_t now = g.clock_ms;
  const std::vector<uint8_t> state = g.seal(topic, Publish::retained);
  ASSERT_TRUE(a.open(topic, state, {false, now}));
  EXPECT_EQ(open_error(b, topic, state, {true, now + 1000}), Errc::duplicate);
  const uint64_t next_day = now + 24ull * 3600 * 1000;
  EXPECT_TRUE(a.open(topic, state, {true, next_day}));
  EXPECT_TRUE(b.open(topic, state, {true, next_day}));
  g.clock_ms = next_day;
  const std::vector<uint8_t> old_state = g.seal(topic, Publish::retained);
  const uint64_t week_later = next_day + 6ull * 24 * 3600 * 1000;
  EXPECT_TRUE(a.open(topic, old_state, {true, week_later}));
  EXPECT_TRUE(b.open(topic, old_state, {true, week_later}));
  // A live message flagged as retained in transit is judged live: expired.
  EXPECT_EQ(open_error(a, topic, g.seal(topic), {true, week_later}), Errc::expired);
}

// A clock stepping back is judged at the latest time the Opener judged at:
// a claim the store forgot meanwhile does not come back.
TEST(SharedReplay, AClockSteppingBackDoesNotBringBackAForgottenClaim) {
  Group g;
  Opener a = g.member();
  const std::string topic = "plant/7/telemetry";
  const uint64_t t0 = g.clock_ms;
  const std::vector<uint8_t> captured = g.seal(topic);
  ASSERT_TRUE(a.open(topic, captured, {false, t0}));
  const ReplayOptions o;
  const uint64_t later = t0 + o.max_age_ms + o.max_future_skew_ms + 2000;
  g.clock_ms = later;
  ASSERT_TRUE(a.open(topic, g.seal(topic), {false, later}));  // the store forgets `captured`
  EXPECT_EQ(open_error(a, topic, captured, {false, t0 + 1000}), Errc::expired);
}

// Two consumer groups (applications) sharing one store each accept every
// message once: the claims name the group (namespace "message:<group>").
void expect_each_group_accepts_once(Group& g) {
  Opener billing_a = g.member(kDefaultMaxClaimsPerKeyName, "billing");
  Opener billing_b = g.member(kDefaultMaxClaimsPerKeyName, "billing");
  Opener dashboard = g.member(kDefaultMaxClaimsPerKeyName, "dashboard");
  for (int i = 0; i < 20; ++i) {
    const std::string topic = "plant/" + std::to_string(i % 3) + "/telemetry";
    const std::vector<uint8_t> env = g.seal(topic);
    EXPECT_TRUE(billing_a.open(topic, env));
    EXPECT_EQ(open_error(billing_b, topic, env), Errc::duplicate);
    EXPECT_TRUE(dashboard.open(topic, env)) << "another group's claim made it a duplicate";
  }
}

TEST(SharedReplay, TwoGroupsSharingAStoreEachAcceptAMessageOnce) {
  Group g;
  expect_each_group_accepts_once(g);
}

TEST(SharedReplay, CreateRefusesAStoreWithoutAGroupOrWithABadOne) {
  OpenerOptions options;
  options.replay_store = take(memory_replay_store());
  for (const std::string& bad :
       {std::string(), std::string("a b"), std::string("a:b"), std::string(kMaxReplayGroupSize + 1, 'g')}) {
    options.replay_group = bad;
    Result<Opener> refused = Opener::create(testing::plant_policy(), testing::plant_keys(), options);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error(), Errc::invalid_argument);
    EXPECT_NE(refused.error().message().find("replay_group"), std::string::npos) << refused.error().message();
  }
  options.replay_group = std::string(kMaxReplayGroupSize, 'g');
  EXPECT_TRUE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
  options.replay_group = "Plant_7.consumers-2";
  EXPECT_TRUE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
}

TEST(SharedReplay, CreateRefusesAStoreTooSmallOrABadQuota) {
  testing::TempDir dir;
  OpenerOptions options;
  options.replay_store = file_store(dir, 100);
  options.replay_group = "g";
  options.max_claims_per_key_name = 50;  // telemetry + commands: 100 claims
  EXPECT_TRUE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
  options.max_claims_per_key_name = 51;
  Result<Opener> too_small = Opener::create(testing::plant_policy(), testing::plant_keys(), options);
  ASSERT_FALSE(too_small);
  EXPECT_EQ(too_small.error(), Errc::invalid_argument);
  EXPECT_NE(too_small.error().message().find("need 102"), std::string::npos) << too_small.error().message();
  options.replay_store = take(memory_replay_store());
  for (size_t bad : {size_t{0}, kMaxClaimsPerKeyName + 1}) {
    options.max_claims_per_key_name = bad;
    Result<Opener> refused = Opener::create(testing::plant_policy(), testing::plant_keys(), options);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error(), Errc::invalid_argument);
  }
  options.max_claims_per_key_name = kMaxClaimsPerKeyName;
  EXPECT_TRUE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
  // Claims a store would have to keep longer than kMaxRedisClaimLifetimeS
  // (a Redis store refuses every such claim): refused at creation, not at
  // each message. A claim is kept up to max_age + 2 x skew + 2 s.
  options.replay.max_future_skew_ms = 0;
  options.replay.max_age_ms = (kMaxRedisClaimLifetimeS - 2) * 1000;
  EXPECT_TRUE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
  options.replay.max_age_ms += 1;
  Result<Opener> too_old = Opener::create(testing::plant_policy(), testing::plant_keys(), options);
  ASSERT_FALSE(too_old);
  EXPECT_EQ(too_old.error(), Errc::invalid_argument);
  EXPECT_NE(too_old.error().message().find("kept at most"), std::string::npos) << too_old.error().message();
  options.replay.max_age_ms = 1000;
  options.replay.max_future_skew_ms = kMaxRedisClaimLifetimeS * 500;
  EXPECT_FALSE(Opener::create(testing::plant_policy(), testing::plant_keys(), options));
}

#if MQSEAL_TEST_REDIS
// Members as in separate processes: each with its own connection to one
// real redis-server.
std::shared_ptr<ReplayStore> redis_store(const testing::RedisServer& redis) {
  RedisReplayStoreOptions options;
  options.capacity = 4 * kDefaultMaxClaimsPerKeyName;
  return take(open_redis_replay_store(redis.url(), options));
}

TEST(SharedReplay, EachMessageIsAcceptedOnceOverTwoOpenersSharingARedisServer) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  Group g([&] { return redis_store(redis); });
  expect_each_message_once(g);
}

TEST(SharedReplay, TwoGroupsSharingARedisServerEachAcceptAMessageOnce) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  Group g([&] { return redis_store(redis); });
  expect_each_group_accepts_once(g);
  EXPECT_EQ(redis.cli({"ZCARD", "mqseal:claims:message:billing"}).out, "20\n");
  EXPECT_EQ(redis.cli({"ZCARD", "mqseal:claims:message:dashboard"}).out, "20\n");
}

TEST(SharedReplay, ReorderingFarBeyondTheWindowIsAcceptedOnceWithRedis) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  Group g([&] { return redis_store(redis); });
  Opener a = g.member();
  Opener b = g.member();
  const std::string topic = "plant/7/telemetry";
  const std::vector<uint8_t> early = g.seal(topic);
  for (uint64_t i = 0; i < 2 * kReplayWindow; ++i) {
    ASSERT_TRUE((i % 2 == 0 ? a : b).open(topic, g.seal(topic)));
  }
  EXPECT_TRUE(b.open(topic, early));
  EXPECT_EQ(open_error(a, topic, early), Errc::duplicate);
}

// Redis stopped: refused with io_error (never accepted, never a duplicate);
// started again (empty: it saved nothing), the members work without being
// made again, and the message refused meanwhile is accepted once.
TEST(SharedReplay, ARedisThatStopsRefusesUntilItIsBack) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.log();
  Group g([&] { return redis_store(redis); });
  Opener a = g.member();
  Opener b = g.member();
  const std::string topic = "plant/7/telemetry";
  ASSERT_TRUE(a.open(topic, g.seal(topic)));
  const std::vector<uint8_t> env = g.seal(topic);
  redis.stop();
  EXPECT_EQ(open_error(a, topic, env), Errc::io_error);
  EXPECT_EQ(open_error(b, topic, env), Errc::io_error);
  redis.restart();
  ASSERT_TRUE(redis.running()) << redis.log();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Errc last = Errc::io_error;
  while (last == Errc::io_error && std::chrono::steady_clock::now() < deadline) {  // the retry interval
    last = open_error(b, topic, env);
    if (last == Errc::io_error) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(last, static_cast<Errc>(0));
  EXPECT_EQ(open_error(a, topic, env), Errc::duplicate);
}
#endif

TEST(SharedReplay, ConcurrentMembersAcceptEachMessageOnce) {
  Group g;
  std::vector<std::vector<uint8_t>> envs;
  for (int i = 0; i < 2000; ++i) envs.push_back(g.seal("plant/" + std::to_string(i % 7) + "/telemetry"));
  std::atomic<int> accepted{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {  // four members, each delivered every message
      Opener member = g.member();
      Opened out;
      for (size_t i = 0; i < envs.size(); ++i) {
        Status s = member.open("plant/" + std::to_string(i % 7) + "/telemetry", envs[i], {}, out);
        if (s) ++accepted;
        else if (s.error() == Errc::duplicate) ++duplicates;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 2000);
  EXPECT_EQ(duplicates.load(), 3 * 2000);
}

}  // namespace
}  // namespace mqseal
