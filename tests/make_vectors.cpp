// Writes tests/vectors/envelope_v1.json: the known-answer vectors for
// envelope v1 (docs/SPEC.md). Run by scripts/make-vectors; the output is
// committed and checked by vectors_test (C++) and the Python tests. Every
// input is fixed here, so the output only changes if the format does.
#include <mqseal/mqseal.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using mqseal::Errc;

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}
std::string hex(const std::vector<uint8_t>& v) { return hex(v.data(), v.size()); }

std::vector<uint8_t> pattern(size_t n, uint8_t start) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i);
  return v;
}

template <typename T>
T must(mqseal::Result<T> r) {
  if (!r) {
    std::cerr << "make_vectors: " << r.error().message() << "\n";
    std::exit(1);
  }
  return std::move(*r);
}
void must(const mqseal::Status& s) {
  if (!s) {
    std::cerr << "make_vectors: " << s.error().message() << "\n";
    std::exit(1);
  }
}

struct KeySpec {
  const char* name;
  mqseal::KeyId id;
  mqseal::KeyState state;
  uint8_t first_byte;  // material = first_byte, first_byte + 1, ...
};

const KeySpec kKeys[] = {
    {"telemetry", 0x00000001, mqseal::KeyState::active, 0x00},
    {"telemetry", 0x00000002, mqseal::KeyState::primary, 0x20},
    {"telemetry", 0x00000003, mqseal::KeyState::retired, 0x60},
    {"commands", 0x0000000a, mqseal::KeyState::primary, 0x40},
};

constexpr uint64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr uint64_t kMinute = 60'000;
constexpr uint64_t kDay = 24 * 60 * kMinute;

struct Vectors {
  mqseal::Keyring keyring;
  mqseal::TopicPolicy policy;
  json list = json::array();

  std::vector<uint8_t> topic_key(mqseal::KeyId id, const std::string& topic) {
    for (const KeySpec& k : kKeys) {
      if (k.id == id) {
        std::vector<uint8_t> material = pattern(mqseal::kKeySize, k.first_byte);
        mqseal::Key key = must(mqseal::Key::from_bytes(material));
        std::vector<uint8_t> out(mqseal::kKeySize);
        must(mqseal::derive_topic_key(key, topic, out.data()));
        return out;
      }
    }
    std::exit(1);
  }

  // The outcome of a fresh receiver opening `envelope` on `topic`.
  std::string outcome(const std::string& topic, const std::vector<uint8_t>& envelope,
                      uint64_t now_ms, bool retained) {
    auto keys = std::make_shared<mqseal::Keyring>(must(keyring.clone()));
    mqseal::Opener opener = must(mqseal::Opener::create(policy, keys));
    mqseal::Result<mqseal::Opened> r = opener.open(topic, envelope, {retained, now_ms});
    return r ? "ok" : mqseal::name(r.error().code());
  }

  std::vector<uint8_t> sealed(const std::string& name, const std::string& description,
                              const std::string& topic, const std::vector<uint8_t>& payload,
                              mqseal::KeyId key_id, uint64_t timestamp_ms, uint8_t sender_byte,
                              uint64_t sequence, uint64_t now_ms, bool retained) {
    mqseal::EnvelopeHeader h;
    h.key_id = key_id;
    h.timestamp_ms = timestamp_ms;
    h.sender.fill(sender_byte);
    for (size_t i = 0; i < h.sender.size(); i += 2) h.sender[i] = static_cast<uint8_t>(i);
    h.sequence = sequence;
    std::vector<uint8_t> key = topic_key(key_id, topic);
    std::vector<uint8_t> envelope;
    must(mqseal::seal_with_header(key.data(), topic, h, payload, envelope));
    std::vector<uint8_t> ad(envelope.begin(), envelope.begin() + mqseal::kAssociatedHeaderSize);
    ad.push_back(static_cast<uint8_t>(topic.size() >> 8));
    ad.push_back(static_cast<uint8_t>(topic.size()));
    ad.insert(ad.end(), topic.begin(), topic.end());
    const std::string expect = outcome(topic, envelope, now_ms, retained);
    if (expect != "ok") {
      std::cerr << "make_vectors: " << name << " does not open: " << expect << "\n";
      std::exit(1);
    }
    list.push_back({{"name", name},
                    {"description", description},
                    {"topic", topic},
                    {"payload", hex(payload)},
                    {"key_id", key_id},
                    {"timestamp_ms", timestamp_ms},
                    {"sender", hex(h.sender.data(), h.sender.size())},
                    {"sequence", sequence},
                    {"topic_key", hex(key)},
                    {"associated_data", hex(ad)},
                    {"envelope", hex(envelope)},
                    {"open", {{"topic", topic}, {"now_ms", now_ms}, {"retained", retained}}},
                    {"expect", "ok"}});
    return envelope;
  }

  void refused(const std::string& name, const std::string& description, const std::string& topic,
               const std::vector<uint8_t>& envelope, uint64_t now_ms, bool retained,
               const std::string& expect) {
    const std::string got = outcome(topic, envelope, now_ms, retained);
    if (got != expect) {
      std::cerr << "make_vectors: " << name << " gave " << got << ", wanted " << expect << "\n";
      std::exit(1);
    }
    list.push_back({{"name", name},
                    {"description", description},
                    {"envelope", hex(envelope)},
                    {"open", {{"topic", topic}, {"now_ms", now_ms}, {"retained", retained}}},
                    {"expect", expect}});
  }
};

}  // namespace

// tests/vectors/connect_token_v1.json: provisioning and CONNECT tokens
// (docs/SPEC.md, section 11). Cheap Argon2id limits keep the checks fast.
json token_vectors() {
  mqseal::PassphraseParams params;
  for (size_t i = 0; i < params.salt.size(); ++i) params.salt[i] = static_cast<uint8_t>(i);
  params.opslimit = 2;
  params.memlimit = 65536;
  const std::string username = "device-7";
  const std::string password = "correct horse battery staple";
  mqseal::Provisioned p = must(mqseal::provision(username, password, params));
  mqseal::Credentials credentials;
  must(credentials.add(p.record));
  constexpr uint64_t kExpiry = 1767225900;  // 2026-01-01T00:05:00Z
  json tokens = json::array();
  json refusals = json::array();
  const std::pair<std::string, uint8_t> clients[] = {
      {"client-7", 0x10}, {"", 0x20}, {"g\xc3\xa4rtnerei/7", 0x30}, {std::string(200, 'c'), 0x40}};
  std::string first_token;
  for (const auto& [client, first_byte] : clients) {
    std::array<uint8_t, mqseal::kTokenNonceSize> nonce{};
    for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(first_byte + i);
    const std::string token =
        must(mqseal::make_connect_token_with_nonce(p.device_secret, username, client, kExpiry, nonce));
    if (first_token.empty()) first_token = token;
    tokens.push_back({{"username", username}, {"client_id", client}, {"expiry_s", kExpiry},
                      {"nonce", hex(nonce.data(), nonce.size())}, {"token", token}});
  }
  struct Refusal {
    const char* name;
    std::string username, client_id, token;
    uint64_t now_s;
    const char* expect;
  };
  std::string altered = first_token;
  altered[30] = altered[30] == 'A' ? 'B' : 'A';
  const Refusal cases[] = {
      {"accepted", username, "client-7", first_token, kExpiry - 60, "ok"},
      {"within-skew", username, "client-7", first_token, kExpiry + 20, "ok"},
      {"expired", username, "client-7", first_token, kExpiry + 31, "expired"},
      {"too-long-lived", username, "client-7", first_token, kExpiry - 3631, "not_yet_valid"},
      {"other-client", username, "client-8", first_token, kExpiry - 60, "authentication_failed"},
      {"altered", username, "client-7", altered, kExpiry - 60, "authentication_failed"},
      {"unknown-user", "device-9", "client-7", first_token, kExpiry - 60, "authentication_failed"},
      {"not-a-token", username, "client-7", "correct horse battery staple", kExpiry - 60, "malformed"},
      {"truncated", username, "client-7", first_token.substr(0, 80), kExpiry - 60, "malformed"},
  };
  for (const Refusal& c : cases) {
    mqseal::Credentials copy = must(mqseal::Credentials::parse(must(credentials.serialize())));
    mqseal::TokenVerifier verifier = must(mqseal::TokenVerifier::create(std::move(copy)));
    mqseal::Status s = verifier.verify(c.username, c.client_id, c.token, c.now_s);
    const std::string got = s ? "ok" : mqseal::name(s.error().code());
    if (got != c.expect) {
      std::cerr << "make_vectors: token case " << c.name << " gave " << got << "\n";
      std::exit(1);
    }
    refusals.push_back({{"name", c.name}, {"username", c.username}, {"client_id", c.client_id},
                        {"token", c.token}, {"now_s", c.now_s}, {"expect", c.expect}});
  }
  return {
      {"format", "mqseal CONNECT token v1 known-answer vectors (docs/SPEC.md, section 11)"},
      {"generator", "tests/make_vectors.cpp"},
      {"provisioning", {{"username", username}, {"password", password},
                        {"salt", hex(params.salt.data(), params.salt.size())},
                        {"opslimit", params.opslimit}, {"memlimit", params.memlimit},
                        {"token_key", hex(p.record.token_key.data(), p.record.token_key.size())}}},
      {"verifier", {{"max_clock_skew_s", 30}, {"max_lifetime_s", 3600}}},
      {"notes", "device_secret is not listed: derive it from the provisioning inputs. Verify each case "
                "with a fresh verifier; a token verified twice is a replay."},
      {"tokens", tokens},
      {"verify", refusals},
  };
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_vectors DIRECTORY (writes envelope_v1.json and connect_token_v1.json)\n";
    return 2;
  }
  const std::string directory = argv[1];
  Vectors v;
  json keys = json::array();
  for (const KeySpec& k : kKeys) {
    std::vector<uint8_t> material = pattern(mqseal::kKeySize, k.first_byte);
    must(v.keyring.add_with_id(k.name, k.id, must(mqseal::Key::from_bytes(material))));
    json entry = {{"name", k.name}, {"id", k.id}, {"state", mqseal::name(k.state)}};
    // A retired key carries no material (SPEC section 1): only its ID is kept.
    if (k.state != mqseal::KeyState::retired) entry["material"] = hex(material);
    keys.push_back(entry);
  }
  must(v.keyring.promote(0x00000002));
  must(v.keyring.retire(0x00000003));
  must(v.policy.add_rule("plant/+/telemetry", "telemetry"));
  must(v.policy.add_rule("plant/+/cmd/#", "commands"));
  must(v.policy.add_plaintext_rule("public/#"));

  const std::string t7 = "plant/7/telemetry";
  const std::vector<uint8_t> reading = {'2', '1', '.', '5', ' ', 'C'};
  const uint64_t now = kT0 + 2000;
  std::vector<uint8_t> basic = v.sealed("short",
                                        "sealed under key 1, the primary before a rotation, "
                                        "now active: still opens (a Sealer always uses the "
                                        "primary; vectors name the key explicitly)",
                                        t7, reading, 1, kT0, 0xa1, 0, now, false);
  v.sealed("empty", "empty payload", t7, {}, 2, kT0, 0xa1, 1, now, false);
  v.sealed("one-byte", "one-byte payload", t7, {0x00}, 2, kT0 + 1, 0xa1, 2, now, false);
  v.sealed("1k", "1 KiB payload", t7, pattern(1024, 7), 2, kT0 + 2, 0xa1, 3, now, false);
  v.sealed("64k", "64 KiB payload", t7, pattern(65536, 0), 2, kT0 + 3, 0xa1, 4, now, false);
  v.sealed("other-topic", "same key, another concrete topic: another topic key",
           "plant/8/telemetry", reading, 2, kT0, 0xa1, 5, now, false);
  v.sealed("rotated-key", "sealed under key 2, the primary after the rotation", t7, reading, 2,
           kT0 + 500, 0xb2, 0, now, false);
  v.sealed("commands", "a multi-level topic under the commands key", "plant/7/cmd/valve/open",
           {'o', 'p', 'e', 'n'}, 0x0a, kT0, 0xa1, 6, now, false);
  v.sealed("utf8-topic", "a topic level in non-ASCII UTF-8", "plant/k\xc3\xbchlhaus/telemetry",
           reading, 2, kT0, 0xa1, 7, now, false);
  v.sealed("retained", "a retained message delivered two days after it was sealed", t7, reading,
           2, kT0, 0xc3, 0, kT0 + 2 * kDay, true);
  v.sealed("large-sequence", "sender bytes and a sequence near the top of its range", t7,
           reading, 2, kT0, 0xff, 0xfffffffffffffffeull, now, false);
  v.sealed("clock-skew", "timestamp 30 s ahead of the receiver: within the default skew", t7,
           reading, 2, now + 30'000, 0xa1, 8, now, false);

  std::vector<uint8_t> flipped = basic;
  flipped.back() ^= 0x01;
  std::vector<uint8_t> version2 = basic;
  version2[0] = 2;
  std::vector<uint8_t> suite9 = basic;
  suite9[1] = 9;
  std::vector<uint8_t> retimed = basic;
  retimed[13] ^= 0x01;
  std::vector<uint8_t> unknown = basic;
  unknown[5] = 0x99;
  std::vector<uint8_t> retired = basic;
  retired[5] = 0x03;
  std::vector<uint8_t> other_name = basic;
  other_name[5] = 0x0a;
  v.refused("moved-topic", "the 'short' envelope published on another topic", "plant/8/telemetry",
            basic, now, false, "authentication_failed");
  v.refused("flipped-tag", "last bit of the tag flipped", t7, flipped, now, false,
            "authentication_failed");
  v.refused("altered-timestamp", "one bit of the header timestamp flipped", t7, retimed, now,
            false, "authentication_failed");
  v.refused("truncated", "one byte shorter than the smallest envelope", t7,
            std::vector<uint8_t>(basic.begin(), basic.begin() + mqseal::kEnvelopeOverhead - 1),
            now, false, "malformed");
  v.refused("version-2", "format version 2", t7, version2, now, false, "unsupported_version");
  v.refused("suite-9", "cipher suite 9", t7, suite9, now, false, "unsupported_suite");
  v.refused("unknown-key", "key ID 0x00000099, not in the keyring", t7, unknown, now, false,
            "unknown_key");
  v.refused("retired-key", "key ID 0x00000003, retired", t7, retired, now, false, "key_retired");
  v.refused("wrong-key-for-topic", "a commands key ID on a telemetry topic", t7, other_name, now,
            false, "wrong_key_for_topic");
  v.refused("expired", "opened 6 minutes after sealing (default maximum age 5 minutes)", t7,
            basic, kT0 + 6 * kMinute, false, "expired");
  v.refused("retained-expired", "retained, opened 8 days after sealing (default 7 days)", t7,
            basic, kT0 + 8 * kDay, true, "expired");
  v.refused("future", "opened 2 minutes before it was sealed (default skew 1 minute)", t7, basic,
            kT0 - 2 * kMinute, false, "not_yet_valid");
  v.refused("no-rule", "a topic no rule covers", "plant/7/status", basic, now, false, "no_rule");

  json doc = {
      {"format", "mqseal envelope v1 known-answer vectors (docs/SPEC.md)"},
      {"generator", "tests/make_vectors.cpp"},
      {"keys", keys},
      {"policy",
       json::array({{{"filter", "plant/+/telemetry"}, {"key", "telemetry"}},
                    {{"filter", "plant/+/cmd/#"}, {"key", "commands"}},
                    {{"filter", "public/#"}, {"plaintext", true}}})},
      {"replay", {{"max_age_ms", 300000}, {"max_future_skew_ms", 60000},
                  {"retained", "accept_within_age"}, {"retained_max_age_ms", 604800000},
                  {"max_streams", 4096}}},
      {"notes", "Open each vector with a fresh receiver (empty replay state). Byte strings are "
                "lowercase hex; topics are UTF-8 strings."},
      {"vectors", v.list},
  };
  std::ofstream out(directory + "/envelope_v1.json");
  out << doc.dump(1) << "\n";
  std::ofstream tokens(directory + "/connect_token_v1.json");
  tokens << token_vectors().dump(1) << "\n";
  std::printf("wrote %zu envelope vectors and the token vectors to %s\n", v.list.size(), directory.c_str());
  return out && tokens ? 0 : 1;
}
