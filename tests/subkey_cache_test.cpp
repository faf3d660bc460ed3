// The XChaCha20 subkey cache of suites 1 and 2 and the compact envelope
// (docs/SPEC.md, section 5; docs/PERFORMANCE.md, "The subkey of a sender"):
// HChaCha20(topic key, sender) is derived once per (session, topic key) by the
// Sealer and once per (topic key, sender) by the Opener, in guarded memory
// next to the topic key (core/src/session/topic_key_resolver.h). Suites 3 and
// 4 (the tests from SubkeyCache.Suites3And4...): the Sealer derives it once
// per (sealing session, recipient key, topic), next to the session's topic
// key (core/src/session/recipient_session.h); the Opener's recipient session
// cache keeps its own.
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
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/locked_memory.h"
#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "replaced_new.h"  // t_news_before_bad_alloc
#include "session/recipient_session.h"
#include "session/topic_key_resolver.h"
#include "test_util.h"

namespace {
std::atomic<int> g_hchacha20_calls{0};
std::atomic<int> g_blake2b_personal_calls{0};
std::atomic<int> g_sodium_malloc_calls{0};
std::atomic<bool> g_sodium_malloc_fails{false};
std::atomic<bool> g_blake2b_personal_fails{false};

template <typename Fn>
Fn next_symbol(const char* name) {
  Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
  if (real == nullptr) std::abort();
  return real;
}
}  // namespace

extern "C" int crypto_core_hchacha20(unsigned char* out, const unsigned char* in, const unsigned char* k,
                                     const unsigned char* c) {
  using Fn = int (*)(unsigned char*, const unsigned char*, const unsigned char*, const unsigned char*);
  static const Fn real = next_symbol<Fn>("crypto_core_hchacha20");
  g_hchacha20_calls.fetch_add(1, std::memory_order_relaxed);
  return real(out, in, k, c);
}

// Every topic key is one keyed, personalised BLAKE2b (derive_topic_key):
// counted the same way, to show when the Opener derives one; refused (-1,
// `out` untouched) while g_blake2b_personal_fails is set.
extern "C" int crypto_generichash_blake2b_salt_personal(unsigned char* out, size_t outlen, const unsigned char* in,
                                                        unsigned long long inlen, const unsigned char* key,
                                                        size_t keylen, const unsigned char* salt,
                                                        const unsigned char* personal) {
  using Fn = int (*)(unsigned char*, size_t, const unsigned char*, unsigned long long, const unsigned char*, size_t,
                     const unsigned char*, const unsigned char*);
  static const Fn real = next_symbol<Fn>("crypto_generichash_blake2b_salt_personal");
  g_blake2b_personal_calls.fetch_add(1, std::memory_order_relaxed);
  if (g_blake2b_personal_fails.load(std::memory_order_relaxed)) return -1;
  return real(out, outlen, in, inlen, key, keylen, salt, personal);
}

// Guarded memory, counted, and refused while g_sodium_malloc_fails is set.
extern "C" void* sodium_malloc(size_t size) {
  using Fn = void* (*)(size_t);
  static const Fn real = next_symbol<Fn>("sodium_malloc");
  g_sodium_malloc_calls.fetch_add(1, std::memory_order_relaxed);
  if (g_sodium_malloc_fails.load(std::memory_order_relaxed)) return nullptr;
  return real(size);
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
// Seals every size of kSizes on `topic` twice over (cold, then warm), hands
// each envelope to `check(envelope, payload)`, and opens it.
template <typename Check>
void seal_every_size_twice(Sealer& sealer, Opener& opener, const char* topic, Check&& check) {
  for (int round = 0; round < 2; ++round) {
    for (size_t size : kSizes) {
      SCOPED_TRACE(std::string(topic) + " " + std::to_string(size));
      const std::vector<uint8_t> payload = payload_of(size);
      const std::vector<uint8_t> env = take(sealer.seal(topic, payload));
      check(env, payload);
      Opened o;
      expect_ok(open_now(opener, topic, env, o));
      EXPECT_EQ(o.payload, payload);
    }
  }
}

TEST(SubkeyCache, CachedSealsAreTheBytesOfAnUncachedSeal) {
  const Key key = fixed_key(0x11);
  for (const char* topic : {kTopic, kCompactTopic, kSignedTopic}) {
    SealerOptions options = at_now();
    if (topic == kSignedTopic) options.signer = "plant-7";
    Sealer sealer = take(Sealer::create(policy(), keys(), options));
    Opener opener = make_opener(keys());
    seal_every_size_twice(sealer, opener, topic, [&](const std::vector<uint8_t>& env, const std::vector<uint8_t>& payload) {
      std::vector<uint8_t> expected = uncached_seal(key, topic, env, payload);
      ASSERT_LE(expected.size(), env.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), env.begin()));
    });
  }
}

// A fresh session and receiver on `topic`: the first seal derives the
// subkey once, the first open once; then, warm, neither side derives one, at
// 64 B (libsodium) and 16 KiB (OpenSSL, when built with it: it takes the
// cached subkey too). Each seal is counted apart from its open.
void expect_one_derivation_per_side(Sealer& sealer, Opener& opener, const char* topic) {
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
      EXPECT_EQ(hchacha20_calls() - before, 0) << "seal, " << p->size() << " B, " << i;
      before = hchacha20_calls();
      expect_ok(open_now(opener, topic, env, o));
      EXPECT_EQ(hchacha20_calls() - before, 0) << "open, " << p->size() << " B, " << i;
      EXPECT_EQ(o.payload, *p);
    }
  }
}

// Suites 1 and 2 and the compact envelope: once warm, neither side derives
// a subkey.
TEST(SubkeyCache, SteadyStateDerivesNoSubkey) {
  for (const char* topic : {kTopic, kCompactTopic, kSignedTopic}) {
    SCOPED_TRACE(topic);
    SealerOptions options = at_now();
    if (topic == kSignedTopic) options.signer = "plant-7";
    Sealer sealer = take(Sealer::create(policy(), keys(), options));
    Opener opener = make_opener(keys());
    expect_one_derivation_per_side(sealer, opener, topic);
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

// A forgery (a wrong key under the right key ID) naming a cached sender
// does not make that sender's subkey the most recently used: only an
// authentic envelope does, so a party with no key cannot choose which
// honest sender's subkey the next sender evicts. (Before: the lookup,
// ahead of the tag, marked 0xa1 as used, and 0xc3 evicted 0xa2 instead.)
TEST(SubkeyCache, AForgeryDoesNotChooseWhichSubkeyIsEvicted) {
  Opener opener = make_opener(keys());
  const Key key = fixed_key(0x11);
  Opened o;
  expect_ok(open_now(opener, kTopic, seal_as(key, kFirst, kTopic, 0xa1, 0), o));
  expect_ok(open_now(opener, kTopic, seal_as(key, kFirst, kTopic, 0xa2, 1), o));  // 0xa2 the most recent
  const std::vector<uint8_t> forged = seal_as(fixed_key(0x99), kFirst, kTopic, 0xa1, 2);
  EXPECT_EQ(open_now(opener, kTopic, forged, o).error().code(), Errc::authentication_failed);
  expect_ok(open_now(opener, kTopic, seal_as(key, kFirst, kTopic, 0xc3, 3), o));  // evicts the least recent: 0xa1
  const std::vector<uint8_t> next = seal_as(key, kFirst, kTopic, 0xa2, 4);  // sealing derives too
  const int before = hchacha20_calls();
  expect_ok(open_now(opener, kTopic, next, o));
  EXPECT_EQ(hchacha20_calls() - before, 0) << "0xa2's subkey was evicted: the forgery chose the victim";
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

// ---- suites 3 and 4: sealed to a recipient ----

constexpr KeyId kBackendKey = 0xbac30001;
constexpr uint8_t kBackendSecretByte = 0xb1;
constexpr const char* kReportTopic = "plant/7/report";        // suite 3
constexpr const char* kOtherReportTopic = "plant/8/report";   // suite 3
constexpr const char* kSignedReportTopic = "plant/7/private";  // suite 4

TopicPolicy recipient_policy() {
  TopicPolicy p;
  expect_ok(p.add_recipient_rule("plant/+/report", "backend"));
  expect_ok(p.add_signed_recipient_rule("plant/+/private", "backend", {"plant-7"}));
  return p;
}

// The backend's recipient key pair and the device's signing key pair in one
// keyring: the Sealer seals to the key pair's public half, the Opener opens
// with its secret and verifies with the signing key's public half.
std::shared_ptr<Keyring> recipient_keys(uint8_t secret_byte = kBackendSecretByte) {
  auto k = std::make_shared<Keyring>();
  expect_ok(k->add_recipient_key_with_id("backend", kBackendKey, fixed_key(secret_byte)));
  expect_ok(k->add_signing_key_with_id("plant-7", kSignerId, fixed_key(0x77)));
  return k;
}

Sealer make_recipient_sealer(std::shared_ptr<const Keyring> k, uint64_t* now = nullptr, uint64_t max_age_ms = 0) {
  SealerOptions o;
  o.clock = [now] { return now != nullptr ? *now : kNow; };
  o.signer = "plant-7";
  if (max_age_ms != 0) o.recipient_session_max_age_ms = max_age_ms;
  return take(Sealer::create(recipient_policy(), std::move(k), std::move(o)));
}

Opener make_recipient_opener(std::shared_ptr<const Keyring> k) {
  return take(Opener::create(recipient_policy(), std::move(k)));
}

// The receiver's side of section 4b, without the Opener: the topic key of the
// envelope's session from the recipient's secret and the envelope's E.
void receiver_topic_key(const std::vector<uint8_t>& env, std::string_view topic, uint8_t topic_key[kKeySize],
                        uint8_t secret_byte = kBackendSecretByte) {
  const EnvelopeHeader h = take(parse_header(env));
  const std::vector<uint8_t> secret(kKeySize, secret_byte);
  uint8_t recipient_public[internal::x25519::kPublicKeySize];
  uint8_t shared[internal::x25519::kSharedSize];
  uint8_t session_key[kKeySize];
  expect_ok(internal::x25519::public_of(secret.data(), recipient_public));
  expect_ok(internal::x25519::agree(secret.data(), h.ephemeral.data(), shared));
  expect_ok(internal::derive_session_key(shared, h.ephemeral.data(), recipient_public, session_key));
  expect_ok(internal::derive_session_topic_key(session_key, topic, topic_key));
}

// A suite 3 or 4 envelope sealed by the Sealer is byte for byte what an
// uncached seal (hazmat, which derives its own subkey) of the same header and
// plaintext (suite 4: signer key ID || signature || payload) under the
// session's topic key gives; and that plaintext ends with `payload`. A
// subkey of another session, topic or sender would fail the open, and the
// bytes.
void expect_uncached_bytes(const std::vector<uint8_t>& env, std::string_view topic, const std::vector<uint8_t>& payload) {
  uint8_t topic_key[kKeySize];
  receiver_topic_key(env, topic, topic_key);
  std::vector<uint8_t> inner;
  ASSERT_TRUE(hazmat::open_with_key(topic_key, topic, env, inner)) << "sealed under another session's subkey?";
  ASSERT_GE(inner.size(), payload.size());
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), inner.end() - static_cast<ptrdiff_t>(payload.size())));
  std::vector<uint8_t> again;
  expect_ok(hazmat::seal_with_header(topic_key, topic, take(parse_header(env)), inner, again));
  EXPECT_EQ(again, env);
}

// Suites 3 and 4 seal at every size, both sides of the OpenSSL threshold,
// with the session's cached subkey: the bytes of an uncached seal, and the
// Opener opens them.
TEST(SubkeyCache, Suites3And4CachedSealsAreTheBytesOfAnUncachedSeal) {
  for (const char* topic : {kReportTopic, kSignedReportTopic}) {
    Sealer sealer = make_recipient_sealer(recipient_keys());
    Opener opener = make_recipient_opener(recipient_keys());
    seal_every_size_twice(sealer, opener, topic, [&](const std::vector<uint8_t>& env, const std::vector<uint8_t>& payload) {
      expect_uncached_bytes(env, topic, payload);
    });
  }
}

// A suite 3 or 4 sealing session derives its subkey at its first message on
// a topic, and never again while it seals there (the receiver's session
// cache likewise once per session and sender).
TEST(SubkeyCache, Suites3And4SealDeriveTheSubkeyOncePerSession) {
  for (const char* topic : {kReportTopic, kSignedReportTopic}) {
    SCOPED_TRACE(topic);
    Sealer sealer = make_recipient_sealer(recipient_keys());
    Opener opener = make_recipient_opener(recipient_keys());
    expect_one_derivation_per_side(sealer, opener, topic);
  }
}

// Every way a sealing session ends (end_recipient_session, max_age, a new
// keyring) gives the next one a new ephemeral key and a new subkey, derived
// once: the envelopes are the bytes of an uncached seal under the new
// session's topic key (the old session's subkey would give other bytes, and
// fail to open). A change of topic within a session derives the new topic's
// key and subkey once, and going back derives them again (one topic is kept
// per recipient key).
TEST(SubkeyCache, Suites3And4ANewSessionOrTopicGetsANewSubkey) {
  for (const char* topic : {kReportTopic, kSignedReportTopic}) {
    SCOPED_TRACE(topic);
    uint64_t now = kNow;
    constexpr uint64_t kMaxAgeMs = 1000;
    Sealer sealer = make_recipient_sealer(recipient_keys(), &now, kMaxAgeMs);
    Opener opener = make_recipient_opener(recipient_keys());
    std::array<uint8_t, kEphemeralKeySize> last_ephemeral{};
    // Seals `size` bytes on `on`: `derived` HChaCha20 calls, a new session's
    // ephemeral key or the last one, the bytes of an uncached seal, opened.
    auto seal = [&](const char* on, size_t size, int derived, bool new_session) {
      const std::vector<uint8_t> payload = payload_of(size);
      const int before = hchacha20_calls();
      const std::vector<uint8_t> env = take(sealer.seal(on, payload));
      EXPECT_EQ(hchacha20_calls() - before, derived);
      const EnvelopeHeader h = take(parse_header(env));
      EXPECT_EQ(h.ephemeral != last_ephemeral, new_session);
      last_ephemeral = h.ephemeral;
      expect_uncached_bytes(env, on, payload);
      Opened o;
      ASSERT_TRUE(opener.open(on, env, Delivery{false, now}, o));
      EXPECT_EQ(o.payload, payload);
    };
    {
      SCOPED_TRACE("first session");
      seal(topic, 64, 1, true);
      seal(topic, 16384, 0, false);
    }
    {
      SCOPED_TRACE("end_recipient_session");
      sealer.end_recipient_session();
      seal(topic, 16384, 1, true);
      seal(topic, 64, 0, false);
    }
    {
      SCOPED_TRACE("max_age");
      now += kMaxAgeMs;
      seal(topic, 64, 1, true);
      seal(topic, 16384, 0, false);
    }
    {
      SCOPED_TRACE("set_keyring");
      sealer.set_keyring(recipient_keys());
      seal(topic, 64, 1, true);
      seal(topic, 64, 0, false);
    }
    {
      SCOPED_TRACE("another topic, and back");
      seal(kOtherReportTopic, 64, 1, false);
      seal(kOtherReportTopic, 16384, 0, false);
      seal(topic, 64, 1, false);
      seal(topic, 64, 0, false);
    }
  }
}

// A forked child's first suite 3 seal is of a new session and a new sender:
// its subkey is its own (the parent's would seal bytes no receiver opens).
TEST(SubkeyCache, Suite3AForkedChildSealsUnderItsOwnSubkey) {
  Sealer sealer = make_recipient_sealer(recipient_keys());
  const std::vector<uint8_t> payload = payload_of(64);
  const std::vector<uint8_t> parent = take(sealer.seal(kReportTopic, payload));
  (void)take(sealer.seal(kReportTopic, payload));  // warm
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int before = hchacha20_calls();
    Result<std::vector<uint8_t>> env = sealer.seal(kReportTopic, payload);
    const bool derived_once = hchacha20_calls() - before == 1;
    if (env) (void)!write(fds[1], env->data(), env->size());
    _exit(env && derived_once ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[1]);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's seal failed or derived no subkey";
  std::vector<uint8_t> child(parent.size());
  ASSERT_EQ(read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  close(fds[0]);
  const EnvelopeHeader hc = take(parse_header(child));
  const EnvelopeHeader hp = take(parse_header(parent));
  EXPECT_NE(hc.ephemeral, hp.ephemeral);
  EXPECT_NE(hc.sender, hp.sender);
  expect_uncached_bytes(child, kReportTopic, payload);
  Opener opener = make_recipient_opener(recipient_keys());
  Opened o;
  expect_ok(open_now(opener, kReportTopic, child, o));
  EXPECT_EQ(o.payload, payload);
}

// RecipientSealing itself: the subkey is of the topic key prepare() gave and
// of the sender asked for; another sender derives again (the Sealer gives
// each session's sender a session of its own, so this guards that rule), and
// after end() there is no subkey until prepare() again.
TEST(SubkeyCache, TheRecipientSessionKeepsOneSubkeyPerTopicKeyAndSender) {
  std::shared_ptr<Keyring> k = recipient_keys();
  const TopicPolicy p = recipient_policy();
  const TopicRule* rule = take(p.resolve(kReportTopic));
  internal::RecipientSealing sealing;
  EnvelopeHeader h;
  uint8_t topic_key[kKeySize];
  uint8_t got[kKeySize];
  uint8_t expected[kKeySize];
  SenderId a{};
  a.fill(0xa1);
  SenderId b = a;
  b[15] ^= 1;
  EXPECT_FALSE(sealing.subkey(a, got)) << "nothing prepared";
  expect_ok(sealing.prepare(*k, *rule, kReportTopic, h, topic_key));
  int before = hchacha20_calls();
  expect_ok(sealing.subkey(a, got));
  expect_ok(sealing.subkey(a, got));
  EXPECT_EQ(hchacha20_calls() - before, 1);
  expect_ok(internal::aead::derive_subkey(topic_key, a.data(), expected));
  EXPECT_EQ(0, std::memcmp(got, expected, kKeySize));
  before = hchacha20_calls();
  expect_ok(sealing.subkey(b, got));
  EXPECT_EQ(hchacha20_calls() - before, 1) << "another sender";
  expect_ok(internal::aead::derive_subkey(topic_key, b.data(), expected));
  EXPECT_EQ(0, std::memcmp(got, expected, kKeySize));
  sealing.end();
  EXPECT_FALSE(sealing.active());
  EXPECT_FALSE(sealing.subkey(b, got)) << "ended";
  expect_ok(sealing.prepare(*k, *rule, kReportTopic, h, topic_key));
  expect_ok(sealing.subkey(b, got));
  expect_ok(internal::aead::derive_subkey(topic_key, b.data(), expected));
  EXPECT_EQ(0, std::memcmp(got, expected, kKeySize)) << "the new session's topic key";
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

// ---- the guarded caches grow on demand (base/secret_arena.h, SecretTable) ----

constexpr size_t kOpenerSlot = internal::kKeysPerTopic * (1 + internal::kMaxSubkeysPerKey) * kKeySize;  // 192
constexpr size_t kSealerSlot = internal::kKeysPerTopic * 2 * kKeySize;                                  // 128
constexpr size_t kOnePage = 4096;

std::string nth_topic(size_t i) { return "plant/" + std::to_string(i) + "/telemetry"; }

// A receiver or sender that has used no topic yet locks one page for its
// topic keys (the first region of its cache), and an Opener nothing for
// suite 3's sessions; before the caches grew on demand, a fresh Opener with
// the default 1 024 topics locked 296 kB and a Sealer 132 kB. (Where mlock
// is refused, nothing is locked and this says nothing.)
TEST(GuardedCache, AFreshOpenerOrSealerLocksOnePageNotItsWholeCache) {
  std::shared_ptr<Keyring> k = keys();
  { Opener warm = make_opener(k); }  // libsodium started, its own pages locked
  const long before = internal::locked_kib();
  if (before < 0) GTEST_SKIP() << "no VmLck in /proc/self/status";
  Opener opener = make_opener(k);
  const long with_opener = internal::locked_kib();
  EXPECT_LE(with_opener - before, static_cast<long>(kOnePage / 1024)) << "kB locked by a fresh Opener";
  Sealer sealer = make_sealer(k);
  EXPECT_LE(internal::locked_kib() - with_opener, static_cast<long>(kOnePage / 1024)) << "kB locked by a fresh Sealer";
}

// The same in guarded bytes, whether or not mlock is allowed: the first
// region holds what fits in one page (21 topics of an Opener, 31 of a
// Sealer); the suite 3 session cache allocates nothing until its first entry.
TEST(GuardedCache, AFreshCacheAllocatesOnePageOfGuardedMemory) {
  internal::TopicKeyResolver opening =
      take(internal::TopicKeyResolver::create(policy(), keys(), kDefaultTopicCacheCapacity, internal::kMaxSubkeysPerKey));
  EXPECT_EQ(opening.guarded_bytes(), internal::SecretTable::kOnePageBytes / kOpenerSlot * kOpenerSlot);
  internal::TopicKeyResolver sealing =
      take(internal::TopicKeyResolver::create(policy(), keys(), kDefaultTopicCacheCapacity));
  EXPECT_EQ(sealing.guarded_bytes(), internal::SecretTable::kOnePageBytes / kSealerSlot * kSealerSlot);
  internal::RecipientSessionCache sessions =
      take(internal::RecipientSessionCache::create(kDefaultRecipientSessionCapacity));
  EXPECT_EQ(sessions.guarded_bytes(), 0u);
}

// Resolves `topic` under kFirst for `sender` into `at`: true, with the
// subkey in `found`, when one is kept for them; otherwise checks that the
// topic key given is `key`'s derived key for the topic.
bool resolve_checked(internal::TopicKeyResolver& r, const Key& key, const std::string& topic, const SenderId& sender,
                     internal::ResolvedTopic& at, uint8_t found[kKeySize]) {
  bool found_subkey = false;
  EXPECT_TRUE(r.resolve(topic, kFirst, &sender, at, found, found_subkey).ok()) << topic;
  if (found_subkey) return true;
  uint8_t expected[kKeySize];
  expect_ok(hazmat::derive_topic_key(key, topic, expected));
  EXPECT_EQ(0, std::memcmp(at.key, expected, kKeySize)) << topic;
  return false;
}

// Topic i's subkey in these tests: bytes no other topic's has.
void subkey_of(size_t i, uint8_t out[kKeySize]) {
  std::memset(out, static_cast<int>(i & 0xff), kKeySize);
  out[0] = static_cast<uint8_t>(i >> 8);
}

// Filling a cache of 100 topics crosses two region boundaries (21, then 42
// more, then the 37 the bound leaves): every topic's key is its derived key,
// every kept subkey is found again for its own topic after the growth, and
// at the bound the cache holds exactly 100 slots; the 101st topic takes the
// least recently used one's slot (its subkey is gone, the others stay), as
// a cache allocated whole did.
TEST(GuardedCache, KeysAndSubkeysStayRightAcrossGrowthUpToTheBound) {
  constexpr size_t kCapacity = 100;
  internal::TopicKeyResolver r =
      take(internal::TopicKeyResolver::create(policy(), keys(), kCapacity, internal::kMaxSubkeysPerKey));
  const Key key = fixed_key(0x11);
  SenderId sender{};
  sender.fill(0x5e);
  internal::ResolvedTopic at;
  uint8_t found[kKeySize] = {};
  uint8_t subkey[kKeySize];
  size_t last_bytes = r.guarded_bytes();
  size_t growths = 0;
  for (size_t i = 0; i < kCapacity; ++i) {
    ASSERT_FALSE(resolve_checked(r, key, nth_topic(i), sender, at, found));
    subkey_of(i, subkey);
    r.store_subkey(at, sender, subkey);
    if (r.guarded_bytes() != last_bytes) ++growths;
    last_bytes = r.guarded_bytes();
  }
  EXPECT_EQ(growths, 2u);
  EXPECT_EQ(r.guarded_bytes(), kCapacity * kOpenerSlot);
  for (size_t i = 0; i < kCapacity; ++i) {  // all still held, in their own slots
    ASSERT_TRUE(resolve_checked(r, key, nth_topic(i), sender, at, found)) << nth_topic(i);
    subkey_of(i, subkey);
    EXPECT_EQ(0, std::memcmp(found, subkey, kKeySize)) << nth_topic(i);
  }
  // Past the bound: topic 0 is the least recently used (the loop above
  // touched 0 to 99 in order) and goes; no more guarded memory.
  EXPECT_FALSE(resolve_checked(r, key, nth_topic(kCapacity), sender, at, found));
  EXPECT_EQ(r.guarded_bytes(), kCapacity * kOpenerSlot);
  EXPECT_FALSE(resolve_checked(r, key, nth_topic(0), sender, at, found)) << "topic 0 was evicted with its subkey";
  EXPECT_TRUE(resolve_checked(r, key, nth_topic(50), sender, at, found));
  EXPECT_EQ(r.guarded_bytes(), kCapacity * kOpenerSlot);
}

// A new keyring (set_keyring) wipes every slot of every region and keeps
// them: the next topics reuse them, no new region, and nothing of the old
// keyring is found.
TEST(GuardedCache, ANewKeyringWipesEveryRegionAndReusesIt) {
  constexpr size_t kTopics = 70;  // three regions
  internal::TopicKeyResolver r =
      take(internal::TopicKeyResolver::create(policy(), keys(), kDefaultTopicCacheCapacity, internal::kMaxSubkeysPerKey));
  SenderId sender{};
  sender.fill(0x5e);
  internal::ResolvedTopic at;
  uint8_t found[kKeySize] = {};
  uint8_t subkey[kKeySize];
  for (size_t i = 0; i < kTopics; ++i) {
    ASSERT_FALSE(resolve_checked(r, fixed_key(0x11), nth_topic(i), sender, at, found));
    subkey_of(i, subkey);
    r.store_subkey(at, sender, subkey);
  }
  const size_t grown = r.guarded_bytes();
  r.set_keyring(keys(1, 0x21));
  ASSERT_GE(r.allocated_slots(), kTopics);
  for (size_t i = 0; i < r.allocated_slots(); ++i) {  // every key and subkey byte, in every region
    const ByteView slot = r.slot_bytes(i);
    EXPECT_TRUE(std::all_of(slot.begin(), slot.end(), [](uint8_t b) { return b == 0; })) << "slot " << i;
  }
  for (size_t i = 0; i < kTopics; ++i) {
    EXPECT_FALSE(resolve_checked(r, fixed_key(0x21), nth_topic(i), sender, at, found)) << nth_topic(i);
  }
  EXPECT_EQ(r.guarded_bytes(), grown);
}

// The table's own wipe reaches every region, not only the last one.
TEST(GuardedCache, ATablesWipeZeroesEverySlotOfEveryRegion) {
  internal::SecretTable table(kOpenerSlot, 200);
  for (size_t i = 0; i < 150; ++i) {
    ASSERT_TRUE(table.grow().ok());
    std::memset(table[i], 0xff, kOpenerSlot);
  }
  table.wipe();
  const std::vector<uint8_t> zero(kOpenerSlot, 0);
  for (size_t i = 0; i < table.size(); ++i) EXPECT_EQ(0, std::memcmp(table[i], zero.data(), kOpenerSlot)) << i;
  while (table.size() < table.max_slots()) ASSERT_TRUE(table.grow().ok());
  EXPECT_FALSE(table.grow().ok()) << "past max_slots";
  EXPECT_EQ(table.bytes(), 200 * kOpenerSlot);
}

// Through the public API, on the default bound: a Sealer and an Opener on
// more topics than kDefaultTopicCacheCapacity (every region, then
// eviction), then the first topics again: every message opens.
TEST(GuardedCache, SealersAndOpenersOnMoreTopicsThanTheBoundOpenEveryMessage) {
  std::shared_ptr<Keyring> k = keys();
  Sealer sealer = make_sealer(k);
  Opener opener = make_opener(k);
  const std::vector<uint8_t> payload = payload_of(64);
  Opened o;
  for (size_t round = 0; round < 2; ++round) {
    for (size_t i = 0; i < kDefaultTopicCacheCapacity + 50; i += round + 1) {
      const std::string topic = nth_topic(i);
      const std::vector<uint8_t> env = take(sealer.seal(topic, payload));
      ASSERT_TRUE(open_now(opener, topic, env, o).ok()) << topic << " round " << round;
      ASSERT_EQ(o.payload, payload);
    }
  }
}

// Threads opening on one Opener (on keys()) at once: thread t opens
// envelopes on topic_of(t, i), for each i < count, sealed `rounds` times
// over before any thread starts, by a Sealer of its own (its own sender) or,
// with Senders::one, all by one Sealer (one sender's stream, opened from
// every thread at once).
enum class Senders { per_thread, one };
class ThreadedOpens {
 public:
  using TopicOf = std::function<std::string(size_t thread, size_t i)>;
  std::shared_ptr<Keyring> keyring = keys();
  Opener opener = make_opener(keyring);

  ThreadedOpens(size_t threads, size_t count, int rounds, TopicOf topic_of, Senders senders = Senders::per_thread)
      : count_(count), topic_of_(std::move(topic_of)), envelopes_(threads) {
    std::optional<Sealer> shared;
    if (senders == Senders::one) shared.emplace(make_sealer(keyring));
    for (size_t t = 0; t < threads; ++t) {
      std::optional<Sealer> own;
      if (!shared) own.emplace(make_sealer(keyring));
      Sealer& sealer = shared ? *shared : *own;
      for (int round = 0; round < rounds; ++round) {
        for (size_t i = 0; i < count; ++i) envelopes_[t].push_back(take(sealer.seal(topic_of_(t, i), payload_of(32))));
      }
    }
  }
  // Round `round`'s envelopes, each thread's on a thread of its own, all at
  // once: how many did not open.
  int open_round(int round) {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < envelopes_.size(); ++t) {
      threads.emplace_back([&, t] {
        Opened out;
        for (size_t i = 0; i < count_; ++i) {
          const std::vector<uint8_t>& env = envelopes_[t][static_cast<size_t>(round) * count_ + i];
          if (!open_now(opener, topic_of_(t, i), env, out)) ++failures;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    return failures.load();
  }

 private:
  size_t count_;
  TopicOf topic_of_;
  std::vector<std::vector<std::vector<uint8_t>>> envelopes_;  // per thread, round after round
};

// Threads opening on one Opener, each on topics of its own (the cache grows
// under the Opener's lock while the others open), with a thread replacing
// the keyring meanwhile: every message opens, whether each thread's
// envelopes are of a sender of its own or all of one sender (whose subkeys
// every thread's topics then keep, and whose stream arrives on four
// threads at once). (Run in the sanitizer build too: a slot that moved or
// was freed under an open would show there.)
TEST(GuardedCache, ThreadsOpeningNewTopicsWhileTheCacheGrowsAndTheKeyringChanges) {
  constexpr size_t kTopicsEach = 80;
  for (const Senders senders : {Senders::per_thread, Senders::one}) {
    SCOPED_TRACE(senders == Senders::one ? "one sender" : "a sender per thread");
    ThreadedOpens opens(
        4, kTopicsEach, 1, [](size_t t, size_t i) { return nth_topic(t * kTopicsEach + i); }, senders);
    std::atomic<bool> done{false};
    std::thread rotate([&] {
      while (!done.load()) opens.opener.set_keyring(keys());  // the same keys, a new keyring: the cache is wiped
    });
    const int failures = opens.open_round(0);
    done = true;
    rotate.join();
    EXPECT_EQ(failures, 0);
  }
}

// Where a version 2 suite 1 envelope names its key (docs/SPEC.md).
constexpr size_t kKeyIdOffset = 3;

int blake2b_calls() { return g_blake2b_personal_calls.load(std::memory_order_relaxed); }

// `env` with its last byte (in the tag) changed: it names a known key and
// sender, and fails authentication.
std::vector<uint8_t> forged(std::vector<uint8_t> env) {
  env.back() ^= 0x5a;
  return env;
}

// Forged envelopes on more new topics than the cache holds, under the keys
// a rotation names, neither grow the receiver's guarded (locked) memory nor
// evict a topic key or subkey an authentic message cached: its next message
// derives nothing. (Before: each forgery inserted its topic and derived its
// key into the cache before the tag was checked, so 1 100 of them filled
// all 1 024 slots, about 190 kB locked, and evicted plant/7/telemetry; two
// forgeries under the topic's other keys also took both of its key slots.)
TEST(GuardedCache, ForgedEnvelopesOnNewTopicsNeitherGrowNorEvictTheCache) {
  std::shared_ptr<Keyring> k = keys(3);
  Sealer sealer = make_sealer(k);
  Opener opener = make_opener(k);
  const std::vector<uint8_t> payload = payload_of(64);
  Opened o;
  expect_ok(open_now(opener, kTopic, take(sealer.seal(kTopic, payload)), o));
  // Sealed first: the Sealer's own cache grows with them.
  std::vector<std::vector<uint8_t>> forgeries;
  for (size_t i = 0; i < kDefaultTopicCacheCapacity + 76; ++i) {
    forgeries.push_back(forged(take(sealer.seal(nth_topic(1000 + i), payload))));
  }
  const long locked_before = internal::locked_kib();
  // Under the topic's other two keys (a rotation's IDs), on the topic itself.
  for (const KeyId id : {kSecond, kThird}) {
    std::vector<uint8_t> other = take(sealer.seal(kTopic, payload));
    internal::store_be32(other.data() + kKeyIdOffset, id);
    EXPECT_EQ(open_now(opener, kTopic, other, o).error().code(), Errc::authentication_failed);
  }
  for (size_t i = 0; i < forgeries.size(); ++i) {
    ASSERT_EQ(open_now(opener, nth_topic(1000 + i), forgeries[i], o).error().code(), Errc::authentication_failed);
  }
  if (locked_before >= 0) {
    EXPECT_LE(internal::locked_kib() - locked_before, 4) << "kB locked by the forgeries";
  }
  const std::vector<uint8_t> env = take(sealer.seal(kTopic, payload));
  const int derived = blake2b_calls();
  const int subkeys = hchacha20_calls();
  expect_ok(open_now(opener, kTopic, env, o));
  EXPECT_EQ(blake2b_calls() - derived, 0) << "the topic key was still cached";
  EXPECT_EQ(hchacha20_calls() - subkeys, 0) << "the sender's subkey was still cached";
}

// SubkeyCache.AForgeryDoesNotChooseWhichSubkeyIsEvicted for a topic's two
// key slots: a forgery under the ID of the less
// recently used key does not make it the most recent, so a third key (a
// rotation's) still replaces that one, not the key in use.
TEST(GuardedCache, AForgeryDoesNotChooseWhichTopicKeyIsEvicted) {
  std::shared_ptr<Keyring> three = keys(3);
  Opener opener = make_opener(three);
  Opened o;
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x11), kFirst, kTopic, 0xa1, 0), o));
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x12), kSecond, kTopic, 0xa1, 1), o));  // kSecond the most recent
  const std::vector<uint8_t> forged = seal_as(fixed_key(0x99), kFirst, kTopic, 0xa1, 2);
  EXPECT_EQ(open_now(opener, kTopic, forged, o).error().code(), Errc::authentication_failed);
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x13), kThird, kTopic, 0xa1, 3), o));  // replaces kFirst
  const std::vector<uint8_t> next = seal_as(fixed_key(0x12), kSecond, kTopic, 0xa1, 4);
  const int before = blake2b_calls();
  expect_ok(open_now(opener, kTopic, next, o));
  EXPECT_EQ(blake2b_calls() - before, 0) << "kSecond's topic key was evicted: the forgery chose the victim";
}

// An authentic message under a cached key from a sender whose subkey was
// not kept makes that key the most recently used too (it goes through
// commit, not touch).
TEST(GuardedCache, ANewSenderUnderACachedKeyMakesItTheMostRecent) {
  std::shared_ptr<Keyring> three = keys(3);
  Opener opener = make_opener(three);
  Opened o;
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x11), kFirst, kTopic, 0xa1, 0), o));
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x12), kSecond, kTopic, 0xa1, 1), o));
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x11), kFirst, kTopic, 0xb2, 0), o));  // kFirst the most recent
  expect_ok(open_now(opener, kTopic, seal_as(fixed_key(0x13), kThird, kTopic, 0xa1, 2), o));  // replaces kSecond
  const std::vector<uint8_t> next = seal_as(fixed_key(0x11), kFirst, kTopic, 0xa1, 3);
  const int before = blake2b_calls();
  expect_ok(open_now(opener, kTopic, next, o));
  EXPECT_EQ(blake2b_calls() - before, 0) << "kFirst's topic key was evicted though it was the most recent";
}

// Suite 3 envelopes authenticate under the recipient's public key, which
// anyone may hold: a party with nothing else (no symmetric key, no signing
// key) seals authentic envelopes on as many topics of a recipient rule's
// wildcard as it likes. Such topics are not cached, as plaintext topics are
// not: more of them than the cache holds neither grow the receiver's guarded
// (locked) memory nor evict the topic key and subkey a suite 1 message
// cached. (Before: each one's topic entered the topic-key cache, a guarded
// slot with no key in it, so 1 100 of them took all 1 024 slots, about
// 190 kB locked, and evicted plant/7/telemetry's key and subkey.)
TEST(GuardedCache, SuiteThreeEnvelopesFromAnyoneOnNewTopicsNeitherGrowNorEvictTheCache) {
  constexpr KeyId kRecipientId = 0xbac30001;
  std::shared_ptr<Keyring> receiver = keys(1);
  expect_ok(receiver->add_recipient_key_with_id("backend", kRecipientId, fixed_key(0xb1)));
  // Anyone: the recipient's public key and nothing else.
  auto anyone_keys = std::make_shared<Keyring>();
  const Keyring exported = take(Keyring::parse(receiver->export_public()));
  for (const KeyInfo& k : exported.list()) {
    if (k.kind == KeyKind::recipient_public) {
      expect_ok(anyone_keys->add_recipient_public(k.name, k.id, ByteView(*k.public_key)));
    }
  }
  TopicPolicy p;
  expect_ok(p.add_rule("plant/+/telemetry", "telemetry"));
  expect_ok(p.add_recipient_rule("plant/+/report", "backend"));
  Sealer device = take(Sealer::create(p, receiver, at_now()));
  Sealer anyone = take(Sealer::create(p, anyone_keys, at_now()));
  Opener opener = take(Opener::create(p, receiver));
  const std::vector<uint8_t> payload = payload_of(64);
  Opened o;
  expect_ok(open_now(opener, kTopic, take(device.seal(kTopic, payload)), o));
  std::vector<std::vector<uint8_t>> reports;
  for (size_t i = 0; i < kDefaultTopicCacheCapacity + 76; ++i) {
    reports.push_back(take(anyone.seal("plant/" + std::to_string(1000 + i) + "/report", payload)));
  }
  const long locked_before = internal::locked_kib();
  for (size_t i = 0; i < reports.size(); ++i) {
    ASSERT_TRUE(open_now(opener, "plant/" + std::to_string(1000 + i) + "/report", reports[i], o)) << i;
  }
  EXPECT_EQ(opener.recipient_sessions(), 1u);  // one session: its cache holds one page
  if (locked_before >= 0) {
    EXPECT_LE(internal::locked_kib() - locked_before, 4) << "kB locked by the suite 3 envelopes";
  }
  const std::vector<uint8_t> env = take(device.seal(kTopic, payload));
  const int derived = blake2b_calls();
  const int subkeys = hchacha20_calls();
  expect_ok(open_now(opener, kTopic, env, o));
  EXPECT_EQ(blake2b_calls() - derived, 0) << "the topic key was still cached";
  EXPECT_EQ(hchacha20_calls() - subkeys, 0) << "the sender's subkey was still cached";
}

// A key holder's authentic envelopes on topics as long as MQTT allows
// (65 535 bytes) are not kept in the topic-key cache: kept, each took its
// topic twice (the entry and its index), so that capacity x 128 KiB of heap
// (128 MiB by default) was the holder's to fill. Such a topic's key is
// derived again per message. (Before: 200 topics of 60 000 bytes held 24 MB.)
TEST(GuardedCache, LongTopicsAreNotKept) {
  std::shared_ptr<Keyring> k = keys(1);
  Sealer sealer = make_sealer(k);
  Opener opener = make_opener(k);
  const std::vector<uint8_t> payload = payload_of(64);
  constexpr int kTopics = 200;
  auto topic_of = [](int i) { return "plant/" + std::to_string(i) + std::string(60000, 'x') + "/telemetry"; };
  std::vector<std::vector<uint8_t>> envs;
  for (int i = 0; i < kTopics; ++i) envs.push_back(take(sealer.seal(topic_of(i), payload)));
  Opened o;
  expect_ok(open_now(opener, topic_of(0), envs[0], o));  // the first: allocations of its own
  const struct mallinfo2 b = mallinfo2();
  for (int i = 1; i < kTopics; ++i) expect_ok(open_now(opener, topic_of(i), envs[i], o));
  const struct mallinfo2 a = mallinfo2();
  const size_t before = b.uordblks + b.hblkhd;
  const size_t after = a.uordblks + a.hblkhd;
  EXPECT_LT(after > before ? after - before : 0, size_t{1} << 20) << "bytes of heap held by the topic cache";
  // Opened again: derived again, and still opening.
  expect_ok(open_now(opener, topic_of(1), take(sealer.seal(topic_of(1), payload)), o));
  EXPECT_EQ(o.payload, payload);
}

// An authentic message on a new topic caches its topic key and its sender's
// subkey once it opened: the next message of that sender derives neither, a
// second sender's derives its subkey only.
TEST(GuardedCache, AnAuthenticMessageOnANewTopicIsCachedAfterItOpens) {
  std::shared_ptr<Keyring> k = keys();
  Sealer first = make_sealer(k);
  Sealer second = make_sealer(k);
  Opener opener = make_opener(k);
  const std::vector<uint8_t> payload = payload_of(64);
  Opened o;
  for (const char* topic : {kTopic, kCompactTopic}) {
    SCOPED_TRACE(topic);
    std::vector<uint8_t> env = take(first.seal(topic, payload));
    int derived = blake2b_calls();
    expect_ok(open_now(opener, topic, env, o));
    EXPECT_EQ(blake2b_calls() - derived, 1);
    env = take(first.seal(topic, payload));
    derived = blake2b_calls();
    int subkeys = hchacha20_calls();
    expect_ok(open_now(opener, topic, env, o));
    EXPECT_EQ(blake2b_calls() - derived, 0);
    EXPECT_EQ(hchacha20_calls() - subkeys, 0);
    env = take(second.seal(topic, payload));
    derived = blake2b_calls();
    subkeys = hchacha20_calls();
    expect_ok(open_now(opener, topic, env, o));
    EXPECT_EQ(blake2b_calls() - derived, 0);
    EXPECT_EQ(hchacha20_calls() - subkeys, 1);
  }
}

// The resolver's side: lookup() caches nothing, however many topics; two
// opens that both missed a topic commit it once, with both senders'
// subkeys; a key derived before a set_keyring() is not committed after it.
TEST(GuardedCache, LookupCachesNothingAndCommitKeepsATopicOnce) {
  internal::TopicKeyResolver r =
      take(internal::TopicKeyResolver::create(policy(), keys(), kDefaultTopicCacheCapacity, internal::kMaxSubkeysPerKey));
  const size_t fresh = r.guarded_bytes();
  SenderId a{};
  a.fill(0x0a);
  SenderId b{};
  b.fill(0x0b);
  uint8_t subkey[kKeySize] = {};
  bool found = false;
  for (size_t i = 0; i < 200; ++i) {
    internal::ResolvedTopic at;
    expect_ok(r.lookup(nth_topic(i), kFirst, a, at, subkey, found));
    EXPECT_TRUE(at.pending);
  }
  EXPECT_EQ(r.topics(), 0u);
  EXPECT_EQ(r.guarded_bytes(), fresh);

  internal::ResolvedTopic at_a;
  internal::ResolvedTopic at_b;
  expect_ok(r.lookup(kTopic, kFirst, a, at_a, subkey, found));
  expect_ok(r.lookup(kTopic, kFirst, b, at_b, subkey, found));
  uint8_t subkey_a[kKeySize];
  uint8_t subkey_b[kKeySize];
  std::memset(subkey_a, 0xa1, sizeof subkey_a);
  std::memset(subkey_b, 0xb1, sizeof subkey_b);
  r.commit(kTopic, at_a, &a, subkey_a);
  r.commit(kTopic, at_b, &b, subkey_b);
  EXPECT_EQ(r.topics(), 1u);
  for (const auto& [sender, expected] : {std::pair{&a, subkey_a}, std::pair{&b, subkey_b}}) {
    internal::ResolvedTopic at;
    expect_ok(r.lookup(kTopic, kFirst, *sender, at, subkey, found));
    EXPECT_FALSE(at.pending);
    EXPECT_TRUE(found);
    EXPECT_EQ(0, std::memcmp(subkey, expected, kKeySize));
  }

  // Same key ID, other bytes: what the old keyring gave never enters the cache.
  internal::ResolvedTopic stale;
  expect_ok(r.lookup(kCompactTopic, kFirst, a, stale, subkey, found));
  r.set_keyring(keys(1, 0x21));
  r.commit(kCompactTopic, stale, &a, subkey_a);
  EXPECT_EQ(r.topics(), 0u);
  internal::ResolvedTopic now;
  expect_ok(r.lookup(kCompactTopic, kFirst, a, now, subkey, found));
  EXPECT_TRUE(now.pending);
  EXPECT_FALSE(found);
  uint8_t expected[kKeySize];
  expect_ok(hazmat::derive_topic_key(fixed_key(0x21), kCompactTopic, expected));
  EXPECT_EQ(0, std::memcmp(now.key, expected, kKeySize));
}

// Threads opening authentic messages on the same new topics at once, from
// senders of their own: every message opens, each topic is cached once, and
// every sender's next message derives no topic key.
TEST(GuardedCache, ThreadsMissingTheSameTopicsCacheThemOnce) {
  ThreadedOpens opens(4, 50, 2, [](size_t, size_t i) { return nth_topic(i); });
  EXPECT_EQ(opens.open_round(0), 0);
  const int derived = blake2b_calls();
  EXPECT_EQ(opens.open_round(1), 0);
  EXPECT_EQ(blake2b_calls() - derived, 0);
}

// While one lives, the call `fails` stands for is refused (the flag is
// cleared however the test leaves its scope).
class Refusing {
 public:
  explicit Refusing(std::atomic<bool>& fails) : fails_(fails) { fails_ = true; }
  ~Refusing() { fails_ = false; }
  Refusing(const Refusing&) = delete;
  Refusing& operator=(const Refusing&) = delete;

 private:
  std::atomic<bool>& fails_;
};

// While one lives, sodium_malloc returns null (guarded memory is out).
struct NoGuardedMemory : Refusing {
  NoGuardedMemory() : Refusing(g_sodium_malloc_fails) {}
};

int sodium_malloc_calls() { return g_sodium_malloc_calls.load(); }

// After a region could not be allocated, new topics take the least
// recently used slot without asking for guarded memory again (not one
// sodium_malloc per new topic under the owner's lock) until set_keyring(),
// after which the cache grows again.
TEST(GuardedCache, AfterAFailedGrowthNoRegionIsTriedUntilANewKeyring) {
  internal::TopicKeyResolver r = take(internal::TopicKeyResolver::create(policy(), keys(), kDefaultTopicCacheCapacity));
  const size_t first_region = r.guarded_bytes();
  const size_t first_slots = first_region / kSealerSlot;
  internal::ResolvedTopic at;
  {
    NoGuardedMemory none;
    const int before = sodium_malloc_calls();
    for (size_t i = 0; i < first_slots + 40; ++i) {
      ASSERT_TRUE(r.resolve(nth_topic(i), internal::kPrimaryKey, at).ok()) << nth_topic(i);
    }
    EXPECT_EQ(sodium_malloc_calls() - before, 1) << "sodium_malloc calls";
  }
  EXPECT_EQ(r.guarded_bytes(), first_region);
  EXPECT_EQ(r.topics(), first_slots);
  r.set_keyring(keys());
  for (size_t i = 0; i < first_slots + 40; ++i) {
    ASSERT_TRUE(r.resolve(nth_topic(i), internal::kPrimaryKey, at).ok()) << nth_topic(i);
  }
  EXPECT_GT(r.guarded_bytes(), first_region);
  EXPECT_EQ(r.topics(), first_slots + 40);
}

// Whether `bytes` holds the kKeySize bytes of `key` anywhere.
bool holds_key(ByteView bytes, const uint8_t key[kKeySize]) {
  return std::search(bytes.begin(), bytes.end(), key, key + kKeySize) != bytes.end();
}

// `times` grow()s of `table` with no guarded memory, each expected to fail
// with crypto_failure: the sodium_malloc calls they made.
int sodium_mallocs_of_refused_growths(internal::SecretTable& table, int times) {
  NoGuardedMemory none;
  const int before = sodium_malloc_calls();
  for (int i = 0; i < times; ++i) {
    const Status grown = table.grow();
    EXPECT_FALSE(grown.ok()) << "growth " << i;
    if (!grown.ok()) {
      EXPECT_EQ(grown.error().code(), Errc::crypto_failure);
    }
  }
  return sodium_malloc_calls() - before;
}

// The table keeps the growth policy of both caches: after a region could
// not be allocated, grow() fails at once (crypto_failure, no sodium_malloc)
// until wipe() (the caches' set_keyring), even once memory is back; then it
// grows again.
TEST(GuardedCache, AfterAFailedGrowthATableTriesNoRegionUntilItsWipe) {
  internal::SecretTable table(kOpenerSlot, 200);
  const size_t first_region = internal::SecretTable::kOnePageBytes / kOpenerSlot;  // 21 slots
  for (size_t i = 0; i < first_region; ++i) ASSERT_TRUE(table.grow().ok());
  ASSERT_EQ(table.bytes(), first_region * kOpenerSlot);
  EXPECT_EQ(sodium_mallocs_of_refused_growths(table, 5), 1);
  const int before = sodium_malloc_calls();
  const Status again = table.grow();
  ASSERT_FALSE(again.ok()) << "memory is back, but no wipe() yet";
  EXPECT_EQ(again.error().code(), Errc::crypto_failure);
  EXPECT_EQ(sodium_malloc_calls() - before, 0);
  EXPECT_EQ(table.size(), first_region);
  table.wipe();
  ASSERT_TRUE(table.grow().ok());
  EXPECT_EQ(table.size(), first_region + 1);
  EXPECT_GT(table.bytes(), first_region * kOpenerSlot);
}

// Suite 3's session i, with keys of its own: session key {0x5e, i, ...},
// topic key {0x70, i, ...}, subkey {0x5b, i, ...}.
EnvelopeHeader session_header(uint32_t i) {
  EnvelopeHeader h;
  h.key_id = kFirst;
  std::memcpy(h.ephemeral.data(), &i, sizeof i);
  h.sender.fill(0x5e);
  return h;
}
void session_key(uint8_t tag, uint32_t i, uint8_t key[kKeySize]) {
  std::memset(key, tag, kKeySize);
  std::memcpy(key + 1, &i, sizeof i);
}
// The keys an open of session i under generation `generation` commits.
void commit_session(internal::RecipientSessionCache& cache, uint32_t i, uint64_t generation) {
  internal::RecipientOpening keys;
  keys.generation = generation;
  keys.have_subkey = true;
  session_key(0x5e, i, keys.keys.session_key);
  session_key(0x70, i, keys.keys.topic_key);
  session_key(0x5b, i, keys.keys.subkey);
  cache.commit(session_header(i), kTopic, keys);
}

// The session cache: after a region could not be allocated, a new session
// takes the least recently used one's entry, whose keys it overwrites,
// without asking for guarded memory again (before: one sodium_malloc per
// new session, under the Opener's lock) until clear() (set_keyring), after
// which the cache grows again.
TEST(GuardedCache, AfterAFailedGrowthTheSessionCacheTriesNoRegionUntilCleared) {
  constexpr size_t kEntry = 3 * kKeySize;
  constexpr uint32_t kFirstEntries = internal::SecretTable::kOnePageBytes / kEntry;  // 42
  constexpr uint32_t kMore = 10;
  internal::RecipientSessionCache cache =
      take(internal::RecipientSessionCache::create(kDefaultRecipientSessionCapacity));
  for (uint32_t i = 0; i < kFirstEntries; ++i) commit_session(cache, i, 0);
  ASSERT_EQ(cache.guarded_bytes(), kFirstEntries * kEntry);
  {
    NoGuardedMemory none;
    const int before = sodium_malloc_calls();
    for (uint32_t i = kFirstEntries; i < kFirstEntries + kMore; ++i) commit_session(cache, i, 0);
    EXPECT_EQ(sodium_malloc_calls() - before, 1) << "sodium_malloc calls";
  }
  EXPECT_EQ(cache.guarded_bytes(), kFirstEntries * kEntry);
  EXPECT_EQ(cache.size(), kFirstEntries);
  for (uint32_t i = 0; i < kFirstEntries + kMore; ++i) {
    EXPECT_EQ(cache.contains(session_header(i)), i >= kMore) << "session " << i;
  }
  // The sessions that went left none of their keys in any entry.
  for (uint32_t i = 0; i < kMore; ++i) {
    for (const int tag : {0x5e, 0x70, 0x5b}) {
      uint8_t key[kKeySize];
      session_key(static_cast<uint8_t>(tag), i, key);
      for (size_t slot = 0; slot < cache.allocated_slots(); ++slot) {
        EXPECT_FALSE(holds_key(cache.slot_bytes(slot), key)) << "session " << i << " in entry " << slot;
      }
    }
  }
  cache.clear();
  for (uint32_t i = 0; i < kFirstEntries + kMore; ++i) commit_session(cache, i, 1);  // clear()'s generation
  EXPECT_EQ(cache.size(), kFirstEntries + kMore);
  EXPECT_GT(cache.guarded_bytes(), kFirstEntries * kEntry);
}

// A table that has no slot yet is not held to the policy: its first
// region, once refused, is tried again at the next grow() (a cache with no
// entry has none to take instead, and one sodium_malloc costs less than
// what its entry saves). Before: the refusal stopped its growth until
// wipe().
TEST(GuardedCache, ATableWithNoSlotTriesItsFirstRegionAgain) {
  internal::SecretTable table(kOpenerSlot, 200);
  EXPECT_EQ(sodium_mallocs_of_refused_growths(table, 2), 2);
  EXPECT_EQ(table.size(), 0u);
  ASSERT_TRUE(table.grow().ok()) << "memory is back";
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.bytes(), internal::SecretTable::kOnePageBytes / kOpenerSlot * kOpenerSlot);
}

// The session cache has no entry until its first commit: if guarded memory
// is out then, that commit keeps nothing, and the next commit, once memory
// is back, allocates the first region and keeps its session. (Before: the
// first refusal stopped the cache's growth, and with no entry to take, the
// Opener kept no suite 3 or 4 session until set_keyring.)
TEST(GuardedCache, ASessionCacheWhoseFirstRegionWasRefusedCachesOnceMemoryIsBack) {
  internal::RecipientSessionCache cache =
      take(internal::RecipientSessionCache::create(kDefaultRecipientSessionCapacity));
  {
    NoGuardedMemory none;
    commit_session(cache, 0, 0);
  }
  EXPECT_FALSE(cache.contains(session_header(0)));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.guarded_bytes(), 0u);
  commit_session(cache, 1, 0);
  EXPECT_TRUE(cache.contains(session_header(1)));
  EXPECT_EQ(cache.size(), 1u);
}

// The same through the public API: a first suite 3 or 4 message that opens
// while guarded memory is out is cached nowhere, and once memory is back
// the next sender's session is cached: its second message derives no subkey.
TEST(GuardedCache, SessionsAreCachedAgainAfterTheFirstSessionFoundNoGuardedMemory) {
  for (const char* topic : {kReportTopic, kSignedReportTopic}) {
    SCOPED_TRACE(topic);
    Sealer first = make_recipient_sealer(recipient_keys());
    Sealer second = make_recipient_sealer(recipient_keys());
    Opener opener = make_recipient_opener(recipient_keys());
    const std::vector<uint8_t> payload = payload_of(64);
    const std::vector<uint8_t> env = take(first.seal(topic, payload));
    Opened o;
    {
      NoGuardedMemory none;
      ASSERT_TRUE(open_now(opener, topic, env, o).ok());
    }
    EXPECT_EQ(o.payload, payload);
    expect_one_derivation_per_side(second, opener, topic);
  }
}

// Review L2: with no guarded memory for another slot, the Opener's commit
// of a new topic takes the least recently used topic's slot: the new topic
// is cached (its key, its sender's subkey), the old one is not, and none of
// the old topic's keys (both of its slots) or subkeys is left anywhere.
TEST(GuardedCache, AfterAFailedGrowthANewTopicTakesTheLeastRecentlyUsedSlotWiped) {
  internal::TopicKeyResolver r = take(internal::TopicKeyResolver::create(
      policy(), keys(2), kDefaultTopicCacheCapacity, internal::kMaxSubkeysPerKey));
  const size_t first_slots = r.guarded_bytes() / kOpenerSlot;
  SenderId sender{};
  sender.fill(0x5e);
  uint8_t subkey[kKeySize];
  uint8_t found[kKeySize];
  bool found_subkey = false;
  // Topic i under `id`, committed with subkey_of(i + offset) (offset > 0: no
  // subkey of zeros). Its ASSERT returns from the lambda only: every call is
  // in ASSERT_NO_FATAL_FAILURE.
  auto open_and_commit = [&](size_t i, KeyId id, size_t offset) {
    internal::ResolvedTopic at;
    ASSERT_TRUE(r.lookup(nth_topic(i), id, sender, at, found, found_subkey).ok()) << nth_topic(i);
    subkey_of(i + offset, subkey);
    r.commit(nth_topic(i), at, &sender, subkey);
  };
  // Topic 0 holds both keys, each with a subkey; the others one.
  ASSERT_NO_FATAL_FAILURE(open_and_commit(0, kSecond, 1000));
  for (size_t i = 0; i < first_slots; ++i) ASSERT_NO_FATAL_FAILURE(open_and_commit(i, kFirst, 1));
  ASSERT_EQ(r.topics(), first_slots);
  const size_t grown = r.guarded_bytes();
  {
    NoGuardedMemory none;
    ASSERT_NO_FATAL_FAILURE(open_and_commit(first_slots, kFirst, 1));
  }
  EXPECT_EQ(r.guarded_bytes(), grown);
  EXPECT_EQ(r.topics(), first_slots);
  internal::ResolvedTopic at;
  ASSERT_TRUE(r.lookup(nth_topic(first_slots), kFirst, sender, at, found, found_subkey).ok());
  EXPECT_FALSE(at.pending) << "the new topic was cached";
  ASSERT_TRUE(found_subkey);
  subkey_of(first_slots + 1, subkey);
  EXPECT_EQ(0, std::memcmp(found, subkey, kKeySize));
  ASSERT_TRUE(r.lookup(nth_topic(1), kFirst, sender, at, found, found_subkey).ok());
  EXPECT_FALSE(at.pending) << "the other topics stay";
  ASSERT_TRUE(r.lookup(nth_topic(0), kFirst, sender, at, found, found_subkey).ok());
  EXPECT_TRUE(at.pending) << "the least recently used topic went";
  uint8_t gone[4][kKeySize];
  expect_ok(hazmat::derive_topic_key(fixed_key(0x11), nth_topic(0), gone[0]));
  expect_ok(hazmat::derive_topic_key(fixed_key(0x12), nth_topic(0), gone[1]));
  subkey_of(1, gone[2]);
  subkey_of(1000, gone[3]);
  for (size_t slot = 0; slot < r.allocated_slots(); ++slot) {
    for (const uint8_t* key : gone) EXPECT_FALSE(holds_key(r.slot_bytes(slot), key)) << "in slot " << slot;
  }
}

// resolve() that derives a topic's key into the slot of the key used less
// recently empties that slot first: if the derivation then fails, the old
// key is not left behind (in a slot named by no key ID). The failure is
// injected (BLAKE2b refused): with a valid key libsodium does not fail
// there. (Before: the slot's subkeys were wiped, its key not.)
TEST(GuardedCache, AFailedDerivationLeavesNoKeyInTheClaimedSlot) {
  internal::TopicKeyResolver r = take(internal::TopicKeyResolver::create(policy(), keys(3), 4));
  internal::ResolvedTopic at;
  expect_ok(r.resolve(kTopic, kFirst, at));
  expect_ok(r.resolve(kTopic, kSecond, at));  // both slots held, kFirst's the less recently used
  {
    Refusing failing(g_blake2b_personal_fails);
    ASSERT_FALSE(r.resolve(kTopic, kThird, at).ok());
  }
  uint8_t first[kKeySize];
  uint8_t second[kKeySize];
  expect_ok(hazmat::derive_topic_key(fixed_key(0x11), kTopic, first));
  expect_ok(hazmat::derive_topic_key(fixed_key(0x12), kTopic, second));
  bool second_kept = false;
  for (size_t slot = 0; slot < r.allocated_slots(); ++slot) {
    EXPECT_FALSE(holds_key(r.slot_bytes(slot), first)) << "in slot " << slot;
    second_kept = second_kept || holds_key(r.slot_bytes(slot), second);
  }
  EXPECT_TRUE(second_kept) << "the other slot stays";
  expect_ok(r.resolve(kTopic, kThird, at));  // BLAKE2b back: derived into the emptied slot
  uint8_t third[kKeySize];
  expect_ok(hazmat::derive_topic_key(fixed_key(0x13), kTopic, third));
  EXPECT_EQ(0, std::memcmp(at.key, third, kKeySize));
}

// The same through the public API: with no guarded memory left, a message
// on a new topic opens, and so do the next ones on the first topics (the
// least recently used, taken for the new one, derives its key again).
TEST(GuardedCache, AfterAFailedGrowthMessagesOnNewTopicsOpen) {
  std::shared_ptr<Keyring> k = keys();
  Sealer sealer = make_sealer(k);
  Opener opener = make_opener(k);
  const std::vector<uint8_t> payload = payload_of(64);
  const size_t first_slots = internal::SecretTable::kOnePageBytes / kOpenerSlot;
  std::vector<std::vector<uint8_t>> envelopes;
  for (size_t i = 0; i < first_slots + 1; ++i) envelopes.push_back(take(sealer.seal(nth_topic(i), payload)));
  const std::vector<uint8_t> again = take(sealer.seal(nth_topic(0), payload));
  Opened o;
  for (size_t i = 0; i < first_slots; ++i) expect_ok(open_now(opener, nth_topic(i), envelopes[i], o));
  NoGuardedMemory none;
  ASSERT_TRUE(open_now(opener, nth_topic(first_slots), envelopes[first_slots], o).ok());
  EXPECT_EQ(o.payload, payload);
  const int derived = blake2b_calls();
  ASSERT_TRUE(open_now(opener, nth_topic(0), again, o).ok());
  EXPECT_EQ(o.payload, payload);
  EXPECT_EQ(blake2b_calls() - derived, 1) << "topic 0 left the cache and derived its key again";
}

// Review L4: a table that cannot allocate (std::bad_alloc, where
// exceptions are on) keeps every slot it has and loses none of its bound:
// each grow() is tried with its first operator new refused, then its
// second, and so on until it grows; each refusal leaves the table as it
// was (no slot handed out and lost, no region allocated and not recorded),
// and the table still fills to max_slots(). (Before: a slot the arena had
// handed out before a vector could not grow was lost for good.)
TEST(GuardedCache, ATableThatCannotAllocateLosesNoSlot) {
  constexpr size_t kSlots = 40;  // two regions of 128-byte slots: 31, then 9
  internal::SecretTable table(kSealerSlot, kSlots);
  size_t refused = 0;
  while (table.size() < kSlots) {
    const size_t size = table.size();
    const size_t bytes = table.bytes();
    for (int allowed = 0;; ++allowed) {
      bool threw = false;
      bool grown = false;
      t_news_before_bad_alloc = allowed;
      try {
        grown = table.grow().ok();
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      t_news_before_bad_alloc = -1;
      if (!threw) {
        ASSERT_TRUE(grown) << size << " slots, " << refused << " allocations refused";
        break;
      }
      ++refused;
      ASSERT_EQ(table.size(), size);
      ASSERT_EQ(table.bytes(), bytes) << "a region allocated for a refused growth";
    }
  }
  EXPECT_GT(refused, 2u);
  EXPECT_FALSE(table.grow().ok()) << "past max_slots";
  EXPECT_EQ(table.bytes(), kSlots * kSealerSlot);
}
}  // namespace
}  // namespace mqseal
