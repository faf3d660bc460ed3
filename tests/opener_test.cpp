#include <mqseal/opener.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

struct Pair {
  std::shared_ptr<Keyring> keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  Opener opener = take(Opener::create(testing::plant_policy(), keys));
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

TEST(Opener, KeyIdZeroIsUnknown) {
  Pair p;
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("x")));
  std::fill(env.begin() + 2, env.begin() + 6, 0);
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env), Errc::unknown_key);
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
  std::vector<uint8_t> env = take(p.sealer.seal("plant/7/telemetry", std::string_view("last")));
  const uint64_t next_day = system_time_ms() + 24ull * 3600 * 1000;
  EXPECT_EQ(open_error(p.opener, "plant/7/telemetry", env, {false, next_day}), Errc::expired);
  EXPECT_EQ(take(p.opener.open("plant/7/telemetry", env, {true, next_day})).payload,
            testing::bytes_of("last"));
  EXPECT_TRUE(p.opener.open("plant/7/telemetry", env, {true, next_day}));  // every new subscriber
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

}  // namespace
}  // namespace mqseal
