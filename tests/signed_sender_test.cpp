// Suite 2, signed sender with publisher authorisation (docs/SPEC.md, sections
// 1, 2a, 4a, 6 and 8): keys, policy, Sealer and Opener together.
#include <mqseal/hazmat/envelope.h>
#include <mqseal/opener.h>
#include <mqseal/sealer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::expect_ok;
using testing::take;

constexpr uint64_t kNow = 1767225600000;  // 2026-01-01
constexpr KeyId kTelemetryId = 0x7e1e0001;
constexpr KeyId kDevice7Sign = 0x5167a007;
constexpr KeyId kDevice8Sign = 0x5167a008;
constexpr KeyId kBackendSign = 0x5167bac0;

Key fixed_key(uint8_t byte) { return take(Key::from_bytes(std::vector<uint8_t>(kKeySize, byte))); }

// Every rule kind: each device under its own level; a topic two devices may
// both publish on; commands only from the backend; a suite 1 rule.
TopicPolicy fleet_policy() {
  TopicPolicy policy;
  expect_ok(policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", {}));
  expect_ok(policy.add_signed_rule("plant/alerts", "telemetry", {"plant-7", "plant-8"}));
  expect_ok(policy.add_signed_rule("plant/+/cmd/#", "telemetry", {"backend"}));
  expect_ok(policy.add_rule("legacy/#", "telemetry"));
  return policy;
}

std::shared_ptr<Keyring> device_keys(std::string_view signer, KeyId sign_id, uint8_t seed_byte) {
  auto keys = std::make_shared<Keyring>();
  expect_ok(keys->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  expect_ok(keys->add_signing_key_with_id(signer, sign_id, fixed_key(seed_byte)));
  return keys;
}

// Adds every public key `from` exports to `to`, through the exported text.
void trust(Keyring& to, const Keyring& from) {
  Keyring exported = take(Keyring::parse(from.export_public()));
  for (const KeyInfo& k : exported.list()) {
    ASSERT_EQ(k.kind, KeyKind::trusted_signer);
    ASSERT_TRUE(k.public_key.has_value());
    expect_ok(to.add_trusted_signer(k.name, k.id, ByteView(*k.public_key)));
  }
}

struct Fleet {
  std::shared_ptr<Keyring> device7 = device_keys("plant-7", kDevice7Sign, 0x77);
  std::shared_ptr<Keyring> device8 = device_keys("plant-8", kDevice8Sign, 0x88);
  std::shared_ptr<Keyring> backend_keys = device_keys("backend", kBackendSign, 0xba);
  bool trusted = trust_devices();
  Clock clock = [] { return kNow; };
  Sealer sealer7 = take(Sealer::create(fleet_policy(), device7, SealerOptions{kDefaultTopicCacheCapacity, clock, {}}));
  Sealer sealer8 = take(Sealer::create(fleet_policy(), device8, SealerOptions{kDefaultTopicCacheCapacity, clock, {}}));
  Opener backend = make_backend();

  bool trust_devices() {
    trust(*backend_keys, *device7);
    trust(*backend_keys, *device8);
    return true;
  }
  Opener make_backend(OpenerOptions options = {}) {
    return take(Opener::create(fleet_policy(), backend_keys, options));
  }
};

Errc open_error(Opener& opener, std::string_view topic, const std::vector<uint8_t>& env, uint64_t now = kNow) {
  Result<Opened> r = opener.open(topic, env, Delivery{false, now});
  return r ? static_cast<Errc>(0) : r.error().code();
}

// A suite 2 envelope with a chosen header, signed by `signer_keys`' key pair
// header.signer_key_id names: what a stolen device can make.
std::vector<uint8_t> forge(const Keyring& signer_keys, std::string_view topic, EnvelopeHeader h,
                           std::string_view payload = "x") {
  Key telemetry = fixed_key(0x11);
  uint8_t topic_key[kKeySize];
  expect_ok(hazmat::derive_topic_key(telemetry, topic, topic_key));
  std::vector<uint8_t> env;
  expect_ok(hazmat::seal_signed_with_header(topic_key, topic, h, payload, signer_keys, env));
  return env;
}

EnvelopeHeader signed_header(KeyId signer, SenderId sender, uint64_t sequence, uint64_t timestamp = kNow) {
  EnvelopeHeader h;
  h.suite = kSuiteSignedSender;
  h.key_id = kTelemetryId;
  h.signer_key_id = signer;
  h.sender = sender;
  h.sequence = sequence;
  h.timestamp_ms = timestamp;
  return h;
}

TEST(SignedSender, OpensWithTheVerifiedSignerAndItsOverhead) {
  Fleet f;
  std::vector<uint8_t> env = take(f.sealer7.seal("plant/plant-7/telemetry", std::string_view("21.5")));
  EXPECT_EQ(env.size(), 4 + kEnvelopeOverheadSigned);
  EXPECT_EQ(kEnvelopeOverheadSigned, 123u);
  EXPECT_EQ(env[1], kSuiteSignedSender);
  Opened o = take(f.backend.open("plant/plant-7/telemetry", env, Delivery{false, kNow}));
  EXPECT_EQ(o.payload, testing::bytes_of("21.5"));
  EXPECT_EQ(o.signer, "plant-7");
  EXPECT_EQ(o.signer_key_id, kDevice7Sign);
  EXPECT_TRUE(o.sealed);
  const EnvelopeHeader h = take(parse_header(env));
  EXPECT_EQ(h.signer_key_id, kDevice7Sign);
  EXPECT_EQ(h.key_id, kTelemetryId);
}

// Into caller memory (what the Python binding does): suite 1's size is too
// small for the signature; the call says how much it needs and leaves the
// memory zeroed; that much holds an envelope that opens.
TEST(SignedSender, SealsIntoCallerMemoryOnlyWithRoomForTheSignature) {
  Fleet f;
  const std::string_view reading = "21.5";
  std::vector<uint8_t> out(sealed_size(reading.size()), 0xee);
  size_t size = 0;
  EXPECT_EQ(f.sealer7.seal("plant/plant-7/telemetry", reading, out.data(), out.size(), size).error(),
            Errc::invalid_argument);
  EXPECT_EQ(size, reading.size() + kEnvelopeOverheadSigned);
  EXPECT_EQ(std::count(out.begin(), out.end(), 0), static_cast<long>(out.size()));
  out.assign(size, 0xee);
  expect_ok(f.sealer7.seal("plant/plant-7/telemetry", reading, out.data(), out.size(), size));
  ASSERT_EQ(size, out.size());
  Opened o = take(f.backend.open("plant/plant-7/telemetry", out, Delivery{false, kNow}));
  EXPECT_EQ(std::string(o.payload.begin(), o.payload.end()), reading);
  EXPECT_EQ(o.signer, "plant-7");
  EXPECT_EQ(o.sequence, 0u);  // the refused attempt used no sequence number
}

TEST(SignedSender, EveryDeviceOnlyUnderItsOwnLevel) {
  Fleet f;
  // The sealer refuses before signing: no signature of it exists.
  Result<std::vector<uint8_t>> refused = f.sealer7.seal("plant/plant-8/telemetry", std::string_view("1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::unauthorized_signer);
  // A stolen device's own valid signature on another device's topic.
  const SenderId s{7};
  EXPECT_EQ(open_error(f.backend, "plant/plant-8/telemetry", forge(*f.device7, "plant/plant-8/telemetry",
                                                                  signed_header(kDevice7Sign, s, 0))),
            Errc::unauthorized_signer);
  // Commands: only the backend.
  EXPECT_EQ(open_error(f.backend, "plant/plant-7/cmd/valve",
                       forge(*f.device7, "plant/plant-7/cmd/valve", signed_header(kDevice7Sign, s, 1))),
            Errc::unauthorized_signer);
  // Listed signers: both devices on plant/alerts.
  EXPECT_TRUE(f.backend.open("plant/alerts", take(f.sealer7.seal("plant/alerts", std::string_view("a"))),
                             Delivery{false, kNow}));
  EXPECT_TRUE(f.backend.open("plant/alerts", take(f.sealer8.seal("plant/alerts", std::string_view("b"))),
                             Delivery{false, kNow}));
}

TEST(SignedSender, ForgingAsAnotherSignerFails) {
  Fleet f;
  // Device 7 holds the topic key and its own signing key; it names device 8's
  // signing key in the header. Signed by 7, so 8's public key does not verify.
  std::vector<uint8_t> env = forge(*f.device7, "plant/plant-8/telemetry", signed_header(kDevice7Sign, SenderId{7}, 0));

  env[7] = static_cast<uint8_t>(kDevice8Sign >> 24);
  env[8] = static_cast<uint8_t>(kDevice8Sign >> 16);
  env[9] = static_cast<uint8_t>(kDevice8Sign >> 8);
  env[10] = static_cast<uint8_t>(kDevice8Sign);
  EXPECT_EQ(take(parse_header(env)).signer_key_id, kDevice8Sign);
  EXPECT_EQ(open_error(f.backend, "plant/plant-8/telemetry", env), Errc::authentication_failed);
}

// A refusal after the signature verified names the verified signer in the
// Opened& it leaves (what the Paho adapters and the Python binding report);
// a refusal before, or of a signature that does not verify, names none, even
// in an Opened that held a signer from the message before.
TEST(SignedSender, ARefusalNamesOnlyAVerifiedSigner) {
  Fleet f;
  const std::string topic7 = "plant/plant-7/telemetry";
  const std::string topic8 = "plant/plant-8/telemetry";
  Opened out;
  auto refusal = [&](const std::string& topic, const std::vector<uint8_t>& env, uint64_t now = kNow) {
    Status s = f.backend.open(topic, env, Delivery{false, now}, out);
    if (s) return static_cast<Errc>(0);
    EXPECT_TRUE(out.payload.empty());
    EXPECT_FALSE(out.sealed);
    return s.error().code();
  };
  // Device 7's own valid signature on device 8's topic.
  EXPECT_EQ(refusal(topic8, forge(*f.device7, topic8, signed_header(kDevice7Sign, SenderId{7}, 0))),
            Errc::unauthorized_signer);
  EXPECT_EQ(out.signer, "plant-7");
  EXPECT_EQ(out.signer_key_id, kDevice7Sign);
  // Replay state is judged after the signature: a duplicate, an expired message.
  const std::vector<uint8_t> good = take(f.sealer8.seal(topic8, std::string_view("21.5")));
  EXPECT_EQ(refusal(topic8, good), static_cast<Errc>(0));
  EXPECT_EQ(refusal(topic8, good), Errc::duplicate);
  EXPECT_EQ(out.signer, "plant-8");
  const std::vector<uint8_t> late = take(f.sealer8.seal(topic8, std::string_view("21.6")));
  constexpr uint64_t kHourLater = kNow + 3'600'000;
  EXPECT_EQ(refusal(topic8, late, kHourLater), Errc::expired);
  EXPECT_EQ(out.signer, "plant-8");
  EXPECT_EQ(out.signer_key_id, kDevice8Sign);
  // A signature that does not verify: device 8's envelope, one signature byte altered.
  std::vector<uint8_t> altered = take(f.sealer8.seal(topic8, std::string_view("21.7")));
  altered.back() ^= 0x01;
  EXPECT_EQ(refusal(topic8, altered), Errc::authentication_failed);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(out.signer_key_id, 0u);
  // Device 7 naming device 8's signing key: the envelope claims plant-8.
  auto naming = [](std::vector<uint8_t> env, KeyId signer) {
    for (int i = 0; i < 4; ++i) env[7 + i] = static_cast<uint8_t>(signer >> (24 - 8 * i));
    return env;
  };
  const std::vector<uint8_t> claimed =
      naming(forge(*f.device7, topic8, signed_header(kDevice7Sign, SenderId{7}, 1)), kDevice8Sign);
  EXPECT_EQ(refusal(topic8, late, kHourLater), Errc::expired);  // `out` names plant-8 again
  EXPECT_EQ(refusal(topic8, claimed), Errc::authentication_failed);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(out.signer_key_id, 0u);
  // Refused before any signature: an unknown signer, a suite 1 envelope.
  EXPECT_EQ(refusal(topic8, late, kHourLater), Errc::expired);
  EXPECT_EQ(refusal(topic7, naming(forge(*f.device7, topic7, signed_header(kDevice7Sign, SenderId{7}, 2)), 0x12345678)),
            Errc::unknown_signer);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(refusal(topic8, late, kHourLater), Errc::expired);
  EXPECT_EQ(refusal(topic7, take(f.sealer7.seal("legacy/a", std::string_view("x")))), Errc::wrong_suite_for_topic);
  EXPECT_EQ(out.signer, "");
  // Into caller memory, the same.
  std::vector<uint8_t> payload(16);
  size_t size = 0;
  EXPECT_EQ(f.backend.open(topic8, good, Delivery{false, kNow}, payload.data(), payload.size(), size, out).error(),
            Errc::duplicate);
  EXPECT_EQ(out.signer, "plant-8");
  EXPECT_EQ(f.backend.open(topic8, claimed, Delivery{false, kNow}, payload.data(), payload.size(), size, out).error(),
            Errc::authentication_failed);
  EXPECT_EQ(out.signer, "");
}

// An envelope that lives in the output buffer is refused before anything is
// opened: `out`, left from a signed message opened before, names no signer
// and is not `sealed`, and the buffer, which holds the envelope, is left as
// it was (both overloads).
TEST(SignedSender, AnEnvelopeInTheOutputBufferLeavesNoSignerBehind) {
  Fleet f;
  const std::string topic8 = "plant/plant-8/telemetry";
  Opened out;
  auto opened_signed = [&] {
    expect_ok(f.backend.open(topic8, take(f.sealer8.seal(topic8, std::string_view("21.5"))), Delivery{false, kNow}, out));
    ASSERT_EQ(out.signer, "plant-8");
    ASSERT_TRUE(out.sealed);
  };
  opened_signed();
  std::vector<uint8_t> inside = take(f.sealer8.seal(topic8, std::string_view("a longer reading, 22.0 C")));
  out.payload = inside;  // the next envelope lives in out.payload
  out.sealed = true;
  EXPECT_EQ(f.backend.open(topic8, ByteView(out.payload), Delivery{false, kNow}, out).error(), Errc::invalid_argument);
  EXPECT_EQ(out.payload, inside);
  EXPECT_FALSE(out.sealed);
  EXPECT_FALSE(out.retained);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(out.signer_key_id, 0u);

  opened_signed();
  std::vector<uint8_t> buffer = inside;  // the envelope in the caller's own buffer
  size_t size = 0;
  EXPECT_EQ(f.backend.open(topic8, ByteView(buffer), Delivery{false, kNow}, buffer.data(), buffer.size(), size, out)
                .error(),
            Errc::invalid_argument);
  EXPECT_EQ(buffer, inside);
  EXPECT_FALSE(out.sealed);
  EXPECT_EQ(out.signer, "");
  EXPECT_EQ(out.signer_key_id, 0u);
}

TEST(SignedSender, AlteredOrMisSizedSignaturesAreRefused) {
  Fleet f;
  const std::string topic = "plant/plant-7/telemetry";
  const std::vector<uint8_t> good = take(f.sealer7.seal(topic, std::string_view("payload")));
  for (size_t i = good.size() - kSignatureSize; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    EXPECT_EQ(open_error(f.backend, topic, bad), Errc::authentication_failed) << i;
  }
  // Every shorter envelope: a signature cut short (or any byte lost) never opens.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const Errc e = open_error(f.backend, topic, cut);
    EXPECT_TRUE(e == Errc::malformed || e == Errc::authentication_failed) << n << " " << name(e);
  }
  // Longer signatures: 1 to 64 extra bytes.
  for (size_t extra = 1; extra <= kSignatureSize; ++extra) {
    std::vector<uint8_t> longer = good;
    longer.insert(longer.end(), extra, 0);
    EXPECT_EQ(open_error(f.backend, topic, longer), Errc::authentication_failed) << extra;
  }
  // Nothing was accepted or tracked along the way: the real one still opens.
  EXPECT_EQ(f.backend.replay_guard().tracked_streams(), 0u);
  EXPECT_TRUE(f.backend.open(topic, good, Delivery{false, kNow}));
}

TEST(SignedSender, NoDowngradeEitherWay) {
  Fleet f;
  // Suite 1 under the topic key on a signed rule.
  Key telemetry = fixed_key(0x11);
  uint8_t topic_key[kKeySize];
  expect_ok(hazmat::derive_topic_key(telemetry, "plant/plant-7/telemetry", topic_key));
  EnvelopeHeader h1;
  h1.key_id = kTelemetryId;
  h1.timestamp_ms = kNow;
  std::vector<uint8_t> suite1;
  expect_ok(hazmat::seal_with_header(topic_key, "plant/plant-7/telemetry", h1, std::string_view("x"), suite1));
  EXPECT_EQ(open_error(f.backend, "plant/plant-7/telemetry", suite1), Errc::wrong_suite_for_topic);
  // Suite 2 on a suite 1 rule.
  EXPECT_EQ(open_error(f.backend, "legacy/a", forge(*f.device7, "legacy/a", signed_header(kDevice7Sign, SenderId{7}, 0))),
            Errc::wrong_suite_for_topic);
  // The sealer writes suite 1 there, unsigned.
  std::vector<uint8_t> legacy = take(f.sealer7.seal("legacy/a", std::string_view("x")));
  EXPECT_EQ(legacy[1], kSuiteXChaCha20Poly1305);
  EXPECT_EQ(take(f.backend.open("legacy/a", legacy, Delivery{false, kNow})).signer, "");
}

TEST(SignedSender, AStolenDeviceCannotTakeOverAnotherDevicesStream) {
  Fleet f;
  const SenderId device8_sender = f.sealer8.sender();
  // Device 7, stolen, signs as itself (all it can) with device 8's session ID
  // and a huge sequence number, on a topic both may publish on.
  std::vector<uint8_t> takeover = forge(*f.device7, "plant/alerts", signed_header(kDevice7Sign, device8_sender, UINT64_MAX - 1));
  EXPECT_TRUE(f.backend.open("plant/alerts", takeover, Delivery{false, kNow}));
  // Device 8's real messages on the same topic, from sequence 0: unaffected.
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> real = take(f.sealer8.seal("plant/alerts", std::string_view("real")));
    EXPECT_EQ(open_error(f.backend, "plant/alerts", real), static_cast<Errc>(0)) << i;
  }
}

TEST(SignedSender, AFloodFromOneSignerLeavesAnotherSignersStreams) {
  Fleet f;
  OpenerOptions options;
  options.replay.max_streams = 4;
  Opener backend = f.make_backend(options);
  std::vector<uint8_t> first = take(f.sealer8.seal("plant/alerts", std::string_view("8")));
  ASSERT_TRUE(backend.open("plant/alerts", first, Delivery{false, kNow}));
  // Device 7 makes 64 sessions with rising timestamps: its own partition's
  // table overflows and its watermark rises; device 8's does not.
  for (uint8_t i = 0; i < 64; ++i) {
    SenderId s{};
    s[0] = i;
    s[1] = 0x77;
    ASSERT_TRUE(backend.open("plant/alerts", forge(*f.device7, "plant/alerts", signed_header(kDevice7Sign, s, 0, kNow + 1 + i)),
                             Delivery{false, kNow}));
  }
  EXPECT_EQ(backend.replay_guard().signer_watermark_ms("plant-8"), 0u);
  EXPECT_GT(backend.replay_guard().signer_watermark_ms("plant-7"), 0u);
  std::vector<uint8_t> next = take(f.sealer8.seal("plant/alerts", std::string_view("8")));
  EXPECT_EQ(open_error(backend, "plant/alerts", next), static_cast<Errc>(0));
}

TEST(SignedSender, UnknownSignersCreateNoState) {
  Fleet f;
  std::mt19937 rng(7);
  const std::vector<uint8_t> good = take(f.sealer7.seal("plant/plant-7/telemetry", std::string_view("t")));
  for (int i = 0; i < 5000; ++i) {
    std::vector<uint8_t> env = good;
    const uint32_t id = static_cast<uint32_t>(rng());
    if (id == kDevice7Sign || id == kDevice8Sign || id == kBackendSign || id == kTelemetryId) continue;
    for (int b = 0; b < 4; ++b) env[7 + b] = static_cast<uint8_t>(id >> (24 - 8 * b));
    env[15 + (i % 8)] ^= static_cast<uint8_t>(i);  // and other header bytes: all fresh
    ASSERT_EQ(open_error(f.backend, "plant/plant-7/telemetry", env), Errc::unknown_signer) << i;
  }
  std::vector<uint8_t> zero = good;
  for (int b = 0; b < 4; ++b) zero[7 + b] = 0;
  EXPECT_EQ(open_error(f.backend, "plant/plant-7/telemetry", zero), Errc::unknown_signer);
  // The symmetric key's ID is not a signer's.
  std::vector<uint8_t> sym = good;
  for (int b = 0; b < 4; ++b) sym[7 + b] = static_cast<uint8_t>(kTelemetryId >> (24 - 8 * b));
  EXPECT_EQ(open_error(f.backend, "plant/plant-7/telemetry", sym), Errc::unknown_signer);
  EXPECT_EQ(f.backend.replay_guard().tracked_streams(), 0u);
  EXPECT_TRUE(f.backend.open("plant/plant-7/telemetry", good, Delivery{false, kNow}));
}

TEST(SignedSender, ASigningKeyIsNeverUsedAsATopicKey) {
  Fleet f;
  // An envelope whose symmetric key_id names the device's signing key pair:
  // the seed must never be taken for a topic key.
  std::vector<uint8_t> env = take(f.sealer7.seal("plant/plant-7/telemetry", std::string_view("t")));
  for (int b = 0; b < 4; ++b) env[3 + b] = static_cast<uint8_t>(kDevice7Sign >> (24 - 8 * b));
  auto self = take(Opener::create(fleet_policy(), f.device7));
  EXPECT_EQ(open_error(self, "plant/plant-7/telemetry", env), Errc::unknown_key);
  EXPECT_EQ(open_error(f.backend, "plant/plant-7/telemetry", env), Errc::unknown_key);
}

TEST(SignedSender, RotatingSigningKeys) {
  Fleet f;
  const std::string topic = "plant/plant-7/telemetry";
  std::vector<uint8_t> old_env = take(f.sealer7.seal(topic, std::string_view("old")));
  // 1. add a new key pair on the device (active); 2. the backend trusts it.
  auto rotated = std::make_shared<Keyring>(take(f.device7->clone()));
  const KeyId fresh = take(rotated->generate_signing_key("plant-7"));
  EXPECT_EQ(take(rotated->info(fresh)).state, KeyState::active);
  EXPECT_EQ(take(rotated->primary_signing_key("plant-7")), kDevice7Sign);
  auto backend_keys = std::make_shared<Keyring>(take(f.backend_keys->clone()));
  expect_ok(backend_keys->add_trusted_signer("plant-7", fresh, ByteView(take(rotated->public_key(fresh)))));
  Opener backend = take(Opener::create(fleet_policy(), backend_keys));
  // 3. promote it on the device.
  expect_ok(rotated->promote(fresh));
  EXPECT_EQ(take(rotated->primary_signing_key("plant-7")), fresh);
  EXPECT_EQ(take(rotated->info(kDevice7Sign)).state, KeyState::active);
  f.sealer7.set_keyring(rotated);
  std::vector<uint8_t> new_env = take(f.sealer7.seal(topic, std::string_view("new")));
  EXPECT_EQ(take(backend.open(topic, new_env, Delivery{false, kNow})).signer_key_id, fresh);
  EXPECT_EQ(take(backend.open(topic, old_env, Delivery{false, kNow})).signer_key_id, kDevice7Sign);
  // 4. retire the old one: on the backend, envelopes naming it are key_retired.
  expect_ok(backend_keys->retire(kDevice7Sign));
  EXPECT_EQ(open_error(backend, "plant/alerts", take(f.sealer8.seal("plant/alerts", std::string_view("x")))),
            static_cast<Errc>(0));
  EXPECT_EQ(open_error(backend, topic, forge(*f.device7, topic, signed_header(kDevice7Sign, SenderId{9}, 0))),
            Errc::key_retired);
  EXPECT_EQ(rotated->retire(fresh).error(), Errc::invalid_argument);  // the primary
  expect_ok(rotated->retire(kDevice7Sign));
  EXPECT_EQ(rotated->public_key(kDevice7Sign).error(), Errc::key_retired);
  // A trusted key is never primary.
  EXPECT_EQ(backend_keys->promote(fresh).error(), Errc::invalid_argument);
}

// A receiver that never held a key can still learn of its revocation, by ID
// alone (an export's retired line): envelopes naming it are key_retired, not
// unknown_key, and the ID stays taken.
TEST(SignedSenderKeys, ARetiredTrustedSignerByIdAlone) {
  Fleet f;
  const std::string topic = "plant/plant-7/telemetry";
  auto backend_keys = std::make_shared<Keyring>();
  expect_ok(backend_keys->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  Opener before = take(Opener::create(fleet_policy(), backend_keys));
  const std::vector<uint8_t> env = take(f.sealer7.seal(topic, std::string_view("x")));
  EXPECT_EQ(open_error(before, topic, env), Errc::unknown_signer);

  expect_ok(backend_keys->add_retired_trusted_signer("plant-7", kDevice7Sign));
  const KeyInfo info = take(backend_keys->info(kDevice7Sign));
  EXPECT_EQ(info.name, "plant-7");
  EXPECT_EQ(info.kind, KeyKind::trusted_signer);
  EXPECT_EQ(info.state, KeyState::retired);
  EXPECT_FALSE(info.public_key.has_value());
  EXPECT_EQ(backend_keys->public_key(kDevice7Sign).error(), Errc::key_retired);
  EXPECT_EQ(backend_keys->promote(kDevice7Sign).error(), Errc::key_retired);
  Opener after = take(Opener::create(fleet_policy(), backend_keys));
  EXPECT_EQ(open_error(after, topic, env), Errc::key_retired);
  // Its file line is the export's retired line, and parses back the same.
  const std::string text = take(backend_keys->serialize());
  EXPECT_NE(text.find("trusted-ed25519 plant-7 5167a007 retired -\n"), std::string::npos) << text;
  EXPECT_EQ(take(take(Keyring::parse(text)).info(kDevice7Sign)).state, KeyState::retired);
  // The ID is taken; names, IDs and the bound as for any new key.
  EXPECT_EQ(backend_keys->add_retired_trusted_signer("plant-7", kDevice7Sign).error(), Errc::invalid_argument);
  EXPECT_EQ(backend_keys->add_trusted_signer("plant-7", kDevice7Sign, ByteView(take(f.device7->public_key(kDevice7Sign))))
                .error(),
            Errc::invalid_argument);
  EXPECT_EQ(backend_keys->add_retired_trusted_signer("plant 7", 0x99).error(), Errc::invalid_argument);
  EXPECT_EQ(backend_keys->add_retired_trusted_signer("plant-7", 0).error(), Errc::invalid_argument);
  Keyring full;
  for (KeyId id = 1; id <= kMaxKeyringKeys; ++id) expect_ok(full.add_retired_trusted_signer("s", id));
  EXPECT_EQ(full.add_retired_trusted_signer("s", kMaxKeyringKeys + 1).error(), Errc::invalid_argument);
}

TEST(SignedSender, TheSealerNeedsToKnowWhoItIs) {
  Fleet f;
  auto two = std::make_shared<Keyring>(take(f.device7->clone()));
  (void)take(two->generate_signing_key("plant-9"));
  Sealer unsure = take(Sealer::create(fleet_policy(), two));
  Result<std::vector<uint8_t>> r = unsure.seal("plant/plant-7/telemetry", std::string_view("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::no_primary_key);
  SealerOptions options;
  options.signer = "plant-9";
  Sealer nine = take(Sealer::create(fleet_policy(), two, options));
  std::vector<uint8_t> env = take(nine.seal("plant/plant-9/telemetry", std::string_view("x")));
  EXPECT_EQ(take(parse_header(env)).signer_key_id, take(two->primary_signing_key("plant-9")));
  // The backend does not trust plant-9.
  EXPECT_EQ(open_error(f.backend, "plant/plant-9/telemetry", env, system_time_ms()), Errc::unknown_signer);
  // A signer whose key pairs are all retired (as a file can say) does not count.
  auto with_retired = std::make_shared<Keyring>(
      take(Keyring::parse(take(f.device7->serialize()) + "signing-ed25519 plant-9 00000099 retired - -\n")));
  Sealer seven = take(Sealer::create(fleet_policy(), with_retired));
  EXPECT_EQ(take(parse_header(take(seven.seal("plant/plant-7/telemetry", std::string_view("x"))))).signer_key_id,
            kDevice7Sign);
  // A keyring without signing keys seals suite 1 rules and refuses signed ones.
  auto plain = std::make_shared<Keyring>();
  expect_ok(plain->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  Sealer none = take(Sealer::create(fleet_policy(), plain));
  EXPECT_TRUE(none.seal("legacy/x", std::string_view("x")));
  EXPECT_EQ(none.seal("plant/alerts", std::string_view("x")).error(), Errc::no_primary_key);
}

TEST(SignedSenderKeys, PublicExportHasNoPrivateHalf) {
  Fleet f;
  const std::string secret_text = take(f.device7->serialize());
  const std::string seed_hex(64, '7');  // fixed_key(0x77) in hex
  EXPECT_NE(secret_text.find("signing-ed25519 plant-7 5167a007 primary " + seed_hex + " "), std::string::npos);
  const std::string exported = f.device7->export_public();
  EXPECT_EQ(exported.find(seed_hex), std::string::npos);
  EXPECT_EQ(exported.find("signing-ed25519"), std::string::npos);
  EXPECT_EQ(exported.find("\nkey "), std::string::npos);  // no symmetric key either
  const std::string pk_hex = [&] {
    const SignerPublicKey pk = take(f.device7->public_key(kDevice7Sign));
    static const char* digits = "0123456789abcdef";
    std::string h;
    for (uint8_t b : pk) {
      h += digits[b >> 4];
      h += digits[b & 15];
    }
    return h;
  }();
  EXPECT_EQ(exported, "mqseal-keyring v1\ntrusted-ed25519 plant-7 5167a007 active " + pk_hex + "\n");
  Keyring back = take(Keyring::parse(exported));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back.list()[0].kind, KeyKind::trusted_signer);
  // A public keyring cannot sign.
  auto only_public = std::make_shared<Keyring>(std::move(back));
  expect_ok(only_public->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
  SealerOptions options;
  options.signer = "plant-7";
  Sealer cannot = take(Sealer::create(fleet_policy(), only_public, options));
  EXPECT_EQ(cannot.seal("plant/plant-7/telemetry", std::string_view("x")).error(), Errc::no_primary_key);
}

TEST(SignedSenderKeys, FileRoundTrip) {
  Fleet f;
  auto keys = take(f.backend_keys->clone());
  (void)take(keys.generate_signing_key("backend"));
  expect_ok(keys.retire(kDevice8Sign));
  const std::string text = take(keys.serialize());
  Keyring back = take(Keyring::parse(text));
  EXPECT_EQ(take(back.serialize()), text);
  ASSERT_EQ(back.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(back.list()[i].kind, keys.list()[i].kind) << i;
    EXPECT_EQ(back.list()[i].state, keys.list()[i].state) << i;
    EXPECT_EQ(back.list()[i].public_key, keys.list()[i].public_key) << i;
  }
  EXPECT_NE(text.find("trusted-ed25519 plant-8 5167a008 retired -\n"), std::string::npos);
}

TEST(SignedSenderKeys, EveryMalformedLineIsAParseError) {
  const std::string seed(64, '7');
  Keyring k;
  expect_ok(k.add_signing_key_with_id("plant-7", kDevice7Sign, fixed_key(0x77)));
  const std::string pk = k.export_public().substr(std::string("mqseal-keyring v1\ntrusted-ed25519 plant-7 5167a007 active ").size(), 64);
  std::string other_pk = pk;
  other_pk[0] = other_pk[0] == '0' ? '1' : '0';
  const std::string head = "mqseal-keyring v1\n";
  const std::string good_sign = "signing-ed25519 plant-7 5167a007 primary " + seed + " " + pk + "\n";
  const std::string good_trust = "trusted-ed25519 plant-7 5167a007 active " + pk + "\n";
  EXPECT_TRUE(Keyring::parse(head + good_sign));
  EXPECT_TRUE(Keyring::parse(head + good_trust));
  const std::vector<std::string> bad = {
      "signing-ed25519 plant-7 5167a007 primary " + seed + "\n",                   // no public key
      "signing-ed25519 plant-7 5167a007 primary " + seed + " " + pk + " x\n",      // extra field
      "signing-ed25519 plant-7 5167a007 primary " + seed.substr(1) + " " + pk + "\n",  // seed truncated
      "signing-ed25519 plant-7 5167a007 primary " + seed + " " + pk.substr(2) + "\n",  // public key truncated
      "signing-ed25519 plant-7 5167a007 primary " + seed + " " + pk + "00\n",       // public key too long
      "signing-ed25519 plant-7 5167a007 primary " + seed + " " + other_pk + "\n",   // public key altered
      "signing-ed25519 plant-7 5167a007 primary 88" + seed.substr(2) + " " + pk + "\n",  // seed altered
      "signing-ed25519 plant-7 5167a007 retired " + seed + " " + pk + "\n",         // retired with material
      "signing-ed25519 plant-7 5167a007 retired - " + pk + "\n",
      "signing-ed25519 plant-7 00000000 primary " + seed + " " + pk + "\n",         // ID 0
      "signing-ed25519 plant/7 5167a007 primary " + seed + " " + pk + "\n",         // bad name
      "signing-ed25519 plant-7 5167a007 chief " + seed + " " + pk + "\n",           // bad state
      "trusted-ed25519 plant-7 5167a007 active " + pk.substr(0, 62) + "\n",         // truncated
      "trusted-ed25519 plant-7 5167a007 active " + pk + "0\n",                      // one digit more
      "trusted-ed25519 plant-7 5167a007 active " + std::string(64, '0') + "\n",     // small-order point
      "trusted-ed25519 plant-7 5167a007 active " + std::string(64, 'f') + "\n",     // not canonical
      "trusted-ed25519 plant-7 5167a007 active zz" + pk.substr(2) + "\n",           // not hex
      "trusted-ed25519 plant-7 5167a007 primary " + pk + "\n",                      // trusted keys never sign
      "trusted-ed25519 plant-7 5167a007 retired " + pk + "\n",                      // retired with material
      "trusted-ed25519 plant-7 5167a007 active\n",
      "trusted-ed25519 plant-7 5167a007 active " + pk + " " + pk + "\n",
      "trusted-ed448 plant-7 5167a007 active " + pk + "\n",                         // unknown type
      "signing-ed25519 plant-7 5167a007 primary " + seed + " " + pk + "\n" + good_trust,  // ID twice
      "key telemetry 5167a007 primary " + std::string(64, '1') + "\n" + good_trust,       // ID twice, across kinds
      good_sign + "signing-ed25519 plant-7 5167a008 primary " + std::string(64, '8') + " " + pk + "\n",
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    Result<Keyring> r = Keyring::parse(head + bad[i]);
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error(), Errc::parse_error) << i;
    EXPECT_EQ(r.error().detail().rfind("line ", 0), 0u) << i << r.error().detail();
  }
  // In code: a trusted key must be a valid point of 32 bytes.
  Keyring c;
  EXPECT_EQ(c.add_trusted_signer("a", 1, ByteView(std::vector<uint8_t>(31, 1))).error(), Errc::invalid_argument);
  EXPECT_EQ(c.add_trusted_signer("a", 1, ByteView(std::vector<uint8_t>(32, 0))).error(), Errc::invalid_argument);
  EXPECT_EQ(c.public_key(1).error(), Errc::unknown_key);
}

TEST(SignedSenderPolicy, SignerLevelAndNames) {
  TopicPolicy p;
  EXPECT_EQ(p.add_rule("plant/{signer}/x", "k").error(), Errc::invalid_filter);  // suite 1: no pattern
  EXPECT_EQ(p.add_signed_rule("plant/{signer}/{signer}", "k", {}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.add_signed_rule("plant/x", "k", {}).error(), Errc::invalid_argument);  // nobody may publish
  EXPECT_EQ(p.add_signed_rule("plant/x", "k", {"a", "a"}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.add_signed_rule("plant/x", "k", {"a/b"}).error(), Errc::invalid_argument);
  EXPECT_EQ(p.add_signed_rule("plant/#/{signer}", "k", {}).error(), Errc::invalid_filter);
  expect_ok(p.add_signed_rule("plant/{signer}/t", "k", {"backend"}));
  EXPECT_EQ(p.add_rule("plant/+/t", "k").error(), Errc::invalid_argument);  // the same filter for matching
  expect_ok(p.add_signed_rule("plant/7/t", "k", {"seven"}));
  expect_ok(p.add_rule("plant/#", "k"));
  const TopicRule* r = take(p.resolve("plant/dev-1/t"));
  EXPECT_EQ(r->filter, "plant/{signer}/t");
  EXPECT_EQ(r->signer_level, 1);
  EXPECT_TRUE(signer_authorized(*r, "plant/dev-1/t", "dev-1"));
  EXPECT_TRUE(signer_authorized(*r, "plant/dev-1/t", "backend"));
  EXPECT_FALSE(signer_authorized(*r, "plant/dev-1/t", "dev-2"));
  EXPECT_FALSE(signer_authorized(*r, "plant/dev-1/t", "dev-"));
  EXPECT_FALSE(signer_authorized(*r, "plant/dev-1/t", "dev-1/t"));
  EXPECT_EQ(take(p.resolve("plant/7/t"))->filter, "plant/7/t");  // a literal beats {signer}
  EXPECT_EQ(take(p.resolve("plant/7/u"))->filter, "plant/#");
  EXPECT_FALSE(signer_authorized(*take(p.resolve("plant/7/u")), "plant/7/u", "7"));  // suite 1
  // First and last levels; '$' topics stay unmatched by a leading pattern.
  TopicPolicy q;
  expect_ok(q.add_signed_rule("{signer}/up", "k", {}));
  expect_ok(q.add_signed_rule("down/{signer}", "k", {}));
  EXPECT_TRUE(signer_authorized(*take(q.resolve("d1/up")), "d1/up", "d1"));
  EXPECT_TRUE(signer_authorized(*take(q.resolve("down/d2")), "down/d2", "d2"));
  EXPECT_EQ(q.resolve("$SYS/up").error(), Errc::no_rule);
}

// Openers sharing a replay store (OpenerOptions::replay_store) claim a signed
// message in its signer's partition, as the replay guard keeps it: a signer
// filling its quota locks out only itself, not the key name's suite 1
// senders nor another signer.
TEST(SignedSender, SharedReplayClaimsPerSigner) {
  Fleet f;
  OpenerOptions options;
  options.replay_store = take(memory_replay_store());
  options.replay_group = "backend";
  options.max_claims_per_key_name = 1;
  Opener a = f.make_backend(options);
  Opener b = f.make_backend(options);
  const std::vector<uint8_t> first = take(f.sealer7.seal("plant/plant-7/telemetry", std::string_view("1")));
  ASSERT_TRUE(a.open("plant/plant-7/telemetry", first, Delivery{false, kNow}));
  EXPECT_EQ(open_error(b, "plant/plant-7/telemetry", first), Errc::duplicate);
  EXPECT_EQ(open_error(b, "plant/plant-7/telemetry", take(f.sealer7.seal("plant/plant-7/telemetry", std::string_view("2")))),
            Errc::capacity_exceeded);  // plant-7's own quota
  EXPECT_TRUE(b.open("plant/plant-8/telemetry", take(f.sealer8.seal("plant/plant-8/telemetry", std::string_view("3"))),
                     Delivery{false, kNow}));
  EXPECT_TRUE(b.open("legacy/1", take(f.sealer7.seal("legacy/1", std::string_view("4"))), Delivery{false, kNow}));
}

// A long-running receiver whose fleet changes (devices replaced, each with a
// signer name of its own, the keyring swapped with set_keyring) keeps
// opening new devices' messages. Every keyring is valid (at most
// kMaxKeyringKeys keys); the replay guard keeps at most 4096 signer
// partitions, and gave every signer it ever heard from one for the
// Opener's life: the second new device's first valid message was
// capacity_exceeded. Now a signer whose messages are all past max_age gives
// its partition way (ReplayGuard.SignerPartitionsPastMaxAgeGiveWayToNewSigners).
TEST(SignedSender, SignersOfEarlierKeyringsDoNotLockOutANewOne) {
  TopicPolicy policy;
  expect_ok(policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", {}));
  auto keyring_of = [](size_t first, size_t count) {
    auto keys = std::make_shared<Keyring>();
    expect_ok(keys->add_with_id("telemetry", kTelemetryId, fixed_key(0x11)));
    for (size_t i = first; i < first + count; ++i) {
      std::vector<uint8_t> seed(kKeySize, 0x5e);
      seed[0] = static_cast<uint8_t>(i >> 8);
      seed[1] = static_cast<uint8_t>(i);
      expect_ok(keys->add_signing_key_with_id("dev-" + std::to_string(i), static_cast<KeyId>(0x10000000 + i),
                                              take(Key::from_bytes(seed))));
    }
    return keys;
  };
  auto open_from = [](Opener& opener, const Keyring& keys, size_t i, uint64_t now) {
    const std::string topic = "plant/dev-" + std::to_string(i) + "/telemetry";
    SenderId sender{};
    sender[0] = static_cast<uint8_t>(i >> 8);
    sender[1] = static_cast<uint8_t>(i);
    const Result<Opened> r = opener.open(
        topic, forge(keys, topic, signed_header(static_cast<KeyId>(0x10000000 + i), sender, 0, now)),
        Delivery{false, now});
    return r ? static_cast<Errc>(0) : r.error().code();
  };
  // 4095 signers and the topic key: a full keyring; every signer opens once,
  // an hour ago.
  const size_t fleet = kMaxKeyringKeys - 1;
  const uint64_t an_hour_ago = kNow - 3600 * 1000;
  std::shared_ptr<Keyring> first = keyring_of(0, fleet);
  Opener backend = take(Opener::create(policy, first));
  for (size_t i = 0; i < fleet; ++i) ASSERT_EQ(open_from(backend, *first, i, an_hour_ago), static_cast<Errc>(0)) << i;
  // The fleet is replaced by two new devices: a keyring of three keys.
  std::shared_ptr<Keyring> second = keyring_of(fleet, 2);
  backend.set_keyring(second);
  EXPECT_EQ(open_from(backend, *second, fleet, kNow), static_cast<Errc>(0));
  EXPECT_EQ(open_from(backend, *second, fleet + 1, kNow), static_cast<Errc>(0));  // was capacity_exceeded
}

// The store must hold a quota for each partition: the suite 1 key name
// (legacy/#), the signers listed (plant-7, plant-8, backend) and, as a rule
// has a {signer} level, every signer the backend's keyring knows (plant-9
// too, listed nowhere).
TEST(SignedSender, SharedReplayNeedsAQuotaPerKeyNameAndSigner) {
  Fleet f;
  trust(*f.backend_keys, *device_keys("plant-9", 0x5167a009, 0x99));
  OpenerOptions options;
  options.max_claims_per_key_name = 10;
  options.replay_group = "backend";
  testing::TempDir dir;
  options.replay_store = take(open_file_replay_store(dir.file("five"), FileReplayStoreOptions{50}));
  EXPECT_TRUE(Opener::create(fleet_policy(), f.backend_keys, options));
  options.replay_store = take(open_file_replay_store(dir.file("four"), FileReplayStoreOptions{49}));
  Result<Opener> too_small = Opener::create(fleet_policy(), f.backend_keys, options);
  ASSERT_FALSE(too_small);
  EXPECT_EQ(too_small.error(), Errc::invalid_argument);
}

}  // namespace
}  // namespace mqseal
