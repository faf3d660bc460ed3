// Suite 3, sealed to a recipient (docs/SPEC.md, sections 1, 2, 4b, 8, 9):
// recipient keys, the envelope, Sealer's sessions and Opener's session cache.
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/policy_file.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "replaced_new.h"  // counts t_allocations
#include "session/opener_probe.h"
#include "session/recipient_session.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::bytes_of;
using testing::expect_ok;
using testing::take;

constexpr uint64_t kNow = 1767225600000;  // 2026-01-01
constexpr KeyId kBackendKey = 0xbac30001;
constexpr KeyId kBackendKey2 = 0xbac30002;
constexpr KeyId kTelemetryId = 0x7e1e0001;
constexpr char kTopic[] = "plant/7/report";

Key fixed_key(uint8_t byte) { return take(Key::from_bytes(std::vector<uint8_t>(kKeySize, byte))); }

TopicPolicy report_policy() {
  TopicPolicy policy;
  expect_ok(policy.add_recipient_rule("plant/+/report", "backend"));
  expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  return policy;
}

std::shared_ptr<Keyring> backend_keys(uint8_t secret_byte = 0xb1, KeyId id = kBackendKey) {
  auto keys = std::make_shared<Keyring>();
  expect_ok(keys->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  expect_ok(keys->add_recipient_key_with_id("backend", id, fixed_key(secret_byte)));
  return keys;
}

// What a device holds: the telemetry key and the backend's public key only,
// taken through the exported text as a device would be provisioned.
std::shared_ptr<Keyring> device_keys(const Keyring& backend) {
  auto keys = std::make_shared<Keyring>();
  expect_ok(keys->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  Keyring exported = take(Keyring::parse(backend.export_public()));
  for (const KeyInfo& k : exported.list()) {
    EXPECT_EQ(k.kind, KeyKind::recipient_public);
    EXPECT_TRUE(k.public_key.has_value());
    if (k.state != KeyState::retired) expect_ok(keys->add_recipient_public(k.name, k.id, ByteView(*k.public_key)));
  }
  return keys;
}

SealerOptions at_now(uint64_t* now = nullptr) {
  SealerOptions o;
  o.clock = [now] { return now != nullptr ? *now : kNow; };
  return o;
}

Errc open_error(Opener& opener, std::string_view topic, const std::vector<uint8_t>& env) {
  Result<Opened> r = opener.open(topic, env, Delivery{false, kNow});
  return r ? static_cast<Errc>(0) : r.error().code();
}

struct Scene {
  std::shared_ptr<Keyring> backend = backend_keys();
  std::shared_ptr<Keyring> device = device_keys(*backend);
  Sealer sealer = take(Sealer::create(report_policy(), device, at_now()));
  Opener opener = take(Opener::create(report_policy(), backend));
};

TEST(Recipient, RoundTripOnePublicKeyPerSessionInEveryEnvelope) {
  Scene s;
  const std::vector<uint8_t> a = take(s.sealer.seal(kTopic, bytes_of("first")));
  const std::vector<uint8_t> b = take(s.sealer.seal(kTopic, bytes_of("second")));
  ASSERT_EQ(a.size(), 5 + kEnvelopeOverheadRecipient);
  const EnvelopeHeader ha = take(parse_header(a));
  const EnvelopeHeader hb = take(parse_header(b));
  EXPECT_EQ(ha.suite, kSuiteSealedToRecipient);
  EXPECT_EQ(ha.key_id, kBackendKey);
  EXPECT_EQ(ha.ephemeral, hb.ephemeral);  // one key agreement per session
  EXPECT_EQ(hb.sequence, ha.sequence + 1);
  // Each envelope opens on its own: the second first (the first was lost).
  Opened opened = take(s.opener.open(kTopic, b, Delivery{false, kNow}));
  EXPECT_EQ(opened.payload, bytes_of("second"));
  EXPECT_TRUE(opened.sealed);
  EXPECT_EQ(opened.key_id, kBackendKey);
  EXPECT_EQ(take(s.opener.open(kTopic, a, Delivery{false, kNow})).payload, bytes_of("first"));
  EXPECT_EQ(open_error(s.opener, kTopic, a), Errc::duplicate);
  EXPECT_EQ(s.opener.recipient_sessions(), 1u);
}

TEST(Recipient, ADeviceOpensNeitherItsOwnNorOtherDevicesMessages) {
  Scene s;
  const std::vector<uint8_t> own = take(s.sealer.seal(kTopic, bytes_of("reading")));
  auto other_device = device_keys(*s.backend);
  Sealer other = take(Sealer::create(report_policy(), other_device, at_now()));
  const std::vector<uint8_t> others = take(other.seal("plant/8/report", bytes_of("reading")));
  Opener stolen = take(Opener::create(report_policy(), s.device));
  EXPECT_EQ(open_error(stolen, kTopic, own), Errc::unknown_key);  // it holds only the public key
  EXPECT_EQ(open_error(stolen, "plant/8/report", others), Errc::unknown_key);
  // Even with the device's keyring holding a key pair under the backend's
  // name and ID (an attacker's own), the envelope does not open.
  auto forged = backend_keys(0x66);
  Opener impostor = take(Opener::create(report_policy(), forged));
  EXPECT_EQ(open_error(impostor, kTopic, own), Errc::authentication_failed);
  EXPECT_EQ(impostor.recipient_sessions(), 0u);
}

TEST(Recipient, RefusesAlteredEphemeralKeyIdTruncatedAndWrongSuite) {
  Scene s;
  const std::vector<uint8_t> env = take(s.sealer.seal(kTopic, bytes_of("x")));
  std::vector<uint8_t> eph = env;
  eph[kAssociatedHeaderSize + 3] ^= 0x01;
  EXPECT_EQ(open_error(s.opener, kTopic, eph), Errc::authentication_failed);
  std::vector<uint8_t> id = env;
  id[6] ^= 0x01;
  EXPECT_EQ(open_error(s.opener, kTopic, id), Errc::unknown_key);
  std::vector<uint8_t> id_other = env;  // a symmetric key's ID
  id_other[3] = 0x7e, id_other[4] = 0x1e, id_other[5] = 0x00, id_other[6] = 0x01;
  EXPECT_EQ(open_error(s.opener, kTopic, id_other), Errc::unknown_key);
  for (size_t cut = 1; cut <= 40; ++cut) {
    std::vector<uint8_t> t(env.begin(), env.end() - static_cast<std::ptrdiff_t>(cut));
    const Errc e = open_error(s.opener, kTopic, t);
    EXPECT_TRUE(e == Errc::malformed || e == Errc::authentication_failed) << cut;
  }
  std::vector<uint8_t> moved = env;
  EXPECT_EQ(open_error(s.opener, "plant/8/report", moved), Errc::authentication_failed);
  // No downgrade: suite 1 on the recipient rule, suite 3 on a suite 1 rule.
  const std::vector<uint8_t> suite1 = take(s.sealer.seal("plant/7/telemetry", bytes_of("x")));
  EXPECT_EQ(open_error(s.opener, kTopic, suite1), Errc::wrong_suite_for_topic);
  std::vector<uint8_t> relabelled = env;
  relabelled[1] = kSuiteXChaCha20Poly1305;
  EXPECT_EQ(open_error(s.opener, kTopic, relabelled), Errc::wrong_suite_for_topic);
  EXPECT_EQ(open_error(s.opener, "plant/7/telemetry", env), Errc::unknown_key);
  EXPECT_EQ(s.opener.recipient_sessions(), 0u);  // nothing above opened
  EXPECT_EQ(take(s.opener.open(kTopic, env, Delivery{false, kNow})).payload, bytes_of("x"));
}

TEST(Recipient, WrongRecipientNameIsWrongKeyForTopic) {
  auto backend = backend_keys();
  expect_ok(backend->add_recipient_key_with_id("archive", kBackendKey2, fixed_key(0xa2)));
  TopicPolicy policy = report_policy();
  expect_ok(policy.add_recipient_rule("archive/#", "archive"));
  auto device = device_keys(*backend);
  Sealer sealer = take(Sealer::create(policy, device, at_now()));
  Opener opener = take(Opener::create(policy, backend));
  const std::vector<uint8_t> to_archive = take(sealer.seal("archive/x", bytes_of("x")));
  EXPECT_EQ(take(parse_header(to_archive)).key_id, kBackendKey2);
  EXPECT_EQ(open_error(opener, kTopic, to_archive), Errc::wrong_key_for_topic);
  EXPECT_EQ(take(opener.open("archive/x", to_archive, Delivery{false, kNow})).payload, bytes_of("x"));
}

// A valid point that is nobody's: a flood of envelopes with fresh ephemeral keys.
std::vector<uint8_t> with_fresh_ephemeral(std::vector<uint8_t> env) {
  uint8_t pk[32], sk[32];
  crypto_box_keypair(pk, sk);
  std::copy(pk, pk + 32, env.begin() + kAssociatedHeaderSize);
  return env;
}

TEST(Recipient, AFloodOfFreshEphemeralKeysAddsNoCacheEntry) {
  Scene s;
  OpenerOptions one;
  one.recipient_session_capacity = 1;  // so that any insertion would evict the real session
  s.opener = take(Opener::create(report_policy(), s.backend, one));
  const std::vector<uint8_t> first = take(s.sealer.seal(kTopic, bytes_of("a")));
  ASSERT_TRUE(s.opener.open(kTopic, first, Delivery{false, kNow}));
  ASSERT_EQ(s.opener.recipient_sessions(), 1u);
  const std::vector<uint8_t> next = take(s.sealer.seal(kTopic, bytes_of("b")));
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(open_error(s.opener, kTopic, with_fresh_ephemeral(next)), Errc::authentication_failed);
  }
  // A low-order ephemeral key is refused the same way.
  std::vector<uint8_t> zero = next;
  std::fill(zero.begin() + kAssociatedHeaderSize, zero.begin() + kAssociatedHeaderSize + 32, 0);
  EXPECT_EQ(open_error(s.opener, kTopic, zero), Errc::authentication_failed);
  EXPECT_EQ(s.opener.recipient_sessions(), 1u);
  EXPECT_TRUE(s.opener.recipient_session_cached(kBackendKey, take(parse_header(next)).ephemeral));
  EXPECT_EQ(take(s.opener.open(kTopic, next, Delivery{false, kNow})).payload, bytes_of("b"));
}

TEST(Recipient, CacheIsBoundedAndEvictsTheLeastRecentlyUsed) {
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  OpenerOptions options;
  options.recipient_session_capacity = 2;
  Opener opener = take(Opener::create(report_policy(), backend, options));
  std::vector<Sealer> sealers;
  for (int i = 0; i < 3; ++i) sealers.push_back(take(Sealer::create(report_policy(), device, at_now())));
  std::vector<EnvelopeHeader> sessions;
  for (Sealer& sealer : sealers) {
    const std::vector<uint8_t> env = take(sealer.seal(kTopic, bytes_of("m")));
    sessions.push_back(take(parse_header(env)));
    ASSERT_TRUE(opener.open(kTopic, env, Delivery{false, kNow}));
    if (sessions.size() == 2) {  // the first session used again: the second is now least recently used
      ASSERT_TRUE(opener.open(kTopic, take(sealers[0].seal(kTopic, bytes_of("m"))), Delivery{false, kNow}));
    }
  }
  EXPECT_EQ(opener.recipient_sessions(), 2u);
  EXPECT_TRUE(opener.recipient_session_cached(kBackendKey, sessions[0].ephemeral));
  EXPECT_FALSE(opener.recipient_session_cached(kBackendKey, sessions[1].ephemeral));
  EXPECT_TRUE(opener.recipient_session_cached(kBackendKey, sessions[2].ephemeral));
  // The evicted session's next message opens all the same (derived again).
  EXPECT_TRUE(opener.open(kTopic, take(sealers[0].seal(kTopic, bytes_of("n"))), Delivery{false, kNow}));
  EXPECT_EQ(opener.recipient_sessions(), 2u);
  OpenerOptions bad;
  bad.recipient_session_capacity = 0;
  EXPECT_FALSE(Opener::create(report_policy(), backend, bad));
}

// Bytes the process's malloc has handed out and not taken back (glibc):
// the heap's chunks in use and the chunks mapped on their own.
size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The session cache keeps, per session, the last topic's key, and to know
// it, that topic. Anyone holding the public key makes authentic sessions, on
// topics as long as MQTT allows (65 535 bytes): a session cache that kept
// each one's topic in full let them make the receiver hold up to capacity x
// 64 KiB of heap (64 MiB by default, 64 GiB at the largest capacity). A
// long topic is not kept: its key is derived again per message, as the
// associated data reads the whole topic anyway. (Before: 200 sessions on
// one 60 000-byte topic held 12 MB.)
TEST(Recipient, LongTopicsOfPublicKeyHoldersAreNotKeptPerSession) {
  Scene s;
  const std::string topic = "plant/" + std::string(60000, 'x') + "/report";
  constexpr int kSessions = 200;
  std::vector<std::vector<uint8_t>> envs;
  for (int i = 0; i < kSessions; ++i) {
    s.sealer.end_recipient_session();  // a fresh ephemeral key: a new session each time
    envs.push_back(take(s.sealer.seal(topic, bytes_of("m"))));
  }
  Opened o;
  ASSERT_TRUE(s.opener.open(topic, envs[0], Delivery{false, kNow}, o));  // the first: allocations of its own
  const size_t before = heap_in_use();
  for (int i = 1; i < kSessions; ++i) ASSERT_TRUE(s.opener.open(topic, envs[i], Delivery{false, kNow}, o)) << i;
  EXPECT_EQ(s.opener.recipient_sessions(), static_cast<size_t>(kSessions));
  const size_t after = heap_in_use();
  EXPECT_LT(after > before ? after - before : 0, size_t{1} << 20) << "bytes of heap held by the cached sessions";
  // A session on a long topic still opens its next message (its keys
  // derived again), and a short topic is still served from the cache.
  EXPECT_TRUE(s.opener.open(topic, take(s.sealer.seal(topic, bytes_of("n"))), Delivery{false, kNow}, o));
  EXPECT_EQ(o.payload, bytes_of("n"));
  EXPECT_TRUE(s.opener.open(kTopic, take(s.sealer.seal(kTopic, bytes_of("p"))), Delivery{false, kNow}, o));
  EXPECT_TRUE(s.opener.open(kTopic, take(s.sealer.seal(kTopic, bytes_of("q"))), Delivery{false, kNow}, o));
  EXPECT_EQ(o.payload, bytes_of("q"));
}

// CPU seconds to commit `count` fresh sessions into `cache` (each evicting
// the least recently used one once the cache is full).
double commit_fresh_sessions(internal::RecipientSessionCache& cache, uint32_t first, uint32_t count) {
  internal::RecipientOpening keys;
  EnvelopeHeader header;
  header.key_id = kBackendKey;
  const std::clock_t start = std::clock();
  for (uint32_t i = first; i < first + count; ++i) {
    std::memcpy(header.ephemeral.data(), &i, sizeof i);
    cache.commit(header, kTopic, keys);
  }
  return static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

TEST(Recipient, CacheEvictionCostsTheSameWhateverItsCapacity) {
  // Full, a cache of 2^20 sessions (kMaxRecipientSessionCapacity) evicts as
  // fast as one of 1024: no scan of the entries per new session.
  internal::RecipientSessionCache small = take(internal::RecipientSessionCache::create(1024));
  internal::RecipientSessionCache large = take(internal::RecipientSessionCache::create(kMaxRecipientSessionCapacity));
  commit_fresh_sessions(small, 0, 1024);
  commit_fresh_sessions(large, 0, static_cast<uint32_t>(kMaxRecipientSessionCapacity));
  ASSERT_EQ(large.size(), kMaxRecipientSessionCapacity);
  constexpr uint32_t kEvictions = 2000;
  const double small_s = commit_fresh_sessions(small, 1u << 24, kEvictions);
  const double large_s = commit_fresh_sessions(large, 1u << 24, kEvictions);
  EXPECT_LT(large_s, 20 * small_s + 0.05) << "1024: " << small_s << " s, 2^20: " << large_s << " s";
  // And still least recently used first: the oldest sessions went.
  EnvelopeHeader h;
  h.key_id = kBackendKey;
  for (uint32_t i : {0u, 1999u}) {
    std::memcpy(h.ephemeral.data(), &i, sizeof i);
    EXPECT_FALSE(large.contains(h)) << i;
  }
  for (uint32_t i : {2000u, (1u << 24) + 1999}) {
    std::memcpy(h.ephemeral.data(), &i, sizeof i);
    EXPECT_TRUE(large.contains(h)) << i;
  }
}

// The session cache's guarded memory grows with its entries
// (base/secret_arena.h, SecretTable): none when made, one page (42 entries
// of 96 bytes) at the first commit, then the 8 more a bound of 50 leaves;
// every entry's keys are its own after the growth, and at the bound the
// least recently used entry goes, with no more memory.
TEST(Recipient, CacheMemoryGrowsWithItsEntriesUpToTheBound) {
  constexpr uint32_t kCapacity = 50;
  constexpr size_t kEntry = 3 * kKeySize;
  internal::RecipientSessionCache cache = take(internal::RecipientSessionCache::create(kCapacity));
  EXPECT_EQ(cache.guarded_bytes(), 0u);
  std::shared_ptr<Keyring> backend = backend_keys();
  const TopicPolicy policy = report_policy();
  const TopicRule* rule = take(policy.resolve(kTopic));
  auto header_of = [](uint32_t i) {
    EnvelopeHeader h;
    h.key_id = kBackendKey;
    std::memcpy(h.ephemeral.data(), &i, sizeof i);
    h.sender.fill(static_cast<uint8_t>(i));
    return h;
  };
  for (uint32_t i = 0; i <= kCapacity; ++i) {
    internal::RecipientOpening keys;
    keys.have_subkey = true;
    std::memset(keys.keys.session_key, static_cast<int>(i), kKeySize);
    std::memset(keys.keys.topic_key, static_cast<int>(i + 100), kKeySize);
    std::memset(keys.keys.subkey, static_cast<int>(i + 200), kKeySize);
    cache.commit(header_of(i), kTopic, keys);
    if (i == 0) {
      EXPECT_EQ(cache.guarded_bytes(), (internal::SecretTable::kOnePageBytes / kEntry) * kEntry);
    }
  }
  EXPECT_EQ(cache.guarded_bytes(), kCapacity * kEntry);
  EXPECT_EQ(cache.size(), kCapacity);
  EXPECT_FALSE(cache.contains(header_of(0))) << "the least recently used went at the bound";
  for (uint32_t i = 1; i <= kCapacity; ++i) {
    SCOPED_TRACE(i);
    internal::RecipientOpening out;
    ASSERT_TRUE(cache.prepare(*backend, *rule, kTopic, header_of(i), out).ok());
    ASSERT_TRUE(out.cached);
    ASSERT_TRUE(out.have_subkey);
    const std::vector<uint8_t> session(kKeySize, static_cast<uint8_t>(i));
    const std::vector<uint8_t> topic_key(kKeySize, static_cast<uint8_t>(i + 100));
    const std::vector<uint8_t> subkey(kKeySize, static_cast<uint8_t>(i + 200));
    EXPECT_EQ(0, std::memcmp(out.keys.session_key, session.data(), kKeySize));
    EXPECT_EQ(0, std::memcmp(out.keys.topic_key, topic_key.data(), kKeySize));
    EXPECT_EQ(0, std::memcmp(out.keys.subkey, subkey.data(), kKeySize));
  }
  cache.clear();  // set_keyring: every entry wiped, the memory kept for the next ones
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_EQ(cache.allocated_slots(), kCapacity);
  for (size_t i = 0; i < cache.allocated_slots(); ++i) {  // every key byte, in every region
    const ByteView slot = cache.slot_bytes(i);
    EXPECT_TRUE(std::all_of(slot.begin(), slot.end(), [](uint8_t b) { return b == 0; })) << "slot " << i;
  }
  for (uint32_t i = 0; i < kCapacity; ++i) {
    internal::RecipientOpening keys;  // of the new generation (prepare() says which)
    ASSERT_TRUE(cache.prepare(*backend, *rule, kTopic, header_of(i), keys).ok());
    cache.commit(header_of(i), kTopic, keys);
  }
  EXPECT_EQ(cache.size(), kCapacity);
  EXPECT_TRUE(cache.contains(header_of(0)));
  EXPECT_EQ(cache.guarded_bytes(), kCapacity * kEntry);
}

// Through the Opener: more suite 3 sessions than the first region holds,
// each opened again after all of them (from the cache), every message opens.
TEST(Recipient, SessionsBeyondTheFirstRegionOpenFromTheCache) {
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  Opener opener = take(Opener::create(report_policy(), backend));
  constexpr int kSessions = 60;
  std::vector<Sealer> sealers;
  std::vector<EnvelopeHeader> headers;
  for (int i = 0; i < kSessions; ++i) {
    sealers.push_back(take(Sealer::create(report_policy(), device, at_now())));
    const std::vector<uint8_t> env = take(sealers.back().seal(kTopic, bytes_of("first")));
    headers.push_back(take(parse_header(env)));
    ASSERT_TRUE(opener.open(kTopic, env, Delivery{false, kNow})) << i;
  }
  EXPECT_EQ(opener.recipient_sessions(), static_cast<size_t>(kSessions));
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_TRUE(opener.recipient_session_cached(kBackendKey, headers[i].ephemeral)) << i;
    Result<Opened> again = opener.open(kTopic, take(sealers[i].seal(kTopic, bytes_of("again"))), Delivery{false, kNow});
    ASSERT_TRUE(again) << i;
    EXPECT_EQ(again->payload, bytes_of("again"));
  }
}

TEST(Recipient, ConcurrentSessionsOpenWhileTheCacheChurns) {
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  OpenerOptions options;
  options.recipient_session_capacity = 2;  // four sessions: constant eviction
  Opener opener = take(Opener::create(report_policy(), backend, options));
  constexpr int kThreads = 4;
  constexpr int kMessages = 200;
  std::vector<std::vector<std::vector<uint8_t>>> sealed(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Sealer sealer = take(Sealer::create(report_policy(), device, at_now()));
    for (int i = 0; i < kMessages; ++i) sealed[t].push_back(take(sealer.seal(kTopic, bytes_of(std::to_string(i)))));
  }
  std::vector<int> opened(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const std::vector<uint8_t>& env : sealed[t]) opened[t] += opener.open(kTopic, env, Delivery{false, kNow}) ? 1 : 0;
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(opened[t], kMessages) << t;
  EXPECT_LE(opener.recipient_sessions(), 2u);
}

TEST(Recipient, AnotherSealerCannotTakeOverASessionsReplayStream) {
  Scene s;
  const std::vector<uint8_t> first = take(s.sealer.seal(kTopic, bytes_of("a")));
  ASSERT_TRUE(s.opener.open(kTopic, first, Delivery{false, kNow}));
  // Anyone with the public key seals with the victim's sender ID and a huge sequence.
  EnvelopeHeader h = take(parse_header(first));
  uint8_t topic_key[kKeySize], session_key[kKeySize];
  const SignerPublicKey backend_public = take(s.backend->public_key(kBackendKey));
  expect_ok(hazmat::derive_recipient_keys(fixed_key(0x5a), ByteView(backend_public), kTopic, h.ephemeral.data(),
                                          session_key, topic_key));
  h.sequence = UINT64_MAX - 1;
  std::vector<uint8_t> attack;
  expect_ok(hazmat::seal_with_header(topic_key, kTopic, h, bytes_of("evil"), attack));
  EXPECT_EQ(take(s.opener.open(kTopic, attack, Delivery{false, kNow})).payload, bytes_of("evil"));
  // The victim's stream is its (ephemeral key, sender) pair's: untouched.
  EXPECT_EQ(take(s.opener.open(kTopic, take(s.sealer.seal(kTopic, bytes_of("b"))), Delivery{false, kNow})).payload,
            bytes_of("b"));
}

TEST(Recipient, ARecipientNameAndAnEqualKeyNameHaveTheirOwnReplayPartitions) {
  // Names are per kind: a symmetric key named like the recipient shares no
  // replay state with it, so its holders cannot evict suite 3's streams.
  auto backend = backend_keys();
  expect_ok(backend->add_with_id("backend", 0x5e5e0001, fixed_key(0x33)));
  auto device = device_keys(*backend);
  expect_ok(device->add_with_id("backend", 0x5e5e0001, fixed_key(0x33)));
  TopicPolicy policy = report_policy();
  expect_ok(policy.add_rule("plant/+/status", "backend"));
  OpenerOptions options;
  options.replay.max_streams = 1;
  Opener opener = take(Opener::create(policy, backend, options));
  Sealer sealer = take(Sealer::create(policy, device, at_now()));
  ASSERT_TRUE(opener.open(kTopic, take(sealer.seal(kTopic, bytes_of("a"))), Delivery{false, kNow}));
  // Another sender under the symmetric key "backend": in a shared partition
  // (max_streams 1) it would evict the session's stream, or be refused.
  Sealer other = take(Sealer::create(policy, device, at_now()));
  EXPECT_TRUE(opener.open("plant/7/status", take(other.seal("plant/7/status", bytes_of("s"))), Delivery{false, kNow}));
  EXPECT_EQ(opener.replay_guard().tracked_streams(), 2u);  // one per partition: nothing evicted
  EXPECT_EQ(take(opener.open(kTopic, take(sealer.seal(kTopic, bytes_of("b"))), Delivery{false, kNow})).payload,
            bytes_of("b"));
}

TEST(Recipient, EachSenderOfOneEphemeralKeyHasItsOwnStream) {
  // Two sender IDs under one ephemeral key (only a holder of the session's
  // secrets can do that): the stream of one is not taken for the other's.
  Scene s;
  const SignerPublicKey backend_public = take(s.backend->public_key(kBackendKey));
  uint8_t topic_key[kKeySize], session_key[kKeySize];
  EnvelopeHeader h;
  h.suite = kSuiteSealedToRecipient;
  h.key_id = kBackendKey;
  h.timestamp_ms = kNow;
  expect_ok(hazmat::derive_recipient_keys(fixed_key(0x5a), ByteView(backend_public), kTopic, h.ephemeral.data(),
                                          session_key, topic_key));
  h.sender.fill(0xaa);
  h.sequence = UINT64_MAX - 1;
  std::vector<uint8_t> a, b;
  expect_ok(hazmat::seal_with_header(topic_key, kTopic, h, bytes_of("a"), a));
  h.sender.fill(0xbb);
  h.sequence = 0;
  expect_ok(hazmat::seal_with_header(topic_key, kTopic, h, bytes_of("b"), b));
  EXPECT_TRUE(s.opener.open(kTopic, a, Delivery{false, kNow}));
  EXPECT_EQ(take(s.opener.open(kTopic, b, Delivery{false, kNow})).payload, bytes_of("b"));
}

// A suite 3 envelope on kTopic, sealed to kBackendKey of `recipient` by the
// sealing session of ephemeral secret `ephemeral`.
std::vector<uint8_t> recipient_envelope(const Keyring& recipient, const Key& ephemeral, const SenderId& sender,
                                        uint64_t sequence, uint64_t timestamp_ms, std::string_view payload) {
  const SignerPublicKey recipient_public = take(recipient.public_key(kBackendKey));
  uint8_t topic_key[kKeySize], session_key[kKeySize];
  EnvelopeHeader h;
  h.suite = kSuiteSealedToRecipient;
  h.key_id = kBackendKey;
  h.timestamp_ms = timestamp_ms;
  h.sender = sender;
  h.sequence = sequence;
  expect_ok(hazmat::derive_recipient_keys(ephemeral, ByteView(recipient_public), kTopic, h.ephemeral.data(),
                                          session_key, topic_key));
  std::vector<uint8_t> env;
  expect_ok(hazmat::seal_with_header(topic_key, kTopic, h, bytes_of(payload), env));
  return env;
}

// What anyone holding the backend's public key can seal: a valid envelope of
// a fresh sealing session (ephemeral secret from `i`), dated `timestamp_ms`.
std::vector<uint8_t> outsider_envelope(const Keyring& backend, uint32_t i, uint64_t timestamp_ms) {
  std::vector<uint8_t> secret(kKeySize, 0x77);
  secret[0] = static_cast<uint8_t>(i);
  secret[1] = static_cast<uint8_t>(i >> 8);
  secret[2] = static_cast<uint8_t>(i >> 16);
  SenderId sender;
  sender.fill(0x0f);
  std::copy(secret.begin(), secret.begin() + 3, sender.begin());
  return recipient_envelope(backend, take(Key::from_bytes(secret)), sender, 0, timestamp_ms, "flood");
}

TEST(Recipient, AFloodOfFreshSessionsCannotMakeAnHonestSessionFailAndReplaysStayRefused) {
  // Anyone with the public key fills the recipient name's stream table many
  // times over with sessions dated max_future_skew ahead. An honest session
  // the flood evicted and a new honest session still open; replays of theirs
  // and of the flood's own messages stay refused.
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  OpenerOptions options;
  options.replay.max_streams = 64;
  Opener opener = take(Opener::create(report_policy(), backend, options));
  Sealer honest = take(Sealer::create(report_policy(), device, at_now()));
  const std::vector<uint8_t> before = take(honest.seal(kTopic, bytes_of("before")));
  ASSERT_TRUE(opener.open(kTopic, before, Delivery{false, kNow}));
  constexpr uint32_t kFlood = 300;
  const uint64_t ahead = kNow + opener.replay_guard().options().max_future_skew_ms;
  std::vector<uint8_t> first_flood;
  for (uint32_t i = 0; i < kFlood; ++i) {
    const std::vector<uint8_t> env = outsider_envelope(*backend, i, ahead - kFlood + i);  // each above the last
    ASSERT_TRUE(opener.open(kTopic, env, Delivery{false, kNow + 1 + i})) << i;  // least recently seen: the oldest
    if (i == 0) first_flood = env;
  }
  const std::vector<uint8_t> after = take(honest.seal(kTopic, bytes_of("after")));
  EXPECT_EQ(take(opener.open(kTopic, after, Delivery{false, kNow})).payload, bytes_of("after"));
  Sealer newcomer = take(Sealer::create(report_policy(), device, at_now()));
  const std::vector<uint8_t> fresh = take(newcomer.seal(kTopic, bytes_of("new")));
  EXPECT_EQ(take(opener.open(kTopic, fresh, Delivery{false, kNow})).payload, bytes_of("new"));
  for (const std::vector<uint8_t>* replay : {&before, &after, &fresh, static_cast<const std::vector<uint8_t>*>(&first_flood)}) {
    const Errc e = open_error(opener, kTopic, *replay);
    EXPECT_TRUE(e == Errc::replay || e == Errc::duplicate) << static_cast<int>(e);
  }
  EXPECT_LE(opener.replay_guard().tracked_streams(), 64u);
}

TEST(Recipient, FloodBeyondTheTombstoneBoundRaisesTheWatermarkAndStillRefusesReplays) {
  // The bound reached (docs/SPEC.md, section 4b): with room for 4 streams and
  // 8 tombstones, a flood of 40 sessions dated ahead drops tombstones into
  // the watermark, so a new session dated before it is refused as `replay`
  // (the limit, as for suite 1), and no replay gets through.
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  OpenerOptions options;
  options.replay.max_streams = 4;
  options.replay.max_evicted_streams = 8;
  Opener opener = take(Opener::create(report_policy(), backend, options));
  Sealer honest = take(Sealer::create(report_policy(), device, at_now()));
  const std::vector<uint8_t> before = take(honest.seal(kTopic, bytes_of("before")));
  ASSERT_TRUE(opener.open(kTopic, before, Delivery{false, kNow}));
  const uint64_t ahead = kNow + opener.replay_guard().options().max_future_skew_ms;
  for (uint32_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(opener.open(kTopic, outsider_envelope(*backend, i, ahead - 40 + i), Delivery{false, kNow + 1 + i})) << i;
  }
  EXPECT_EQ(open_error(opener, kTopic, before), Errc::replay);
  EXPECT_EQ(open_error(opener, kTopic, outsider_envelope(*backend, 0, ahead - 40)), Errc::replay);
  Sealer newcomer = take(Sealer::create(report_policy(), device, at_now()));
  EXPECT_EQ(open_error(opener, kTopic, take(newcomer.seal(kTopic, bytes_of("new")))), Errc::replay);
  // Within the bound, the evicted streams' tombstones answer, not the watermark.
  OpenerOptions roomy = options;
  roomy.replay.max_evicted_streams = 64;
  Opener opener2 = take(Opener::create(report_policy(), backend, roomy));
  ASSERT_TRUE(opener2.open(kTopic, before, Delivery{false, kNow}));
  for (uint32_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(opener2.open(kTopic, outsider_envelope(*backend, i, ahead - 40 + i), Delivery{false, kNow + 1 + i})) << i;
  }
  EXPECT_EQ(open_error(opener2, kTopic, before), Errc::duplicate);
  EXPECT_TRUE(opener2.open(kTopic, take(newcomer.seal(kTopic, bytes_of("new"))), Delivery{false, kNow}));
  ReplayOptions bad;
  bad.max_evicted_streams = (size_t{1} << 24) + 1;
  EXPECT_FALSE(bad.validate());
}

TEST(Recipient, ASessionKeepsOpeningAcrossTopicsSizesAndCallerMemory) {
  // The receiver keeps XChaCha20's subkey per (session, topic, sender): a
  // stale one (another topic's) would fail authentication. Large payloads
  // take aead::open instead; caller memory too small is still refused.
  Scene s;
  const std::string topics[] = {kTopic, "plant/8/report", kTopic, kTopic, "plant/8/report"};
  const size_t sizes[] = {1, 64, 1023, 1024, 70000, 0, 64};
  for (int round = 0; round < 3; ++round) {
    for (const std::string& topic : topics) {
      for (const size_t size : sizes) {
        const std::vector<uint8_t> payload(size, static_cast<uint8_t>(size + round));
        const std::vector<uint8_t> env = take(s.sealer.seal(topic, payload));
        EXPECT_EQ(take(s.opener.open(topic, env, Delivery{false, kNow})).payload, payload) << topic << " " << size;
      }
    }
  }
  const std::vector<uint8_t> env = take(s.sealer.seal(kTopic, bytes_of("twelve bytes")));
  std::vector<uint8_t> out(11, 0xee);
  size_t size = 0;
  Opened opened;
  EXPECT_EQ(s.opener.open(kTopic, env, Delivery{false, kNow}, out.data(), out.size(), size, opened).error().code(),
            Errc::invalid_argument);
  EXPECT_EQ(out, std::vector<uint8_t>(11, 0));
  std::vector<uint8_t> altered = take(s.sealer.seal(kTopic, bytes_of("x")));
  altered.back() ^= 1;
  EXPECT_EQ(open_error(s.opener, kTopic, altered), Errc::authentication_failed);
}

TEST(Recipient, EndingTheSessionDrawsANewEphemeralKeyAndOldMessagesStillOpen) {
  Scene s;
  const std::vector<uint8_t> before = take(s.sealer.seal(kTopic, bytes_of("a")));
  const SenderId sender = s.sealer.sender();
  s.sealer.end_recipient_session();
  s.sealer.end_recipient_session();  // nothing to end: no effect
  const std::vector<uint8_t> after = take(s.sealer.seal(kTopic, bytes_of("b")));
  const EnvelopeHeader hb = take(parse_header(before));
  const EnvelopeHeader ha = take(parse_header(after));
  EXPECT_NE(hb.ephemeral, ha.ephemeral);  // the old key pair is gone
  EXPECT_EQ(ha.sender, sender);             // the sender ID and sequence carry on
  EXPECT_EQ(ha.sequence, hb.sequence + 1);
  EXPECT_EQ(take(s.opener.open(kTopic, before, Delivery{false, kNow})).payload, bytes_of("a"));
  EXPECT_EQ(take(s.opener.open(kTopic, after, Delivery{false, kNow})).payload, bytes_of("b"));
  // The next message stays in the new session.
  EXPECT_EQ(take(parse_header(take(s.sealer.seal(kTopic, bytes_of("c"))))).ephemeral, ha.ephemeral);
}

TEST(Recipient, AForkedChildDrawsItsOwnEphemeralKey) {
  Scene s;
  const EnvelopeHeader parent = take(parse_header(take(s.sealer.seal(kTopic, bytes_of("p")))));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Result<std::vector<uint8_t>> env = s.sealer.seal(kTopic, bytes_of("c"));
    if (env) (void)!write(fds[1], env->data() + kAssociatedHeaderSize, kEphemeralKeySize);
    _exit(env ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::array<uint8_t, kEphemeralKeySize> child{};
  ASSERT_EQ(read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  close(fds[0]);
  close(fds[1]);
  EXPECT_NE(child, parent.ephemeral);
}

TEST(Recipient, ARecipientKeyIdIsNoSignerKeyId) {
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  expect_ok(device->add_signing_key_with_id("plant-7", 0x5167a007, fixed_key(0x77)));
  expect_ok(backend->add_trusted_signer("plant-7", 0x5167a007, ByteView(take(device->public_key(0x5167a007)))));
  TopicPolicy policy = report_policy();
  expect_ok(policy.add_signed_rule("plant/{signer}/signed", "telemetry", {}));
  Sealer sealer = take(Sealer::create(policy, device, at_now()));
  Opener opener = take(Opener::create(policy, backend));
  std::vector<uint8_t> env = take(sealer.seal("plant/plant-7/signed", bytes_of("s")));
  ASSERT_TRUE(opener.open("plant/plant-7/signed", env, Delivery{false, kNow}));
  env[7] = 0xba, env[8] = 0xc3, env[9] = 0x00, env[10] = 0x01;  // signer_key_id := the recipient key's
  EXPECT_EQ(open_error(opener, "plant/plant-7/signed", env), Errc::unknown_signer);
}

TEST(Recipient, SessionEndsOnRotationAndAgeAndTheOldKeyStillOpens) {
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  uint64_t now = kNow;
  SealerOptions options = at_now(&now);
  options.recipient_session_max_age_ms = 1000;
  Sealer sealer = take(Sealer::create(report_policy(), device, options));
  Opener opener = take(Opener::create(report_policy(), backend));
  const std::vector<uint8_t> a = take(sealer.seal(kTopic, bytes_of("a")));
  now += 999;
  const std::vector<uint8_t> b = take(sealer.seal(kTopic, bytes_of("b")));
  now += 1;
  const std::vector<uint8_t> c = take(sealer.seal(kTopic, bytes_of("c")));
  EXPECT_EQ(take(parse_header(a)).ephemeral, take(parse_header(b)).ephemeral);
  EXPECT_NE(take(parse_header(b)).ephemeral, take(parse_header(c)).ephemeral);  // aged out
  // Rotation: a new recipient key pair on the backend, its public half on the device, promoted there.
  auto rotated_backend = std::make_shared<Keyring>(take(backend->clone()));
  expect_ok(rotated_backend->add_recipient_key_with_id("backend", kBackendKey2, fixed_key(0xb2)));
  auto rotated_device = std::make_shared<Keyring>(take(device->clone()));
  expect_ok(rotated_device->add_recipient_public("backend", kBackendKey2,
                                                 ByteView(take(rotated_backend->public_key(kBackendKey2)))));
  expect_ok(rotated_device->promote(kBackendKey2));
  const EnvelopeHeader before = take(parse_header(take(sealer.seal(kTopic, bytes_of("d")))));
  sealer.set_keyring(rotated_device);
  const std::vector<uint8_t> e = take(sealer.seal(kTopic, bytes_of("e")));
  EXPECT_EQ(take(parse_header(e)).key_id, kBackendKey2);
  EXPECT_NE(take(parse_header(e)).ephemeral, before.ephemeral);
  opener.set_keyring(rotated_backend);
  for (const auto* env : {&a, &b, &c, &e}) {
    EXPECT_TRUE(opener.open(kTopic, *env, Delivery{false, now})) << (env - &a);
  }
  // Retire the old key pair: what was sealed to it is key_retired.
  auto retired = std::make_shared<Keyring>(take(rotated_backend->clone()));
  expect_ok(retired->promote(kBackendKey2));
  expect_ok(retired->retire(kBackendKey));
  opener.set_keyring(retired);
  EXPECT_EQ(opener.recipient_sessions(), 0u);
  Result<Opened> old = opener.open(kTopic, a, Delivery{false, now});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), Errc::key_retired);
}

// An envelope of the sealing session of ephemeral secret `ephemeral` (every
// byte) sealed to kBackendKey in `recipient`, sender 0xaa..., at `sequence`.
std::vector<uint8_t> session_envelope(const Keyring& recipient, uint8_t ephemeral, uint64_t sequence,
                                      std::string_view payload) {
  SenderId sender;
  sender.fill(0xaa);
  return recipient_envelope(recipient, fixed_key(ephemeral), sender, sequence, kNow, payload);
}

TEST(Recipient, AnOpenRacingSetKeyringLeavesNoSessionOfTheOldKeyringInTheCache) {
  // The new keyring gives the recipient key ID another secret. An open that
  // took the old secret before set_keyring, and derived its session's keys
  // from it, must not put them in the cache after set_keyring cleared it:
  // they would open the old keyring's envelopes under the new keyring, and
  // fail the new keyring's envelopes of that ephemeral key.
  auto old_keys = backend_keys(0xb1);
  auto new_keys = backend_keys(0xb2);  // kBackendKey again, another secret
  Opener opener = take(Opener::create(report_policy(), old_keys));
  bool rotated = false;
  internal::ScopedSessionCommitProbe probe([&](Opener& opening) {
    if (&opening != &opener) return;
    if (!rotated) opener.set_keyring(new_keys);  // lands between the derivation and the commit
    rotated = true;
  });
  const std::vector<uint8_t> first = session_envelope(*old_keys, 0x5a, 1, "under the old keyring");
  const EnvelopeHeader h = take(parse_header(first));
  // Begun under the old keyring, judged under it: accepted (as any open in
  // flight when set_keyring returns), but not cached.
  EXPECT_EQ(take(opener.open(kTopic, first, Delivery{false, kNow})).payload, bytes_of("under the old keyring"));
  EXPECT_TRUE(rotated);
  EXPECT_FALSE(opener.recipient_session_cached(kBackendKey, h.ephemeral));
  EXPECT_EQ(opener.recipient_sessions(), 0u);
  // Under the new keyring: the same ephemeral key's envelope to the new
  // secret opens, the old secret's does not.
  const std::vector<uint8_t> to_new = session_envelope(*new_keys, 0x5a, 2, "under the new keyring");
  ASSERT_EQ(take(parse_header(to_new)).ephemeral, h.ephemeral);
  Result<Opened> fresh = opener.open(kTopic, to_new, Delivery{false, kNow});
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_EQ(fresh->payload, bytes_of("under the new keyring"));
  EXPECT_TRUE(opener.recipient_session_cached(kBackendKey, h.ephemeral));
  EXPECT_EQ(open_error(opener, kTopic, session_envelope(*old_keys, 0x5a, 3, "old")), Errc::authentication_failed);
}

TEST(Recipient, SealsAndOpensInCallerMemory) {
  Scene s;
  const std::vector<uint8_t> payload = bytes_of("caller memory");
  std::vector<uint8_t> buffer(payload.size() + kEnvelopeOverheadRecipient);
  size_t size = 0;
  Status small = s.sealer.seal(kTopic, payload, buffer.data(), buffer.size() - 1, size);
  EXPECT_FALSE(small);
  EXPECT_EQ(size, buffer.size());  // says what it needs
  expect_ok(s.sealer.seal(kTopic, payload, buffer.data(), buffer.size(), size));
  ASSERT_EQ(size, buffer.size());
  std::vector<uint8_t> out(payload.size());
  Opened opened;
  size_t opened_size = 0;
  expect_ok(s.opener.open(kTopic, ByteView(buffer.data(), size), Delivery{false, kNow}, out.data(), out.size(),
                          opened_size, opened));
  EXPECT_EQ(opened_size, payload.size());
  EXPECT_EQ(out, payload);
  EXPECT_EQ(opened.sequence, 0u);  // the refused attempt used no sequence number
}

TEST(Recipient, KeysInTheFileRoundTripAndExportOnlyThePublicHalf) {
  auto backend = backend_keys();
  const KeyId generated = take(backend->generate_recipient_key("archive"));
  std::string text = take(backend->serialize());
  EXPECT_NE(text.find("recipient-x25519 backend bac30001 primary " + std::string(64, 'b').replace(0, 64, "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1")),
            std::string::npos);
  Keyring parsed = take(Keyring::parse(text));
  EXPECT_EQ(take(parsed.serialize()), text);
  EXPECT_EQ(take(parsed.info(generated)).kind, KeyKind::recipient);
  const std::string exported = backend->export_public();
  EXPECT_EQ(exported.find("b1b1b1b1"), std::string::npos);
  EXPECT_EQ(exported.find("recipient-x25519"), std::string::npos);
  Keyring device = take(Keyring::parse(exported));
  EXPECT_EQ(take(device.info(kBackendKey)).kind, KeyKind::recipient_public);
  EXPECT_EQ(take(device.info(kBackendKey)).state, KeyState::primary);
  EXPECT_EQ(take(device.public_key(kBackendKey)), take(backend->public_key(kBackendKey)));
  EXPECT_EQ(take(device.serialize()), exported);
}

TEST(Recipient, MalformedRecipientLinesAreParseErrors) {
  auto backend = backend_keys();
  const std::string pk = [&] {
    const SignerPublicKey k = take(backend->public_key(kBackendKey));
    static const char* hex = "0123456789abcdef";
    std::string h;
    for (uint8_t b : k) h += std::string{hex[b >> 4], hex[b & 15]};
    return h;
  }();
  const std::string sk(32, 'x');
  const std::string secret = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";
  const std::string head = "mqseal-keyring v1\n";
  EXPECT_TRUE(Keyring::parse(head + "recipient-x25519 backend bac30001 primary " + secret + " " + pk + "\n"));
  EXPECT_TRUE(Keyring::parse(head + "recipient-public-x25519 backend bac30001 primary " + pk + "\n"));
  // The low-order points crypto_scalarmult refuses: 0, 1, and one of order 8.
  const std::string low_order[] = {std::string(64, '0'), "01" + std::string(62, '0'),
                                   "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"};
  const std::string bad[] = {
      "recipient-x25519 backend bac30001 primary " + secret + " " + pk.substr(0, 62),    // truncated public
      "recipient-x25519 backend bac30001 primary " + secret.substr(2) + " " + pk,        // truncated secret
      "recipient-x25519 backend bac30001 primary " + secret.substr(0, 62) + "b2 " + pk,  // altered secret
      "recipient-x25519 backend bac30001 primary " + secret + " " + pk.substr(0, 62) + (pk[62] == '0' ? "1" : "0") + pk.substr(63),
      "recipient-x25519 backend bac30001 primary " + secret,                             // a field short
      "recipient-x25519 backend bac30001 retired " + secret + " -",                      // retired with material
      "recipient-public-x25519 backend bac30001 primary " + pk + " extra",
      "recipient-public-x25519 backend bac30001 primary " + pk.substr(0, 63) + "g",
      "recipient-public-x25519 bad/name bac30001 primary " + pk,
      "recipient-public-x25519 backend 00000000 primary " + pk,
      "recipient-public-x25519 backend bac30001 primary " + low_order[0],
      "recipient-public-x25519 backend bac30001 primary " + low_order[1],
      "recipient-public-x25519 backend bac30001 primary " + low_order[2],
      "recipient-x448 backend bac30001 primary " + pk,
  };
  for (const std::string& line : bad) {
    Result<Keyring> r = Keyring::parse(head + line + "\n");
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().code(), Errc::parse_error) << line;
  }
  Result<Keyring> two = Keyring::parse(head + "recipient-public-x25519 backend bac30001 primary " + pk +
                                       "\nrecipient-public-x25519 backend bac30002 primary " + pk + "\n");
  EXPECT_FALSE(two);  // two primaries for one recipient
  Keyring keys;
  for (const std::string& low : low_order) {
    std::vector<uint8_t> bytes(32);
    for (size_t i = 0; i < 32; ++i) bytes[i] = static_cast<uint8_t>(std::stoi(low.substr(2 * i, 2), nullptr, 16));
    Status s = keys.add_recipient_public("backend", kBackendKey, ByteView(bytes));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::invalid_argument);
  }
  EXPECT_FALSE(keys.add_recipient_public("backend", kBackendKey, ByteView(std::vector<uint8_t>(31, 9))));
}

TEST(Recipient, PolicyFileNamesARecipient) {
  const std::string text =
      "[[rule]]\nfilter = \"plant/+/report\"\nrecipient = \"backend\"\n"
      "[[rule]]\nfilter = \"plant/+/audit\"\nrecipient = \"backend\"\nsuite = 3\nretained = \"refuse\"\n";
  TopicPolicy policy = take(parse_policy(text));
  ASSERT_EQ(policy.rules().size(), 2u);
  EXPECT_EQ(policy.rules()[0].suite, Suite::sealed_to_recipient);
  EXPECT_EQ(policy.rules()[0].key_name, "backend");
  TopicPolicy signed_sealed = take(parse_policy(
      "[[rule]]\nfilter = \"plant/{signer}/report\"\nrecipient = \"backend\"\nsigners = \"ops\"\nsuite = 4\n"));
  EXPECT_EQ(signed_sealed.rules()[0].suite, Suite::signed_sealed);
  EXPECT_EQ(signed_sealed.rules()[0].signers, std::vector<std::string>{"ops"});
  const std::string bad[] = {
      "[[rule]]\nfilter = \"a\"\nrecipient = \"backend\"\nkey = \"k\"\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"backend\"\nsuite = 2\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"backend\"\nsigners = \"x\"\nsuite = 3\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"backend\"\nsuite = 4\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = 3\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"bad/name\"\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 3\n",
  };
  for (const std::string& t : bad) {
    Result<TopicPolicy> r = parse_policy(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().code(), Errc::parse_error) << t;
  }
}

TEST(Recipient, NoRecipientKeyIsNoPrimaryKey) {
  auto device = std::make_shared<Keyring>();
  Sealer sealer = take(Sealer::create(report_policy(), device, at_now()));
  Result<std::vector<uint8_t>> r = sealer.seal(kTopic, bytes_of("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::no_primary_key);
}


// ---- suite 4: signed, then sealed to the recipient (docs/SPEC.md, section 4c) ----

constexpr KeyId kDevice7Sign = 0x5167a007;
constexpr KeyId kDevice8Sign = 0x5167a008;

struct SignedSealedScene {
  std::shared_ptr<Keyring> backend = backend_keys();
  std::shared_ptr<Keyring> device7 = device_keys(*backend);
  std::shared_ptr<Keyring> device8 = device_keys(*backend);
  TopicPolicy policy;
  bool ready = setup();
  Sealer sealer7 = take(Sealer::create(policy, device7, at_now()));
  Sealer sealer8 = take(Sealer::create(policy, device8, at_now()));
  Opener opener = take(Opener::create(policy, backend));

  bool setup() {
    expect_ok(device7->add_signing_key_with_id("plant-7", kDevice7Sign, fixed_key(0x77)));
    expect_ok(device8->add_signing_key_with_id("plant-8", kDevice8Sign, fixed_key(0x88)));
    expect_ok(backend->add_trusted_signer("plant-7", kDevice7Sign, ByteView(take(device7->public_key(kDevice7Sign)))));
    expect_ok(backend->add_trusted_signer("plant-8", kDevice8Sign, ByteView(take(device8->public_key(kDevice8Sign)))));
    expect_ok(policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {}));
    expect_ok(policy.add_recipient_rule("plant/+/report", "backend"));
    return true;
  }
};

TEST(SignedSealed, RoundTripNamesTheSignerOnlyInsideTheCiphertext) {
  SignedSealedScene s;
  const std::vector<uint8_t> env = take(s.sealer7.seal("plant/plant-7/private", bytes_of("secret reading")));
  ASSERT_EQ(env.size(), 14 + kEnvelopeOverheadSignedSealed);
  const EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.suite, kSuiteSignedSealed);
  EXPECT_EQ(h.key_id, kBackendKey);
  EXPECT_EQ(h.signer_key_id, 0u);  // not in clear
  const uint8_t id[4] = {0x51, 0x67, 0xa0, 0x07};
  EXPECT_EQ(std::search(env.begin(), env.end(), id, id + 4), env.end());
  Opened opened = take(s.opener.open("plant/plant-7/private", env, Delivery{false, kNow}));
  EXPECT_EQ(opened.payload, bytes_of("secret reading"));
  EXPECT_EQ(opened.signer, "plant-7");
  EXPECT_EQ(opened.signer_key_id, kDevice7Sign);
  EXPECT_EQ(s.opener.recipient_sessions(), 1u);
  // The device itself cannot open it (it holds only the public key).
  Opener stolen = take(Opener::create(s.policy, s.device7));
  EXPECT_EQ(open_error(stolen, "plant/plant-7/private", env), Errc::unknown_key);
  // Caller memory, exact size.
  std::vector<uint8_t> out(14);
  size_t size = 0;
  Opened into;
  const std::vector<uint8_t> next = take(s.sealer7.seal("plant/plant-7/private", bytes_of("secret reading")));
  expect_ok(s.opener.open("plant/plant-7/private", next, Delivery{false, kNow}, out.data(), out.size(), size, into));
  EXPECT_EQ(out, bytes_of("secret reading"));
  std::vector<uint8_t> sealed(14 + kEnvelopeOverheadSignedSealed);
  expect_ok(s.sealer8.seal("plant/plant-8/private", bytes_of("secret reading"), sealed.data(), sealed.size(), size));
  EXPECT_EQ(size, sealed.size());
}

// A retained publish carries the retain flag in suites 3 and 4 alike (signed,
// in suite 4, as the header is), so the broker's retained copy is judged by
// the retained rule, not refused by the live max_age an hour later.
TEST(SignedSealed, SealingAndOpeningInCallerMemoryAllocateNothing) {
  // Suite 4 signs signer ID || payload and seals it with the signature: that
  // inner message is built on the stack up to SignedSealedInner::kStackPayload
  // bytes of payload, on both sides, not in a heap buffer per message.
  SignedSealedScene s;
  const std::string topic = "plant/plant-7/private";
  const std::vector<uint8_t> payload(300, 0x5a);
  std::vector<uint8_t> sealed(payload.size() + kEnvelopeOverheadSignedSealed);
  std::vector<uint8_t> out(payload.size());
  size_t size = 0;
  Opened into;
  into.signer.reserve(64);
  for (int i = 0; i < 3; ++i) {  // the first message of the session derives and caches; then the steady state
    const size_t before_seal = t_allocations;
    expect_ok(s.sealer7.seal(topic, payload, sealed.data(), sealed.size(), size));
    const size_t seal_allocations = t_allocations - before_seal;
    const size_t before_open = t_allocations;
    expect_ok(s.opener.open(topic, sealed, Delivery{false, kNow}, out.data(), out.size(), size, into));
    const size_t open_allocations = t_allocations - before_open;
    EXPECT_EQ(out, payload);
    if (i > 0) {
      EXPECT_EQ(seal_allocations, 0u) << i;
      EXPECT_EQ(open_allocations, 0u) << i;
    }
  }
  // Above the stack's room, the same bytes through a heap buffer.
  const std::vector<uint8_t> large(internal::SignedSealedInner::kStackPayload + 1, 0xa5);
  const std::vector<uint8_t> env = take(s.sealer7.seal(topic, large));
  EXPECT_EQ(take(s.opener.open(topic, env, Delivery{false, kNow})).payload, large);
}

TEST(SignedSealed, RetainedPublishIsSealedRetainedAndOpensByTheRetainedRule) {
  constexpr uint64_t kHourMs = 3600ull * 1000;
  RetainedRule day;
  day.policy = RetainedPolicy::accept_within_age;
  day.max_age_ms = 24 * kHourMs;
  auto backend = backend_keys();
  auto device = device_keys(*backend);
  expect_ok(device->add_signing_key_with_id("plant-7", kDevice7Sign, fixed_key(0x77)));
  expect_ok(backend->add_trusted_signer("plant-7", kDevice7Sign, ByteView(take(device->public_key(kDevice7Sign)))));
  TopicPolicy policy;
  expect_ok(policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {}, day));
  expect_ok(policy.add_recipient_rule("plant/+/report", "backend", day));
  Sealer sealer = take(Sealer::create(policy, device, at_now()));
  Opener opener = take(Opener::create(policy, backend));
  for (const char* topic : {"plant/plant-7/report", "plant/plant-7/private"}) {
    SCOPED_TRACE(topic);
    const std::vector<uint8_t> env = take(sealer.seal(topic, bytes_of("last state"), Publish::retained));
    EXPECT_EQ(take(parse_header(env)).flags, kFlagRetain);
    Result<Opened> r = opener.open(topic, env, Delivery{true, kNow + kHourMs});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->retained);
    EXPECT_EQ(r->payload, bytes_of("last state"));
  }
}

TEST(SignedSealed, AnOpenRacingSetKeyringLeavesNoSessionOfTheOldKeyringInTheCache) {
  // As Recipient.AnOpenRacingSetKeyring...: suite 4 commits its session
  // after the signature too.
  SignedSealedScene s;
  auto rotated_keys = backend_keys(0xb2);  // kBackendKey again, another secret
  expect_ok(rotated_keys->add_trusted_signer("plant-7", kDevice7Sign, ByteView(take(s.device7->public_key(kDevice7Sign)))));
  bool rotated = false;
  internal::ScopedSessionCommitProbe probe([&](Opener& opening) {
    if (&opening != &s.opener) return;
    if (!rotated) s.opener.set_keyring(rotated_keys);
    rotated = true;
  });
  const std::string topic = "plant/plant-7/private";
  const std::vector<uint8_t> first = take(s.sealer7.seal(topic, bytes_of("a")));
  const std::vector<uint8_t> second = take(s.sealer7.seal(topic, bytes_of("b")));  // the same session
  const EnvelopeHeader h = take(parse_header(first));
  ASSERT_EQ(take(parse_header(second)).ephemeral, h.ephemeral);
  Opened opened = take(s.opener.open(topic, first, Delivery{false, kNow}));
  EXPECT_EQ(opened.payload, bytes_of("a"));
  EXPECT_EQ(opened.signer, "plant-7");
  EXPECT_TRUE(rotated);
  EXPECT_FALSE(s.opener.recipient_session_cached(kBackendKey, h.ephemeral));
  // Sealed to the old secret: refused under the new keyring.
  EXPECT_EQ(open_error(s.opener, topic, second), Errc::authentication_failed);
  EXPECT_EQ(s.opener.recipient_sessions(), 0u);
}

// Suite 4 as suite 2 (SignedSender.ARefusalNamesOnlyAVerifiedSigner): a
// refusal after the signature inside verified names its signer in the
// Opened& left behind; a signature that does not verify names none.
TEST(SignedSealed, ARefusalNamesOnlyAVerifiedSigner) {
  SignedSealedScene s;
  TopicPolicy forging;  // plant-7's own policy: it may sign on any level
  expect_ok(forging.add_signed_recipient_rule("plant/+/private", "backend", {"plant-7"}));
  Sealer thief = take(Sealer::create(forging, s.device7, at_now()));
  Opened out;
  auto refusal = [&](const std::vector<uint8_t>& env) {
    Status st = s.opener.open("plant/plant-8/private", env, Delivery{false, kNow}, out);
    if (st) return static_cast<Errc>(0);
    EXPECT_TRUE(out.payload.empty());
    return st.error().code();
  };
  EXPECT_EQ(refusal(take(thief.seal("plant/plant-8/private", bytes_of("open the door")))), Errc::unauthorized_signer);
  EXPECT_EQ(out.signer, "plant-7");
  EXPECT_EQ(out.signer_key_id, kDevice7Sign);
  const std::vector<uint8_t> good = take(s.sealer8.seal("plant/plant-8/private", bytes_of("reading")));
  EXPECT_EQ(refusal(good), static_cast<Errc>(0));
  EXPECT_EQ(refusal(good), Errc::duplicate);
  EXPECT_EQ(out.signer, "plant-8");
  // The AEAD passes (anyone holding the backend's public key can seal), the
  // signature inside, by plant-7's key, does not verify as plant-8's.
  std::vector<uint8_t> claimed;
  {
    const SignerPublicKey backend_public = take(s.backend->public_key(kBackendKey));
    EnvelopeHeader h;
    h.suite = kSuiteSignedSealed;
    h.key_id = kBackendKey;
    h.timestamp_ms = kNow;
    h.sender.fill(0x42);
    uint8_t session_key[kKeySize], topic_key[kKeySize];
    expect_ok(hazmat::derive_recipient_keys(fixed_key(0x42), ByteView(backend_public), "plant/plant-8/private",
                                            h.ephemeral.data(), session_key, topic_key));
    std::vector<uint8_t> inner(kSignedSealedInnerSize + 4, 0x5a);  // a signature of nothing
    for (int i = 0; i < 4; ++i) inner[static_cast<size_t>(i)] = static_cast<uint8_t>(kDevice8Sign >> (24 - 8 * i));
    expect_ok(hazmat::seal_with_header(topic_key, "plant/plant-8/private", h, inner, claimed));
  }
  EXPECT_EQ(refusal(claimed), Errc::authentication_failed);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(out.signer_key_id, 0u);
}

TEST(SignedSealed, OnlyAuthorisedVerifiedSignersAndNoStateFromForgeries) {
  SignedSealedScene s;
  // plant-7 cannot seal under plant-8's level (refused before sealing), nor
  // its envelope be moved there.
  Result<std::vector<uint8_t>> wrong = s.sealer7.seal("plant/plant-8/private", bytes_of("x"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::unauthorized_signer);
  const std::vector<uint8_t> env = take(s.sealer7.seal("plant/plant-7/private", bytes_of("x")));
  EXPECT_EQ(open_error(s.opener, "plant/plant-8/private", env), Errc::authentication_failed);
  // Anyone with the backend's public key passes the AEAD: a forged inner part.
  const SignerPublicKey backend_public = take(s.backend->public_key(kBackendKey));
  auto forge = [&](uint8_t eph, KeyId signer, const std::string& topic) {
    EnvelopeHeader h;
    h.suite = kSuiteSignedSealed;
    h.key_id = kBackendKey;
    h.timestamp_ms = kNow;
    h.sender.fill(eph);
    uint8_t session_key[kKeySize], topic_key[kKeySize];
    expect_ok(hazmat::derive_recipient_keys(fixed_key(eph), ByteView(backend_public), topic, h.ephemeral.data(),
                                            session_key, topic_key));
    std::vector<uint8_t> inner(kSignedSealedInnerSize + 4, 0x5a);
    inner[0] = static_cast<uint8_t>(signer >> 24), inner[1] = static_cast<uint8_t>(signer >> 16);
    inner[2] = static_cast<uint8_t>(signer >> 8), inner[3] = static_cast<uint8_t>(signer);
    std::vector<uint8_t> out;
    expect_ok(hazmat::seal_with_header(topic_key, topic, h, inner, out));
    return out;
  };
  for (uint8_t eph = 1; eph <= 20; ++eph) {
    EXPECT_EQ(open_error(s.opener, "plant/plant-7/private", forge(eph, kDevice7Sign, "plant/plant-7/private")),
              Errc::authentication_failed);
  }
  EXPECT_EQ(open_error(s.opener, "plant/plant-7/private", forge(21, 0x12345678, "plant/plant-7/private")),
            Errc::unknown_signer);
  EXPECT_EQ(open_error(s.opener, "plant/plant-7/private", forge(22, kBackendKey, "plant/plant-7/private")),
            Errc::unknown_signer);  // an X25519 key's ID is no signer
  EXPECT_EQ(s.opener.recipient_sessions(), 0u);  // nothing that failed the signature entered the cache
  // Suite 3 on the suite 4 rule and back: no downgrade.
  const std::vector<uint8_t> suite3 = take(s.sealer7.seal("plant/7/report", bytes_of("x")));
  EXPECT_EQ(open_error(s.opener, "plant/plant-7/private", suite3), Errc::wrong_suite_for_topic);
  EXPECT_EQ(open_error(s.opener, "plant/7/report", env), Errc::wrong_suite_for_topic);
  // A revoked signer.
  auto revoked = std::make_shared<Keyring>(take(s.backend->clone()));
  expect_ok(revoked->retire(kDevice7Sign));
  Opener after = take(Opener::create(s.policy, revoked));
  EXPECT_EQ(open_error(after, "plant/plant-7/private", env), Errc::key_retired);
  EXPECT_TRUE(s.opener.open("plant/plant-7/private", env, Delivery{false, kNow}));
}

// Thread safety (sealer.h, opener.h): one Sealer and one Opener shared by
// threads sealing and opening every suite (1, 2, 3, 4 and compact), while
// another thread hands both new keyrings (the same keys), ends the Sealer's
// recipient session and reads what both expose. Every message seals and
// opens. Under ThreadSanitizer, a race on any of their caches or sessions
// is a report.
TEST(SignedSealed, EverySuiteSealsAndOpensFromThreadsWhileBothSidesSwapKeyrings) {
  SignedSealedScene s;
  TopicPolicy policy;
  expect_ok(policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {}));
  expect_ok(policy.add_recipient_rule("plant/+/report", "backend"));
  expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  expect_ok(policy.add_signed_rule("plant/{signer}/signed", "telemetry", {}));
  expect_ok(policy.add_compact_rule("plant/+/compact", "telemetry"));
  Sealer sealer = take(Sealer::create(policy, s.device7, at_now()));
  Opener opener = take(Opener::create(policy, s.backend));
  const std::vector<std::string> topics = {"plant/plant-7/private", "plant/7/report", "plant/7/telemetry",
                                           "plant/plant-7/signed", "plant/7/compact"};
  constexpr int kThreads = 3;
  constexpr int kRounds = 60;
  std::atomic<int> failures{0};
  std::atomic<int> opened{0};
  std::atomic<bool> done{false};
  std::thread rotate([&] {
    while (!done.load()) {
      sealer.set_keyring(std::make_shared<Keyring>(take(s.device7->clone())));
      opener.set_keyring(std::make_shared<Keyring>(take(s.backend->clone())));
      sealer.end_recipient_session();
      (void)sealer.sender();
      (void)opener.recipient_sessions();
      (void)opener.replay_guard().tracked_streams();
      if (!sealer.sealed_size(topics[0], 1)) ++failures;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Opened out;
      std::vector<uint8_t> env;
      for (int r = 0; r < kRounds; ++r) {
        for (const std::string& topic : topics) {
          const std::string payload = std::to_string(t) + "/" + std::to_string(r);
          Status st = sealer.seal(topic, bytes_of(payload), env);
          if (st) st = opener.open(topic, env, Delivery{false, kNow}, out);
          if (!st) {
            ++failures;
            ADD_FAILURE() << topic << ": " << st.error().message();
          } else if (out.payload == bytes_of(payload)) {
            ++opened;
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  done = true;
  rotate.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(opened.load(), kThreads * kRounds * static_cast<int>(topics.size()));
}

}  // namespace
}  // namespace mqseal
