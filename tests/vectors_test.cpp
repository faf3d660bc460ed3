// Checks the library against every known-answer vector in tests/vectors/,
// both ways: sealing reproduces the envelope bytes from the same inputs, and
// a fresh receiver gets the expected outcome.
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
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

std::vector<uint8_t> material_of(const json& doc, KeyId id) {
  for (const json& k : doc["keys"]) {
    if (k["id"] == id) return unhex(k["material"]);
  }
  ADD_FAILURE() << "no key " << id;
  return {};
}

json load() {
  std::ifstream in(std::string(MQSEAL_VECTORS_DIR) + "/envelope_v1.json");
  return json::parse(in);
}

struct World {
  std::shared_ptr<Keyring> keys = std::make_shared<Keyring>();
  TopicPolicy policy;
  ReplayOptions replay;
  explicit World(const json& doc) {
    for (const json& k : doc["keys"]) {
      // Retired keys come without material: any bytes do, they are wiped on retire.
      Key key = k.contains("material") ? take(Key::from_bytes(unhex(k["material"])))
                                       : take(Key::generate());
      testing::expect_ok(keys->add_with_id(k["name"].get<std::string>(), k["id"].get<KeyId>(),
                                           std::move(key)));
    }
    for (const json& k : doc["keys"]) {
      if (k["state"] == "primary") testing::expect_ok(keys->promote(k["id"].get<KeyId>()));
    }
    for (const json& k : doc["keys"]) {
      if (k["state"] == "retired") testing::expect_ok(keys->retire(k["id"].get<KeyId>()));
    }
    for (const json& r : doc["policy"]) {
      if (r.contains("plaintext")) testing::expect_ok(policy.add_plaintext_rule(r["filter"].get<std::string>()));
      else testing::expect_ok(policy.add_rule(r["filter"].get<std::string>(), r["key"].get<std::string>()));
    }
    replay.max_age_ms = doc["replay"]["max_age_ms"];
    replay.max_future_skew_ms = doc["replay"]["max_future_skew_ms"];
    replay.retained_max_age_ms = doc["replay"]["retained_max_age_ms"];
    EXPECT_EQ(doc["replay"]["retained"], "accept_within_age");
    replay.max_streams = doc["replay"]["max_streams"];
  }
};

TEST(Vectors, AtLeastTwelveSealedVectorsAndTheErrorCases) {
  json doc = load();
  size_t ok = 0;
  for (const json& v : doc["vectors"]) ok += v["expect"] == "ok";
  EXPECT_GE(ok, 12u);
  EXPECT_GE(doc["vectors"].size(), ok + 10);
}

TEST(Vectors, SealReproducesEveryEnvelope) {
  json doc = load();
  World world(doc);
  for (const json& v : doc["vectors"]) {
    if (v["expect"] != "ok") continue;
    SCOPED_TRACE(v["name"].get<std::string>());
    const std::string topic = v["topic"];
    const KeyId key_id = v["key_id"];
    Key rule_key = take(Key::from_bytes(material_of(doc, key_id)));
    uint8_t topic_key[kKeySize];
    testing::expect_ok(derive_topic_key(rule_key, topic, topic_key));
    EXPECT_EQ(std::vector<uint8_t>(topic_key, topic_key + kKeySize), unhex(v["topic_key"]));
    EnvelopeHeader h;
    h.key_id = key_id;
    h.timestamp_ms = v["timestamp_ms"];
    const std::vector<uint8_t> sender = unhex(v["sender"]);
    std::copy(sender.begin(), sender.end(), h.sender.begin());
    h.sequence = v["sequence"];
    std::vector<uint8_t> envelope;
    testing::expect_ok(seal_with_header(topic_key, topic, h, unhex(v["payload"]), envelope));
    EXPECT_EQ(envelope, unhex(v["envelope"]));
  }
}

TEST(Vectors, OpenGivesTheExpectedOutcome) {
  json doc = load();
  World world(doc);
  for (const json& v : doc["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    OpenerOptions options;
    options.replay = world.replay;
    Opener opener = take(Opener::create(world.policy, world.keys, options));
    const json& o = v["open"];
    Result<Opened> r = opener.open(o["topic"].get<std::string>(), unhex(v["envelope"]),
                                   {o["retained"].get<bool>(), o["now_ms"].get<uint64_t>()});
    if (v["expect"] == "ok") {
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->payload, unhex(v["payload"]));
      EXPECT_EQ(r->key_id, v["key_id"].get<KeyId>());
      EXPECT_EQ(r->sequence, v["sequence"].get<uint64_t>());
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(name(r.error().code()), v["expect"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace mqseal
