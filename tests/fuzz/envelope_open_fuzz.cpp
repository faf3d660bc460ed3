// Fuzz target: Opener::open on hostile envelopes, through the public API with
// a fixed policy and keyring.
//
// Input: byte 0 picks the topic (low 7 bits) and the mode (high bit: mutate a
// real envelope); byte 1 the delivery (bit 0 retained, bits 1-3 the
// receiver's time relative to the seeds' timestamp). Raw mode: the rest is
// the envelope. Mutate mode: byte 2 picks one of the envelopes sealed
// in-process at start-up, then 4-byte edits (kind, position, value) change it.
//
// Crashes (mqseal::fuzz::fail) on: an envelope opened that we never sealed
// for that topic (a forgery, or one moved to another topic), opened bytes
// that differ from what was sealed, plaintext left in the output on failure,
// or an envelope opened again live by the Opener that just opened it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "fuzz_support.h"
#include "mqseal/envelope.h"
#include "mqseal/hazmat/envelope.h"
#include "mqseal/keyring.h"
#include "mqseal/opener.h"
#include "mqseal/policy.h"

namespace {

using mqseal::fuzz::check;
using mqseal::fuzz::fail;

constexpr uint64_t kSealedAtMs = 1'800'000'000'000;  // every seed's timestamp (2027)
// The receiver's clock, relative to kSealedAtMs: around the age and skew limits.
constexpr int64_t kClockOffsetsMs[] = {0, 1000, 5 * 60'000 - 1, 5 * 60'000 + 1, -59'000, -61'000,
                                       7 * 24 * 60 * 60'000LL, 8 * 24 * 60 * 60'000LL};
constexpr size_t kMaxEdits = 16;

const char* const kTopics[] = {
    "plant/7/telemetry", "plant/8/telemetry", "plant/7/cmd/valve", "public/news",
    "other/topic",       "plant/+/telemetry", "",                  "plant/7/telemetry/",
    "legacy/x",          "plant/7/report",    "plant/plant-7/private", "plant/plant-8/private",
    "backend/7/events",
};
constexpr size_t kTopicCount = sizeof kTopics / sizeof kTopics[0];

struct KeySpec {
  const char* name;
  mqseal::KeyId id;
  uint8_t fill;  // the key's 32 bytes are fill, fill+1, ...
};
constexpr KeySpec kKeys[] = {{"telemetry", 0x1001, 0x10}, {"telemetry", 0x1002, 0x30},
                             {"commands", 0x2001, 0x50},  {"old", 0x3001, 0x70},
                             {"old", 0x3002, 0x90}};
constexpr mqseal::KeyId kRetiredKey = 0x3001;
// Suites 3 and 4: the backend's recipient key pair, and a signer whose key
// pair the same keyring holds (a signing key pair also verifies).
constexpr KeySpec kRecipientKey = {"backend", 0x4001, 0xb0};
constexpr KeySpec kSigningKey = {"plant-7", 0x5001, 0xc0};
constexpr uint8_t kEphemeralFill = 0xd0;  // the seeds' sealing session's ephemeral secret

mqseal::Key fixed_key(uint8_t fill) {
  uint8_t bytes[mqseal::kKeySize];
  for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<uint8_t>(fill + i);
  mqseal::Result<mqseal::Key> key = mqseal::Key::from_bytes(mqseal::ByteView(bytes, sizeof bytes));
  check(key.ok(), "Key::from_bytes");
  return std::move(*key);
}

struct SealedSeed {
  std::string topic;
  mqseal::EnvelopeHeader header;
  std::string payload;
  std::vector<uint8_t> envelope;
};

// Suite 3 or 4 seeds: sealed to kRecipientKey in one sealing session.
struct RecipientPlan {
  const char* topic;
  uint8_t suite;
  uint8_t sender;
  uint64_t sequence;
  std::string payload;
  uint8_t flags = 0;
};

// Everything fixed, built once: the policy, the keyring and the envelopes we sealed.
struct World {
  mqseal::TopicPolicy policy;
  std::shared_ptr<const mqseal::Keyring> keyring;
  std::vector<SealedSeed> seeds;
  std::map<std::pair<std::string, std::vector<uint8_t>>, size_t> sealed;  // (topic, envelope) -> seed

  World() {
    check(policy.add_rule("plant/+/telemetry", "telemetry").ok(), "policy");
    check(policy.add_rule("plant/+/cmd/#", "commands").ok(), "policy");
    check(policy.add_rule("legacy/#", "old").ok(), "policy");
    check(policy.add_plaintext_rule("public/#").ok(), "policy");
    check(policy.add_recipient_rule("plant/+/report", kRecipientKey.name).ok(), "policy");
    check(policy.add_signed_recipient_rule("plant/{signer}/private", kRecipientKey.name, {}).ok(), "policy");
    // Suite 5 (AES-256-GCM); its seeds are sealed only where the CPU runs it.
    check(policy.add_aes256gcm_rule("backend/+/events", "telemetry").ok(), "policy");
    auto keys = std::make_shared<mqseal::Keyring>();
    for (const KeySpec& k : kKeys) check(keys->add_with_id(k.name, k.id, fixed_key(k.fill)).ok(), "keyring");
    check(keys->add_recipient_key_with_id(kRecipientKey.name, kRecipientKey.id, fixed_key(kRecipientKey.fill)).ok(),
          "keyring");
    check(keys->add_signing_key_with_id(kSigningKey.name, kSigningKey.id, fixed_key(kSigningKey.fill)).ok(), "keyring");

    struct Plan {
      const char* topic;
      mqseal::KeyId key;
      uint8_t key_fill;
      int64_t age_ms;
      uint8_t sender;
      uint64_t sequence;
      std::string payload;
      uint8_t version = mqseal::kEnvelopeVersion;
      uint8_t flags = 0;
    };
    const Plan plans[] = {
        {"plant/7/telemetry", 0x1001, 0x10, 0, 1, 1, "21.5C"},
        {"plant/7/telemetry", 0x1002, 0x30, 0, 1, 2, "21.6C"},  // an active, not primary, key
        {"plant/8/telemetry", 0x1001, 0x10, 0, 2, 1, ""},
        {"plant/7/cmd/valve", 0x2001, 0x50, 0, 3, 7, "open"},
        {"plant/7/telemetry", 0x1001, 0x10, 10 * 60'000, 4, 1, "old enough to be retained only"},
        {"legacy/x", 0x3001, 0x70, 0, 5, 1, "under a key retired since"},
        {"plant/7/telemetry", 0x1001, 0x10, 0, 6, 1u << 20, std::string(300, 'x')},
        {"plant/7/telemetry", 0x1001, 0x10, 0, 7, ~uint64_t{0}, "last sequence"},
        {"plant/7/telemetry", 0x1001, 0x10, 10 * 60'000, 8, 3, "sealed to be retained", mqseal::kEnvelopeVersion,
         mqseal::kFlagRetain},
        {"plant/7/telemetry", 0x1001, 0x10, 0, 9, 4, "envelope v1", mqseal::kEnvelopeVersionV1},
    };
    for (const Plan& p : plans) {
      SealedSeed seed = seed_of(p.topic, p.payload, p.flags, p.key, p.sender, p.sequence);
      seed.header.version = p.version;
      seed.header.timestamp_ms = static_cast<uint64_t>(static_cast<int64_t>(kSealedAtMs) - p.age_ms);
      uint8_t topic_key[mqseal::kKeySize];
      check(mqseal::hazmat::derive_topic_key(fixed_key(p.key_fill), p.topic, topic_key).ok(), "derive_topic_key");
      check(mqseal::hazmat::seal_with_header(topic_key, p.topic, seed.header, mqseal::ByteView(p.payload),
                                     seed.envelope)
                .ok(),
            "seal_with_header");
      add(std::move(seed));
    }
    const RecipientPlan recipient_plans[] = {
        {"plant/7/report", mqseal::kSuiteSealedToRecipient, 10, 1, "sealed to the backend"},
        {"plant/7/report", mqseal::kSuiteSealedToRecipient, 10, 2, "", mqseal::kFlagRetain},
        {"plant/plant-7/private", mqseal::kSuiteSignedSealed, 11, 1, "signed, then sealed"},
        {"plant/plant-7/private", mqseal::kSuiteSignedSealed, 11, 2, std::string(300, 'y'), mqseal::kFlagRetain},
    };
    mqseal::Result<mqseal::SignerPublicKey> recipient_public = keys->public_key(kRecipientKey.id);
    check(recipient_public.ok(), "recipient public key");
    for (const RecipientPlan& p : recipient_plans) {
      SealedSeed seed = seed_of(p.topic, p.payload, p.flags, kRecipientKey.id, p.sender, p.sequence);
      seed.header.suite = p.suite;
      seed.header.signer_key_id = p.suite == mqseal::kSuiteSignedSealed ? kSigningKey.id : 0;
      uint8_t session_key[mqseal::kKeySize];
      uint8_t topic_key[mqseal::kKeySize];
      check(mqseal::hazmat::derive_recipient_keys(fixed_key(kEphemeralFill), mqseal::ByteView(*recipient_public),
                                                  p.topic, seed.header.ephemeral.data(), session_key, topic_key)
                .ok(),
            "derive_recipient_keys");
      const mqseal::ByteView payload(p.payload);
      check(p.suite == mqseal::kSuiteSignedSealed
                ? mqseal::hazmat::seal_signed_sealed_with_header(topic_key, p.topic, seed.header, payload, *keys,
                                                                 seed.envelope)
                      .ok()
                : mqseal::hazmat::seal_with_header(topic_key, p.topic, seed.header, payload, seed.envelope).ok(),
            "seal a recipient seed");
      add(std::move(seed));
    }
    // Suite 5: suite 1's header with suite byte 5 (sequences below 2^32).
    const Plan aes_plans[] = {
        {"backend/7/events", 0x1001, 0x10, 0, 12, 1, "AES-256-GCM"},
        {"backend/7/events", 0x1001, 0x10, 10 * 60'000, 13, 0xffffffffu, std::string(300, 'z'),
         mqseal::kEnvelopeVersion, mqseal::kFlagRetain},
    };
    for (const Plan& p : aes_plans) {
      SealedSeed seed = seed_of(p.topic, p.payload, p.flags, p.key, p.sender, p.sequence);
      seed.header.suite = mqseal::kSuiteAes256Gcm;
      seed.header.timestamp_ms = static_cast<uint64_t>(static_cast<int64_t>(kSealedAtMs) - p.age_ms);
      uint8_t topic_key[mqseal::kKeySize];
      check(mqseal::hazmat::derive_topic_key(fixed_key(p.key_fill), p.topic, topic_key).ok(), "derive_topic_key");
      check(mqseal::hazmat::seal_with_header(topic_key, p.topic, seed.header, mqseal::ByteView(p.payload),
                                             seed.envelope)
                .ok(),
            "seal a suite 5 seed (a CPU without AES-NI cannot run this target)");
      add(std::move(seed));
    }
    check(keys->promote(kRetiredKey + 1).ok(), "promote");
    check(keys->retire(kRetiredKey).ok(), "retire");
    keyring = std::move(keys);
  }

  // A seed sealed at kSealedAtMs (a plan may change the header further).
  static SealedSeed seed_of(const char* topic, const std::string& payload, uint8_t flags, mqseal::KeyId key,
                            uint8_t sender, uint64_t sequence) {
    SealedSeed seed;
    seed.topic = topic;
    seed.payload = payload;
    seed.header.flags = flags;
    seed.header.key_id = key;
    seed.header.timestamp_ms = kSealedAtMs;
    seed.header.sender.fill(sender);
    seed.header.sequence = sequence;
    return seed;
  }
  void add(SealedSeed seed) {
    sealed.emplace(std::make_pair(seed.topic, seed.envelope), seeds.size());
    seeds.push_back(std::move(seed));
  }
};

const World& world() {
  static const World w;
  return w;
}

// Applies the input's edits to a copy of a sealed envelope.
std::vector<uint8_t> mutate(std::vector<uint8_t> e, mqseal::fuzz::Input& in) {
  for (size_t i = 0; i < kMaxEdits && !in.empty(); ++i) {
    const uint8_t kind = in.byte();
    const size_t pos = static_cast<size_t>(in.number(2)) % (e.size() + 1);
    const uint8_t value = in.byte();
    switch (kind % 5) {
      case 0:
        if (pos < e.size()) e[pos] ^= static_cast<uint8_t>(1u << (value % 8));
        break;
      case 1:
        if (pos < e.size()) e[pos] = value;
        break;
      case 2:
        e.insert(e.begin() + static_cast<std::ptrdiff_t>(pos), value);
        break;
      case 3:
        if (pos < e.size()) e.erase(e.begin() + static_cast<std::ptrdiff_t>(pos));
        break;
      default:
        e.resize(pos);
        break;
    }
  }
  return e;
}

void check_opened(const World& w, std::string_view topic, const std::vector<uint8_t>& envelope,
                  const mqseal::Opened& opened) {
  if (!opened.sealed) {
    mqseal::Result<const mqseal::TopicRule*> rule = w.policy.resolve(topic);
    check(rule.ok() && (*rule)->plaintext, "passed through a topic that is not plaintext");
    check(opened.payload == envelope, "plaintext pass-through changed the payload");
    return;
  }
  const auto it = w.sealed.find(std::make_pair(std::string(topic), envelope));
  if (it == w.sealed.end()) fail("opened an envelope never sealed for this topic (forgery)");
  const SealedSeed& seed = w.seeds[it->second];
  check(opened.payload == mqseal::fuzz::bytes_of(seed.payload), "opened payload differs from the sealed one");
  check(opened.key_id == seed.header.key_id && opened.timestamp_ms == seed.header.timestamp_ms &&
            opened.sender == seed.header.sender && opened.sequence == seed.header.sequence,
        "opened header differs from the sealed one");
  // Suite 4 names its verified signer; no other suite here names one.
  const bool signed_sealed = seed.header.suite == mqseal::kSuiteSignedSealed;
  check(signed_sealed ? opened.signer == kSigningKey.name && opened.signer_key_id == kSigningKey.id
                      : opened.signer.empty() && opened.signer_key_id == 0,
        "opened a signer the seed was not sealed with");
}

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  std::vector<Seed> out;
  const World& w = world();
  for (size_t i = 0; i < w.seeds.size(); ++i) {
    size_t topic = 0;
    while (kTopics[topic] != w.seeds[i].topic && topic + 1 < kTopicCount) ++topic;
    if (kTopics[topic] != w.seeds[i].topic) topic = 0;  // a topic the input cannot name: opened elsewhere
    // Raw mode, the envelope as sealed, live delivery at seal time.
    std::vector<uint8_t> raw = {static_cast<uint8_t>(topic), 0};
    raw.insert(raw.end(), w.seeds[i].envelope.begin(), w.seeds[i].envelope.end());
    out.push_back({"raw-" + std::to_string(i), raw});
    // Mutate mode: the same seed with one bit flipped in the tag, and retained.
    out.push_back({"mutate-" + std::to_string(i),
                   {static_cast<uint8_t>(0x80 | topic), 1, static_cast<uint8_t>(i), 0, 0, 40, 3}});
  }
  out.push_back({"plaintext", {3, 0, 'h', 'i'}});
  out.push_back({"empty", {0, 0}});
  return out;
}

bool all_zero(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// Opens into caller memory as the Python binding does (a sealed envelope's
// payload size first; the size the call asks for when that is too small),
// with an Opener of its own, and checks that it agrees with the vector
// overload's verdict (`first`, `opened`) and leaves nothing behind on failure.
void check_caller_memory(const World& w, std::string_view topic, const std::vector<uint8_t>& envelope,
                         const mqseal::Delivery& delivery, const mqseal::Status& first, const mqseal::Opened& opened) {
  mqseal::Result<mqseal::Opener> opener = mqseal::Opener::create(w.policy, w.keyring);
  check(opener.ok(), "Opener::create");
  const size_t overhead = envelope.empty() ? 0 : mqseal::envelope_overhead(envelope[0]);
  std::vector<uint8_t> memory(envelope.size() >= overhead ? envelope.size() - overhead : envelope.size(), 0xa5);
  size_t size = 0;
  mqseal::Opened meta;
  mqseal::Status s = opener->open(topic, envelope, delivery, memory.data(), memory.size(), size, meta);
  if (!s && size > memory.size()) {
    check(size <= envelope.size() && all_zero(memory), "memory too small: bytes left behind, or a size beyond the envelope");
    memory.assign(size, 0xa5);
    s = opener->open(topic, envelope, delivery, memory.data(), memory.size(), size, meta);
  }
  check(s.ok() == first.ok() && (s.ok() || s.error().code() == first.error().code()),
        "caller memory and vector overloads disagree");
  if (!s) {
    check(size == 0 && all_zero(memory), "output left behind in caller memory by a failed open");
    return;
  }
  check(size == opened.payload.size() && std::equal(opened.payload.begin(), opened.payload.end(), memory.begin()) &&
            meta.payload.empty() && meta.sealed == opened.sealed && meta.retained == opened.retained &&
            meta.key_id == opened.key_id && meta.sender == opened.sender && meta.sequence == opened.sequence &&
            meta.timestamp_ms == opened.timestamp_ms && meta.signer == opened.signer &&
            meta.signer_key_id == opened.signer_key_id,
        "caller memory and vector overloads opened different things");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const World& w = world();
  mqseal::fuzz::Input in(data, size);
  const uint8_t first = in.byte();
  const std::string_view topic = kTopics[(first & 0x7f) % kTopicCount];
  const uint8_t flags = in.byte();
  mqseal::Delivery delivery;
  delivery.retained = (flags & 1) != 0;
  delivery.now_ms = static_cast<uint64_t>(static_cast<int64_t>(kSealedAtMs) + kClockOffsetsMs[(flags >> 1) & 7]);

  std::vector<uint8_t> envelope;
  if ((first & 0x80) != 0) {
    envelope = mutate(w.seeds[in.index(w.seeds.size())].envelope, in);
  } else {
    const std::string_view raw = in.rest();
    envelope.assign(raw.begin(), raw.end());
  }

  mqseal::Result<mqseal::Opener> opener = mqseal::Opener::create(w.policy, w.keyring);
  check(opener.ok(), "Opener::create");
  mqseal::Opened opened;
  const mqseal::Status first_open = opener->open(topic, envelope, delivery, opened);
  if (std::getenv("MQSEAL_FUZZ_VERBOSE") != nullptr) {  // docs/TESTING.md: what an input does
    std::fprintf(stderr, "open('%.*s', %zu bytes, retained=%d, now=%llu): %s\n", static_cast<int>(topic.size()),
                 topic.data(), envelope.size(), delivery.retained ? 1 : 0,
                 static_cast<unsigned long long>(delivery.now_ms),
                 first_open ? "opened" : first_open.error().message().c_str());
  }
  check_caller_memory(w, topic, envelope, delivery, first_open, opened);
  if (!first_open) {
    check(opened.payload.empty() && !opened.sealed, "output left behind by a failed open");
    return 0;
  }
  check_opened(w, topic, envelope, opened);
  if (!opened.sealed) return 0;
  // Judged as retained only what was sealed to be retained and delivered so.
  if (opened.retained) {
    const mqseal::Result<mqseal::EnvelopeHeader> header = mqseal::parse_header(envelope);
    check(delivery.retained && header.ok() && (header->flags & mqseal::kFlagRetain) != 0,
          "judged as retained a message not sealed to be retained, or delivered live");
  }
  // One Opener never opens the same envelope twice live. (Retained repeats
  // are the replay_guard target's business: it checks every delivery order.)
  delivery.retained = false;
  const mqseal::Status again = opener->open(topic, envelope, delivery, opened);
  check(!again, "the same envelope opened twice");
  check(opened.payload.empty(), "output left behind by a refused repeat");
  return 0;
}
