// Checks the library against every known-answer vector in tests/vectors/
// (docs/SPEC.md, section 13): sealing reproduces the envelope bytes from the
// same inputs, a receiver gets the expected outcome of every delivery, policies
// resolve as the vectors say, and the file formats parse (or are refused) as
// the vectors say. connect_token_v1.json is checked by credentials_test.
#include <gtest/gtest.h>
#include <mqseal/hazmat/envelope.h>
#include <mqseal/mqseal.h>
#include <mqseal/policy_file.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using nlohmann::json;
using testing::take;

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string hex(const std::vector<uint8_t>& v) {
  std::string out;
  for (uint8_t b : v) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    out += two;
  }
  return out;
}

// 64-bit integers are decimal strings in the vectors (SPEC section 13).
uint64_t u64(const json& j) {
  EXPECT_TRUE(j.is_string()) << "64-bit integers are written as strings: " << j.dump();
  const std::string s = j.get<std::string>();
  size_t end = 0;
  const uint64_t v = std::stoull(s, &end, 10);
  EXPECT_EQ(end, s.size()) << s;
  EXPECT_EQ(std::to_string(v), s) << "not canonical decimal";
  return v;
}

std::string str(const json& j) { return j.get<std::string>(); }

std::string topic_of(const json& j) {
  if (j.contains("topic_hex")) {
    const std::vector<uint8_t> b = unhex(j["topic_hex"]);
    return std::string(b.begin(), b.end());
  }
  return j["topic"];
}

std::vector<uint8_t> material_of(const json& doc, KeyId id) {
  for (const json& k : doc["keys"]) {
    if (k["id"] == id) return unhex(k["material"]);
  }
  ADD_FAILURE() << "no key " << id;
  return {};
}

json load(const std::string& name) {
  std::ifstream in(std::string(MQSEAL_VECTORS_DIR) + "/" + name);
  return json::parse(in);
}

std::string outcome(const Status& s) { return s ? "ok" : name(s.error().code()); }
template <typename T>
std::string outcome(const Result<T>& r) {
  return r ? "ok" : name(r.error().code());
}

ReplayOptions replay_options(const json& r) {
  ReplayOptions o;
  o.max_age_ms = u64(r["max_age_ms"]);
  o.max_future_skew_ms = u64(r["max_future_skew_ms"]);
  o.retained_max_age_ms = u64(r["retained_max_age_ms"]);
  EXPECT_TRUE(r["retained"] == "accept_within_age" || r["retained"] == "refuse");
  o.retained = r["retained"] == "refuse" ? RetainedPolicy::refuse : RetainedPolicy::accept_within_age;
  EXPECT_TRUE(r["max_streams"].is_number_unsigned());
  o.max_streams = r["max_streams"];
  return o;
}

std::shared_ptr<Keyring> keyring_of(const json& keys_json) {
  auto keys = std::make_shared<Keyring>();
  for (const json& k : keys_json) {
    // Retired keys come without material: any bytes do, they are wiped on retire.
    Key key = k.contains("material") ? take(Key::from_bytes(unhex(k["material"]))) : take(Key::generate());
    testing::expect_ok(keys->add_with_id(str(k["name"]), k["id"].get<KeyId>(), std::move(key)));
  }
  for (const json& k : keys_json) {
    if (k["state"] == "primary") testing::expect_ok(keys->promote(k["id"].get<KeyId>()));
  }
  for (const json& k : keys_json) {
    if (k["state"] == "retired") testing::expect_ok(keys->retire(k["id"].get<KeyId>()));
  }
  return keys;
}

// A rule's own retained policy (`retained`, `retained_max_age_ms`), if it has one.
std::optional<RetainedRule> retained_of(const json& r) {
  if (!r.contains("retained")) return std::nullopt;
  RetainedRule retained;
  if (r["retained"] == "refuse") retained.policy = RetainedPolicy::refuse;
  if (r.contains("retained_max_age_ms")) retained.max_age_ms = u64(r["retained_max_age_ms"]);
  return retained;
}

Status add_rules(TopicPolicy& policy, const json& rules) {
  for (const json& r : rules) {
    Status s;
    if (r.contains("plaintext")) {
      s = policy.add_plaintext_rule(str(r["filter"]));
    } else if (r.contains("recipient")) {
      const std::optional<RetainedRule> retained = retained_of(r);
      s = r.contains("signers") ? policy.add_signed_recipient_rule(str(r["filter"]), str(r["recipient"]),
                                                                   r["signers"].get<std::vector<std::string>>(), retained)
                                : policy.add_recipient_rule(str(r["filter"]), str(r["recipient"]), retained);
    } else if (r.contains("suite") && r["suite"] == 2) {
      const std::optional<RetainedRule> retained = retained_of(r);
      s = policy.add_signed_rule(str(r["filter"]), str(r["key"]), r["signers"].get<std::vector<std::string>>(),
                                 retained);
    } else if (r.contains("suite") && r["suite"] == 5) {
      const std::optional<RetainedRule> retained = retained_of(r);
      s = policy.add_aes256gcm_rule(str(r["filter"]), str(r["key"]), retained);
    } else if (r.contains("compact")) {
      s = policy.add_compact_rule(str(r["filter"]), str(r["key"]));
    } else if (r.contains("retained")) {
      s = policy.add_rule(str(r["filter"]), str(r["key"]), *retained_of(r));
    } else {
      s = policy.add_rule(str(r["filter"]), str(r["key"]));
    }
    if (!s) return s;
  }
  return {};
}

json rule_json(const TopicRule& r) {
  if (r.plaintext) return {{"filter", r.filter}, {"plaintext", true}};
  json rule = {{"filter", r.filter}, {"key", r.key_name}};
  if (r.suite == Suite::sealed_to_recipient) rule = {{"filter", r.filter}, {"recipient", r.key_name}};
  if (r.suite == Suite::signed_sealed) {
    rule = {{"filter", r.filter}, {"recipient", r.key_name}, {"suite", 4}};
    rule["signers"] = r.signers;
  }
  if (r.suite == Suite::signed_sender) {
    rule["suite"] = 2;
    rule["signers"] = r.signers;
  }
  if (r.suite == Suite::aes256gcm) rule["suite"] = 5;
  if (r.retained) {
    const bool refuse = r.retained->policy == RetainedPolicy::refuse;
    rule["retained"] = refuse ? "refuse" : "accept";
    if (!refuse) rule["retained_max_age_ms"] = std::to_string(r.retained->max_age_ms);
  }
  return rule;
}

// The header a vector's sealing inputs give (envelope or sequence step).
EnvelopeHeader header_of(const json& v) {
  EnvelopeHeader h;
  h.version = v["version"].get<uint8_t>();
  if (v.contains("suite")) h.suite = v["suite"].get<uint8_t>();
  h.flags = v.contains("flags") ? v["flags"].get<uint8_t>() : 0;
  h.key_id = v["key_id"];
  h.timestamp_ms = u64(v["timestamp_ms"]);
  const std::vector<uint8_t> sender = unhex(v["sender"]);
  std::copy(sender.begin(), sender.end(), h.sender.begin());
  h.sequence = u64(v["sequence"]);
  return h;
}

struct World {
  std::shared_ptr<Keyring> keys;
  TopicPolicy policy;
  ReplayOptions replay;
  explicit World(const json& doc) : keys(keyring_of(doc["keys"])) {
    testing::expect_ok(add_rules(policy, doc["policy"]));
    if (doc.contains("replay")) replay = replay_options(doc["replay"]);
  }
};

// ---- envelope_v2.json and envelope_v1.json ----

class EnvelopeVectors : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Vectors, EnvelopeVectors,
                         ::testing::Values("envelope_v2.json", "envelope_v1.json", "envelope_v3.json"));

TEST_P(EnvelopeVectors, AtLeastTwelveSealedVectorsAndTheErrorCases) {
  json doc = load(GetParam());
  size_t ok = 0;
  for (const json& v : doc["vectors"]) ok += v["expect"] == "ok";
  EXPECT_GE(ok, 12u);
  EXPECT_GE(doc["vectors"].size(), ok + 10);
}

TEST_P(EnvelopeVectors, SealReproducesEveryEnvelope) {
  json doc = load(GetParam());
  World world(doc);
  for (const json& v : doc["vectors"]) {
    if (v["expect"] != "ok") continue;
    SCOPED_TRACE(str(v["name"]));
    const std::string topic = v["topic"];
    const KeyId key_id = v["key_id"];
    Key rule_key = take(Key::from_bytes(material_of(doc, key_id)));
    uint8_t topic_key[kKeySize];
    testing::expect_ok(hazmat::derive_topic_key(rule_key, topic, topic_key));
    EXPECT_EQ(std::vector<uint8_t>(topic_key, topic_key + kKeySize), unhex(v["topic_key"]));
    const EnvelopeHeader h = header_of(v);
    std::vector<uint8_t> envelope;
    testing::expect_ok(hazmat::seal_with_header(topic_key, topic, h, unhex(v["payload"]), envelope));
    EXPECT_EQ(envelope, unhex(v["envelope"]));
  }
}

TEST_P(EnvelopeVectors, OpenGivesTheExpectedOutcome) {
  json doc = load(GetParam());
  World world(doc);
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(str(v["name"]));
    OpenerOptions options;
    options.replay = world.replay;
    Opener opener = take(Opener::create(world.policy, world.keys, options));
    const json& o = v["open"];
    Result<Opened> r = opener.open(str(o["topic"]), unhex(v["envelope"]), {o["retained"].get<bool>(), u64(o["now_ms"])});
    if (v["expect"] == "ok") {
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->payload, unhex(v["payload"]));
      EXPECT_EQ(r->key_id, v["key_id"].get<KeyId>());
      EXPECT_EQ(r->sequence, u64(v["sequence"]));
      if (v["version"] == kEnvelopeVersionCompact) {
        EXPECT_LE(v["overhead"].get<uint64_t>(), 36u);  // issue 12: compact is at most 36 bytes
        // The full time, to the second, as the receiver reads it.
        EXPECT_EQ(r->timestamp_ms, u64(v["timestamp_ms"]) / 1000 * 1000);
      }
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(name(r.error().code()), str(v["expect"]));
    }
  }
}

// ---- sequences_v1.json ----

TEST(Vectors, DeliverySequences) {
  json doc = load("sequences_v1.json");
  World world(doc);
  size_t steps = 0;
  for (const json& seq : doc["sequences"]) {
    SCOPED_TRACE(str(seq["name"]));
    OpenerOptions options;
    options.replay = replay_options(seq["replay"]);
    Opener opener = take(Opener::create(world.policy, world.keys, options));
    for (const json& step : seq["steps"]) {
      SCOPED_TRACE(str(step["label"]));
      ++steps;
      const std::vector<uint8_t> envelope = unhex(step["envelope"]);
      if (step.contains("seal")) {
        const json& s = step["seal"];
        Key rule_key = take(Key::from_bytes(material_of(doc, s["key_id"])));
        uint8_t topic_key[kKeySize];
        testing::expect_ok(hazmat::derive_topic_key(rule_key, str(s["topic"]), topic_key));
        const EnvelopeHeader h = header_of(s);
        std::vector<uint8_t> sealed;
        testing::expect_ok(hazmat::seal_with_header(topic_key, str(s["topic"]), h, unhex(s["payload"]), sealed));
        EXPECT_EQ(sealed, envelope);
      }
      const json& d = step["deliver"];
      Result<Opened> r = opener.open(str(d["topic"]), envelope, {d["retained"].get<bool>(), u64(d["now_ms"])});
      ASSERT_EQ(outcome(r), str(step["expect"])) << (r ? "" : r.error().message());
      if (r) {
        EXPECT_EQ(hex(r->payload), str(step["payload"]));
        EXPECT_EQ(r->sealed, step["sealed"].get<bool>());
      }
    }
  }
  EXPECT_GE(steps, 50u);
}

// ---- policy_v1.json ----

TEST(Vectors, PolicyResolution) {
  json doc = load("policy_v1.json");
  for (const json& p : doc["resolve"]) {
    SCOPED_TRACE(str(p["name"]));
    // Both orders: the result must not depend on the order of the rules.
    json reversed = json::array();
    for (auto it = p["rules"].rbegin(); it != p["rules"].rend(); ++it) reversed.push_back(*it);
    for (const json& rules : {p["rules"], reversed}) {
      TopicPolicy policy;
      testing::expect_ok(add_rules(policy, rules));
      for (const json& c : p["resolve"]) {
        const std::string topic = topic_of(c);
        SCOPED_TRACE(c.dump());
        Result<const TopicRule*> r = policy.resolve(topic);
        ASSERT_EQ(outcome(r), str(c["expect"]));
        if (r) {
          EXPECT_EQ(rule_json(**r), c["rule"]);
        }
      }
    }
  }
}

TEST(Vectors, PolicyBuilding) {
  json doc = load("policy_v1.json");
  for (const json& b : doc["build"]) {
    SCOPED_TRACE(str(b["name"]));
    TopicPolicy policy;
    EXPECT_EQ(outcome(add_rules(policy, b["rules"])), str(b["expect"]));
  }
}

// ---- files_v1.json ----

TEST(Vectors, KeyringFiles) {
  json doc = load("files_v1.json");
  for (const json& c : doc["keyring"]) {
    SCOPED_TRACE(str(c["name"]));
    Result<Keyring> k = Keyring::parse(str(c["text"]));
    ASSERT_EQ(outcome(k), str(c["expect"])) << (k ? "" : k.error().message());
    if (!k) continue;
    EXPECT_EQ(take(k->serialize()), str(c["written"]));
    const std::vector<KeyInfo> infos = k->list();
    ASSERT_EQ(infos.size(), c["keys"].size());
    for (size_t i = 0; i < infos.size(); ++i) {
      const json& want = c["keys"][i];
      EXPECT_EQ(infos[i].name, str(want["name"]));
      EXPECT_EQ(infos[i].id, want["id"].get<KeyId>());
      EXPECT_EQ(name(infos[i].state), str(want["state"]));
      EXPECT_EQ(infos[i].passphrase.has_value(), want.contains("argon2id"));
      if (infos[i].passphrase && want.contains("argon2id")) {
        const json& a = want["argon2id"];
        EXPECT_EQ(hex({infos[i].passphrase->salt.begin(), infos[i].passphrase->salt.end()}), str(a["salt"]));
        EXPECT_EQ(infos[i].passphrase->opslimit, u64(a["opslimit"]));
        EXPECT_EQ(infos[i].passphrase->memlimit, u64(a["memlimit"]));
      }
    }
    // The material (not in KeyInfo) is in the key lines mqseal writes.
    const std::string written = str(c["written"]);
    for (const json& want : c["keys"]) {
      char id[9];
      std::snprintf(id, sizeof id, "%08x", want["id"].get<KeyId>());
      const std::string line_start = "key " + str(want["name"]) + " " + id + " " + str(want["state"]) + " " +
                                     (want.contains("material") ? str(want["material"]) : std::string("-"));
      EXPECT_NE(written.find(line_start), std::string::npos) << line_start;
    }
  }
}

TEST(Vectors, CredentialsFiles) {
  json doc = load("files_v1.json");
  for (const json& c : doc["credentials"]) {
    SCOPED_TRACE(str(c["name"]));
    Result<Credentials> parsed = Credentials::parse(str(c["text"]));
    ASSERT_EQ(outcome(parsed), str(c["expect"])) << (parsed ? "" : parsed.error().message());
    if (!parsed) continue;
    EXPECT_EQ(take(parsed->serialize()), str(c["written"]));
    ASSERT_EQ(parsed->size(), c["users"].size());
    for (const json& u : c["users"]) {
      const CredentialRecord* r = parsed->find(str(u["username"]));
      ASSERT_NE(r, nullptr) << u["username"];
      EXPECT_EQ(hex({r->passphrase.salt.begin(), r->passphrase.salt.end()}), str(u["salt"]));
      EXPECT_EQ(r->passphrase.opslimit, u64(u["opslimit"]));
      EXPECT_EQ(r->passphrase.memlimit, u64(u["memlimit"]));
      EXPECT_TRUE(r->token_key.same_bytes(take(Key::from_bytes(unhex(str(u["token_key"]))))));
    }
  }
}

// Policy file cases (files_v1.json's `policy`, signed_v1.json's
// `policy_files`): the outcome and, for ok, the rules in file order.
void check_policy_files(const json& cases) {
  for (const json& c : cases) {
    SCOPED_TRACE(str(c["name"]));
    Result<TopicPolicy> p = parse_policy(str(c["text"]));
    ASSERT_EQ(outcome(p), str(c["expect"])) << (p ? "" : p.error().message());
    if (!p) continue;
    json rules = json::array();
    for (const TopicRule& r : p->rules()) rules.push_back(rule_json(r));
    EXPECT_EQ(rules, c["rules"]);
  }
}

TEST(Vectors, PolicyFiles) { check_policy_files(load("files_v1.json")["policy"]); }

// A rule with both `key` and `plaintext = false` says two things: refused
// (docs/SPEC.md, section 9), as the vectors say.
TEST(Vectors, PolicyFileRuleWithKeyAndPlaintextFalseIsRefused) {
  json doc = load("files_v1.json");
  bool seen = false;
  for (const json& c : doc["policy"]) {
    if (c["name"] != "key-and-plaintext-false") continue;
    seen = true;
    EXPECT_EQ(c["expect"], "parse_error");
    EXPECT_EQ(parse_policy(str(c["text"])).error(), Errc::parse_error);
  }
  EXPECT_TRUE(seen);
}

// ---- records_v1.json ----

TEST(Vectors, Records) {
  json doc = load("records_v1.json");
  std::shared_ptr<const Keyring> keys = keyring_of(doc["keys"]);
  RecordCipher cipher = take(RecordCipher::create(keys, str(doc["key_name"]), str(doc["purpose"])));
  size_t ok = 0;
  for (const json& r : doc["records"]) {
    SCOPED_TRACE(str(r["name"]));
    std::vector<uint8_t> plain;
    Status s = cipher.open(unhex(r["associated"]), unhex(r["record"]), plain);
    ASSERT_EQ(outcome(s), str(r["expect"]));
    if (s) {
      ++ok;
      EXPECT_EQ(hex(plain), str(r["payload"]));
      // Sealing draws a random nonce: check the round trip and the layout.
      std::vector<uint8_t> again;
      testing::expect_ok(cipher.seal(unhex(r["associated"]), plain, again));
      EXPECT_EQ(again.size(), unhex(r["record"]).size());
      EXPECT_EQ(again[0], kRecordVersion);
      EXPECT_EQ(hex({again.begin() + 1, again.begin() + 5}), "00000022");  // the primary
      std::vector<uint8_t> back;
      testing::expect_ok(cipher.open(unhex(r["associated"]), again, back));
      EXPECT_EQ(back, plain);
    }
  }
  EXPECT_GE(ok, 4u);
}

// The replay store file (docs/SPEC.md section 11): each file, written with
// mode 0600, opens (or is refused) as the vectors say, and its claims answer
// as they say; the partition digests are those of the records found.
TEST(Vectors, ReplayStoreFiles) {
  json doc = load("replay_store_v1.json");
  ASSERT_GE(doc["files"].size(), 8u);
  size_t ok = 0;
  for (const json& f : doc["files"]) {
    SCOPED_TRACE(str(f["label"]));
    testing::TempDir dir;
    const std::string path = dir.file("replay");
    const std::vector<uint8_t> bytes = unhex(str(f["file_hex"]));
    testing::write_file(path, std::string(bytes.begin(), bytes.end()), 0600);
    Result<std::shared_ptr<ReplayStore>> store = open_file_replay_store(path, FileReplayStoreOptions{16});
    ASSERT_EQ(outcome(store), str(f["expect"])) << (store ? "" : store.error().message());
    if (!store) continue;
    ++ok;
    for (const json& c : f["claims"]) {
      const std::string name_space = str(c["namespace"]), partition = str(c["partition"]);  // the claim views them
      ReplayClaim claim{name_space, partition, {}, u64(c["keep_until_s"]), u64(doc["now_s"]), 64};
      const std::vector<uint8_t> id = unhex(str(c["id"]));
      ASSERT_EQ(id.size(), kReplayIdSize);
      std::copy(id.begin(), id.end(), claim.id.begin());
      Result<ClaimOutcome> answer = (*store)->claim(claim);
      ASSERT_TRUE(answer) << answer.error().message();
      EXPECT_EQ(*answer == ClaimOutcome::first_use ? "first_use" : "seen", str(c["answer"]));
    }
  }
  EXPECT_GE(ok, 2u);
  // A record's partition field is the digest of its (namespace, partition).
  const json& two_users = doc["files"][1];
  const std::string file_hex = str(two_users["file_hex"]);
  for (const json& p : doc["partitions"]) {
    if (str(p["namespace"]) != "token") continue;
    EXPECT_NE(file_hex.find(str(p["digest"])), std::string::npos) << str(p["partition"]);
  }
}

}  // namespace
}  // namespace mqseal

namespace mqseal {
namespace {

// ---- signed_v1.json: suite 2 ----

struct SignedWorld {
  std::shared_ptr<Keyring> receiver = keyring_of(load("signed_v1.json")["keys"]);
  Keyring sealing = take(keyring_of(load("signed_v1.json")["keys"])->clone());
  TopicPolicy policy;
  explicit SignedWorld(const json& doc) {
    testing::expect_ok(add_rules(policy, doc["policy"]));
    for (const json& k : doc["signing"]) {
      testing::expect_ok(sealing.add_signing_key_with_id(str(k["name"]), k["id"], take(Key::from_bytes(unhex(k["seed"])))));
      EXPECT_EQ(hex([&] { SignerPublicKey pk = take(sealing.public_key(k["id"])); return std::vector<uint8_t>(pk.begin(), pk.end()); }()),
                str(k["public"]));
    }
    for (const json& k : doc["trusted"]) {
      const std::vector<uint8_t> pk = k.contains("public") ? unhex(k["public"]) : [&] {
        for (const json& s : doc["signing"]) {
          if (s["id"] == k["id"]) return unhex(s["public"]);
        }
        return std::vector<uint8_t>{};
      }();
      testing::expect_ok(receiver->add_trusted_signer(str(k["name"]), k["id"], pk));
      if (k["state"] == "retired") testing::expect_ok(receiver->retire(k["id"]));
    }
  }
};

TEST(Vectors, SignedEnvelopes) {
  const json doc = load("signed_v1.json");
  SignedWorld world(doc);
  size_t sealed = 0;
  size_t refused = 0;
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(str(v["name"]));
    const std::vector<uint8_t> envelope = unhex(v["envelope"]);
    if (v["expect"] == "ok") {
      ++sealed;
      EnvelopeHeader h = header_of(v);
      h.suite = v["suite"].get<uint8_t>();
      h.signer_key_id = v["signer_key_id"];
      Key rule_key = take(Key::from_bytes(material_of(doc, v["key_id"])));
      uint8_t topic_key[kKeySize];
      testing::expect_ok(hazmat::derive_topic_key(rule_key, str(v["topic"]), topic_key));
      EXPECT_EQ(hex({topic_key, topic_key + kKeySize}), str(v["topic_key"]));
      std::vector<uint8_t> out;
      testing::expect_ok(hazmat::seal_signed_with_header(topic_key, str(v["topic"]), h, unhex(v["payload"]),
                                                         world.sealing, out));
      EXPECT_EQ(out, envelope);
      EXPECT_EQ(hex({envelope.end() - 64, envelope.end()}), str(v["signature"]));
    } else {
      ++refused;
    }
    Opener opener = take(Opener::create(world.policy, world.receiver));
    const json& o = v["open"];
    Result<Opened> r = opener.open(str(o["topic"]), envelope, {o["retained"].get<bool>(), u64(o["now_ms"])});
    ASSERT_EQ(outcome(r), str(v["expect"])) << (r ? "" : r.error().message());
    if (r) {
      EXPECT_EQ(hex(r->payload), str(v["payload"]));
      EXPECT_EQ(r->signer, str(v["signer"]));
      EXPECT_EQ(r->signer_key_id, v["signer_key_id"].get<KeyId>());
    }
  }
  EXPECT_GE(sealed, 8u);
  EXPECT_GE(refused, 80u);
  for (const json& seq : doc["sequences"]) {
    SCOPED_TRACE(str(seq["name"]));
    OpenerOptions options;
    options.replay = replay_options(seq["replay"]);
    Opener opener = take(Opener::create(world.policy, world.receiver, options));
    for (const json& step : seq["steps"]) {
      SCOPED_TRACE(str(step["label"]));
      const json& d = step["deliver"];
      Result<Opened> r = opener.open(str(d["topic"]), unhex(step["envelope"]), {d["retained"].get<bool>(), u64(d["now_ms"])});
      EXPECT_EQ(outcome(r), str(step["expect"]));
    }
  }
}

// ---- aes256gcm_v1.json: suite 5 ----

// At least this many, so that a truncated file fails (the file has 16 and 51).
constexpr size_t kMinAesSealed = 16;
constexpr size_t kMinAesVectors = 50;
constexpr size_t kMinAesSteps = 9;
constexpr size_t kMinAesPolicyFiles = 8;
constexpr size_t kAesNonceSize = 12;     // docs/SPEC.md, section 4e: 0^4 || be64(sequence)
constexpr size_t kAesNonceZeroSize = 4;

// Suite 5 needs AES-NI and PCLMULQDQ: where the Opener refuses its policy
// (unsupported_suite, docs/SPEC.md, section 4e), these tests are skipped.
bool aes_unavailable(const World& world) {
  Result<Opener> probe = Opener::create(world.policy, world.keys);
  return !probe && probe.error().code() == Errc::unsupported_suite;
}

TEST(Vectors, Aes256GcmEnvelopes) {
  const json doc = load("aes256gcm_v1.json");
  World world(doc);
  if (aes_unavailable(world)) {
    GTEST_SKIP() << "no AES-256-GCM on this CPU";
  }
  size_t sealed = 0;
  size_t refused = 0;
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(str(v["name"]));
    const std::vector<uint8_t> envelope = unhex(v["envelope"]);
    if (v["expect"] == "ok") {
      ++sealed;
      // Sealing with the vector's inputs reproduces it; its intermediates
      // are the spec's.
      const EnvelopeHeader h = header_of(v);
      EXPECT_EQ(h.suite, kSuiteAes256Gcm);
      EXPECT_EQ(v["overhead"].get<size_t>(), kEnvelopeOverhead);
      EXPECT_EQ(envelope.size(), unhex(v["payload"]).size() + kEnvelopeOverhead);
      Key rule_key = take(Key::from_bytes(material_of(doc, v["key_id"])));
      uint8_t topic_key[kKeySize];
      testing::expect_ok(hazmat::derive_topic_key(rule_key, str(v["topic"]), topic_key));
      EXPECT_EQ(hex({topic_key, topic_key + kKeySize}), str(v["topic_key"]));
      std::vector<uint8_t> out;
      testing::expect_ok(hazmat::seal_with_header(topic_key, str(v["topic"]), h, unhex(v["payload"]), out));
      EXPECT_EQ(out, envelope);
      // ad = the whole 39-byte header || be16(len(topic)) || topic.
      const std::string topic = str(v["topic"]);
      std::vector<uint8_t> ad(envelope.begin(), envelope.begin() + kHeaderSize);
      ad.push_back(static_cast<uint8_t>(topic.size() >> 8));
      ad.push_back(static_cast<uint8_t>(topic.size()));
      ad.insert(ad.end(), topic.begin(), topic.end());
      EXPECT_EQ(hex(ad), str(v["associated_data"]));
      std::vector<uint8_t> nonce(kAesNonceZeroSize, 0);
      nonce.insert(nonce.end(), envelope.begin() + kHeaderSize - kSequenceSize, envelope.begin() + kHeaderSize);
      ASSERT_EQ(nonce.size(), kAesNonceSize);
      EXPECT_EQ(hex(nonce), str(v["nonce"]));
      EXPECT_LE(h.sequence, kAes256GcmMaxSequence);
      // The key alone opens it (no replay state).
      std::vector<uint8_t> opened;
      testing::expect_ok(hazmat::open_with_key(topic_key, topic, envelope, opened));
      EXPECT_EQ(hex(opened), str(v["payload"]));
    } else {
      ++refused;
    }
    OpenerOptions options;
    options.replay = world.replay;
    Opener opener = take(Opener::create(world.policy, world.keys, options));
    const json& o = v["open"];
    Result<Opened> r = opener.open(str(o["topic"]), envelope, {o["retained"].get<bool>(), u64(o["now_ms"])});
    ASSERT_EQ(outcome(r), str(v["expect"])) << (r ? "" : r.error().message());
    if (r) {
      EXPECT_EQ(hex(r->payload), str(v["payload"]));
      EXPECT_EQ(r->key_id, v["key_id"].get<KeyId>());
      EXPECT_EQ(r->sequence, u64(v["sequence"]));
      EXPECT_EQ(r->timestamp_ms, u64(v["timestamp_ms"]));
    }
  }
  EXPECT_GE(sealed, kMinAesSealed);
  EXPECT_GE(sealed + refused, kMinAesVectors);
}

TEST(Vectors, Aes256GcmSequencesAndPolicyFiles) {
  const json doc = load("aes256gcm_v1.json");
  World world(doc);
  if (aes_unavailable(world)) {
    GTEST_SKIP() << "no AES-256-GCM on this CPU";
  }
  size_t steps = 0;
  for (const json& seq : doc["sequences"]) {
    SCOPED_TRACE(str(seq["name"]));
    OpenerOptions options;
    options.replay = replay_options(seq["replay"]);
    Opener opener = take(Opener::create(world.policy, world.keys, options));
    for (const json& step : seq["steps"]) {
      SCOPED_TRACE(str(step["label"]));
      ++steps;
      const json& d = step["deliver"];
      Result<Opened> r = opener.open(str(d["topic"]), unhex(step["envelope"]), {d["retained"].get<bool>(), u64(d["now_ms"])});
      ASSERT_EQ(outcome(r), str(step["expect"])) << (r ? "" : r.error().message());
      if (r) {
        EXPECT_EQ(hex(r->payload), str(step["payload"]));
      }
    }
  }
  EXPECT_GE(steps, kMinAesSteps);
  EXPECT_GE(doc["policy_files"].size(), kMinAesPolicyFiles);
  check_policy_files(doc["policy_files"]);
}

TEST(Vectors, SignedKeyringAndPolicyFiles) {
  const json doc = load("signed_v1.json");
  for (const json& c : doc["keyring_files"]) {
    SCOPED_TRACE(str(c["name"]));
    Result<Keyring> k = Keyring::parse(str(c["text"]));
    ASSERT_EQ(outcome(k), str(c["expect"])) << (k ? "" : k.error().message());
    if (!k) continue;
    EXPECT_EQ(take(k->serialize()), str(c["written"]));
    EXPECT_EQ(k->export_public(), str(c["public_export"]));
    const std::vector<KeyInfo> infos = k->list();
    ASSERT_EQ(infos.size(), c["keys"].size());
    for (size_t i = 0; i < infos.size(); ++i) {
      const json& want = c["keys"][i];
      EXPECT_EQ(name(infos[i].kind), str(want["kind"]));
      EXPECT_EQ(infos[i].name, str(want["name"]));
      EXPECT_EQ(infos[i].id, want["id"].get<KeyId>());
      EXPECT_EQ(name(infos[i].state), str(want["state"]));
      EXPECT_EQ(infos[i].public_key.has_value(), want.contains("public"));
      if (infos[i].public_key) {
        EXPECT_EQ(hex({infos[i].public_key->begin(), infos[i].public_key->end()}), str(want["public"]));
      }
    }
  }
  EXPECT_GE(doc["keyring_files"].size(), 15u);
  check_policy_files(doc["policy_files"]);
}


// ---- recipient_v1.json: suite 3 ----

TEST(Vectors, RecipientEnvelopes) {
  const json doc = load("recipient_v1.json");
  std::shared_ptr<Keyring> receiver = keyring_of(doc["keys"]);
  for (const json& k : doc["recipients"]) {
    if (k["state"] == "retired") continue;
    testing::expect_ok(receiver->add_recipient_key_with_id(str(k["name"]), k["id"], take(Key::from_bytes(unhex(k["secret"])))));
    const SignerPublicKey pk = take(receiver->public_key(k["id"]));
    EXPECT_EQ(hex({pk.begin(), pk.end()}), str(k["public"]));
  }
  // A retired key pair: only its ID is kept (added with any secret, then retired).
  for (const json& k : doc["recipients"]) {
    if (k["state"] != "retired") continue;
    testing::expect_ok(receiver->add_recipient_key_with_id(str(k["name"]), k["id"], take(Key::from_bytes(std::vector<uint8_t>(32, 7)))));
    testing::expect_ok(receiver->retire(k["id"]));
  }
  Keyring signing;  // suite 4's signers; the receiver trusts their public keys
  for (const json& k : doc["signing"]) {
    testing::expect_ok(signing.add_signing_key_with_id(str(k["name"]), k["id"], take(Key::from_bytes(unhex(k["seed"])))));
    testing::expect_ok(receiver->add_trusted_signer(str(k["name"]), k["id"], unhex(k["public"])));
  }
  TopicPolicy policy;
  testing::expect_ok(add_rules(policy, doc["policy"]));
  size_t sealed = 0;
  size_t refused = 0;
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(str(v["name"]));
    const std::vector<uint8_t> envelope = unhex(v["envelope"]);
    if (v["expect"] == "ok" && v["suite"] == kSuiteSignedSealed) {
      ++sealed;
      EnvelopeHeader h = header_of(v);
      h.suite = kSuiteSignedSealed;
      h.signer_key_id = v["signer_key_id"];
      uint8_t session_key[kKeySize], topic_key[kKeySize];
      testing::expect_ok(hazmat::derive_recipient_keys(take(Key::from_bytes(unhex(v["ephemeral_secret"]))),
                                                       unhex(v["recipient_public"]), str(v["topic"]),
                                                       h.ephemeral.data(), session_key, topic_key));
      std::vector<uint8_t> out;
      testing::expect_ok(hazmat::seal_signed_sealed_with_header(topic_key, str(v["topic"]), h, unhex(v["payload"]),
                                                                signing, out));
      EXPECT_EQ(out, envelope);
    } else if (v["expect"] == "ok") {
      ++sealed;
      EnvelopeHeader h = header_of(v);
      h.suite = v["suite"].get<uint8_t>();
      uint8_t session_key[kKeySize], topic_key[kKeySize];
      testing::expect_ok(hazmat::derive_recipient_keys(take(Key::from_bytes(unhex(v["ephemeral_secret"]))),
                                                       unhex(v["recipient_public"]), str(v["topic"]),
                                                       h.ephemeral.data(), session_key, topic_key));
      EXPECT_EQ(hex({h.ephemeral.begin(), h.ephemeral.end()}), str(v["ephemeral_public"]));
      EXPECT_EQ(hex({session_key, session_key + kKeySize}), str(v["session_key"]));
      EXPECT_EQ(hex({topic_key, topic_key + kKeySize}), str(v["topic_key"]));
      std::vector<uint8_t> out;
      testing::expect_ok(hazmat::seal_with_header(topic_key, str(v["topic"]), h, unhex(v["payload"]), out));
      EXPECT_EQ(out, envelope);
    } else {
      ++refused;
    }
    Opener opener = take(Opener::create(policy, receiver));
    const json& o = v["open"];
    Result<Opened> r = opener.open(str(o["topic"]), envelope, {o["retained"].get<bool>(), u64(o["now_ms"])});
    ASSERT_EQ(outcome(r), str(v["expect"])) << (r ? "" : r.error().message());
    if (r) {
      EXPECT_EQ(hex(r->payload), str(v["payload"]));
      EXPECT_EQ(r->signer, v.contains("signer") ? str(v["signer"]) : std::string());
    }
  }
  EXPECT_GE(sealed, 10u);
  EXPECT_GE(refused, 34u);
}

TEST(Vectors, RecipientKeyringAndPolicyFiles) {
  const json doc = load("recipient_v1.json");
  for (const json& c : doc["keyring_files"]) {
    SCOPED_TRACE(str(c["name"]));
    Result<Keyring> k = Keyring::parse(str(c["text"]));
    ASSERT_EQ(outcome(k), str(c["expect"])) << (k ? "" : k.error().message());
    if (!k) continue;
    EXPECT_EQ(take(k->serialize()), str(c["written"]));
    EXPECT_EQ(k->export_public(), str(c["public_export"]));
    const std::vector<KeyInfo> infos = k->list();
    ASSERT_EQ(infos.size(), c["keys"].size());
    for (size_t i = 0; i < infos.size(); ++i) {
      EXPECT_EQ(name(infos[i].kind), str(c["keys"][i]["kind"]));
      EXPECT_EQ(infos[i].id, c["keys"][i]["id"].get<KeyId>());
    }
  }
  EXPECT_GE(doc["keyring_files"].size(), 15u);
  check_policy_files(doc["policy_files"]);
}

}  // namespace
}  // namespace mqseal
