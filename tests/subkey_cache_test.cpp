// The XChaCha20 subkey cache of suites 1 and 2 and the compact envelope
// (docs/SPEC.md, section 5; docs/PERFORMANCE.md, "The subkey of a sender"):
// HChaCha20(topic key, sender) is derived once per (session, topic key) by the
// Sealer and once per (topic key, sender) by the Opener, in guarded memory
// next to the topic key (core/src/session/topic_key_resolver.h).
//
// This binary defines crypto_core_hchacha20, which the dynamic linker binds
// ahead of libsodium's for mqseal and for libsodium's own XChaCha20 calls:
// it counts every derivation and then runs libsodium's (dlsym RTLD_NEXT).
// The bytes are always libsodium's; the count shows where one is saved.
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "crypto/aead.h"
#include "session/topic_key_resolver.h"
#include "test_util.h"

namespace {
std::atomic<int> g_hchacha20_calls{0};
}  // namespace

extern "C" int crypto_core_hchacha20(unsigned char* out, const unsigned char* in, const unsigned char* k,
                                     const unsigned char* c) {
  using Fn = int (*)(unsigned char*, const unsigned char*, const unsigned char*, const unsigned char*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "crypto_core_hchacha20"));
  if (real == nullptr) std::abort();
  g_hchacha20_calls.fetch_add(1, std::memory_order_relaxed);
  return real(out, in, k, c);
}

namespace mqseal {
namespace {

using testing::expect_ok;
using testing::take;

constexpr uint64_t kNow = 1767225600123;  // 2026-01-01, with milliseconds
constexpr KeyId kFirst = 0x7e1e0001;
constexpr KeyId kSecond = 0x7e1e0002;
constexpr KeyId kThird = 0x7e1e0003;
constexpr KeyId kSignerId = 0x5167a007;
constexpr const char* kTopic = "plant/7/telemetry";
constexpr const char* kCompactTopic = "field/7/reading";
constexpr const char* kSignedTopic = "signed/7/telemetry";
// Both sides of the OpenSSL threshold, and the sizes the benchmarks use.
const size_t kSizes[] = {1, 64, internal::aead::kOpensslMinSize - 1, internal::aead::kOpensslMinSize,
                         internal::aead::kOpensslMinSize + 1, 16384, 65536};

Key fixed_key(uint8_t byte) { return take(Key::from_bytes(std::vector<uint8_t>(kKeySize, byte))); }

int hchacha20_calls() { return g_hchacha20_calls.load(std::memory_order_relaxed); }

TopicPolicy policy() {
  TopicPolicy p;
  expect_ok(p.add_rule("plant/+/telemetry", "telemetry"));
  expect_ok(p.add_compact_rule("field/+/reading", "telemetry"));
  expect_ok(p.add_signed_rule("signed/+/telemetry", "telemetry", {"plant-7"}));
  return p;
}

// "telemetry" under up to three known keys (the first primary), a signing key
// and its public half (one keyring serves both sides).
std::shared_ptr<Keyring> keys(size_t count = 1, uint8_t first_byte = 0x11) {
  auto k = std::make_shared<Keyring>();
  const KeyId ids[] = {kFirst, kSecond, kThird};
  for (size_t i = 0; i < count; ++i) {
    expect_ok(k->add_with_id("telemetry", ids[i], fixed_key(static_cast<uint8_t>(first_byte + i))));
  }
  expect_ok(k->add_signing_key_with_id("plant-7", kSignerId, fixed_key(0x77)));
  return k;
}

SealerOptions at_now() {
  SealerOptions o;
  o.clock = [] { return kNow; };
  return o;
}

Sealer make_sealer(std::shared_ptr<const Keyring> k) { return take(Sealer::create(policy(), std::move(k), at_now())); }
Opener make_opener(std::shared_ptr<const Keyring> k) { return take(Opener::create(policy(), std::move(k))); }

std::vector<uint8_t> payload_of(size_t size) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

Status open_now(Opener& opener, std::string_view topic, const std::vector<uint8_t>& env, Opened& out) {
  return opener.open(topic, env, Delivery{false, kNow}, out);
}

// The same envelope sealed without any cache: the header the Sealer wrote,
// under the topic key derived from the key's bytes (hazmat, a libsodium or
// OpenSSL call that derives its own subkey). Suite 2's signature is left out.
std::vector<uint8_t> uncached_seal(const Key& key, std::string_view topic, const std::vector<uint8_t>& env,
                                   ByteView payload) {
  EnvelopeHeader h = take(parse_header(env));
  h.timestamp_ms = kNow;  // v3 sends it modulo 2^24 s, and authenticates all of it
  uint8_t topic_key[kKeySize];
  expect_ok(hazmat::derive_topic_key(key, topic, topic_key));
  std::vector<uint8_t> out;
  expect_ok(hazmat::seal_with_header(topic_key, topic, h, payload, out));
  return out;
}

// Suite 1 (v2), the compact envelope and suite 2: every size, sealed with the
// cached subkey, is byte for byte what an uncached seal of the same header
// gives, on both sides of the OpenSSL threshold; the Opener opens them all,
// warm and cold.
TEST(SubkeyCache, CachedSealsAreTheBytesOfAnUncachedSeal) {
  const Key key = fixed_key(0x11);
  for (const char* topic : {kTopic, kCompactTopic, kSignedTopic}) {
    SealerOptions options = at_now();
    if (topic == kSignedTopic) options.signer = "plant-7";
    Sealer sealer = take(Sealer::create(policy(), keys(), options));
    Opener opener = make_opener(keys());
    for (int round = 0; round < 2; ++round) {
      for (size_t size : kSizes) {
        SCOPED_TRACE(std::string(topic) + " " + std::to_string(size));
        const std::vector<uint8_t> payload = payload_of(size);
        const std::vector<uint8_t> env = take(sealer.seal(topic, payload));
        std::vector<uint8_t> expected = uncached_seal(key, topic, env, payload);
        ASSERT_LE(expected.size(), env.size());
        EXPECT_TRUE(std::equal(expected.begin(), expected.end(), env.begin()));
        Opened o;
        expect_ok(open_now(opener, topic, env, o));
        EXPECT_EQ(o.payload, payload);
      }
    }
  }
}

// Once warm, neither side derives a subkey: the seal of each suite pays
// none, and the open none, at 64 B (libsodium) and 16 KiB (OpenSSL, when
// built with it: it takes the cached subkey too). Cold, one each.
TEST(SubkeyCache, SteadyStateDerivesNoSubkey) {
  for (const char* topic : {kTopic, kCompactTopic, kSignedTopic}) {
    SCOPED_TRACE(topic);
    SealerOptions options = at_now();
    if (topic == kSignedTopic) options.signer = "plant-7";
    Sealer sealer = take(Sealer::create(policy(), keys(), options));
    Opener opener = make_opener(keys());
    const std::vector<uint8_t> small = payload_of(64);
    const std::vector<uint8_t> large = payload_of(16384);
    int before = hchacha20_calls();
    std::vector<uint8_t> env = take(sealer.seal(topic, small));
    EXPECT_EQ(hchacha20_calls() - before, 1) << "the session's first seal on this key";
    Opened o;
    before = hchacha20_calls();
    expect_ok(open_now(opener, topic, env, o));
    EXPECT_EQ(hchacha20_calls() - before, 1) << "the first open of this sender";
    for (int i = 0; i < 10; ++i) {
      for (const std::vector<uint8_t>* p : {&small, &large}) {
        before = hchacha20_calls();
        env = take(sealer.seal(topic, *p));
        expect_ok(open_now(opener, topic, env, o));
        EXPECT_EQ(o.payload, *p);
        EXPECT_EQ(hchacha20_calls() - before, 0) << p->size() << " B";
      }
    }
  }
}

// Caller memory, both sides, warm: too small is refused (and costs no
// derivation and no cached state), then the right size seals and opens.
TEST(SubkeyCache, CallerMemoryWithAWarmCache) {
  Sealer sealer = make_sealer(keys());
  Opener opener = make_opener(keys());
  for (size_t size : {size_t{64}, size_t{16384}}) {
    const std::vector<uint8_t> payload = payload_of(size);
    std::vector<uint8_t> env(size + kEnvelopeOverhead);
    size_t written = 0;
    EXPECT_FALSE(sealer.seal(kTopic, payload, env.data(), env.size() - 1, written));
    EXPECT_EQ(written, env.size());
    expect_ok(sealer.seal(kTopic, payload, env.data(), env.size(), written));
    ASSERT_EQ(written, env.size());
    std::vector<uint8_t> plain(size);
    Opened o;
    EXPECT_FALSE(opener.open(kTopic, env, Delivery{false, kNow}, plain.data(), size - 1, written, o));
    expect_ok(opener.open(kTopic, env, Delivery{false, kNow}, plain.data(), size, written, o));
    EXPECT_EQ(plain, payload);
    const int before = hchacha20_calls();
    expect_ok(sealer.seal(kTopic, payload, env.data(), env.size(), written));
    expect_ok(opener.open(kTopic, env, Delivery{false, kNow}, plain.data(), size, written, o));
    EXPECT_EQ(plain, payload);
    EXPECT_EQ(hchacha20_calls() - before, 0);
  }
}

// Envelopes sealed under chosen headers (an insider with the key, or an
// outsider with a wrong one): sender, key ID and sequence chosen.
std::vector<uint8_t> seal_as(const Key& key, KeyId id, std::string_view topic, uint8_t sender_byte,
                             uint64_t sequence, size_t size = 8) {
  EnvelopeHeader h;
  h.key_id = id;
  h.timestamp_ms = kNow;
  h.sender.fill(sender_byte);
  h.sequence = sequence;
  uint8_t topic_key[kKeySize];
  expect_ok(hazmat::derive_topic_key(key, topic, topic_key));
  std::vector<uint8_t> env;
  expect_ok(hazmat::seal_with_header(topic_key, topic, h, payload_of(size), env));
  return env;
}

// One sender, one topic, three keys of the topic's key name: the topic keeps
// two derived keys, so the third is derived into a slot that held the first,
// with that first key's subkey for this sender. A subkey kept across the
// re-derivation would open the third key's envelope under the first key's
// subkey, and fail.
TEST(SubkeyCache, AKeyDerivedAgainIntoASlotNeverUsesTheOldKeysSubkey) {
  std::shared_ptr<Keyring> three = keys(3);
  Opener opener = make_opener(three);
  const Key k[] = {fixed_key(0x11), fixed_key(0x12), fixed_key(0x13)};
  const KeyId ids[] = {kFirst, kSecond, kThird};
  uint64_t sequence = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < 3; ++i) {
      for (size_t size : {size_t{8}, size_t{16384}}) {
        SCOPED_TRACE(std::to_string(round) + " " + std::to_string(i) + " " + std::to_string(size));
        Opened o;
        expect_ok(open_now(opener, kTopic, seal_as(k[i], ids[i], kTopic, 0x5e, sequence++, size), o));
        EXPECT_EQ(o.key_id, ids[i]);
      }
    }
  }
}

// Rotation on the Sealer: the new primary's envelopes are sealed under its
// own subkey (a receiver knowing only the new key opens them), derived once.
TEST(SubkeyCache, RotationOnTheSealerDerivesTheNewKeysSubkey) {
  std::shared_ptr<Keyring> old_keys = keys(2);
  Sealer sealer = make_sealer(old_keys);
  for (int i = 0; i < 3; ++i) (void)take(sealer.seal(kTopic, payload_of(64)));
  auto rotated = std::make_shared<Keyring>(take(old_keys->clone()));
  expect_ok(rotated->promote(kSecond));
  expect_ok(rotated->retire(kFirst));
  sealer.set_keyring(rotated);
  Opener opener = make_opener(rotated);
  int derived = 0;
  for (size_t size : {size_t{64}, size_t{16384}, size_t{64}}) {
    const int before = hchacha20_calls();
    const std::vector<uint8_t> env = take(sealer.seal(kTopic, payload_of(size)));
    Opened o;
    expect_ok(open_now(opener, kTopic, env, o));
    derived += hchacha20_calls() - before;
    EXPECT_EQ(o.key_id, kSecond);
    EXPECT_EQ(uncached_seal(fixed_key(0x12), kTopic, env, payload_of(size)), env);
  }
  EXPECT_EQ(derived, 2) << "one for the Sealer's new key, one for the Opener";
}

// Two sessions (two Sealers) on one topic, and the same sessions on two
// topics: every envelope opens, each (topic key, sender) derived once.
TEST(SubkeyCache, SessionsAndTopicsEachKeepTheirOwnSubkey) {
  std::shared_ptr<Keyring> k = keys();
  Sealer a = make_sealer(k);
  Sealer b = make_sealer(k);
  Opener opener = make_opener(k);
  const char* topics[] = {"plant/7/telemetry", "plant/8/telemetry"};
  int cold = 0;
  for (int round = 0; round < 4; ++round) {
    const int before = hchacha20_calls();
    for (Sealer* s : {&a, &b}) {
      for (const char* topic : topics) {
        const std::vector<uint8_t> env = take(s->seal(topic, payload_of(64)));
        Opened o;
        expect_ok(open_now(opener, topic, env, o));
        EXPECT_EQ(o.sender, s->sender());
      }
    }
    if (round == 0) {
      cold = hchacha20_calls() - before;
    } else {
      EXPECT_EQ(hchacha20_calls() - before, 0);
    }
  }
  EXPECT_EQ(cold, 8) << "2 sessions x 2 topics, on each side";
}

// The Opener keeps kMaxSubkeysPerKey senders per topic key and replaces the
// least recently used. More senders than that on one topic never fail a
// message: a sender whose subkey went costs one HChaCha20 again.
TEST(SubkeyCache, MoreSendersThanTheBoundAllOpen) {
  static_assert(internal::kMaxSubkeysPerKey == 2, "three senders overflow the bound");
  Opener opener = make_opener(keys());
  const Key key = fixed_key(0x11);
  uint64_t sequence = 0;
  for (int round = 0; round < 4; ++round) {
    for (uint8_t sender : {uint8_t{0xa1}, uint8_t{0xa2}, uint8_t{0xa3}}) {
      Opened o;
      expect_ok(open_now(opener, kTopic, seal_as(key, kFirst, kTopic, sender, sequence++), o));
    }
  }
  // The two most recent stay, and a new sender replaces the least recently
  // used: after 0xa2, 0xa3, 0xa2, the newcomer 0xa1 replaces 0xa3.
  for (auto [sender, derivations] : {std::pair{0xa2, 0}, std::pair{0xa3, 0}, std::pair{0xa2, 0},
                                     std::pair{0xa1, 1}, std::pair{0xa2, 0}, std::pair{0xa3, 1}}) {
    const std::vector<uint8_t> env = seal_as(key, kFirst, kTopic, static_cast<uint8_t>(sender), sequence++);
    const int before = hchacha20_calls();
    Opened o;
    expect_ok(open_now(opener, kTopic, env, o));
    EXPECT_EQ(hchacha20_calls() - before, derivations) << "sender " << sender;
  }
}

// A flood of forgeries (a wrong key under the right key ID) with fresh
// senders adds no state: both honest senders stay cached. A flood of valid
// senders from a key holder on another topic evicts nothing on this one;
// on this topic it does evict, and the honest messages still open.
TEST(SubkeyCache, FloodsNeitherAddForgedSendersNorFailHonestOnes) {
  Opener opener = make_opener(keys());
  const Key key = fixed_key(0x11);
  const Key wrong = fixed_key(0x99);
  uint64_t sequence = 0;
  auto open_honest = [&](int expected_calls) {
    for (uint8_t sender : {uint8_t{0xa1}, uint8_t{0xa2}}) {
      const std::vector<uint8_t> env = seal_as(key, kFirst, kTopic, sender, sequence++);
      const int before = hchacha20_calls();
      Opened o;
      expect_ok(open_now(opener, kTopic, env, o));
      EXPECT_EQ(hchacha20_calls() - before, expected_calls) << "sender " << int(sender);
    }
  };
  open_honest(1);
  open_honest(0);
  for (int i = 0; i < 50; ++i) {
    Opened o;
    const std::vector<uint8_t> forged = seal_as(wrong, kFirst, kTopic, static_cast<uint8_t>(i), sequence++);
    EXPECT_EQ(open_now(opener, kTopic, forged, o).error().code(), Errc::authentication_failed);
  }
  open_honest(0);
  for (int i = 0; i < 50; ++i) {
    Opened o;
    expect_ok(open_now(opener, "plant/8/telemetry", seal_as(key, kFirst, "plant/8/telemetry",
                                                            static_cast<uint8_t>(i), sequence++), o));
  }
  open_honest(0);
  for (int i = 0; i < 50; ++i) {
    Opened o;
    expect_ok(open_now(opener, kTopic, seal_as(key, kFirst, kTopic, static_cast<uint8_t>(0xb0 + i), sequence++), o));
  }
  open_honest(1);  // evicted by the insider on this topic: one derivation each, no failure
}

// The resolver itself: a subkey stored for a key that has since been derived
// again into its slot is dropped, not kept for the new key; forget_subkeys
// (a Sealer's new session) drops them all.
TEST(SubkeyCache, TheResolverDropsStaleAndForgottenSubkeys) {
  std::shared_ptr<Keyring> three = keys(3);
  internal::TopicKeyResolver r = take(internal::TopicKeyResolver::create(policy(), three, 4, 2));
  SenderId sender{};
  sender.fill(0x5e);
  uint8_t subkey[kKeySize];
  std::memset(subkey, 0xab, sizeof subkey);
  uint8_t found[kKeySize];
  internal::ResolvedTopic first;
  expect_ok(r.resolve(kTopic, kFirst, first));
  internal::ResolvedTopic second;
  expect_ok(r.resolve(kTopic, kSecond, second));
  internal::ResolvedTopic third;  // into the first key's slot
  expect_ok(r.resolve(kTopic, kThird, third));
  ASSERT_EQ(third.slot, first.slot);
  r.store_subkey(first, sender, subkey);  // late: the first key is gone
  EXPECT_FALSE(r.find_subkey(third, sender, found));
  EXPECT_FALSE(r.find_subkey(first, sender, found));
  r.store_subkey(second, sender, subkey);
  ASSERT_TRUE(r.find_subkey(second, sender, found));
  EXPECT_EQ(0, std::memcmp(found, subkey, sizeof found));
  SenderId other = sender;
  other[15] ^= 1;
  EXPECT_FALSE(r.find_subkey(second, other, found));
  r.forget_subkeys();
  EXPECT_FALSE(r.find_subkey(second, sender, found));
}

// The Opener's lookup: resolve() with the envelope's sender gives the kept
// subkey and leaves the topic key where it is (out.key stays zero); for a
// sender without one, the topic key as resolve() alone gives it.
TEST(SubkeyCache, ResolvingWithAKeptSubkeyLeavesTheTopicKeyInItsCache) {
  std::shared_ptr<Keyring> three = keys(3);
  internal::TopicKeyResolver r = take(internal::TopicKeyResolver::create(policy(), three, 4, 2));
  SenderId sender{};
  sender.fill(0x5e);
  SenderId other = sender;
  other[0] ^= 1;
  uint8_t subkey[kKeySize];
  std::memset(subkey, 0xab, sizeof subkey);
  internal::ResolvedTopic plain;
  expect_ok(r.resolve(kTopic, kSecond, plain));
  r.store_subkey(plain, sender, subkey);
  const uint8_t zero[kKeySize] = {};

  internal::ResolvedTopic hit;
  uint8_t found[kKeySize] = {};
  bool found_subkey = false;
  expect_ok(r.resolve(kTopic, kSecond, &sender, hit, found, found_subkey));
  EXPECT_TRUE(found_subkey);
  EXPECT_EQ(0, std::memcmp(found, subkey, sizeof found));
  EXPECT_EQ(0, std::memcmp(hit.key, zero, sizeof zero)) << "the topic key was copied out";
  EXPECT_EQ(hit.key_id, kSecond);
  EXPECT_EQ(hit.stamp, plain.stamp);

  internal::ResolvedTopic miss;
  expect_ok(r.resolve(kTopic, kSecond, &other, miss, found, found_subkey));
  EXPECT_FALSE(found_subkey);
  EXPECT_EQ(0, std::memcmp(miss.key, plain.key, sizeof plain.key));

  // No key wanted (a header that did not parse): the rule alone, no lookup.
  internal::ResolvedTopic rule_only;
  expect_ok(r.resolve(kTopic, std::nullopt, &sender, rule_only, found, found_subkey));
  EXPECT_FALSE(found_subkey);
  EXPECT_EQ(rule_only.key_id, 0u);
  EXPECT_NE(rule_only.rule, nullptr);
}

}  // namespace
}  // namespace mqseal
