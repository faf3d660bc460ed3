// Writes tests/vectors/*_v1.json: the known-answer vectors of docs/SPEC.md
// (section 13 documents each file). Run by scripts/make-vectors; the output
// is committed and checked by vectors_test and credentials_test (C++), the
// Python tests, and tests/check_vectors_independent.py. Every input is fixed
// here, so the output only changes if the format or the rules do. Outcomes
// (ok or an error name) are what the library answers; where that differs
// from what a table below says, a "note:" line on stderr tells.
#include <mqseal/hazmat/credentials.h>
#include <mqseal/hazmat/envelope.h>
#include <mqseal/mqseal.h>
#include <mqseal/policy_file.h>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <tuple>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
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
std::string hex(std::string_view s) { return hex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// 64-bit integers are written as decimal strings (docs/SPEC.md, section 13):
// JSON readers that hold numbers as doubles would round them.
std::string u64(uint64_t v) { return std::to_string(v); }

json replay_json(const mqseal::ReplayOptions& o) {
  return {{"max_age_ms", u64(o.max_age_ms)},
          {"max_future_skew_ms", u64(o.max_future_skew_ms)},
          {"retained", o.retained == mqseal::RetainedPolicy::refuse ? "refuse" : "accept_within_age"},
          {"retained_max_age_ms", u64(o.retained_max_age_ms)},
          {"max_streams", o.max_streams}};
}

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

// A refusal vector: the envelope, how it is delivered, and the outcome the
// receiver gave (`got`), which must be `expect`.
json refusal(const std::string& name, const std::string& description, const std::string& topic,
             const std::vector<uint8_t>& envelope, uint64_t now_ms, bool retained, const std::string& expect,
             const std::string& got) {
  if (got != expect) {
    std::cerr << "make_vectors: " << name << " gave " << got << ", wanted " << expect << "\n";
    std::exit(1);
  }
  return {{"name", name},
          {"description", description},
          {"envelope", hex(envelope)},
          {"open", {{"topic", topic}, {"now_ms", u64(now_ms)}, {"retained", retained}}},
          {"expect", expect}};
}

// Suite 5 (docs/SPEC.md, section 4e), computed here from the spec with
// libsodium directly: the GCM nonce's size and the subkey's personalisation.
constexpr size_t kAesNonceSize = 12;
constexpr size_t kAesSubkeySize = 32;
constexpr char kAesSubkeyPersonal[] = "mqseal aes256gcm";
static_assert(sizeof kAesSubkeyPersonal - 1 == crypto_generichash_blake2b_PERSONALBYTES, "16 bytes");

std::vector<uint8_t> aes_subkey(const std::vector<uint8_t>& topic_key, const mqseal::SenderId& sender) {
  std::vector<uint8_t> out(kAesSubkeySize);
  if (crypto_generichash_blake2b_salt_personal(out.data(), out.size(), sender.data(), sender.size(), topic_key.data(),
                                               topic_key.size(), nullptr,
                                               reinterpret_cast<const unsigned char*>(kAesSubkeyPersonal)) != 0) {
    std::cerr << "make_vectors: BLAKE2b failed\n";
    std::exit(1);
  }
  return out;
}

struct Vectors {
  mqseal::Keyring keyring;
  mqseal::TopicPolicy policy;
  uint8_t version = mqseal::kEnvelopeVersion;  // of the envelopes this file seals
  uint8_t suite = mqseal::kSuiteXChaCha20Poly1305;  // of the envelopes this file seals (v2: 1 or 5)
  json list = json::array();

  std::vector<uint8_t> topic_key(mqseal::KeyId id, const std::string& topic) {
    for (const KeySpec& k : kKeys) {
      if (k.id == id) {
        std::vector<uint8_t> material = pattern(mqseal::kKeySize, k.first_byte);
        mqseal::Key key = must(mqseal::Key::from_bytes(material));
        std::vector<uint8_t> out(mqseal::kKeySize);
        must(mqseal::hazmat::derive_topic_key(key, topic, out.data()));
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
                              uint64_t sequence, uint64_t now_ms, bool retained, uint8_t flags = 0) {
    mqseal::EnvelopeHeader h;
    h.version = version;
    h.suite = suite;
    h.flags = flags;
    h.key_id = key_id;
    h.timestamp_ms = timestamp_ms;
    h.sender.fill(sender_byte);
    for (size_t i = 0; i < h.sender.size(); i += 2) h.sender[i] = static_cast<uint8_t>(i);
    const bool compact = version == mqseal::kEnvelopeVersionCompact;
    if (compact) std::fill(h.sender.begin() + mqseal::kCompactSessionSize, h.sender.end(), uint8_t{0});
    h.sequence = sequence;
    std::vector<uint8_t> key = topic_key(key_id, topic);
    std::vector<uint8_t> envelope;
    must(mqseal::hazmat::seal_with_header(key.data(), topic, h, payload, envelope));
    const bool aes = suite == mqseal::kSuiteAes256Gcm;
    // Suite 5 authenticates the whole header, sender and sequence included
    // (docs/SPEC.md, section 4e).
    const size_t ad_header = version == mqseal::kEnvelopeVersionV1 ? mqseal::kAssociatedHeaderSizeV1
                             : compact                             ? mqseal::kAssociatedHeaderSizeCompact
                             : aes                                 ? mqseal::kHeaderSize
                                                                   : mqseal::kAssociatedHeaderSize;
    std::vector<uint8_t> ad(envelope.begin(), envelope.begin() + static_cast<std::ptrdiff_t>(ad_header));
    if (compact) {  // then the full time in seconds, 8 bytes (docs/SPEC.md, section 4d)
      for (int shift = 56; shift >= 0; shift -= 8) ad.push_back(static_cast<uint8_t>(timestamp_ms / 1000 >> shift));
    }
    ad.push_back(static_cast<uint8_t>(topic.size() >> 8));
    ad.push_back(static_cast<uint8_t>(topic.size()));
    ad.insert(ad.end(), topic.begin(), topic.end());
    const std::string expect = outcome(topic, envelope, now_ms, retained);
    if (expect != "ok") {
      std::cerr << "make_vectors: " << name << " does not open: " << expect << "\n";
      std::exit(1);
    }
    json vector = {{"name", name},
                    {"description", description},
                    {"topic", topic},
                    {"payload", hex(payload)},
                    {"version", version},
                    {"key_id", key_id},
                    {"timestamp_ms", u64(timestamp_ms)},
                    {"sender", hex(h.sender.data(), h.sender.size())},
                    {"sequence", u64(sequence)},
                    {"topic_key", hex(key)},
                    {"associated_data", hex(ad)},
                    {"envelope", hex(envelope)},
                    {"open", {{"topic", topic}, {"now_ms", u64(now_ms)}, {"retained", retained}}},
                    {"expect", "ok"}};
    if (version != mqseal::kEnvelopeVersionV1) vector["flags"] = flags;
    if (compact) {
      std::vector<uint8_t> nonce(mqseal::kNonceSize, 0);
      std::copy(h.sender.begin(), h.sender.begin() + mqseal::kCompactSessionSize, nonce.begin());
      for (size_t i = 0; i < mqseal::kCompactSequenceSize; ++i) {
        nonce[mqseal::kNonceSize - 1 - i] = static_cast<uint8_t>(sequence >> (8 * i));
      }
      vector["nonce"] = hex(nonce);
      vector["overhead"] = envelope.size() - payload.size();
    }
    if (aes) {
      // subkey = BLAKE2b-256(key = topic key, sender, personal "mqseal
      // aes256gcm"); GCM nonce = 4 zero bytes || be64(sequence).
      vector["suite"] = suite;
      vector["subkey"] = hex(aes_subkey(key, h.sender));
      std::vector<uint8_t> nonce(kAesNonceSize, 0);
      for (size_t i = 0; i < mqseal::kSequenceSize; ++i) {
        nonce[kAesNonceSize - 1 - i] = static_cast<uint8_t>(sequence >> (8 * i));
      }
      vector["nonce"] = hex(nonce);
      vector["overhead"] = envelope.size() - payload.size();
    }
    list.push_back(vector);
    return envelope;
  }

  void refused(const std::string& name, const std::string& description, const std::string& topic,
               const std::vector<uint8_t>& envelope, uint64_t now_ms, bool retained,
               const std::string& expect) {
    list.push_back(refusal(name, description, topic, envelope, now_ms, retained, expect,
                           outcome(topic, envelope, now_ms, retained)));
  }
};

}  // namespace

// A record's token key in hex, read back from the credentials file text: no
// API hands out its bytes.
std::string token_key_hex(const mqseal::CredentialRecord& record) {
  mqseal::Credentials one;
  must(one.add(record));
  const std::string text = must(one.serialize());
  return text.substr(text.rfind(' ') + 1, 2 * mqseal::kKeySize);
}

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
        must(mqseal::hazmat::make_connect_token_with_nonce(p.device_secret, username, client, kExpiry, nonce));
    if (first_token.empty()) first_token = token;
    tokens.push_back({{"username", username}, {"client_id", client}, {"expiry_s", u64(kExpiry)},
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
  // Base64url of the head: "AQ" encodes the version byte 0x01 and the top
  // bits of the expiry's first byte (0); "Ag" encodes version 2.
  std::string version2 = first_token;
  version2[6] = 'g';
  auto replaced = [&](size_t at, std::string_view with, size_t count) {
    std::string t = first_token;
    t.replace(at, count, with);
    return t;
  };
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
      {"one-more-character", username, "client-7", first_token + "A", kExpiry - 60, "malformed"},
      {"other-prefix", username, "client-7", "mqs2." + first_token.substr(5), kExpiry - 60, "malformed"},
      {"version-2", username, "client-7", version2, kExpiry - 60, "unsupported_version"},
      {"alphabet-plus", username, "client-7", replaced(40, "+", 1), kExpiry - 60, "malformed"},
      {"alphabet-slash", username, "client-7", replaced(40, "/", 1), kExpiry - 60, "malformed"},
      {"alphabet-padding", username, "client-7", replaced(80, "=", 1), kExpiry - 60, "malformed"},
      {"alphabet-space", username, "client-7", replaced(40, " ", 1), kExpiry - 60, "malformed"},
      // Two characters replaced by one two-byte UTF-8 character: still 81
      // bytes. libsodium 1.0.18's decoder alone would take some such bytes.
      {"alphabet-non-ascii", username, "client-7", replaced(40, "\xc3\xbf", 2), kExpiry - 60,
       "malformed"},
      // Names mosquitto 2.0 refuses before any password check (docs/SPEC.md,
      // section 11): malformed by their form, before the MAC is looked at, so
      // a verifier without the rule says authentication_failed here.
      {"client-id-nul", username, std::string("client-7\0", 9), first_token, kExpiry - 60, "malformed"},
      {"client-id-control", username, "client-7\x07", first_token, kExpiry - 60, "malformed"},
      {"client-id-tab", username, "client-7\t", first_token, kExpiry - 60, "malformed"},
      {"client-id-delete", username, "client-7\x7f", first_token, kExpiry - 60, "malformed"},
      {"client-id-c1-control", username, "client-7\xc2\x85", first_token, kExpiry - 60, "malformed"},
      {"client-id-noncharacter", username, "client-7\xef\xb7\x90", first_token, kExpiry - 60,
       "malformed"},
      {"client-id-plane-noncharacter", username, "client-7\xf0\x9f\xbf\xbf", first_token,
       kExpiry - 60, "malformed"},
      {"username-control", "device-7\x1b", "client-7", first_token, kExpiry - 60, "malformed"},
      // The nearest characters that are allowed: the MAC decides.
      {"client-id-last-c1-neighbour", username, "client-7\xc2\xa0", first_token, kExpiry - 60,
       "authentication_failed"},
      {"client-id-before-noncharacters", username, "client-7\xef\xb7\x8f", first_token,
       kExpiry - 60, "authentication_failed"},
  };
  auto verify = [&](mqseal::TokenVerifier& verifier, const Refusal& c) {
    mqseal::Status s = verifier.verify(c.username, c.client_id, c.token, c.now_s);
    const std::string got = s ? "ok" : mqseal::name(s.error().code());
    if (got != c.expect) {
      std::cerr << "make_vectors: note: token case " << c.name << " now gives " << got
                << " (the table says " << c.expect << ")\n";
    }
    return json{{"name", c.name},   {"username", c.username}, {"client_id", c.client_id},
                {"token", c.token}, {"now_s", u64(c.now_s)},  {"expect", got}};
  };
  auto fresh_verifier = [&] {
    mqseal::Credentials copy = must(mqseal::Credentials::parse(must(credentials.serialize())));
    return must(mqseal::TokenVerifier::create(std::move(copy)));
  };
  for (const Refusal& c : cases) {
    mqseal::TokenVerifier verifier = fresh_verifier();
    refusals.push_back(verify(verifier, c));
  }
  // Sequences: every step against one verifier, in order.
  const std::string& second_token = tokens[1]["token"].get_ref<const std::string&>();
  struct Sequence {
    const char* name;
    const char* description;
    std::vector<Refusal> steps;
  };
  const std::vector<Sequence> sequences = {
      {"replay", "a token is accepted once; later copies are replays until it expires, then expired",
       {{"first", username, "client-7", first_token, kExpiry - 60, "ok"},
        {"again", username, "client-7", first_token, kExpiry - 60, "replay"},
        {"later", username, "client-7", first_token, kExpiry - 1, "replay"},
        {"other-client", username, "client-8", first_token, kExpiry - 1, "authentication_failed"},
        {"within-skew", username, "client-7", first_token, kExpiry + 30, "replay"},
        {"after-expiry", username, "client-7", first_token, kExpiry + 31, "expired"}}},
      {"distinct-nonces", "two tokens of one user with distinct nonces are both accepted, once each",
       {{"first", username, "client-7", first_token, kExpiry - 60, "ok"},
        {"second", username, "", second_token, kExpiry - 60, "ok"},
        {"first-again", username, "client-7", first_token, kExpiry - 59, "replay"},
        {"second-again", username, "", second_token, kExpiry - 59, "replay"}}},
      {"refusals-are-not-remembered",
       "a token refused for its MAC, its version or its time is not remembered: the genuine one "
       "is then accepted",
       {{"altered", username, "client-7", altered, kExpiry - 60, "authentication_failed"},
        {"version-2", username, "client-7", version2, kExpiry - 60, "unsupported_version"},
        {"other-client", username, "client-8", first_token, kExpiry - 60, "authentication_failed"},
        {"too-early", username, "client-7", first_token, kExpiry - 3631, "not_yet_valid"},
        {"genuine", username, "client-7", first_token, kExpiry - 60, "ok"},
        {"genuine-again", username, "client-7", first_token, kExpiry - 60, "replay"}}},
  };
  json verify_sequences = json::array();
  for (const Sequence& seq : sequences) {
    mqseal::TokenVerifier verifier = fresh_verifier();
    json steps = json::array();
    for (const Refusal& step : seq.steps) steps.push_back(verify(verifier, step));
    verify_sequences.push_back(
        {{"name", seq.name}, {"description", seq.description}, {"steps", steps}});
  }
  return {
      {"format", "mqseal CONNECT token v1 known-answer vectors (docs/SPEC.md, section 11)"},
      {"generator", "tests/make_vectors.cpp"},
      {"provisioning", {{"username", username}, {"password", password},
                        {"salt", hex(params.salt.data(), params.salt.size())},
                        {"opslimit", u64(params.opslimit)}, {"memlimit", u64(params.memlimit)},
                        {"token_key", token_key_hex(p.record)}}},
      {"verifier", {{"max_clock_skew_s", u64(mqseal::VerifierOptions{}.max_clock_skew_s)},
                    {"max_lifetime_s", u64(mqseal::VerifierOptions{}.max_lifetime_s)}}},
      {"notes", "Format: docs/SPEC.md, section 13. device_secret is not listed: derive it from the "
                "provisioning inputs. Verify each 'verify' case with a fresh verifier; run each "
                "'verify_sequences' entry's steps in order against one fresh verifier. 64-bit integers "
                "are decimal strings."},
      {"tokens", tokens},
      {"verify", refusals},
      {"verify_sequences", verify_sequences},
  };
}

// ---------------------------------------------------------------------------
// Shared by the files below.

mqseal::SenderId sender_of(uint8_t sender_byte) {
  mqseal::SenderId s{};
  s.fill(sender_byte);
  for (size_t i = 0; i < s.size(); i += 2) s[i] = static_cast<uint8_t>(i);
  return s;
}

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

json rule_json(const mqseal::TopicRule& r) {
  if (r.plaintext) return {{"filter", r.filter}, {"plaintext", true}};
  json rule = {{"filter", r.filter}, {"key", r.key_name}};
  if (r.suite == mqseal::Suite::sealed_to_recipient) rule = {{"filter", r.filter}, {"recipient", r.key_name}};
  if (r.suite == mqseal::Suite::signed_sealed) {
    rule = {{"filter", r.filter}, {"recipient", r.key_name}, {"suite", 4}};
    rule["signers"] = r.signers;
  }
  if (r.suite == mqseal::Suite::signed_sender) {
    rule["suite"] = 2;
    rule["signers"] = r.signers;
  }
  if (r.suite == mqseal::Suite::aes256gcm) rule["suite"] = 5;
  if (r.compact) rule["compact"] = true;
  if (r.retained) {
    const bool refuse = r.retained->policy == mqseal::RetainedPolicy::refuse;
    rule["retained"] = refuse ? "refuse" : "accept";
    if (!refuse) rule["retained_max_age_ms"] = std::to_string(r.retained->max_age_ms);
  }
  return rule;
}

// A topic is written as a JSON string when it is valid UTF-8, else as hex.
json topic_field(json& into, const std::string& topic, bool utf8) {
  if (utf8) into["topic"] = topic;
  else into["topic_hex"] = hex(topic);
  return into;
}

void note_if_changed(const std::string& what, const std::string& got, const std::string& table) {
  if (got != table) {
    std::cerr << "make_vectors: note: " << what << " now gives " << got << " (the table says "
              << table << ")\n";
  }
}

// ---------------------------------------------------------------------------
// tests/vectors/policy_v1.json: topic policies (docs/SPEC.md, section 2).

struct PolicyRule {
  const char* filter;
  const char* key;  // nullptr: plaintext
};

struct TopicCase {
  std::string topic;
  bool utf8;
  const char* expect;  // the winning filter, or an error name
};

json policy_vectors() {
  struct Resolution {
    const char* name;
    const char* description;
    std::vector<PolicyRule> rules;
    std::vector<TopicCase> topics;
  };
  const std::vector<Resolution> resolutions = {
      {"overlapping",
       "overlapping filters: the most specific wins, whatever the order; '#' and '+' at the "
       "first level never match a topic starting with '$'",
       {{"plant/#", "site"},
        {"plant/+/cmd/#", "commands"},
        {"plant/7/#", "plant7"},
        {"plant/+/telemetry", "telemetry"},
        {"plant/7/telemetry", nullptr},
        {"+/+/telemetry", "any-telemetry"},
        {"#", "catch-all"},
        {"+/status", "status"},
        {"$SYS/#", nullptr},
        {"$SYS/+/load", "sys-load"},
        {"a", "exact-a"},
        {"a/#", "a-tree"},
        {"a/+", "a-plus"},
        {"a/+/c", "a-plus-c"},
        {"a/b/#", "a-b-tree"},
        {"public/#", nullptr}},
       {{"plant/7/cmd/valve", true, "plant/7/#"},
        {"plant/8/cmd/valve", true, "plant/+/cmd/#"},
        {"plant/8/cmd", true, "plant/+/cmd/#"},
        {"plant/7/telemetry", true, "plant/7/telemetry"},
        {"plant/8/telemetry", true, "plant/+/telemetry"},
        {"x/8/telemetry", true, "+/+/telemetry"},
        {"plant", true, "plant/#"},
        {"plant/8/status", true, "plant/#"},
        {"plant/status", true, "plant/#"},
        {"x/status", true, "+/status"},
        {"a", true, "a"},
        {"a/b", true, "a/b/#"},
        {"a/x", true, "a/+"},
        {"a/b/c", true, "a/b/#"},
        {"a/x/c", true, "a/+/c"},
        {"a/x/d", true, "a/#"},
        {"a/", true, "a/+"},
        {"a//c", true, "a/+/c"},
        {"/a", true, "#"},
        {"other", true, "#"},
        {"public/news", true, "public/#"},
        {"$SYS", true, "$SYS/#"},
        {"$SYS/broker/load", true, "$SYS/+/load"},
        {"$SYS/broker/uptime", true, "$SYS/#"},
        {"$share/group/t", true, "no_rule"},
        {"$x/status", true, "no_rule"},
        {"$/telemetry", true, "no_rule"},
        {"k\xc3\xbchlhaus/7/telemetry", true, "+/+/telemetry"},
        {"", true, "invalid_topic"},
        {"a/+", true, "invalid_topic"},
        {"a/#", true, "invalid_topic"},
        {"+", true, "invalid_topic"},
        {"plant/7+", true, "invalid_topic"},
        {std::string("a\0b", 3), true, "invalid_topic"},
        {"a\x01" "b", true, "#"},
        {"\xc3\x28", false, "invalid_topic"},
        {"\xc0\xaf", false, "invalid_topic"},
        {"\xed\xa0\x80", false, "invalid_topic"},
        {"\xf4\x90\x80\x80", false, "invalid_topic"},
        {"a\xff", false, "invalid_topic"}}},
      {"fail-closed", "a topic no rule matches gets no_rule",
       {{"plant/+/telemetry", "telemetry"}, {"public/#", nullptr}},
       {{"plant/7/telemetry", true, "plant/+/telemetry"},
        {"plant/7/status", true, "no_rule"},
        {"plant/7/telemetry/x", true, "no_rule"},
        {"plant/telemetry", true, "no_rule"},
        {"public", true, "public/#"},
        {"publicity", true, "no_rule"}}},
  };
  json resolutions_json = json::array();
  for (const Resolution& res : resolutions) {
    mqseal::TopicPolicy policy;
    json rules = json::array();
    for (const PolicyRule& r : res.rules) {
      must(r.key != nullptr ? policy.add_rule(r.filter, r.key) : policy.add_plaintext_rule(r.filter));
      rules.push_back(r.key != nullptr ? json{{"filter", r.filter}, {"key", r.key}}
                                       : json{{"filter", r.filter}, {"plaintext", true}});
    }
    json cases = json::array();
    for (const TopicCase& c : res.topics) {
      json entry = json::object();
      topic_field(entry, c.topic, c.utf8);
      mqseal::Result<const mqseal::TopicRule*> rule = policy.resolve(c.topic);
      if (rule) {
        entry["expect"] = "ok";
        entry["rule"] = rule_json(**rule);
        note_if_changed(std::string(res.name) + " / " + hex(c.topic), (*rule)->filter, c.expect);
      } else {
        entry["expect"] = mqseal::name(rule.error().code());
        note_if_changed(std::string(res.name) + " / " + hex(c.topic), entry["expect"].get<std::string>(),
                        c.expect);
      }
      cases.push_back(entry);
    }
    resolutions_json.push_back({{"name", res.name},
                                {"description", res.description},
                                {"rules", rules},
                                {"resolve", cases}});
  }

  struct Invalid {
    const char* name;
    std::vector<PolicyRule> rules;
    const char* expect;
  };
  const std::string long_name(65, 'k');
  const std::string longest_name(64, 'k');
  const std::vector<Invalid> invalid = {
      {"same-filter-twice", {{"a/#", "k"}, {"a/#", "j"}}, "invalid_argument"},
      {"same-filter-key-and-plaintext", {{"a/+", "k"}, {"a/+", nullptr}}, "invalid_argument"},
      {"same-filter-plaintext-twice", {{"a", nullptr}, {"a", nullptr}}, "invalid_argument"},
      {"plus-inside-a-level", {{"a/b+", "k"}}, "invalid_filter"},
      {"hash-not-last", {{"a/#/b", "k"}}, "invalid_filter"},
      {"hash-inside-a-level", {{"a/b#", "k"}}, "invalid_filter"},
      {"empty-filter", {{"", "k"}}, "invalid_filter"},
      {"key-name-with-a-space", {{"a/#", "bad name"}}, "invalid_argument"},
      {"key-name-with-a-slash", {{"a/#", "bad/name"}}, "invalid_argument"},
      {"empty-key-name", {{"a/#", ""}}, "invalid_argument"},
      {"key-name-65-characters", {{"a/#", long_name.c_str()}}, "invalid_argument"},
      {"key-name-64-characters", {{"a/#", longest_name.c_str()}}, "ok"},
      {"distinct-filters", {{"a/+", "k"}, {"a/+/", "k"}, {"a/#", "k"}, {"+/+", "k"}, {"a", "k"}, {"#", "k"}},
       "ok"},
  };
  json invalid_json = json::array();
  for (const Invalid& inv : invalid) {
    mqseal::TopicPolicy policy;
    json rules = json::array();
    std::string outcome = "ok";
    for (const PolicyRule& r : inv.rules) {
      rules.push_back(r.key != nullptr ? json{{"filter", r.filter}, {"key", r.key}}
                                       : json{{"filter", r.filter}, {"plaintext", true}});
      mqseal::Status s = r.key != nullptr ? policy.add_rule(r.filter, r.key) : policy.add_plaintext_rule(r.filter);
      if (!s && outcome == "ok") outcome = mqseal::name(s.error().code());
    }
    note_if_changed(inv.name, outcome, inv.expect);
    invalid_json.push_back({{"name", inv.name}, {"rules", rules}, {"expect", outcome}});
  }
  return {
      {"format", "mqseal topic policy v1 vectors (docs/SPEC.md, sections 2 and 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Build each policy by adding its rules in order; resolve each topic. A topic is "
                "'topic' (a string) or, when it is not valid UTF-8, 'topic_hex'."},
      {"resolve", resolutions_json},
      {"build", invalid_json},
  };
}

// ---------------------------------------------------------------------------
// tests/vectors/sequences_v1.json: deliveries against one receiver
// (docs/SPEC.md, sections 4 and 6). Each sequence is a small table; the
// expected outcome is what the library's Opener answers, so regenerating after
// a change of the rules updates the file (and prints what changed).

struct Step {
  std::string label;
  bool seal = true;           // false: `raw` is delivered as it is
  std::string seal_topic;     // sealing inputs (envelope header fields)
  std::string payload;
  uint8_t version = mqseal::kEnvelopeVersion;
  uint8_t flags = 0;          // v2: kFlagRetain when sealed to be retained
  mqseal::KeyId key_id = 2;
  int64_t timestamp = 0;      // ms after kT0
  uint8_t sender = 0;
  uint64_t sequence = 0;
  std::string topic;          // delivered on
  bool retained = false;
  int64_t now = 0;            // receiver time, ms after kT0
  std::string expect;         // what the table's author expects (informative)
};

Step sealed_step(std::string label, const std::string& topic, uint8_t sender, uint64_t sequence,
                 int64_t timestamp, bool retained, int64_t now, std::string expect) {
  Step s;
  s.label = std::move(label);
  s.seal_topic = s.topic = topic;
  s.payload = "m" + std::to_string(sequence);
  s.key_id = topic.find("/cmd/") != std::string::npos ? 0x0a : 2;
  s.sender = sender;
  s.sequence = sequence;
  s.timestamp = timestamp;
  s.retained = retained;
  // Sealed to be retained exactly when delivered as retained, unless a step
  // says otherwise (live_copy, retained_intent, version_1).
  s.flags = retained ? mqseal::kFlagRetain : 0;
  s.now = now;
  s.expect = std::move(expect);
  return s;
}

Step moved(Step s, std::string topic) {
  s.topic = std::move(topic);
  return s;
}

// A live message (sealed as live) delivered with the retain flag.
Step live_copy(Step s) {
  s.flags = 0;
  return s;
}

// A message sealed to be retained, whatever flag it is delivered with.
Step retained_intent(Step s) {
  s.flags = mqseal::kFlagRetain;
  return s;
}

// Sealed as envelope v1 (no flags byte).
Step version_1(Step s) {
  s.version = mqseal::kEnvelopeVersionV1;
  s.flags = 0;
  return s;
}

Step raw_step(std::string label, const std::string& topic, std::string bytes, bool retained,
              int64_t now, std::string expect) {
  Step s;
  s.label = std::move(label);
  s.seal = false;
  s.payload = std::move(bytes);
  s.topic = topic;
  s.retained = retained;
  s.now = now;
  s.expect = std::move(expect);
  return s;
}

json sequence_vectors(const mqseal::Keyring& keyring, const json& keys_json,
                      const mqseal::TopicPolicy& policy, const json& policy_json) {
  struct Sequence {
    const char* name;
    const char* description;
    mqseal::ReplayOptions replay;
    std::vector<Step> steps;
  };
  const std::string t7 = "plant/7/telemetry", t8 = "plant/8/telemetry";
  const int64_t age = 300'000;  // default max_age_ms
  const int64_t day = static_cast<int64_t>(kDay);
  mqseal::ReplayOptions defaults;
  mqseal::ReplayOptions refusing;
  refusing.retained = mqseal::RetainedPolicy::refuse;
  mqseal::ReplayOptions one_stream;
  one_stream.max_streams = 1;
  std::vector<Sequence> sequences = {
      {"qos1-redelivery", "a redelivered message is a duplicate; each topic is its own stream",
       defaults,
       {sealed_step("first", t7, 0xa1, 0, 0, false, 2000, "ok"),
        sealed_step("redelivered", t7, 0xa1, 0, 0, false, 2001, "duplicate"),
        sealed_step("next", t7, 0xa1, 1, 1, false, 2002, "ok"),
        sealed_step("first-again", t7, 0xa1, 0, 0, false, 2003, "duplicate"),
        sealed_step("other-topic", t8, 0xa1, 2, 2, false, 2004, "ok"),
        sealed_step("other-topic-again", t8, 0xa1, 2, 2, false, 2005, "duplicate")}},
      {"window", "out-of-order delivery within the 1024-sequence window; below it, replay",
       defaults,
       {sealed_step("seq-5", t7, 0xa2, 5, 0, false, 1000, "ok"),
        sealed_step("late-seq-3", t7, 0xa2, 3, 0, false, 1001, "ok"),
        sealed_step("seq-3-again", t7, 0xa2, 3, 0, false, 1002, "duplicate"),
        sealed_step("seq-1029", t7, 0xa2, 1029, 10, false, 1003, "ok"),
        sealed_step("seq-5-again-below-window", t7, 0xa2, 5, 0, false, 1004, "replay"),
        sealed_step("seq-6-at-window-bottom", t7, 0xa2, 6, 0, false, 1005, "ok"),
        sealed_step("seq-6-again", t7, 0xa2, 6, 0, false, 1006, "duplicate"),
        sealed_step("seq-1029-again", t7, 0xa2, 1029, 10, false, 1007, "duplicate")}},
      {"age-and-skew", "the bounds of max_age_ms and max_future_skew_ms, inclusive", defaults,
       {sealed_step("age-exactly-max", t7, 0xa3, 0, 0, false, age, "ok"),
        sealed_step("age-max-plus-1", t7, 0xa3, 1, 0, false, age + 1, "expired"),
        sealed_step("skew-exactly-max", t7, 0xa3, 2, 400'000, false, 340'000, "ok"),
        sealed_step("skew-max-plus-1", t7, 0xa3, 3, 400'001, false, 340'000, "not_yet_valid")}},
      {"retained-accept-within-age",
       "retained copies of live messages are judged like live ones while young; old retained "
       "messages are accepted up to retained_max_age_ms",
       defaults,
       {sealed_step("live", t7, 0xa4, 0, 0, false, 1000, "ok"),
        live_copy(sealed_step("young-retained-copy", t7, 0xa4, 0, 0, true, 2000, "duplicate")),
        sealed_step("young-retained-new", t7, 0xa4, 1, 10, true, 2000, "ok"),
        retained_intent(sealed_step("live-copy-of-it", t7, 0xa4, 1, 10, false, 3000, "duplicate")),
        sealed_step("old-retained", t7, 0xb4, 0, -2 * day, true, 2000, "ok"),
        sealed_step("old-retained-again", t7, 0xb4, 0, -2 * day, true, 2100, "ok"),
        retained_intent(sealed_step("old-delivered-live", t7, 0xb4, 0, -2 * day, false, 2200, "expired")),
        sealed_step("retained-too-old", t7, 0xb4, 0, -2 * day, true, 5 * day + 1, "expired")}},
      {"retained-refuse", "the retained policy 'refuse': every retained delivery is refused first",
       refusing,
       {sealed_step("young-retained", t7, 0xa5, 0, 0, true, 1000, "retained_refused"),
        retained_intent(sealed_step("live", t7, 0xa5, 0, 0, false, 1000, "ok")),
        sealed_step("retained-copy", t7, 0xa5, 0, 0, true, 1001, "retained_refused"),
        retained_intent(sealed_step("live-again", t7, 0xa5, 0, 0, false, 1002, "duplicate")),
        sealed_step("old-retained", t7, 0xb5, 0, -2 * day, true, 1003, "retained_refused"),
        sealed_step("future-retained", t7, 0xb5, 1, 100'000, true, 1004, "not_yet_valid")}},
      {"rebooted-sender", "a rebooted sender is a new sender; its old messages stay refused",
       defaults,
       {sealed_step("before-reboot", t7, 0xa6, 41, 0, false, 1000, "ok"),
        sealed_step("after-reboot", t7, 0xb6, 0, 500, false, 1500, "ok"),
        sealed_step("old-message-again", t7, 0xa6, 41, 0, false, 1600, "duplicate"),
        sealed_step("old-message-later", t7, 0xa6, 41, 0, false, age + 1, "expired")}},
      {"eviction-watermark",
       "max_streams 1: a new stream evicts the old one and raises the watermark; messages at or "
       "below it are refused on untracked streams",
       one_stream,
       {sealed_step("stream-a", t7, 0xa7, 0, 0, false, 0, "ok"),
        sealed_step("stream-b-evicts-a", t8, 0xa7, 1, 1, false, 1, "ok"),
        sealed_step("stream-a-again", t7, 0xa7, 0, 0, false, 2, "replay"),
        sealed_step("stream-a-newer", t7, 0xa7, 2, 2, false, 2, "ok"),
        sealed_step("stream-b-again", t8, 0xa7, 1, 1, false, 3, "replay")}},
      {"old-retained-clock-back",
       "an old retained message raises the watermark; if the receiver's clock steps back it is "
       "not accepted again as young",
       defaults,
       {sealed_step("old-retained", t7, 0xa8, 0, 0, true, age + 1, "ok"),
        retained_intent(sealed_step("clock-back-live", t7, 0xa8, 0, 0, false, age - 1, "replay")),
        sealed_step("clock-back-newer", t7, 0xa8, 1, 1, false, age - 1, "ok")}},
      {"live-replayed-as-retained",
       "the retain flag on delivery is not authenticated, the retain intent is: a message sealed "
       "as live, delivered again with the retain flag, meets the live rules",
       defaults,
       {sealed_step("live", t7, 0xaa, 0, 0, false, 1000, "ok"),
        live_copy(sealed_step("as-retained-young", t7, 0xaa, 0, 0, true, 2000, "duplicate")),
        live_copy(sealed_step("as-retained-an-hour-later", t7, 0xaa, 0, 0, true, 3'600'000, "expired")),
        live_copy(sealed_step("command-as-retained-6-days-later", "plant/7/cmd/valve/open", 0xab, 0, 0,
                              true, 6 * day, "expired"))}},
      {"retained-refused-by-rule",
       "the commands rule says retained = refuse: a command sealed to be retained is refused "
       "when delivered as retained, and opens when delivered live",
       defaults,
       {sealed_step("retained-command", "plant/7/cmd/valve", 0xac, 0, 0, true, 1000, "retained_refused"),
        retained_intent(sealed_step("delivered-live", "plant/7/cmd/valve", 0xac, 0, 0, false, 1000, "ok")),
        sealed_step("telemetry-retained", t7, 0xac, 1, 0, true, 2 * day, "ok")}},
      {"version-1-envelopes",
       "envelope v1 (no flags byte) still opens, and is always judged as live",
       defaults,
       {version_1(sealed_step("v1-live", t7, 0xad, 0, 0, false, 1000, "ok")),
        version_1(sealed_step("v1-again-as-retained", t7, 0xad, 0, 0, true, 2000, "duplicate")),
        version_1(sealed_step("v1-old-as-retained", t7, 0xae, 0, 0, true, 2 * day, "expired"))}},
      {"key-name-partitions",
       "max_streams 1, per key name: streams under 'commands' evicting each other with "
       "timestamps at the future skew raise only that key name's watermark",
       one_stream,
       {sealed_step("telemetry-a", t7, 0xb0, 0, 0, false, 0, "ok"),
        sealed_step("commands-x", "plant/7/cmd/valve", 0xb1, 0, 59'000, false, 0, "ok"),
        sealed_step("commands-y-evicts-x", "plant/7/cmd/valve", 0xb2, 0, 59'000, false, 1, "ok"),
        sealed_step("telemetry-a-next", t7, 0xb0, 1, 2, false, 2, "ok"),
        sealed_step("commands-new-sender", "plant/7/cmd/valve", 0xb3, 0, 3, false, 3, "replay"),
        sealed_step("telemetry-new-sender", t8, 0xb4, 0, 4, false, 4, "ok")}},
      {"plaintext-and-topics",
       "plaintext rules pass bytes through unchanged, with no replay check; invalid and uncovered "
       "topics are refused before anything else and change nothing",
       defaults,
       {raw_step("plaintext", "public/news", "hello", false, 1000, "ok"),
        raw_step("plaintext-again", "public/news", "hello", false, 1000, "ok"),
        raw_step("plaintext-retained", "public/news", "hello", true, 10 * day, "ok"),
        raw_step("plaintext-empty", "public/news", "", false, 1000, "ok"),
        moved(sealed_step("envelope-on-plaintext-topic", t7, 0xa9, 0, 0, false, 1000, "ok"),
              "public/news"),
        moved(sealed_step("wildcard-topic", t7, 0xa9, 0, 0, false, 1000, "invalid_topic"),
              "plant/+/telemetry"),
        moved(sealed_step("empty-topic", t7, 0xa9, 0, 0, false, 1000, "invalid_topic"), ""),
        moved(sealed_step("uncovered-topic", t7, 0xa9, 0, 0, false, 1000, "no_rule"),
              "plant/7/status"),
        moved(sealed_step("dollar-topic", t7, 0xa9, 0, 0, false, 1000, "no_rule"),
              "$SYS/plant/7/telemetry"),
        moved(sealed_step("moved-topic", t7, 0xa9, 0, 0, false, 1000, "authentication_failed"),
              t8),
        sealed_step("envelope-on-its-topic", t7, 0xa9, 0, 0, false, 1000, "ok"),
        sealed_step("envelope-again", t7, 0xa9, 0, 0, false, 1000, "duplicate"),
        sealed_step("commands", "plant/7/cmd/valve", 0xa9, 1, 1, false, 1000, "ok")}},
  };
  json out = json::array();
  for (const Sequence& seq : sequences) {
    auto keys = std::make_shared<mqseal::Keyring>(must(keyring.clone()));
    mqseal::OpenerOptions options;
    options.replay = seq.replay;
    mqseal::Opener opener = must(mqseal::Opener::create(policy, keys, options));
    json steps = json::array();
    for (const Step& s : seq.steps) {
      json step = {{"label", s.label}};
      std::vector<uint8_t> envelope = bytes_of(s.payload);
      if (s.seal) {
        mqseal::EnvelopeHeader h;
        h.version = s.version;
        h.flags = s.flags;
        h.key_id = s.key_id;
        h.timestamp_ms = static_cast<uint64_t>(static_cast<int64_t>(kT0) + s.timestamp);
        h.sender = sender_of(s.sender);
        h.sequence = s.sequence;
        std::vector<uint8_t> topic_key(mqseal::kKeySize);
        for (const KeySpec& k : kKeys) {
          if (k.id == s.key_id) {
            mqseal::Key key = must(mqseal::Key::from_bytes(pattern(mqseal::kKeySize, k.first_byte)));
            must(mqseal::hazmat::derive_topic_key(key, s.seal_topic, topic_key.data()));
          }
        }
        envelope.clear();
        must(mqseal::hazmat::seal_with_header(topic_key.data(), s.seal_topic, h, bytes_of(s.payload), envelope));
        step["seal"] = {{"topic", s.seal_topic},
                        {"payload", hex(s.payload)},
                        {"version", s.version},
                        {"flags", s.flags},
                        {"key_id", s.key_id},
                        {"timestamp_ms", u64(h.timestamp_ms)},
                        {"sender", hex(h.sender.data(), h.sender.size())},
                        {"sequence", u64(s.sequence)}};
      }
      const uint64_t now = static_cast<uint64_t>(static_cast<int64_t>(kT0) + s.now);
      step["envelope"] = hex(envelope);
      step["deliver"] = {{"topic", s.topic}, {"retained", s.retained}, {"now_ms", u64(now)}};
      mqseal::Result<mqseal::Opened> r = opener.open(s.topic, envelope, {s.retained, now});
      const std::string got = r ? "ok" : mqseal::name(r.error().code());
      note_if_changed(std::string(seq.name) + " / " + s.label, got, s.expect);
      step["expect"] = got;
      if (r) {
        step["payload"] = hex(r->payload);
        step["sealed"] = r->sealed;
      }
      steps.push_back(step);
    }
    out.push_back({{"name", seq.name},
                   {"description", seq.description},
                   {"replay", replay_json(seq.replay)},
                   {"steps", steps}});
  }
  return {
      {"format", "mqseal delivery sequences v1 (docs/SPEC.md, sections 4, 6 and 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "For each sequence, make one receiver with 'keys', 'policy' and the sequence's "
                "'replay' settings, and deliver its steps in order. 64-bit integers are decimal "
                "strings; byte strings are lowercase hex."},
      {"keys", keys_json},
      {"policy", policy_json},
      {"sequences", out},
  };
}

// ---------------------------------------------------------------------------
// tests/vectors/files_v1.json: keyring, credentials and policy files
// (docs/SPEC.md, sections 8, 9 and 11).

struct FileCase {
  std::string name;
  std::string text;
  const char* expect;  // informative, as in Step
};

// Splits "a b c\n..." lines of what the library writes, for the expected
// parsed content.
std::vector<std::vector<std::string>> written_lines(const std::string& text) {
  std::vector<std::vector<std::string>> lines;
  size_t pos = text.find('\n') + 1;  // past the header
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    std::vector<std::string> fields;
    size_t start = pos;
    while (true) {
      const size_t space = text.find(' ', start);
      if (space == std::string::npos || space > end) {
        fields.push_back(text.substr(start, end - start));
        break;
      }
      fields.push_back(text.substr(start, space - start));
      start = space + 1;
    }
    lines.push_back(fields);
    pos = end + 1;
  }
  return lines;
}

json file_vectors() {
  const std::string m1 = hex(pattern(32, 0x00)), m2 = hex(pattern(32, 0x20));
  std::string m2_upper = m2;
  for (char& c : m2_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string salt = hex(pattern(16, 0x70));
  const std::string h = "mqseal-keyring v1\n";
  const std::vector<FileCase> keyrings = {
      {"header-only", h, "ok"},
      {"full",
       "# a comment before the header\n\n" + h + "# the telemetry keys\nkey telemetry 00000001 active " + m1 +
           "\nkey telemetry 00000002 primary " + m2 + "\n\nkey telemetry 00000003 retired -\n" +
           "key device.secret_7 0000000a primary " + m1 + " argon2id " + salt + " 2 65536\n" +
           "key old-one ffffffff retired - argon2id " + salt + " 1 8192\n",
       "ok"},
      {"uppercase-hex-no-final-newline", h + "key k 0000ABCD primary " + m2_upper, "ok"},
      {"active-without-primary", h + "key k 00000001 active " + m1 + "\n", "ok"},
      {"longest-name", h + "key " + std::string(64, 'n') + " 00000001 primary " + m1 + "\n", "ok"},
      {"argon2id-largest-limits", h + "key k 00000001 primary " + m1 + " argon2id " + salt +
                                      " 4294967295 4398046510080\n", "ok"},
      {"empty", "", "parse_error"},
      {"only-comments", "# nothing\n\n", "parse_error"},
      {"other-version", "mqseal-keyring v2\n", "parse_error"},
      {"header-trailing-space", "mqseal-keyring v1 \n", "parse_error"},
      {"crlf", "mqseal-keyring v1\r\nkey k 00000001 primary " + m1 + "\r\n", "parse_error"},
      {"cr-in-a-comment", h + "# written on Windows\r\nkey k 00000001 primary " + m1 + "\n",
       "parse_error"},
      {"nul-in-a-comment", h + std::string("# a\0b\n", 6), "parse_error"},
      {"two-spaces", h + "key k  00000001 primary " + m1 + "\n", "parse_error"},
      {"trailing-space", h + "key k 00000001 primary " + m1 + " \n", "parse_error"},
      {"tab", h + "key\tk 00000001 primary " + m1 + "\n", "parse_error"},
      {"leading-space", h + " key k 00000001 primary " + m1 + "\n", "parse_error"},
      {"uppercase-keyword", h + "KEY k 00000001 primary " + m1 + "\n", "parse_error"},
      {"id-zero", h + "key k 00000000 primary " + m1 + "\n", "parse_error"},
      {"id-7-digits", h + "key k 0000001 primary " + m1 + "\n", "parse_error"},
      {"id-not-hex", h + "key k 0000000g primary " + m1 + "\n", "parse_error"},
      {"duplicate-id", h + "key k 00000001 primary " + m1 + "\nkey j 00000001 active " + m2 + "\n",
       "parse_error"},
      {"two-primaries", h + "key k 00000001 primary " + m1 + "\nkey k 00000002 primary " + m2 + "\n",
       "parse_error"},
      {"unknown-state", h + "key k 00000001 disabled " + m1 + "\n", "parse_error"},
      {"retired-with-material", h + "key k 00000001 retired " + m1 + "\n", "parse_error"},
      {"active-without-material", h + "key k 00000001 active -\n", "parse_error"},
      {"material-63-digits", h + "key k 00000001 primary " + m1.substr(1) + "\n", "parse_error"},
      {"material-not-hex", h + "key k 00000001 primary " + m1.substr(1) + "x\n", "parse_error"},
      {"bad-name", h + "key bad/name 00000001 primary " + m1 + "\n", "parse_error"},
      {"name-65-characters", h + "key " + std::string(65, 'n') + " 00000001 primary " + m1 + "\n",
       "parse_error"},
      {"four-fields", h + "key k 00000001 primary\n", "parse_error"},
      {"six-fields", h + "key k 00000001 primary " + m1 + " argon2id\n", "parse_error"},
      {"other-kdf", h + "key k 00000001 primary " + m1 + " scrypt " + salt + " 2 65536\n", "parse_error"},
      {"salt-30-digits", h + "key k 00000001 primary " + m1 + " argon2id " + salt.substr(2) + " 2 65536\n",
       "parse_error"},
      {"opslimit-zero", h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 0 65536\n",
       "parse_error"},
      {"memlimit-in-kib", h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 2 64\n",
       "parse_error"},
      {"memlimit-below-minimum", h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 2 8191\n",
       "parse_error"},
      {"memlimit-above-maximum",
       h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 2 4398046510081\n", "parse_error"},
      {"opslimit-above-maximum",
       h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 4294967296 65536\n", "parse_error"},
      {"limit-with-sign", h + "key k 00000001 primary " + m1 + " argon2id " + salt + " +2 65536\n",
       "parse_error"},
      {"limit-with-leading-zeros",
       h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 0002 00065536\n", "ok"},
      {"limit-21-digits",
       h + "key k 00000001 primary " + m1 + " argon2id " + salt + " 000000000000000000002 65536\n",
       "parse_error"},
  };
  json keyring_json = json::array();
  for (const FileCase& c : keyrings) {
    mqseal::Result<mqseal::Keyring> k = mqseal::Keyring::parse(c.text);
    const std::string got = k ? "ok" : mqseal::name(k.error().code());
    note_if_changed("keyring file " + c.name, got, c.expect);
    json entry = {{"name", c.name}, {"text", c.text}, {"expect", got}};
    if (k) {
      const std::string written = must(k->serialize());
      json keys = json::array();
      for (const auto& f : written_lines(written)) {
        json key = {{"name", f[1]}, {"id", std::stoul(f[2], nullptr, 16)}, {"state", f[3]}};
        if (f[4] != "-") key["material"] = f[4];
        if (f.size() == 9) {
          key["argon2id"] = {{"salt", f[6]}, {"opslimit", f[7]}, {"memlimit", f[8]}};
        }
        keys.push_back(key);
      }
      entry["keys"] = keys;
      entry["written"] = written;
    }
    keyring_json.push_back(entry);
  }

  const std::string tk = hex(pattern(32, 0x90));
  const std::string ch = "mqseal-credentials v1\n";
  const std::vector<FileCase> credentials = {
      {"header-only", ch, "ok"},
      {"two-users",
       "# broker credentials\n" + ch + "user device-7 argon2id " + salt + " 2 65536 " + tk + "\n\n" +
           "user ops@plant.example:7_x argon2id " + salt + " 3 67108864 " + m1,
       "ok"},
      {"longest-username", ch + "user " + std::string(128, 'u') + " argon2id " + salt + " 2 65536 " + tk + "\n",
       "ok"},
      {"empty", "", "parse_error"},
      {"other-header", "mqseal-keyring v1\n", "parse_error"},
      {"crlf", ch.substr(0, ch.size() - 1) + "\r\n", "parse_error"},
      {"cr-in-a-comment", ch + "# note\r\n", "parse_error"},
      {"nul-in-a-comment", ch + std::string("# a\0b\n", 6), "parse_error"},
      {"duplicate-user", ch + "user d argon2id " + salt + " 2 65536 " + tk + "\nuser d argon2id " + salt +
                             " 2 65536 " + m1 + "\n", "parse_error"},
      {"username-129-characters",
       ch + "user " + std::string(129, 'u') + " argon2id " + salt + " 2 65536 " + tk + "\n", "parse_error"},
      {"username-with-slash", ch + "user a/b argon2id " + salt + " 2 65536 " + tk + "\n", "parse_error"},
      {"other-kdf", ch + "user d scrypt " + salt + " 2 65536 " + tk + "\n", "parse_error"},
      {"salt-30-digits", ch + "user d argon2id " + salt.substr(2) + " 2 65536 " + tk + "\n", "parse_error"},
      {"token-key-62-digits", ch + "user d argon2id " + salt + " 2 65536 " + tk.substr(2) + "\n",
       "parse_error"},
      {"opslimit-zero", ch + "user d argon2id " + salt + " 0 65536 " + tk + "\n", "parse_error"},
      {"memlimit-in-kib", ch + "user d argon2id " + salt + " 2 64 " + tk + "\n", "parse_error"},
      {"limit-with-sign", ch + "user d argon2id " + salt + " +2 65536 " + tk + "\n", "parse_error"},
      {"limit-with-leading-zeros", ch + "user d argon2id " + salt + " 0002 00065536 " + tk + "\n", "ok"},
      {"limit-21-digits", ch + "user d argon2id " + salt + " 000000000000000000002 65536 " + tk + "\n",
       "parse_error"},
      {"memlimit-above-maximum", ch + "user d argon2id " + salt + " 2 4398046510081 " + tk + "\n",
       "parse_error"},
      {"six-fields", ch + "user d argon2id " + salt + " 2 65536\n", "parse_error"},
      {"eight-fields", ch + "user d argon2id " + salt + " 2 65536 " + tk + " x\n", "parse_error"},
      {"two-spaces", ch + "user  d argon2id " + salt + " 2 65536 " + tk + "\n", "parse_error"},
      {"trailing-space", ch + "user d argon2id " + salt + " 2 65536 " + tk + " \n", "parse_error"},
  };
  json credentials_json = json::array();
  for (const FileCase& c : credentials) {
    mqseal::Result<mqseal::Credentials> k = mqseal::Credentials::parse(c.text);
    const std::string got = k ? "ok" : mqseal::name(k.error().code());
    note_if_changed("credentials file " + c.name, got, c.expect);
    json entry = {{"name", c.name}, {"text", c.text}, {"expect", got}};
    if (k) {
      const std::string written = must(k->serialize());
      json users = json::array();
      for (const auto& f : written_lines(written)) {
        users.push_back({{"username", f[1]}, {"salt", f[3]}, {"opslimit", f[4]}, {"memlimit", f[5]},
                         {"token_key", f[6]}});
      }
      entry["users"] = users;
      entry["written"] = written;
    }
    credentials_json.push_back(entry);
  }

  const std::string r1 = "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n";
  const std::string r2 = "[[rule]]\nfilter = \"public/#\"\nplaintext = true\n";
  const std::vector<FileCase> policies = {
      {"example", "version = 1\n\n" + r1 + "\n" + r2, "ok"},
      {"no-version", r1 + r2, "ok"},
      {"empty", "", "ok"},
      {"inline-tables-outside-the-subset", "# policy\nrule = [{filter = \"a/#\", key = \"k\"}, "
                                           "{filter = \"b\", plaintext = true}]\n", "parse_error"},
      {"retained-refuse", "[[rule]]\nfilter = \"plant/+/cmd/#\"\nkey = \"commands\"\nretained = \"refuse\"\n",
       "ok"},
      {"retained-accept-with-age", "[[rule]]\nfilter = \"plant/+/state\"\nkey = \"state\"\n"
                                   "retained = \"accept\"\nretained_max_age_ms = 86400000\n", "ok"},
      {"retained-age-without-accept", "[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nretained_max_age_ms = 5\n",
       "parse_error"},
      {"retained-on-plaintext", "[[rule]]\nfilter = \"p/#\"\nplaintext = true\nretained = \"refuse\"\n",
       "parse_error"},
      {"retained-unknown-word", "[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nretained = \"sometimes\"\n",
       "parse_error"},
      {"version-2", "version = 2\n" + r1, "parse_error"},
      {"version-as-string", "version = \"1\"\n" + r1, "parse_error"},
      {"unknown-top-level-field", "versoin = 1\n" + r1, "parse_error"},
      {"unknown-rule-field", "[[rule]]\nfilter = \"public/#\"\nplaintxt = true\n", "parse_error"},
      {"key-and-plaintext-true", "[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nplaintext = true\n", "parse_error"},
      {"key-and-plaintext-false", "[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\nplaintext = false\n",
       "parse_error"},
      {"plaintext-false", "[[rule]]\nfilter = \"a/#\"\nplaintext = false\n", "parse_error"},
      {"plaintext-as-string", "[[rule]]\nfilter = \"a/#\"\nplaintext = \"true\"\n", "parse_error"},
      {"neither-key-nor-plaintext", "[[rule]]\nfilter = \"a/#\"\n", "parse_error"},
      {"no-filter", "[[rule]]\nkey = \"k\"\n", "parse_error"},
      {"filter-not-a-string", "[[rule]]\nfilter = 7\nkey = \"k\"\n", "parse_error"},
      {"key-not-a-string", "[[rule]]\nfilter = \"a/#\"\nkey = 7\n", "parse_error"},
      {"rule-as-a-table", "[rule]\nfilter = \"a/#\"\nkey = \"k\"\n", "parse_error"},
      {"invalid-filter", "[[rule]]\nfilter = \"a/#/b\"\nkey = \"k\"\n", "parse_error"},
      {"invalid-key-name", "[[rule]]\nfilter = \"a/#\"\nkey = \"a key\"\n", "parse_error"},
      {"same-filter-twice", r1 + "[[rule]]\nfilter = \"plant/+/telemetry\"\nplaintext = true\n", "parse_error"},
      {"not-toml", "[[rule]\nfilter = \"a/#\"\n", "parse_error"},
      {"lone-cr-at-the-end", "[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\r", "parse_error"},
  };
  json policy_json = json::array();
  for (const FileCase& c : policies) {
    mqseal::Result<mqseal::TopicPolicy> p = mqseal::parse_policy(c.text);
    const std::string got = p ? "ok" : mqseal::name(p.error().code());
    note_if_changed("policy file " + c.name, got, c.expect);
    json entry = {{"name", c.name}, {"text", c.text}, {"expect", got}};
    if (p) {
      json rules = json::array();
      for (const mqseal::TopicRule& r : p->rules()) rules.push_back(rule_json(r));
      entry["rules"] = rules;
    }
    policy_json.push_back(entry);
  }
  return {
      {"format", "mqseal keyring, credentials and policy files, v1 (docs/SPEC.md, sections 8, 9, 11, 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Parse each 'text'. 'expect' is ok or the error name; for ok, the parsed content "
                "follows, in file order, and 'written' is what mqseal writes for it. 64-bit integers "
                "are decimal strings."},
      {"keyring", keyring_json},
      {"credentials", credentials_json},
      {"policy", policy_json},
  };
}

// ---------------------------------------------------------------------------
// tests/vectors/records_v1.json: records at rest (docs/SPEC.md, section 10).
// RecordCipher draws its nonce at random, so the records here are built from
// the spec's formula with a fixed nonce (libsodium directly), and the
// expected outcome of each is what RecordCipher::open answers.

// tests/vectors/replay_store_v1.json: the replay store file (docs/SPEC.md
// section 11, "Replay store file"), written here from the spec with
// libsodium directly (a fixed file_id); the outcomes are what
// open_file_replay_store answers.
std::vector<uint8_t> blake2b(size_t out_size, const std::vector<uint8_t>& key, const std::vector<uint8_t>& message,
                             const char (&personal)[17]) {
  std::vector<uint8_t> out(out_size);
  if (crypto_generichash_blake2b_salt_personal(out.data(), out.size(), message.data(), message.size(),
                                               key.empty() ? nullptr : key.data(), key.size(), nullptr,
                                               reinterpret_cast<const unsigned char*>(personal)) != 0) {
    std::cerr << "make_vectors: BLAKE2b failed\n";
    std::exit(1);
  }
  return out;
}

std::vector<uint8_t> replay_partition(const std::string& ns, const std::string& partition) {
  std::vector<uint8_t> m;
  for (const std::string& s : {ns, partition}) {
    m.push_back(static_cast<uint8_t>(s.size() >> 8));
    m.push_back(static_cast<uint8_t>(s.size()));
    m.insert(m.end(), s.begin(), s.end());
  }
  return blake2b(32, {}, m, "mqseal replay pt");
}

std::vector<uint8_t> replay_record(const std::vector<uint8_t>& file_id, const std::string& partition,
                                   const std::vector<uint8_t>& id, uint64_t keep_until) {
  std::vector<uint8_t> r = replay_partition("token", partition);
  r.insert(r.end(), id.begin(), id.end());
  for (int i = 7; i >= 0; --i) r.push_back(static_cast<uint8_t>(keep_until >> (8 * i)));
  const std::vector<uint8_t> check = blake2b(16, file_id, r, "mqseal replay rc");
  r.insert(r.end(), check.begin(), check.end());
  return r;
}

std::string str_of(const json& j) { return j.get<std::string>(); }

std::vector<uint8_t> unhex_of(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

json replay_store_vectors() {
  constexpr uint64_t kNow = 1800000000;        // the claims' clock
  constexpr uint64_t kYear2100 = 4102444800;   // later than any reader's clock: kept
  constexpr uint64_t kSaturated = UINT64_MAX;  // expiry + skew saturated
  constexpr uint64_t kLongAgo = 1;             // earlier than any reader's clock: dropped on reading
  const std::string magic = "mqseal replay v1";
  const std::vector<uint8_t> file_id = pattern(16, 0x40);
  std::vector<uint8_t> header(magic.begin(), magic.end());
  header.insert(header.end(), file_id.begin(), file_id.end());
  const std::vector<uint8_t> id7 = pattern(16, 0x00), id8 = pattern(16, 0x10), id_old = pattern(16, 0x20);
  const std::vector<uint8_t> r7 = replay_record(file_id, "device-7", id7, kSaturated);
  const std::vector<uint8_t> r8 = replay_record(file_id, "device-8", id8, kYear2100);
  const std::vector<uint8_t> r_old = replay_record(file_id, "device-7", id_old, kLongAgo);
  auto cat = [](std::vector<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto claim = [&](const std::string& partition, const std::vector<uint8_t>& id, const char* answer) {
    return json{{"namespace", "token"}, {"partition", partition}, {"id", hex(id)},
                {"keep_until_s", u64(kYear2100)}, {"answer", answer}};
  };
  const std::vector<uint8_t> two_users = cat({header, r7, r8, r_old});
  std::vector<uint8_t> corrupt = two_users;
  corrupt[header.size() + 72 + 71] ^= 0x01;  // the last byte of device-8's check
  std::vector<uint8_t> other_id = file_id;
  other_id[0] ^= 0x01;
  const std::string other_magic = "mqseal replay v2";
  std::vector<uint8_t> other_version(other_magic.begin(), other_magic.end());
  other_version.insert(other_version.end(), file_id.begin(), file_id.end());
  const std::string credentials = "mqseal-credentials v1\n";
  struct Case {
    const char* label;
    std::vector<uint8_t> bytes;
    json claims;
  };
  const std::vector<Case> cases = {
      {"a new store: the header only", header, json::array({claim("device-7", id7, "first_use")})},
      {"two users, and a claim long expired (dropped when read)", two_users,
       json::array({claim("device-7", id7, "seen"), claim("device-8", id8, "seen"),
                    claim("device-7", id_old, "first_use"), claim("device-8", id7, "first_use")})},
      {"corrupt: a check that does not match", corrupt, json::array()},
      {"torn: device-8's record one byte short (an append a crash cut short: dropped)",
       [&] {
         std::vector<uint8_t> torn = cat({header, r7, r8});
         torn.pop_back();
         return torn;
       }(),
       json::array({claim("device-7", id7, "seen"), claim("device-8", id8, "first_use")})},
      {"unfinished: the header's first 20 bytes (a creation a crash cut short: a new store)",
       std::vector<uint8_t>(header.begin(), header.begin() + 20), json::array({claim("device-7", id7, "first_use")})},
      {"truncated: shorter than the header, and not its start", std::vector<uint8_t>{'m', 'q', 'x'}, json::array()},
      {"a record from another file (checked under another file_id)",
       cat({header, replay_record(other_id, "device-7", id7, kSaturated)}), json::array()},
      {"another version", cat({other_version, r7}), json::array()},
      {"foreign: a credentials file", std::vector<uint8_t>(credentials.begin(), credentials.end()), json::array()},
  };
  json files = json::array();
  for (const Case& c : cases) {
    // What the library answers, from a real file (mode 0600).
    char dir_template[] = "/tmp/mqseal-vectors-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (dir == nullptr) std::exit(1);
    const std::string path = std::string(dir) + "/replay";
    {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(c.bytes.data()), static_cast<std::streamsize>(c.bytes.size()));
    }
    chmod(path.c_str(), 0600);
    std::string expect = "ok";
    json claims = c.claims;
    {
      auto store = mqseal::open_file_replay_store(path, mqseal::FileReplayStoreOptions{16});
      if (!store) expect = mqseal::name(store.error().code());
      for (json& cl : claims) {
        if (!store) break;
        const std::string partition = str_of(cl["partition"]);  // outlives the claim's view of it
        mqseal::ReplayClaim rc{"token", partition, {}, kYear2100, kNow, 64};
        const std::vector<uint8_t> id = unhex_of(str_of(cl["id"]));
        std::copy(id.begin(), id.end(), rc.id.begin());
        mqseal::Result<mqseal::ClaimOutcome> answer = (*store)->claim(rc);
        const std::string got = !answer ? mqseal::name(answer.error().code())
                                        : *answer == mqseal::ClaimOutcome::first_use ? "first_use" : "seen";
        note_if_changed(std::string(c.label) + " / " + partition + " " + str_of(cl["id"]), got, str_of(cl["answer"]));
        cl["answer"] = got;
      }
    }
    std::remove(path.c_str());
    rmdir(dir);
    files.push_back({{"label", c.label}, {"file_hex", hex(c.bytes)}, {"expect", expect}, {"claims", claims}});
  }
  return {
      {"format", "mqseal replay store file v1 (docs/SPEC.md section 11, \"Replay store file\")"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Each file is opened from a file of mode 0600 (capacity 16); then each claim is made in order, at "
                "now_s, with quota 64, and answers as given. Records with keep_until below the reader's clock "
                "are dropped when the file is read."},
      {"now_s", u64(kNow)},
      {"partitions", json::array({{{"namespace", "token"}, {"partition", "device-7"},
                                   {"digest", hex(replay_partition("token", "device-7"))}},
                                  {{"namespace", "token"}, {"partition", "device-8"},
                                   {"digest", hex(replay_partition("token", "device-8"))}},
                                  {{"namespace", "message"}, {"partition", ""},
                                   {"digest", hex(replay_partition("message", ""))}}})},
      {"files", files},
  };
}

json record_vectors() {
  struct RecordKey {
    const char* name;
    mqseal::KeyId id;
    mqseal::KeyState state;
    uint8_t first_byte;
  };
  const RecordKey keys[] = {
      {"local", 0x00000021, mqseal::KeyState::active, 0x80},
      {"local", 0x00000022, mqseal::KeyState::primary, 0xa0},
      {"local", 0x00000023, mqseal::KeyState::retired, 0xc0},
      {"other", 0x00000031, mqseal::KeyState::primary, 0xe0},
  };
  auto ring = std::make_shared<mqseal::Keyring>();
  json keys_json = json::array();
  for (const RecordKey& k : keys) {
    must(ring->add_with_id(k.name, k.id, must(mqseal::Key::from_bytes(pattern(32, k.first_byte)))));
    json entry = {{"name", k.name}, {"id", k.id}, {"state", mqseal::name(k.state)}};
    if (k.state != mqseal::KeyState::retired) entry["material"] = hex(pattern(32, k.first_byte));
    keys_json.push_back(entry);
  }
  must(ring->promote(0x22));
  must(ring->retire(0x23));
  const std::string key_name = "local";
  const std::string purpose = "paho persistence";
  const std::string slot = std::string("client-7") + '\0' + "tcp://127.0.0.1:1883" + '\0';

  auto record_key = [&](mqseal::KeyId id, const std::string& for_purpose) {
    std::vector<uint8_t> out(32);
    for (const RecordKey& k : keys) {
      if (k.id == id) {
        const std::vector<uint8_t> material = pattern(32, k.first_byte);
        crypto_generichash_blake2b_salt_personal(
            out.data(), out.size(), reinterpret_cast<const uint8_t*>(for_purpose.data()),
            for_purpose.size(), material.data(), material.size(), nullptr,
            reinterpret_cast<const uint8_t*>("mqseal record v1"));
      }
    }
    return out;
  };
  struct Built {
    std::vector<uint8_t> record, key, ad;
  };
  auto build = [&](mqseal::KeyId id, uint8_t nonce_byte, const std::string& associated,
                   const std::string& payload, const std::string& for_purpose) {
    Built b;
    b.key = record_key(id, for_purpose);
    b.record = {mqseal::kRecordVersion, static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    const std::vector<uint8_t> nonce = pattern(24, nonce_byte);
    b.record.insert(b.record.end(), nonce.begin(), nonce.end());
    b.ad = b.record;
    const uint32_t n = static_cast<uint32_t>(associated.size());
    b.ad.insert(b.ad.end(), {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    b.ad.insert(b.ad.end(), associated.begin(), associated.end());
    std::vector<uint8_t> body(payload.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(body.data(), &written,
                                               reinterpret_cast<const uint8_t*>(payload.data()),
                                               payload.size(), b.ad.data(), b.ad.size(), nullptr,
                                               nonce.data(), b.key.data());
    b.record.insert(b.record.end(), body.begin(), body.end());
    return b;
  };
  mqseal::RecordCipher cipher = must(mqseal::RecordCipher::create(ring, key_name, purpose));
  json records = json::array();
  auto add = [&](const std::string& name, const std::string& description, const std::string& associated,
                 const std::vector<uint8_t>& record, const char* expect, const json& inputs) {
    std::vector<uint8_t> plain;
    mqseal::Status s = cipher.open(bytes_of(associated), record, plain);
    const std::string got = s ? "ok" : mqseal::name(s.error().code());
    note_if_changed("record " + name, got, expect);
    json entry = {{"name", name}, {"description", description}, {"associated", hex(associated)},
                  {"record", hex(record)}, {"expect", got}};
    if (s) entry["payload"] = hex(plain);
    if (!inputs.is_null()) entry["sealing"] = inputs;
    records.push_back(entry);
  };
  auto sealed = [&](const std::string& name, const std::string& description, mqseal::KeyId id,
                    uint8_t nonce_byte, const std::string& associated, const std::string& payload) {
    Built b = build(id, nonce_byte, associated, payload, purpose);
    add(name, description, associated, b.record, "ok",
        {{"key_id", id}, {"nonce", hex(pattern(24, nonce_byte))}, {"payload", hex(payload)},
         {"record_key", hex(b.key)}, {"associated_data", hex(b.ad)}});
    return b.record;
  };
  const std::string s12 = slot + "s-12";
  const std::vector<uint8_t> basic =
      sealed("short", "a Paho record under the primary key", 0x22, 0x01, s12, "PUBLISH plant/7/cmd");
  sealed("empty", "the empty record: 45 bytes, the shortest there is", 0x22, 0x02, s12, "");
  sealed("active-key", "sealed under the active key 0x21, before a rotation", 0x21, 0x03, s12, "queued");
  sealed("no-associated-data", "empty associated data", 0x22, 0x04, "", "x");
  sealed("1k", "1 KiB", 0x22, 0x05, slot + "c5-300", std::string(1024, 'p'));
  auto altered = [&](size_t at, uint8_t value) {
    std::vector<uint8_t> r = basic;
    r[at] = value;
    return r;
  };
  std::vector<uint8_t> flipped = basic;
  flipped.back() ^= 1;
  add("truncated", "44 bytes: one shorter than the shortest record", s12,
      std::vector<uint8_t>(basic.begin(), basic.begin() + 44), "malformed", nullptr);
  add("version-2", "version byte 2", s12, altered(0, 2), "unsupported_version", nullptr);
  add("unknown-key", "key ID 0x00000099", s12, altered(4, 0x99), "unknown_key", nullptr);
  add("key-id-zero", "key ID 0", s12, altered(4, 0x00), "unknown_key", nullptr);
  add("retired-key", "key ID 0x00000023, retired", s12, altered(4, 0x23), "key_retired", nullptr);
  add("other-key-name", "key ID 0x00000031, a key of another name", s12, altered(4, 0x31),
      "wrong_key_for_topic", nullptr);
  add("flipped-tag", "last bit of the tag flipped", s12, flipped, "authentication_failed", nullptr);
  add("renamed", "the 'short' record read under another record name", slot + "s-13", basic,
      "authentication_failed", nullptr);
  add("other-client", "the 'short' record read in another client's directory",
      std::string("client-8") + '\0' + "tcp://127.0.0.1:1883" + '\0' + "s-12", basic,
      "authentication_failed", nullptr);
  add("other-purpose", "sealed for the purpose 'secret file' instead", s12,
      build(0x22, 0x06, s12, "PUBLISH plant/7/cmd", "secret file").record, "authentication_failed",
      nullptr);

  // EncryptedStore's directory per client ID and server URI: the hex of an
  // unkeyed 16-byte BLAKE2b (libsodium's crypto_generichash, as paho/src/persistence.cpp).
  json directories = json::array();
  const std::pair<std::string, std::string> clients[] = {
      {"client-7", "tcp://127.0.0.1:1883"}, {"", ""}, {"g\xc3\xa4rtnerei", "ssl://broker.example:8883"}};
  for (const auto& [client, uri] : clients) {
    const std::string binding = client + '\0' + uri + '\0';
    uint8_t hash[16];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const uint8_t*>(binding.data()), binding.size(),
                       nullptr, 0);
    directories.push_back({{"client_id", client}, {"server_uri", uri}, {"directory", hex(hash, sizeof hash)}});
  }
  return {
      {"format", "mqseal records at rest v1 (docs/SPEC.md, sections 10 and 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Open each record with a RecordCipher for 'key_name' and 'purpose' over 'keys'. "
                "Byte strings are lowercase hex."},
      {"keys", keys_json},
      {"key_name", key_name},
      {"purpose", purpose},
      {"records", records},
      {"store_directories", directories},
  };
}

// tests/vectors/envelope_v2.json and envelope_v1.json: the same cases sealed
// as each version (docs/SPEC.md, section 4), opened by today's receiver, and
// for v2 the retain intent's own cases.
json envelope_vectors(Vectors& v, const json& keys, const json& policy_json) {
  const bool v1 = v.version == mqseal::kEnvelopeVersionV1;
  const size_t key_id_end = v1 ? 5 : 6;       // last byte of key_id
  const size_t timestamp_end = v1 ? 13 : 14;  // last byte of timestamp_ms
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
  v.sealed("large-sequence", "sender bytes and a sequence near the top of its range", t7,
           reading, 2, kT0, 0xff, 0xfffffffffffffffeull, now, false);
  v.sealed("clock-skew", "timestamp 30 s ahead of the receiver: within the default skew", t7,
           reading, 2, now + 30'000, 0xa1, 8, now, false);
  v.sealed("retained-delivered-young", "delivered with the retain flag while younger than max_age_ms",
           t7, reading, 2, kT0, 0xc4, 0, now, true);

  std::vector<uint8_t> flipped = basic;
  flipped.back() ^= 0x01;
  std::vector<uint8_t> version4 = basic;
  version4[0] = 4;  // 3 is the compact envelope (envelope_v3.json)
  std::vector<uint8_t> suite9 = basic;
  suite9[1] = 9;
  std::vector<uint8_t> retimed = basic;
  retimed[timestamp_end] ^= 0x01;
  std::vector<uint8_t> unknown = basic;
  unknown[key_id_end] = 0x99;
  std::vector<uint8_t> retired = basic;
  retired[key_id_end] = 0x03;
  std::vector<uint8_t> other_name = basic;
  other_name[key_id_end] = 0x0a;
  v.refused("moved-topic", "the 'short' envelope published on another topic", "plant/8/telemetry",
            basic, now, false, "authentication_failed");
  v.refused("flipped-tag", "last bit of the tag flipped", t7, flipped, now, false,
            "authentication_failed");
  v.refused("altered-timestamp", "one bit of the header timestamp flipped", t7, retimed, now,
            false, "authentication_failed");
  v.refused("truncated", "one byte shorter than the smallest envelope of its version", t7,
            std::vector<uint8_t>(basic.begin(), basic.begin() + static_cast<std::ptrdiff_t>(
                                                                    mqseal::envelope_overhead(v.version) - 1)),
            now, false, "malformed");
  v.refused("version-4", "format version 4", t7, version4, now, false, "unsupported_version");
  v.refused("suite-9", "cipher suite 9", t7, suite9, now, false, "unsupported_suite");
  v.refused("unknown-key", "key ID 0x00000099, not in the keyring", t7, unknown, now, false,
            "unknown_key");
  v.refused("retired-key", "key ID 0x00000003, retired", t7, retired, now, false, "key_retired");
  v.refused("wrong-key-for-topic", "a commands key ID on a telemetry topic", t7, other_name, now,
            false, "wrong_key_for_topic");
  v.refused("expired", "opened 6 minutes after sealing (default maximum age 5 minutes)", t7,
            basic, kT0 + 6 * kMinute, false, "expired");
  v.refused("future", "opened 2 minutes before it was sealed (default skew 1 minute)", t7, basic,
            kT0 - 2 * kMinute, false, "not_yet_valid");
  v.refused("no-rule", "a topic no rule covers", "plant/7/status", basic, now, false, "no_rule");
  v.refused("live-delivered-as-retained",
            v1 ? "a v1 envelope (it cannot say it was sealed to be retained) delivered with the retain "
                 "flag two days after sealing: judged as live"
               : "sealed as live, delivered with the retain flag two days later: judged as live",
            t7, basic, kT0 + 2 * kDay, true, "expired");
  if (!v1) {
    std::vector<uint8_t> kept = v.sealed("retained", "sealed to be retained, delivered with the retain flag "
                                         "two days after it was sealed", t7, reading, 2, kT0, 0xc3, 0,
                                         kT0 + 2 * kDay, true, mqseal::kFlagRetain);
    v.refused("retained-expired", "sealed to be retained, delivered as retained 8 days later (default 7 "
              "days)", t7, kept, kT0 + 8 * kDay, true, "expired");
    v.refused("retained-delivered-live-late", "sealed to be retained, delivered without the retain flag "
              "two days later: judged as live", t7, kept, kT0 + 2 * kDay, false, "expired");
    std::vector<uint8_t> command = v.sealed("retained-command", "sealed to be retained on a rule whose "
                                            "retained policy is refuse, delivered live", "plant/7/cmd/valve",
                                            {'s', 'h', 'u', 't'}, 0x0a, kT0, 0xc5, 0, now, false,
                                            mqseal::kFlagRetain);
    v.refused("retained-refused-by-rule", "the same, delivered with the retain flag: the rule refuses it",
              "plant/7/cmd/valve", command, now, true, "retained_refused");
    std::vector<uint8_t> unflagged = kept;
    unflagged[2] = 0;
    v.refused("retain-flag-cleared", "the retain flag of a retained envelope cleared in transit", t7,
              unflagged, now, false, "authentication_failed");
    std::vector<uint8_t> unknown_flag = basic;
    unknown_flag[2] = 0x02;
    v.refused("unknown-flag", "flags bit 1 set (reserved)", t7, unknown_flag, now, false, "malformed");
  }
  return {
      {"format", std::string("mqseal envelope v") + std::to_string(v.version) +
                     " known-answer vectors (docs/SPEC.md)"},
      {"generator", "tests/make_vectors.cpp"},
      {"keys", keys},
      {"policy", policy_json},
      {"replay", replay_json(mqseal::ReplayOptions{})},
      {"notes", "Format: docs/SPEC.md, section 13. Open each vector with a fresh receiver (empty "
                "replay state). Byte strings are lowercase hex; topics are UTF-8 strings; 64-bit "
                "integers are decimal strings."},
      {"vectors", v.list},
  };
}

// tests/vectors/signed_v1.json: suite 2, signed sender (docs/SPEC.md,
// sections 1, 2a, 4a, 6 and 8). Devices seal with their signing key pairs;
// the receiver holds the symmetric keys and the trusted public keys.
struct SignerSpec {
  const char* name;
  mqseal::KeyId id;
  uint8_t seed_byte;
  bool retired_at_receiver;
};
constexpr mqseal::KeyId kSignedTelemetry = 0x7e1e0001;
constexpr mqseal::KeyId kSignedCommands = 0xc0dd0001;
constexpr SignerSpec kSigners[] = {
    {"plant-7", 0x5167a007, 0x70, false},
    {"plant-8", 0x5167a008, 0x80, false},
    {"backend", 0x5167bac0, 0xb0, false},
    {"plant-7", 0x5167a017, 0x71, true},  // plant-7's previous key pair, revoked at the receiver
};

struct SignedVectors {
  mqseal::Keyring sealing;   // symmetric keys and every signing key pair
  mqseal::Keyring receiver;  // symmetric keys and the trusted public keys
  mqseal::TopicPolicy policy;
  json list = json::array();
  int count = 0;

  std::vector<uint8_t> topic_key(mqseal::KeyId id, const std::string& topic) {
    const uint8_t first = id == kSignedTelemetry ? 0x11 : 0x22;
    mqseal::Key key = must(mqseal::Key::from_bytes(std::vector<uint8_t>(mqseal::kKeySize, first)));
    std::vector<uint8_t> out(mqseal::kKeySize);
    must(mqseal::hazmat::derive_topic_key(key, topic, out.data()));
    return out;
  }

  std::string outcome(const std::string& topic, const std::vector<uint8_t>& envelope, uint64_t now_ms,
                      bool retained) {
    auto keys = std::make_shared<mqseal::Keyring>(must(receiver.clone()));
    mqseal::Opener opener = must(mqseal::Opener::create(policy, keys));
    mqseal::Result<mqseal::Opened> r = opener.open(topic, envelope, {retained, now_ms});
    return r ? "ok" : mqseal::name(r.error().code());
  }

  static mqseal::EnvelopeHeader header(mqseal::KeyId key_id, mqseal::KeyId signer, uint64_t timestamp_ms,
                                       uint8_t sender_byte, uint64_t sequence, uint8_t flags = 0) {
    mqseal::EnvelopeHeader h;
    h.suite = mqseal::kSuiteSignedSender;
    h.flags = flags;
    h.key_id = key_id;
    h.signer_key_id = signer;
    h.timestamp_ms = timestamp_ms;
    h.sender = sender_of(sender_byte);
    h.sequence = sequence;
    return h;
  }

  std::vector<uint8_t> seal(const std::string& topic, const mqseal::EnvelopeHeader& h,
                            const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> key = topic_key(h.key_id, topic);
    std::vector<uint8_t> envelope;
    must(mqseal::hazmat::seal_signed_with_header(key.data(), topic, h, payload, sealing, envelope));
    return envelope;
  }

  // The digest and the signed message of section 4a, computed here from
  // libsodium directly, as the spec writes them.
  static std::vector<uint8_t> signed_message(const std::string& topic, const std::vector<uint8_t>& envelope) {
    static const char domain[] = "mqseal envelope v2 suite 2 signature";
    std::vector<uint8_t> input = {static_cast<uint8_t>(topic.size() >> 8), static_cast<uint8_t>(topic.size())};
    input.insert(input.end(), topic.begin(), topic.end());
    input.insert(input.end(), envelope.begin(), envelope.end() - mqseal::kSignatureSize);
    std::vector<uint8_t> m(domain, domain + sizeof domain - 1);
    uint8_t digest[64];
    const unsigned char personal[16] = {'m', 'q', 's', 'e', 'a', 'l', ' ', 's', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e'};
    crypto_generichash_blake2b_salt_personal(digest, sizeof digest, input.data(), input.size(), nullptr, 0, nullptr,
                                             personal);
    m.insert(m.end(), digest, digest + sizeof digest);
    return m;
  }

  // Signs `envelope` (whose last 64 bytes are the signature) again with
  // `signer`'s seed: an insider's envelope after it changed a byte.
  static void resign(const std::string& topic, std::vector<uint8_t>& envelope, uint8_t seed_byte) {
    std::vector<uint8_t> seed(32, seed_byte);
    unsigned char pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed.data());
    const std::vector<uint8_t> m = signed_message(topic, envelope);
    crypto_sign_detached(envelope.data() + envelope.size() - 64, nullptr, m.data(), m.size(), sk);
    sodium_memzero(sk, sizeof sk);
  }

  std::vector<uint8_t> sealed(const std::string& name, const std::string& description, const std::string& topic,
                              const mqseal::EnvelopeHeader& h, const std::vector<uint8_t>& payload,
                              uint64_t now_ms, bool retained = false) {
    std::vector<uint8_t> envelope = seal(topic, h, payload);
    const std::string expect = outcome(topic, envelope, now_ms, retained);
    if (expect != "ok") {
      std::cerr << "make_vectors: " << name << " does not open: " << expect << "\n";
      std::exit(1);
    }
    std::vector<uint8_t> ad(envelope.begin(), envelope.begin() + static_cast<std::ptrdiff_t>(
                                                                   mqseal::kAssociatedHeaderSizeSigned));
    ad.push_back(static_cast<uint8_t>(topic.size() >> 8));
    ad.push_back(static_cast<uint8_t>(topic.size()));
    ad.insert(ad.end(), topic.begin(), topic.end());
    const std::vector<uint8_t> m = signed_message(topic, envelope);
    std::string signer;
    for (const SignerSpec& s : kSigners) {
      if (s.id == h.signer_key_id) signer = s.name;
    }
    list.push_back({{"name", name},
                    {"description", description},
                    {"topic", topic},
                    {"payload", hex(payload)},
                    {"version", h.version},
                    {"suite", h.suite},
                    {"flags", h.flags},
                    {"key_id", h.key_id},
                    {"signer_key_id", h.signer_key_id},
                    {"signer", signer},
                    {"timestamp_ms", u64(h.timestamp_ms)},
                    {"sender", hex(h.sender.data(), h.sender.size())},
                    {"sequence", u64(h.sequence)},
                    {"topic_key", hex(topic_key(h.key_id, topic))},
                    {"associated_data", hex(ad)},
                    {"signed_message", hex(m)},
                    {"signature", hex(envelope.data() + envelope.size() - 64, 64)},
                    {"envelope", hex(envelope)},
                    {"open", {{"topic", topic}, {"now_ms", u64(now_ms)}, {"retained", retained}}},
                    {"expect", "ok"}});
    ++count;
    return envelope;
  }

  void refused(const std::string& name, const std::string& description, const std::string& topic,
               const std::vector<uint8_t>& envelope, uint64_t now_ms, const std::string& expect,
               bool retained = false) {
    list.push_back(refusal(name, description, topic, envelope, now_ms, retained, expect,
                           outcome(topic, envelope, now_ms, retained)));
    ++count;
  }
};

void set_be32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + static_cast<size_t>(i)] = static_cast<uint8_t>(x >> (24 - 8 * i));
}

json signed_vectors() {
  SignedVectors v;
  json keys = json::array();
  json signing = json::array();
  json trusted = json::array();
  for (const auto& [name, id, first] : {std::tuple<const char*, mqseal::KeyId, uint8_t>{"telemetry", kSignedTelemetry, 0x11},
                                        {"commands", kSignedCommands, 0x22}}) {
    const std::vector<uint8_t> material(mqseal::kKeySize, first);
    must(v.sealing.add_with_id(name, id, must(mqseal::Key::from_bytes(material))));
    must(v.receiver.add_with_id(name, id, must(mqseal::Key::from_bytes(material))));
    keys.push_back({{"name", name}, {"id", id}, {"state", "primary"}, {"material", hex(material)}});
  }
  for (const SignerSpec& s : kSigners) {
    const std::vector<uint8_t> seed(32, s.seed_byte);
    must(v.sealing.add_signing_key_with_id(s.name, s.id, must(mqseal::Key::from_bytes(seed))));
    const mqseal::SignerPublicKey pk = must(v.sealing.public_key(s.id));
    must(v.receiver.add_trusted_signer(s.name, s.id, mqseal::ByteView(pk)));
    if (s.retired_at_receiver) must(v.receiver.retire(s.id));
    mqseal::KeyInfo info = must(v.sealing.info(s.id));
    signing.push_back({{"name", s.name}, {"id", s.id}, {"state", mqseal::name(info.state)}, {"seed", hex(seed)},
                       {"public", hex(pk.data(), pk.size())}});
    json t = {{"name", s.name}, {"id", s.id}, {"state", s.retired_at_receiver ? "retired" : "active"}};
    if (!s.retired_at_receiver) t["public"] = hex(pk.data(), pk.size());
    trusted.push_back(t);
  }
  must(v.policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", {}));
  must(v.policy.add_signed_rule("plant/alerts", "telemetry", {"plant-7", "plant-8"}));
  must(v.policy.add_signed_rule("plant/+/cmd/#", "commands", {"backend"},
                                mqseal::RetainedRule{mqseal::RetainedPolicy::refuse}));
  must(v.policy.add_rule("legacy/#", "telemetry"));
  json policy_json = json::array();
  for (const mqseal::TopicRule& r : v.policy.rules()) policy_json.push_back(rule_json(r));

  const uint64_t now = kT0 + 2000;
  const std::string t7 = "plant/plant-7/telemetry";
  const std::vector<uint8_t> reading = {'2', '1', '.', '5', ' ', 'C'};
  using SV = SignedVectors;
  std::vector<uint8_t> basic = v.sealed("signed-short", "plant-7 under its own level", t7,
                                        SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa1, 0), reading, now);
  v.sealed("signed-empty", "empty payload", t7, SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa1, 1), {}, now);
  v.sealed("signed-64k", "64 KiB payload", t7, SV::header(kSignedTelemetry, 0x5167a007, kT0 + 1, 0xa1, 2),
           pattern(65536, 0), now);
  v.sealed("signed-plant-8", "plant-8 under its own level", "plant/plant-8/telemetry",
           SV::header(kSignedTelemetry, 0x5167a008, kT0, 0xb1, 0), reading, now);
  v.sealed("listed-signer", "plant-8 on a topic that lists it", "plant/alerts",
           SV::header(kSignedTelemetry, 0x5167a008, kT0, 0xb1, 1), {'h', 'o', 't'}, now);
  v.sealed("backend-command", "the backend, the only signer listed for commands", "plant/plant-7/cmd/valve",
           SV::header(kSignedCommands, 0x5167bac0, kT0, 0xc1, 0), {'o', 'p', 'e', 'n'}, now);
  v.sealed("signed-retained", "sealed to be retained, delivered as retained two days later", t7,
           SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa2, 0, mqseal::kFlagRetain), reading, kT0 + 2 * kDay,
           true);
  v.sealed("signed-large-sequence", "a sequence near the top of its range",
           "plant/plant-7/telemetry", SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa3, 0xfffffffffffffffeull),
           reading, now);

  // Refusals.
  v.refused("moved-topic", "the signed-short envelope on plant-8's topic (signature and AEAD bind the topic)",
            "plant/plant-8/telemetry", basic, now, "authentication_failed");
  v.refused("unauthorized-level", "plant-7, validly signed, under plant-8's level", "plant/plant-8/telemetry",
            v.seal("plant/plant-8/telemetry", SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa1, 3), reading),
            now, "unauthorized_signer");
  v.refused("unauthorized-command", "plant-7, validly signed, on a topic only the backend may sign",
            "plant/plant-7/cmd/valve",
            v.seal("plant/plant-7/cmd/valve", SV::header(kSignedCommands, 0x5167a007, kT0, 0xa1, 4), reading), now,
            "unauthorized_signer");
  std::vector<uint8_t> as_other = basic;
  set_be32(as_other, 7, 0x5167a008);
  v.refused("wrong-signer", "signed by plant-7, header names plant-8's key", t7, as_other, now,
            "authentication_failed");
  std::vector<uint8_t> as_other_resigned = v.seal("plant/plant-8/telemetry",
                                                  SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa1, 5), reading);
  set_be32(as_other_resigned, 7, 0x5167a008);
  SV::resign("plant/plant-8/telemetry", as_other_resigned, 0x70);
  v.refused("wrong-signer-on-its-topic", "plant-7 names plant-8's key on plant-8's topic and signs with its own",
            "plant/plant-8/telemetry", as_other_resigned, now, "authentication_failed");
  std::vector<uint8_t> unknown = basic;
  set_be32(unknown, 7, 0x00000099);
  v.refused("unknown-signer", "signer key ID 0x00000099, not in the keyring", t7, unknown, now, "unknown_signer");
  std::vector<uint8_t> zero = basic;
  set_be32(zero, 7, 0);
  v.refused("signer-id-zero", "signer key ID 0", t7, zero, now, "unknown_signer");
  std::vector<uint8_t> symmetric = basic;
  set_be32(symmetric, 7, kSignedTelemetry);
  v.refused("symmetric-id-as-signer", "the telemetry key's ID as the signer key ID", t7, symmetric, now,
            "unknown_signer");
  std::vector<uint8_t> signing_as_key = basic;
  set_be32(signing_as_key, 3, 0x5167a007);
  v.refused("signer-id-as-key", "plant-7's signing key ID as the symmetric key ID", t7, signing_as_key, now,
            "unknown_key");
  v.refused("revoked-signer", "signed with plant-7's previous key pair, retired at the receiver", t7,
            v.seal(t7, SV::header(kSignedTelemetry, 0x5167a017, kT0, 0xa4, 0), reading), now, "key_retired");
  std::vector<uint8_t> flipped = basic;
  flipped.back() ^= 0x01;
  v.refused("altered-signature", "last bit of the signature flipped", t7, flipped, now, "authentication_failed");
  std::vector<uint8_t> flipped_r = basic;
  flipped_r[flipped_r.size() - 64] ^= 0x80;
  v.refused("altered-signature-r", "first byte of the signature (R) altered", t7, flipped_r, now,
            "authentication_failed");
  std::vector<uint8_t> resigned = basic;
  resigned[mqseal::kHeaderSizeSigned] ^= 0x01;
  SV::resign(t7, resigned, 0x70);
  v.refused("altered-ciphertext-resigned", "plant-7 alters its own ciphertext and signs again: the AEAD refuses",
            t7, resigned, now, "authentication_failed");
  std::vector<uint8_t> retimed = basic;
  retimed[18] ^= 0x01;
  v.refused("altered-timestamp", "one bit of the timestamp flipped", t7, retimed, now, "authentication_failed");
  for (size_t cut = 1; cut <= mqseal::kSignatureSize; ++cut) {
    std::vector<uint8_t> shorter(basic.begin(), basic.end() - static_cast<std::ptrdiff_t>(cut));
    v.refused("signature-short-" + std::to_string(cut), "the envelope " + std::to_string(cut) + " bytes short", t7,
              shorter, now, shorter.size() < mqseal::kEnvelopeOverheadSigned ? "malformed" : "authentication_failed");
  }
  for (size_t extra : {size_t{1}, size_t{32}, size_t{64}}) {
    std::vector<uint8_t> longer = basic;
    longer.insert(longer.end(), extra, 0);
    v.refused("signature-long-" + std::to_string(extra), std::to_string(extra) + " zero bytes appended", t7, longer,
              now, "authentication_failed");
  }
  // No downgrade: the rule decides the suite.
  {
    mqseal::EnvelopeHeader h1;
    h1.key_id = kSignedTelemetry;
    h1.timestamp_ms = kT0;
    h1.sender = sender_of(0xa5);
    std::vector<uint8_t> key = v.topic_key(kSignedTelemetry, t7);
    std::vector<uint8_t> suite1;
    must(mqseal::hazmat::seal_with_header(key.data(), t7, h1, reading, suite1));
    v.refused("suite-1-on-signed-rule", "a suite 1 envelope, valid under the topic key, on a signed rule", t7, suite1,
              now, "wrong_suite_for_topic");
  }
  v.refused("suite-2-on-suite-1-rule", "a valid suite 2 envelope on a suite 1 rule", "legacy/a",
            v.seal("legacy/a", SV::header(kSignedTelemetry, 0x5167a007, kT0, 0xa6, 0), reading), now,
            "wrong_suite_for_topic");
  std::vector<uint8_t> v1_suite2 = basic;
  v1_suite2[0] = mqseal::kEnvelopeVersionV1;
  v.refused("suite-2-in-v1", "version byte 1 with suite 2 (suite 2 exists only in v2)", t7, v1_suite2, now,
            "unsupported_suite");
  std::vector<uint8_t> suite1_byte = basic;
  suite1_byte[1] = mqseal::kSuiteXChaCha20Poly1305;
  v.refused("suite-byte-rewritten", "the suite byte of a signed envelope rewritten to 1", t7, suite1_byte, now,
            "wrong_suite_for_topic");
  v.refused("retained-command-refused", "the backend's command sealed to be retained, delivered as retained: the "
            "rule refuses retained messages", "plant/plant-7/cmd/valve",
            v.seal("plant/plant-7/cmd/valve", SV::header(kSignedCommands, 0x5167bac0, kT0, 0xc2, 0, mqseal::kFlagRetain),
                   {'s', 'h', 'u', 't'}),
            now, "retained_refused", true);
  v.refused("expired", "opened 6 minutes after sealing", t7, basic, kT0 + 6 * kMinute, "expired");

  // One receiver, in order: plant-7 (stolen) cannot take over plant-8's stream.
  json steps = json::array();
  auto step = [&](const std::string& label, const std::string& topic, const std::vector<uint8_t>& envelope,
                  const std::string& expect) {
    steps.push_back({{"label", label}, {"envelope", hex(envelope)},
                     {"deliver", {{"topic", topic}, {"retained", false}, {"now_ms", u64(now)}}},
                     {"expect", expect}});
  };
  auto eight = [&](uint64_t seq) {
    return v.seal("plant/alerts", SV::header(kSignedTelemetry, 0x5167a008, kT0 + seq, 0xb8, seq), {'8'});
  };
  step("plant-8 seq 0", "plant/alerts", eight(0), "ok");
  step("plant-7 with plant-8's sender ID, sequence 2^64-2", "plant/alerts",
       v.seal("plant/alerts", SV::header(kSignedTelemetry, 0x5167a007, kT0 + 100, 0xb8, 0xfffffffffffffffeull), {'7'}),
       "ok");
  step("plant-8 seq 1: its own partition, untouched", "plant/alerts", eight(1), "ok");
  step("plant-8 seq 1 again", "plant/alerts", eight(1), "duplicate");
  step("plant-8 seq 2", "plant/alerts", eight(2), "ok");
  {  // Check the steps against a real receiver.
    auto receiver = std::make_shared<mqseal::Keyring>(must(v.receiver.clone()));
    mqseal::Opener opener = must(mqseal::Opener::create(v.policy, receiver));
    for (const json& s : steps) {
      std::vector<uint8_t> env;
      const std::string h = s["envelope"];
      for (size_t i = 0; i < h.size(); i += 2) env.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
      mqseal::Result<mqseal::Opened> r = opener.open(s["deliver"]["topic"].get<std::string>(), env, {false, now});
      const std::string got = r ? "ok" : mqseal::name(r.error().code());
      if (got != s["expect"]) {
        std::cerr << "make_vectors: signed sequence step " << s["label"] << " gives " << got << "\n";
        std::exit(1);
      }
    }
  }

  // Keyring files with signature keys (section 8).
  json files = json::array();
  auto file_case = [&](const std::string& name, const std::string& text) {
    mqseal::Result<mqseal::Keyring> parsed = mqseal::Keyring::parse(text);
    json c = {{"name", name}, {"text", text}, {"expect", parsed ? "ok" : mqseal::name(parsed.error().code())}};
    if (parsed) {
      json ks = json::array();
      for (const mqseal::KeyInfo& k : parsed->list()) {
        json e = {{"kind", mqseal::name(k.kind)}, {"name", k.name}, {"id", k.id}, {"state", mqseal::name(k.state)}};
        if (k.public_key) e["public"] = hex(k.public_key->data(), k.public_key->size());
        ks.push_back(e);
      }
      c["keys"] = ks;
      c["written"] = must(parsed->serialize());
      c["public_export"] = parsed->export_public();
    }
    files.push_back(c);
  };
  const std::string head = "mqseal-keyring v1\n";
  const std::string seed7(64, '7');
  mqseal::Keyring k7;
  must(k7.add_signing_key_with_id("plant-7", 0x5167a007, must(mqseal::Key::from_bytes(std::vector<uint8_t>(32, 0x77)))));
  const mqseal::SignerPublicKey pk7 = must(k7.public_key(0x5167a007));
  const std::string pk = hex(pk7.data(), pk7.size());
  std::string other_pk = pk;
  other_pk[0] = other_pk[0] == '0' ? '1' : '0';
  const std::string sign_line = "signing-ed25519 plant-7 5167a007 primary " + seed7 + " " + pk + "\n";
  file_case("signing-and-trusted", head + "key telemetry 7e1e0001 primary " + std::string(64, '1') + "\n" + sign_line +
                                       "signing-ed25519 plant-7 5167a017 retired - -\n"
                                       "trusted-ed25519 backend 5167bac0 active " + pk + "\n"
                                       "trusted-ed25519 plant-8 5167a008 retired -\n");
  file_case("uppercase-hex", head + "signing-ed25519 plant-7 5167A007 active " + std::string(64, '7') + " " +
                                 [&] { std::string u = pk; for (char& c : u) c = static_cast<char>(std::toupper(c)); return u; }() + "\n");
  file_case("no-public-key", head + "signing-ed25519 plant-7 5167a007 primary " + seed7 + "\n");
  file_case("seed-truncated", head + "signing-ed25519 plant-7 5167a007 primary " + seed7.substr(2) + " " + pk + "\n");
  file_case("public-truncated", head + "trusted-ed25519 plant-7 5167a007 active " + pk.substr(0, 62) + "\n");
  file_case("public-too-long", head + "trusted-ed25519 plant-7 5167a007 active " + pk + "00\n");
  file_case("public-altered", head + "signing-ed25519 plant-7 5167a007 primary " + seed7 + " " + other_pk + "\n");
  file_case("seed-altered", head + "signing-ed25519 plant-7 5167a007 primary 88" + seed7.substr(2) + " " + pk + "\n");
  file_case("small-order-public", head + "trusted-ed25519 plant-7 5167a007 active " + std::string(64, '0') + "\n");
  file_case("non-canonical-public", head + "trusted-ed25519 plant-7 5167a007 active " + std::string(64, 'f') + "\n");
  file_case("trusted-primary", head + "trusted-ed25519 plant-7 5167a007 primary " + pk + "\n");
  file_case("retired-with-material", head + "trusted-ed25519 plant-7 5167a007 retired " + pk + "\n");
  file_case("retired-signing-with-seed", head + "signing-ed25519 plant-7 5167a007 retired " + seed7 + " -\n");
  file_case("unknown-line-type", head + "trusted-ed448 plant-7 5167a007 active " + pk + "\n");
  file_case("id-across-kinds", head + "key telemetry 5167a007 primary " + std::string(64, '1') + "\n" +
                                   "trusted-ed25519 plant-7 5167a007 active " + pk + "\n");
  file_case("two-primary-signing", head + sign_line + "signing-ed25519 plant-7 5167a008 primary " +
                                       std::string(64, '8') + " " + hex(must([] {
                                         mqseal::Keyring k;
                                         must(k.add_signing_key_with_id("x", 1, must(mqseal::Key::from_bytes(std::vector<uint8_t>(32, 0x88)))));
                                         return k.public_key(1);
                                       }()).data(), 32) + "\n");
  file_case("extra-field", head + "trusted-ed25519 plant-7 5167a007 active " + pk + " x\n");

  // Policy files with signed rules (section 9).
  json policies = json::array();
  auto policy_case = [&](const std::string& name, const std::string& text) {
    mqseal::Result<mqseal::TopicPolicy> parsed = mqseal::parse_policy(text);
    json c = {{"name", name}, {"text", text}, {"expect", parsed ? "ok" : mqseal::name(parsed.error().code())}};
    if (parsed) {
      json rules = json::array();
      for (const mqseal::TopicRule& r : parsed->rules()) rules.push_back(rule_json(r));
      c["rules"] = rules;
    }
    policies.push_back(c);
  };
  policy_case("signed-rules", "[[rule]]\nfilter = \"plant/{signer}/telemetry\"\nkey = \"telemetry\"\nsuite = 2\n\n"
                              "[[rule]]\nfilter = \"plant/+/cmd/#\"\nkey = \"commands\"\nsuite = 2\n"
                              "signers = \"backend,  ops-console\"\nretained = \"refuse\"\n\n"
                              "[[rule]]\nfilter = \"legacy/#\"\nkey = \"telemetry\"\nsuite = 1\n");
  policy_case("suite-3", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 3\n");
  policy_case("nobody-may-sign", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\n");
  policy_case("signers-on-suite-1", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsigners = \"b\"\n");
  policy_case("empty-signer-name", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b,,c\"\n");
  policy_case("pattern-on-suite-1", "[[rule]]\nfilter = \"a/{signer}\"\nkey = \"k\"\n");
  policy_case("two-patterns", "[[rule]]\nfilter = \"{signer}/{signer}\"\nkey = \"k\"\nsuite = 2\n");
  policy_case("pattern-and-plus", "[[rule]]\nfilter = \"a/{signer}\"\nkey = \"k\"\nsuite = 2\n\n"
                                  "[[rule]]\nfilter = \"a/+\"\nkey = \"k\"\n");

  return {
      {"format", "mqseal suite 2 (signed sender) known-answer vectors (docs/SPEC.md)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Format: docs/SPEC.md, section 13, signed_v1.json. Open each vector with a fresh receiver built "
                "from keys and trusted; seal the ok ones with keys and signing."},
      {"keys", keys},
      {"signing", signing},
      {"trusted", trusted},
      {"policy", policy_json},
      {"replay", replay_json(mqseal::ReplayOptions{})},
      {"vectors", v.list},
      {"sequences", json::array({{{"name", "no-stream-takeover"},
                                  {"description", "a stolen device signing with another device's sender ID and a "
                                                  "huge sequence leaves that device's stream alone"},
                                  {"replay", replay_json(mqseal::ReplayOptions{})},
                                  {"steps", steps}}})},
      {"keyring_files", files},
      {"policy_files", policies},
  };
}

// tests/vectors/envelope_v3.json: the compact envelope (docs/SPEC.md,
// section 4d), sealed under the rule "plant/+/telemetry" (compact), with a
// full rule "plant/+/cmd/#" beside it for the downgrade cases.
json compact_vectors(const mqseal::Keyring& keyring, const json& keys) {
  Vectors v;
  v.keyring = must(keyring.clone());
  v.version = mqseal::kEnvelopeVersionCompact;
  must(v.policy.add_compact_rule("plant/+/telemetry", "telemetry"));
  must(v.policy.add_rule("plant/+/cmd/#", "commands"));
  json policy_json = json::array();
  for (const mqseal::TopicRule& r : v.policy.rules()) policy_json.push_back(rule_json(r));
  const std::string t7 = "plant/7/telemetry";
  const std::vector<uint8_t> reading = {'2', '1', '.', '5', ' ', 'C'};
  const uint64_t now = kT0 + 2000;
  const uint64_t wrap_s = (kT0 / 1000 / mqseal::kCompactTimeModulus + 1) * mqseal::kCompactTimeModulus;
  std::vector<uint8_t> basic =
      v.sealed("short", "sealed under key 1, active after a rotation: still opens", t7, reading, 1, kT0, 0xa1, 0,
               now, false);
  v.sealed("empty", "empty payload: 36 bytes", t7, {}, 2, kT0, 0xa1, 1, now, false);
  v.sealed("one-byte", "one-byte payload", t7, {0x00}, 2, kT0 + 1000, 0xa1, 2, now, false);
  v.sealed("1k", "1 KiB payload", t7, pattern(1024, 7), 2, kT0 + 1000, 0xa1, 3, now, false);
  v.sealed("sub-second", "timestamp_ms 1999 ms past kT0: sealed as its second, opened as kT0 + 1000", t7,
           reading, 2, kT0 + 1999, 0xa1, 4, now, false);
  v.sealed("other-topic", "same key, another concrete topic", "plant/8/telemetry", reading, 2, kT0, 0xa1, 5, now,
           false);
  v.sealed("rotated-key", "key 2, another session", t7, reading, 2, kT0, 0xb2, 0, now, false);
  v.sealed("utf8-topic", "a topic level in non-ASCII UTF-8", "plant/k\xc3\xbchlhaus/telemetry", reading, 2, kT0,
           0xa1, 7, now, false);
  v.sealed("last-sequence", "sequence 2^32 - 1, the last of a session", t7, reading, 2, kT0, 0xff,
           mqseal::kCompactMaxSequence, now, false);
  v.sealed("clock-skew", "timestamp 30 s ahead of the receiver", t7, reading, 2, now + 30'000, 0xa1, 8, now, false);
  v.sealed("retained-delivered-young", "sealed to be retained, delivered with the flag at once", t7, reading, 2, kT0,
           0xc4, 0, now, true, mqseal::kFlagRetain);
  v.sealed("retained-two-days", "sealed to be retained, delivered from the store two days later", t7, reading, 2,
           kT0, 0xc4, 1, kT0 + 2 * kDay, true, mqseal::kFlagRetain);
  v.sealed("time-field-wraps", "sealed 1 s before time_s wraps to 0, opened 3 s later", t7, reading, 2,
           (wrap_s - 1) * 1000, 0xa1, 9, (wrap_s + 2) * 1000, false);
  v.sealed("time-field-wrapped", "sealed 1 s after time_s wrapped to 0, opened 3 s later", t7, reading, 2,
           (wrap_s + 1) * 1000, 0xa1, 10, (wrap_s + 4) * 1000, false);
  auto altered = [&](size_t at, uint8_t x) {
    std::vector<uint8_t> e = basic;
    e[at] ^= x;
    return e;
  };
  auto first = [&](uint8_t b) {
    std::vector<uint8_t> e = basic;
    e[0] = b;
    return e;
  };
  v.refused("moved-topic", "the 'short' envelope published on another topic", "plant/8/telemetry", basic, now,
            false, "authentication_failed");
  v.refused("flipped-tag", "last bit of the tag flipped", t7, altered(basic.size() - 1, 0x01), now, false,
            "authentication_failed");
  v.refused("altered-time", "last bit of time_s flipped", t7, altered(7, 0x01), now, false, "authentication_failed");
  v.refused("altered-session", "a bit of the session flipped", t7, altered(8, 0x01), now, false,
            "authentication_failed");
  v.refused("altered-sequence", "last bit of the sequence flipped", t7, altered(19, 0x01), now, false,
            "authentication_failed");
  v.refused("retain-flag-added", "a live envelope's retain flag set in transit (0x13)", t7, first(0x13), now, false,
            "authentication_failed");
  v.refused("unknown-flag", "flag bit 5 set (0x23)", t7, first(0x23), now, false, "malformed");
  v.refused("truncated", "35 bytes: one shorter than the smallest compact envelope", t7,
            std::vector<uint8_t>(basic.begin(), basic.begin() + 35), now, false, "malformed");
  v.refused("version-4", "format version 4", t7, first(0x04), now, false, "unsupported_version");
  v.refused("unknown-key", "key ID 0x00000099", t7, altered(4, 0x01 ^ 0x99), now, false, "unknown_key");
  v.refused("retired-key", "key ID 0x00000003, retired", t7, altered(4, 0x01 ^ 0x03), now, false, "key_retired");
  v.refused("wrong-key-for-topic", "a commands key ID on a telemetry topic", t7, altered(4, 0x01 ^ 0x0a), now,
            false, "wrong_key_for_topic");
  v.refused("expired", "opened 6 minutes after sealing", t7, basic, kT0 + 6 * kMinute, false, "expired");
  v.refused("future", "opened 2 minutes before it was sealed", t7, basic, kT0 - 2 * kMinute, false, "not_yet_valid");
  v.refused("epoch-replay", "replayed 2^24 s later: time_s reads as now, the authenticated full time differs", t7,
            basic, kT0 + mqseal::kCompactTimeModulus * 1000, false, "authentication_failed");
  v.refused("live-delivered-as-retained", "sealed live, delivered with the retain flag two days later", t7, basic,
            kT0 + 2 * kDay, true, "expired");
  // No downgrade either way: a v2 envelope on the compact rule, a compact one
  // on the full rule (both sealed correctly under the right key).
  mqseal::EnvelopeHeader full;
  full.key_id = 2;
  full.timestamp_ms = kT0;
  full.sender.fill(0xd5);
  std::vector<uint8_t> v2;
  must(mqseal::hazmat::seal_with_header(v.topic_key(2, t7).data(), t7, full, reading, v2));
  v.refused("full-on-compact-rule", "an envelope v2, sealed right, on the compact rule", t7, v2, now, false,
            "wrong_suite_for_topic");
  mqseal::EnvelopeHeader small;
  small.version = mqseal::kEnvelopeVersionCompact;
  small.key_id = 0x0a;
  small.timestamp_ms = kT0;
  small.sender.fill(0);
  small.sender[0] = 0xd5;
  const std::string cmd = "plant/7/cmd/valve";
  std::vector<uint8_t> v3;
  must(mqseal::hazmat::seal_with_header(v.topic_key(0x0a, cmd).data(), cmd, small, reading, v3));
  v.refused("compact-on-full-rule", "a compact envelope, sealed right, on a full rule", cmd, v3, now, false,
            "wrong_suite_for_topic");
  return {
      {"format", "mqseal envelope v3, compact (docs/SPEC.md, sections 4d and 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "As envelope_v2.json. 'sender' is the 8-byte session followed by 8 zero bytes; 'timestamp_ms' "
                "is the sealer's full time (the envelope carries its seconds modulo 2^24, the associated data "
                "the full seconds); 'nonce' and 'associated_data' as the sealer used them. Each vector is "
                "opened by a fresh receiver with default replay options."},
      {"keys", keys},
      {"policy", policy_json},
      {"vectors", v.list},
  };
}

// tests/vectors/recipient_v1.json: suite 3, sealed to a recipient
// (docs/SPEC.md, sections 1, 4b, 8 and 9). The receiver holds the recipient
// key pairs; sealing takes a FIXED ephemeral secret per vector (hazmat), so
// every intermediate is reproducible.
struct RecipientSpec {
  const char* name;
  mqseal::KeyId id;
  uint8_t secret_byte;
  bool retired;
};
constexpr mqseal::KeyId kRecipientTelemetry = 0x7e1e0001;
constexpr RecipientSpec kRecipients[] = {
    {"backend", 0xbac30001, 0xb1, false},
    {"archive", 0xa4c30001, 0xa1, false},
    {"backend", 0xbac30000, 0xb0, true},  // the backend's previous key pair, retired
};

std::vector<uint8_t> x25519_public(uint8_t secret_byte) {
  const std::vector<uint8_t> secret(32, secret_byte);
  std::vector<uint8_t> pk(32);
  crypto_scalarmult_base(pk.data(), secret.data());
  return pk;
}

struct RecipientVectors {
  mqseal::Keyring receiver;
  mqseal::TopicPolicy policy;
  json list = json::array();

  std::string outcome(const std::string& topic, const std::vector<uint8_t>& envelope, uint64_t now_ms) {
    auto keys = std::make_shared<mqseal::Keyring>(must(receiver.clone()));
    mqseal::Opener opener = must(mqseal::Opener::create(policy, keys));
    mqseal::Result<mqseal::Opened> r = opener.open(topic, envelope, {false, now_ms});
    return r ? "ok" : mqseal::name(r.error().code());
  }

  // Seals with ephemeral secret 32 x `eph_byte` to `recipient_public`.
  static std::vector<uint8_t> seal(const std::string& topic, mqseal::EnvelopeHeader& h, uint8_t eph_byte,
                                   const std::vector<uint8_t>& recipient_public, const std::vector<uint8_t>& payload,
                                   std::vector<uint8_t>* session_key = nullptr,
                                   std::vector<uint8_t>* topic_key = nullptr) {
    std::vector<uint8_t> sk(mqseal::kKeySize), tk(mqseal::kKeySize);
    h.suite = mqseal::kSuiteSealedToRecipient;
    must(mqseal::hazmat::derive_recipient_keys(must(mqseal::Key::from_bytes(std::vector<uint8_t>(32, eph_byte))),
                                               recipient_public, topic, h.ephemeral.data(), sk.data(), tk.data()));
    std::vector<uint8_t> envelope;
    must(mqseal::hazmat::seal_with_header(tk.data(), topic, h, payload, envelope));
    if (session_key != nullptr) *session_key = sk;
    if (topic_key != nullptr) *topic_key = tk;
    return envelope;
  }

  static mqseal::EnvelopeHeader header(mqseal::KeyId key_id, uint64_t timestamp_ms, uint8_t sender_byte,
                                       uint64_t sequence, uint8_t flags = 0) {
    mqseal::EnvelopeHeader h;
    h.flags = flags;
    h.key_id = key_id;
    h.timestamp_ms = timestamp_ms;
    h.sender = sender_of(sender_byte);
    h.sequence = sequence;
    return h;
  }

  std::vector<uint8_t> sealed(const std::string& name, const std::string& description, const std::string& topic,
                              mqseal::EnvelopeHeader h, uint8_t eph_byte, uint8_t recipient_secret_byte,
                              const std::vector<uint8_t>& payload, uint64_t now_ms) {
    std::vector<uint8_t> session_key, topic_key;
    const std::vector<uint8_t> recipient_public = x25519_public(recipient_secret_byte);
    std::vector<uint8_t> envelope = seal(topic, h, eph_byte, recipient_public, payload, &session_key, &topic_key);
    const std::string expect = outcome(topic, envelope, now_ms);
    if (expect != "ok") {
      std::cerr << "make_vectors: " << name << " does not open: " << expect << "\n";
      std::exit(1);
    }
    // The intermediates of section 4b, computed here from libsodium directly.
    const std::vector<uint8_t> eph_secret(32, eph_byte);
    std::vector<uint8_t> shared(32);
    must(crypto_scalarmult(shared.data(), eph_secret.data(), recipient_public.data()) == 0
             ? mqseal::Status() : mqseal::Status(mqseal::Errc::crypto_failure));
    std::vector<uint8_t> ad(envelope.begin(), envelope.begin() + static_cast<std::ptrdiff_t>(
                                                                   mqseal::kAssociatedHeaderSizeRecipient));
    ad.push_back(static_cast<uint8_t>(topic.size() >> 8));
    ad.push_back(static_cast<uint8_t>(topic.size()));
    ad.insert(ad.end(), topic.begin(), topic.end());
    std::vector<uint8_t> stream_input(h.ephemeral.begin(), h.ephemeral.end());
    stream_input.insert(stream_input.end(), h.sender.begin(), h.sender.end());
    const unsigned char personal[16] = {'m', 'q', 's', 'e', 'a', 'l', ' ', 'r', '-', 's', 't', 'r', 'e', 'a', 'm', ' '};
    uint8_t stream[16];
    crypto_generichash_blake2b_salt_personal(stream, sizeof stream, stream_input.data(), stream_input.size(), nullptr,
                                             0, nullptr, personal);
    list.push_back({{"name", name},
                    {"description", description},
                    {"topic", topic},
                    {"payload", hex(payload)},
                    {"version", h.version},
                    {"suite", h.suite},
                    {"flags", h.flags},
                    {"key_id", h.key_id},
                    {"timestamp_ms", u64(h.timestamp_ms)},
                    {"sender", hex(h.sender.data(), h.sender.size())},
                    {"sequence", u64(h.sequence)},
                    {"ephemeral_secret", hex(eph_secret)},
                    {"ephemeral_public", hex(h.ephemeral.data(), h.ephemeral.size())},
                    {"recipient_public", hex(recipient_public)},
                    {"shared", hex(shared)},
                    {"session_key", hex(session_key)},
                    {"topic_key", hex(topic_key)},
                    {"associated_data", hex(ad)},
                    {"stream", hex(stream, sizeof stream)},
                    {"envelope", hex(envelope)},
                    {"open", {{"topic", topic}, {"now_ms", u64(now_ms)}, {"retained", false}}},
                    {"expect", "ok"}});
    return envelope;
  }

  void refused(const std::string& name, const std::string& description, const std::string& topic,
               const std::vector<uint8_t>& envelope, uint64_t now_ms, const std::string& expect) {
    list.push_back(refusal(name, description, topic, envelope, now_ms, false, expect,
                           outcome(topic, envelope, now_ms)));
  }
};

json recipient_vectors() {
  RecipientVectors v;
  const std::vector<uint8_t> material(mqseal::kKeySize, 0x11);
  must(v.receiver.add_with_id("telemetry", kRecipientTelemetry, must(mqseal::Key::from_bytes(material))));
  json keys = json::array({{{"name", "telemetry"}, {"id", kRecipientTelemetry}, {"state", "primary"},
                            {"material", hex(material)}}});
  json recipients = json::array();
  for (const RecipientSpec& r : kRecipients) {
    const std::vector<uint8_t> secret(32, r.secret_byte);
    must(v.receiver.add_recipient_key_with_id(r.name, r.id, must(mqseal::Key::from_bytes(secret))));
    json entry = {{"name", r.name}, {"id", r.id}, {"state", r.retired ? "retired" : "primary"}};
    if (!r.retired) {
      entry["secret"] = hex(secret);
      entry["public"] = hex(x25519_public(r.secret_byte));
    }
    recipients.push_back(entry);
  }
  for (const RecipientSpec& r : kRecipients) {
    if (r.retired) must(v.receiver.retire(r.id));
  }
  must(v.policy.add_recipient_rule("plant/+/report", "backend"));
  must(v.policy.add_recipient_rule("archive/#", "archive"));
  must(v.policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {}));
  // Suite 4's signer: plant-7's key pair on the sealing side, its public key trusted by the receiver.
  mqseal::Keyring signing;
  const std::vector<uint8_t> seed7(32, 0x70);
  must(signing.add_signing_key_with_id("plant-7", 0x5167a007, must(mqseal::Key::from_bytes(seed7))));
  const mqseal::SignerPublicKey pk7 = must(signing.public_key(0x5167a007));
  must(v.receiver.add_trusted_signer("plant-7", 0x5167a007, mqseal::ByteView(pk7)));
  json signing_json = json::array({{{"name", "plant-7"}, {"id", 0x5167a007}, {"state", "primary"},
                                    {"seed", hex(seed7)}, {"public", hex(pk7.data(), pk7.size())}}});
  must(v.policy.add_rule("plant/+/telemetry", "telemetry"));
  json policy_json = json::array();
  for (const mqseal::TopicRule& r : v.policy.rules()) policy_json.push_back(rule_json(r));

  using RV = RecipientVectors;
  const uint64_t now = kT0 + 2000;
  const std::string t7 = "plant/7/report";
  const std::vector<uint8_t> reading = {'2', '1', '.', '5', ' ', 'C'};
  const std::vector<uint8_t> basic =
      v.sealed("recipient-short", "plant 7's report sealed to the backend", t7, RV::header(0xbac30001, kT0, 0xa1, 0),
               0xe1, 0xb1, reading, now);
  v.sealed("recipient-same-session", "the same session's next message (same ephemeral key)", t7,
           RV::header(0xbac30001, kT0 + 1, 0xa1, 1), 0xe1, 0xb1, {'2', '2'}, now);
  v.sealed("recipient-empty", "empty payload", t7, RV::header(0xbac30001, kT0, 0xa2, 0), 0xe2, 0xb1, {}, now);
  v.sealed("recipient-1k", "1 KiB payload, another topic", "plant/8/report", RV::header(0xbac30001, kT0, 0xa3, 0),
           0xe3, 0xb1, pattern(1024, 3), now);
  v.sealed("recipient-64k", "64 KiB payload", t7, RV::header(0xbac30001, kT0, 0xa4, 0), 0xe4, 0xb1,
           pattern(65536, 0), now);
  v.sealed("recipient-archive", "another recipient name", "archive/2026/01", RV::header(0xa4c30001, kT0, 0xa5, 0),
           0xe5, 0xa1, {'l', 'o', 'g'}, now);
  v.sealed("recipient-retain-intent", "sealed to be retained (opened live: the intent alone changes nothing)", t7,
           RV::header(0xbac30001, kT0, 0xa6, 0, mqseal::kFlagRetain), 0xe6, 0xb1, reading, now);
  v.sealed("recipient-large-sequence", "a sequence near the top of its range", t7,
           RV::header(0xbac30001, kT0, 0xa7, 0xfffffffffffffffeull), 0xe7, 0xb1, reading, now);

  // Refusals.
  {
    mqseal::EnvelopeHeader h = RV::header(0xbac30001, kT0, 0xa1, 0);
    v.refused("wrong-recipient", "sealed to another X25519 key under the backend's key ID",
              t7, RV::seal(t7, h, 0xe1, x25519_public(0x66), reading), now, "authentication_failed");
  }
  v.refused("moved-topic", "recipient-short on plant 8's topic", "plant/8/report", basic, now,
            "authentication_failed");
  std::vector<uint8_t> e = basic;
  e[mqseal::kAssociatedHeaderSize] ^= 0x01;
  v.refused("altered-ephemeral", "one bit of the ephemeral public key flipped", t7, e, now, "authentication_failed");
  e = basic;
  for (size_t i = 0; i < 32; ++i) e[mqseal::kAssociatedHeaderSize + i] = 0;
  v.refused("zero-ephemeral", "a low-order ephemeral key (all zero): X25519 gives zero", t7, e, now,
            "authentication_failed");
  e = basic;
  e[mqseal::kAssociatedHeaderSize] = 1;
  for (size_t i = 1; i < 32; ++i) e[mqseal::kAssociatedHeaderSize + i] = 0;
  v.refused("order-1-ephemeral", "the ephemeral key 1 (a low-order point)", t7, e, now, "authentication_failed");
  e = basic;
  set_be32(e, 3, 0xbac30002);
  v.refused("altered-recipient-key-id", "a key ID the receiver does not have", t7, e, now, "unknown_key");
  e = basic;
  set_be32(e, 3, 0xa4c30001);
  v.refused("other-recipients-key-id", "the archive's key ID on a backend topic", t7, e, now,
            "wrong_key_for_topic");
  e = basic;
  set_be32(e, 3, 0xbac30000);
  v.refused("retired-recipient-key", "the backend's retired key pair", t7, e, now, "key_retired");
  {
    mqseal::EnvelopeHeader h = RV::header(0xbac30000, kT0, 0xa1, 5);
    v.refused("sealed-to-retired-key", "sealed to the retired key pair's public key", t7,
              RV::seal(t7, h, 0xe8, x25519_public(0xb0), reading), now, "key_retired");
  }
  e = basic;
  set_be32(e, 3, kRecipientTelemetry);
  v.refused("symmetric-key-id", "a symmetric key's ID as the recipient key ID", t7, e, now, "unknown_key");
  e = basic;
  set_be32(e, 3, 0);
  v.refused("zero-key-id", "key ID 0", t7, e, now, "unknown_key");
  e = basic;
  e[e.size() - 1] ^= 0x80;
  v.refused("flipped-tag", "one bit of the tag flipped", t7, e, now, "authentication_failed");
  e = basic;
  e[2] = mqseal::kFlagRetain;
  v.refused("retain-flag-added", "the retain flag set in transit", t7, e, now, "authentication_failed");
  for (size_t cut : {size_t{1}, size_t{6}, size_t{7}, size_t{16}, size_t{40}, basic.size() - 87 + 1}) {
    e.assign(basic.begin(), basic.end() - static_cast<std::ptrdiff_t>(cut));
    v.refused("truncated-" + std::to_string(cut), "the last " + std::to_string(cut) + " bytes cut", t7, e, now,
              e.size() < mqseal::kEnvelopeOverheadRecipient ? "malformed" : "authentication_failed");
  }
  e = basic;
  e.push_back(0);
  v.refused("lengthened", "one byte appended", t7, e, now, "authentication_failed");
  e = basic;
  e[1] = mqseal::kSuiteXChaCha20Poly1305;
  v.refused("suite-byte-1", "the suite byte rewritten to 1 on a recipient rule", t7, e, now,
            "wrong_suite_for_topic");
  e = basic;
  e[1] = mqseal::kSuiteSignedSealed;
  v.refused("suite-4-too-short", "the suite byte rewritten to 4: shorter than a suite 4 envelope", t7, e, now,
            "malformed");
  e = basic;
  e[1] = 6;
  v.refused("suite-6", "suite 6 (no such suite)", t7, e, now, "unsupported_suite");
  e = basic;
  e[0] = mqseal::kEnvelopeVersionV1;
  v.refused("suite-3-in-v1", "suite 3 in a v1 envelope", t7, e, now, "unsupported_suite");
  v.refused("suite-3-on-suite-1-rule", "recipient-short on a suite 1 topic (its key ID is no symmetric key)",
            "plant/7/telemetry", basic, now, "unknown_key");
  {
    mqseal::EnvelopeHeader h = RV::header(kRecipientTelemetry, kT0, 0xa1, 0);
    std::vector<uint8_t> suite1;
    mqseal::Key k = must(mqseal::Key::from_bytes(material));
    std::vector<uint8_t> tk(32);
    must(mqseal::hazmat::derive_topic_key(k, t7, tk.data()));
    must(mqseal::hazmat::seal_with_header(tk.data(), t7, h, reading, suite1));
    v.refused("suite-1-on-recipient-rule", "a suite 1 envelope under the telemetry key on a recipient topic", t7,
              suite1, now, "wrong_suite_for_topic");
  }
  v.refused("expired", "recipient-short ten minutes later", t7, basic, kT0 + 10 * kMinute, "expired");

  // Suite 4: signed by plant-7, sealed to the backend.
  auto seal4 = [&](const std::string& topic, mqseal::EnvelopeHeader h, uint8_t eph_byte, const std::vector<uint8_t>& payload,
                   std::vector<uint8_t>* topic_key_out = nullptr) {
    std::vector<uint8_t> sk(32), tk(32);
    h.suite = mqseal::kSuiteSignedSealed;
    must(mqseal::hazmat::derive_recipient_keys(must(mqseal::Key::from_bytes(std::vector<uint8_t>(32, eph_byte))),
                                               x25519_public(0xb1), topic, h.ephemeral.data(), sk.data(), tk.data()));
    std::vector<uint8_t> envelope;
    must(mqseal::hazmat::seal_signed_sealed_with_header(tk.data(), topic, h, payload, signing, envelope));
    if (topic_key_out != nullptr) *topic_key_out = tk;
    return std::make_pair(envelope, h);
  };
  for (const auto& [name, topic, eph, payload] :
       {std::tuple<const char*, const char*, uint8_t, std::vector<uint8_t>>{"signed-sealed-short", "plant/plant-7/private", 0xf1, reading},
        {"signed-sealed-empty", "plant/plant-7/private", 0xf2, {}}}) {
    mqseal::EnvelopeHeader h = RV::header(0xbac30001, kT0, 0xd1, 0);
    h.signer_key_id = 0x5167a007;
    std::vector<uint8_t> tk;
    auto [envelope, sealed_h] = seal4(topic, h, eph, payload, &tk);
    const std::string got = v.outcome(topic, envelope, now);
    if (got != "ok") {
      std::cerr << "make_vectors: " << name << " does not open: " << got << "\n";
      std::exit(1);
    }
    v.list.push_back({{"name", name},
                      {"description", "signed by plant-7 under its own level, then sealed to the backend"},
                      {"topic", topic},
                      {"payload", hex(payload)},
                      {"version", sealed_h.version},
                      {"suite", sealed_h.suite},
                      {"flags", sealed_h.flags},
                      {"key_id", sealed_h.key_id},
                      {"signer_key_id", sealed_h.signer_key_id},
                      {"signer", "plant-7"},
                      {"timestamp_ms", u64(sealed_h.timestamp_ms)},
                      {"sender", hex(sealed_h.sender.data(), sealed_h.sender.size())},
                      {"sequence", u64(sealed_h.sequence)},
                      {"ephemeral_secret", hex(std::vector<uint8_t>(32, eph))},
                      {"ephemeral_public", hex(sealed_h.ephemeral.data(), sealed_h.ephemeral.size())},
                      {"recipient_public", hex(x25519_public(0xb1))},
                      {"topic_key", hex(tk)},
                      {"envelope", hex(envelope)},
                      {"open", {{"topic", topic}, {"now_ms", u64(now)}, {"retained", false}}},
                      {"expect", "ok"}});
  }
  {
    mqseal::EnvelopeHeader h = RV::header(0xbac30001, kT0, 0xd2, 0);
    h.signer_key_id = 0x5167a007;
    v.refused("signed-sealed-unauthorized", "plant-7 signed under plant-8's level", "plant/plant-8/private",
              seal4("plant/plant-8/private", h, 0xf3, reading).first, now, "unauthorized_signer");
    v.refused("signed-sealed-moved", "signed-sealed-short on plant-8's level", "plant/plant-8/private",
              seal4("plant/plant-7/private", h, 0xf1, reading).first, now, "authentication_failed");
    // Anyone with the backend's public key can seal an inner part of its choosing.
    auto forged = [&](const std::vector<uint8_t>& inner, uint8_t eph) {
      mqseal::EnvelopeHeader f = RV::header(0xbac30001, kT0, 0xd3, 0);
      return RV::seal("plant/plant-7/private", f, eph, x25519_public(0xb1), inner);
    };
    std::vector<uint8_t> inner(68 + 4, 0x5a);
    set_be32(inner, 0, 0x5167a007);
    {
      mqseal::EnvelopeHeader f = RV::header(0xbac30001, kT0, 0xd3, 0);
      f.suite = mqseal::kSuiteSignedSealed;
      std::vector<uint8_t> sk(32), tk(32);
      must(mqseal::hazmat::derive_recipient_keys(must(mqseal::Key::from_bytes(std::vector<uint8_t>(32, 0xf4))),
                                                 x25519_public(0xb1), "plant/plant-7/private", f.ephemeral.data(),
                                                 sk.data(), tk.data()));
      auto reseal = [&](const std::vector<uint8_t>& in) {
        std::vector<uint8_t> out;
        must(mqseal::hazmat::seal_with_header(tk.data(), "plant/plant-7/private", f, in, out));
        return out;
      };
      v.refused("signed-sealed-forged-signature", "plant-7's key ID and a made-up signature inside",
                "plant/plant-7/private", reseal(inner), now, "authentication_failed");
      set_be32(inner, 0, 0x12345678);
      v.refused("signed-sealed-unknown-signer", "an unknown signer key ID inside", "plant/plant-7/private",
                reseal(inner), now, "unknown_signer");
      set_be32(inner, 0, 0xbac30001);
      v.refused("signed-sealed-recipient-as-signer", "the recipient key's ID as the signer", "plant/plant-7/private",
                reseal(inner), now, "unknown_signer");
      v.refused("signed-sealed-short-inner", "67 bytes inside: no room for signer and signature",
                "plant/plant-7/private", reseal(std::vector<uint8_t>(67, 1)), now, "malformed");
    }
    v.refused("signed-sealed-as-suite-3", "a suite 3 envelope on the suite 4 rule", "plant/plant-7/private",
              forged(inner, 0xf5), now, "wrong_suite_for_topic");
  }

  // Keyring files: recipient lines.
  const std::string secret_b1 = hex(std::vector<uint8_t>(32, 0xb1));
  const std::string public_b1 = hex(x25519_public(0xb1));
  const std::string head = "mqseal-keyring v1\n";
  json files = json::array();
  auto keyring_case = [&](const std::string& name, const std::string& text) {
    mqseal::Result<mqseal::Keyring> k = mqseal::Keyring::parse(text);
    json c = {{"name", name}, {"text", text}, {"expect", k ? "ok" : mqseal::name(k.error().code())}};
    if (k) {
      json ks = json::array();
      for (const mqseal::KeyInfo& i : k->list()) {
        json one = {{"kind", mqseal::name(i.kind)}, {"name", i.name}, {"id", i.id}, {"state", mqseal::name(i.state)}};
        if (i.public_key) one["public"] = hex(i.public_key->data(), i.public_key->size());
        ks.push_back(one);
      }
      c["keys"] = ks;
      c["written"] = must(k->serialize());
      c["public_export"] = k->export_public();
    }
    files.push_back(c);
  };
  keyring_case("recipient-pair-and-public",
               head + "recipient-x25519 backend bac30001 primary " + secret_b1 + " " + public_b1 + "\n" +
                   "recipient-x25519 backend bac30000 retired - -\n" +
                   "recipient-public-x25519 archive a4c30001 primary " + hex(x25519_public(0xa1)) + "\n" +
                   "recipient-public-x25519 archive a4c30002 active " + hex(x25519_public(0xa2)) + "\n");
  keyring_case("uppercase-hex", head + "recipient-public-x25519 backend bac30001 primary " +
                                    [&] { std::string u = public_b1; for (char& ch : u) ch = static_cast<char>(std::toupper(ch)); return u; }() + "\n");
  keyring_case("public-mismatch", head + "recipient-x25519 backend bac30001 primary " + secret_b1 + " " +
                                      hex(x25519_public(0xb2)) + "\n");
  keyring_case("truncated-public", head + "recipient-public-x25519 backend bac30001 primary " + public_b1.substr(0, 62) + "\n");
  keyring_case("truncated-secret", head + "recipient-x25519 backend bac30001 primary " + secret_b1.substr(2) + " " + public_b1 + "\n");
  keyring_case("lengthened-public", head + "recipient-public-x25519 backend bac30001 primary " + public_b1 + "00\n");
  keyring_case("non-hex-public", head + "recipient-public-x25519 backend bac30001 primary " + public_b1.substr(0, 63) + "x\n");
  keyring_case("zero-public", head + "recipient-public-x25519 backend bac30001 primary " + std::string(64, '0') + "\n");
  keyring_case("order-8-public", head + "recipient-public-x25519 backend bac30001 primary "
                                        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800\n");
  keyring_case("field-missing", head + "recipient-x25519 backend bac30001 primary " + secret_b1 + "\n");
  keyring_case("field-extra", head + "recipient-public-x25519 backend bac30001 primary " + public_b1 + " x\n");
  keyring_case("retired-with-material", head + "recipient-public-x25519 backend bac30001 retired " + public_b1 + "\n");
  keyring_case("two-primaries", head + "recipient-public-x25519 backend bac30001 primary " + public_b1 + "\n" +
                                    "recipient-public-x25519 backend bac30002 primary " + hex(x25519_public(0xb2)) + "\n");
  keyring_case("duplicate-id", head + "key telemetry bac30001 primary " + hex(material) + "\n" +
                                   "recipient-public-x25519 backend bac30001 primary " + public_b1 + "\n");
  keyring_case("unknown-algorithm", head + "recipient-x448 backend bac30001 primary " + public_b1 + "\n");

  json policies = json::array();
  auto policy_case = [&](const std::string& name, const std::string& text) {
    mqseal::Result<mqseal::TopicPolicy> parsed = mqseal::parse_policy(text);
    json c = {{"name", name}, {"text", text}, {"expect", parsed ? "ok" : mqseal::name(parsed.error().code())}};
    if (parsed) {
      json rules = json::array();
      for (const mqseal::TopicRule& r : parsed->rules()) rules.push_back(rule_json(r));
      c["rules"] = rules;
    }
    policies.push_back(c);
  };
  policy_case("recipient-rules", "[[rule]]\nfilter = \"plant/+/report\"\nrecipient = \"backend\"\n\n"
                                 "[[rule]]\nfilter = \"archive/#\"\nrecipient = \"archive\"\nsuite = 3\n"
                                 "retained = \"refuse\"\n");
  policy_case("recipient-and-key", "[[rule]]\nfilter = \"a\"\nrecipient = \"b\"\nkey = \"k\"\n");
  policy_case("recipient-suite-2", "[[rule]]\nfilter = \"a\"\nrecipient = \"b\"\nsuite = 2\n");
  policy_case("recipient-with-signers", "[[rule]]\nfilter = \"a\"\nrecipient = \"b\"\nsigners = \"c\"\n");
  policy_case("recipient-not-a-string", "[[rule]]\nfilter = \"a\"\nrecipient = 3\n");
  policy_case("recipient-bad-name", "[[rule]]\nfilter = \"a\"\nrecipient = \"b c\"\n");
  policy_case("key-suite-3", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 3\n");
  policy_case("signed-and-sealed", "[[rule]]\nfilter = \"plant/{signer}/private\"\nrecipient = \"backend\"\n"
                                   "signers = \"ops, backup\"\nsuite = 4\n");
  policy_case("signers-with-suite-3", "[[rule]]\nfilter = \"a\"\nrecipient = \"b\"\nsigners = \"c\"\nsuite = 3\n");
  policy_case("suite-4-without-signers", "[[rule]]\nfilter = \"a\"\nrecipient = \"b\"\nsuite = 4\n");
  policy_case("suite-4-signer-level", "[[rule]]\nfilter = \"plant/{signer}/private\"\nrecipient = \"backend\"\nsuite = 4\n");
  policy_case("signer-level-on-suite-3", "[[rule]]\nfilter = \"plant/{signer}/private\"\nrecipient = \"backend\"\n");

  return {
      {"format", "mqseal suite 3 (sealed to a recipient) known-answer vectors (docs/SPEC.md)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "Format: docs/SPEC.md, section 13, recipient_v1.json. Open each vector with a fresh receiver built "
                "from keys and recipients; seal the ok ones with their ephemeral_secret and recipient_public."},
      {"keys", keys},
      {"recipients", recipients},
      {"signing", signing_json},
      {"policy", policy_json},
      {"replay", replay_json(mqseal::ReplayOptions{})},
      {"vectors", v.list},
      {"keyring_files", files},
      {"policy_files", policies},
  };
}

// tests/vectors/aes256gcm_v1.json: suite 5, AES-256-GCM (docs/SPEC.md,
// section 4e), under suite 5 rules "backend/+/events" (telemetry) and
// "backend/+/cmd/#" (commands, retained refused), with a suite 1 rule
// "plant/+/telemetry" beside them for the downgrade cases. Only on a CPU
// where libsodium's AES-256-GCM runs (main() skips the file elsewhere).
json aes256gcm_vectors(const mqseal::Keyring& keyring, const json& keys) {
  Vectors v;
  v.keyring = must(keyring.clone());
  v.suite = mqseal::kSuiteAes256Gcm;
  must(v.policy.add_aes256gcm_rule("backend/+/events", "telemetry"));
  must(v.policy.add_aes256gcm_rule("backend/+/cmd/#", "commands",
                                   mqseal::RetainedRule{mqseal::RetainedPolicy::refuse}));
  must(v.policy.add_rule("plant/+/telemetry", "telemetry"));
  json policy_json = json::array();
  for (const mqseal::TopicRule& r : v.policy.rules()) policy_json.push_back(rule_json(r));
  const std::string t7 = "backend/7/events";
  const std::string plant = "plant/7/telemetry";
  const std::vector<uint8_t> reading = {'2', '1', '.', '5', ' ', 'C'};
  const uint64_t now = kT0 + 2000;
  // Longer than the 512 bytes of associated data an implementation might
  // keep on its stack (mqseal does): 8 + 600 + 7 = 615 topic bytes.
  constexpr size_t kLongLevelSize = 600;
  std::string long_level(kLongLevelSize, 'x');
  for (size_t i = 0; i < long_level.size(); ++i) long_level[i] = static_cast<char>('a' + i % 26);
  const std::string long_topic = "backend/" + long_level + "/events";

  std::vector<uint8_t> basic = v.sealed("short", "sealed under key 1, active after a rotation: still opens; sequence 0",
                                        t7, reading, 1, kT0, 0xa1, 0, now, false);
  v.sealed("empty", "empty payload: 55 bytes, the tag over the associated data alone", t7, {}, 2, kT0, 0xa1, 1, now,
           false);
  v.sealed("one-byte", "one-byte payload", t7, {0x00}, 2, kT0 + 1, 0xa1, 2, now, false);
  v.sealed("256", "256-byte payload", t7, pattern(256, 3), 2, kT0 + 2, 0xa1, 3, now, false);
  v.sealed("1k", "1 KiB payload", t7, pattern(1024, 7), 2, kT0 + 3, 0xa1, 4, now, false);
  v.sealed("other-topic", "same key, another concrete topic: another topic key, so another subkey",
           "backend/8/events", reading, 2, kT0, 0xa1, 5, now, false);
  v.sealed("commands", "a multi-level topic under the commands key", "backend/7/cmd/valve/open",
           {'o', 'p', 'e', 'n'}, 0x0a, kT0, 0xa1, 6, now, false);
  v.sealed("utf8-topic", "a topic level in non-ASCII UTF-8 (2- and 3-byte sequences)",
           "backend/k\xc3\xbchlhaus-\xe6\xb8\xa9\xe5\xba\xa6/events", reading, 2, kT0, 0xa1, 7, now, false);
  v.sealed("long-topic", "a 615-byte topic: 656 bytes of associated data", long_topic, reading, 2, kT0, 0xa1, 8, now,
           false);
  v.sealed("last-sequence", "sequence 2^32 - 1, the largest suite 5 allows", t7, reading, 2, kT0, 0xff,
           mqseal::kAes256GcmMaxSequence, now, false);
  v.sealed("clock-skew", "timestamp 30 s ahead of the receiver: within the default skew", t7, reading, 2,
           now + 30'000, 0xa1, 9, now, false);
  const std::vector<uint8_t> sender_b2 = v.sealed("sender-b2", "two senders, same key, topic, payload, time and "
                                                  "sequence (this one and sender-b3): two subkeys, two ciphertexts",
                                                  t7, reading, 2, kT0, 0xb2, 0, now, false);
  const std::vector<uint8_t> sender_b3 = v.sealed("sender-b3", "as sender-b2 from another sender", t7, reading, 2, kT0,
                                                  0xb3, 0, now, false);
  v.sealed("retained-delivered-young", "sealed to be retained, delivered with the retain flag at once", t7, reading,
           2, kT0, 0xc4, 0, now, true, mqseal::kFlagRetain);
  std::vector<uint8_t> kept = v.sealed("retained", "sealed to be retained, delivered with the retain flag two days "
                                       "later", t7, reading, 2, kT0, 0xc3, 0, kT0 + 2 * kDay, true,
                                       mqseal::kFlagRetain);
  std::vector<uint8_t> command = v.sealed("retained-command", "sealed to be retained on a rule whose retained "
                                          "policy is refuse, delivered live", "backend/7/cmd/valve",
                                          {'s', 'h', 'u', 't'}, 0x0a, kT0, 0xc5, 0, now, false, mqseal::kFlagRetain);

  auto altered = [&](size_t at, uint8_t x) {
    std::vector<uint8_t> e = basic;
    e[at] ^= x;
    return e;
  };
  auto with_sequence = [&](uint64_t sequence) {
    std::vector<uint8_t> e = basic;
    for (size_t i = 0; i < mqseal::kSequenceSize; ++i) {
      e[mqseal::kHeaderSize - 1 - i] = static_cast<uint8_t>(sequence >> (8 * i));
    }
    return e;
  };
  constexpr size_t kSuiteAt = 1, kFlagsAt = 2, kKeyIdLast = 6, kTimestampLast = 14, kSenderFirst = 15,
                   kSenderLast = 30, kSequenceLast = 38;
  const uint8_t key_1 = 0x01;
  v.refused("moved-topic", "the 'short' envelope published on another suite 5 topic", "backend/8/events", basic, now,
            false, "authentication_failed");
  v.refused("version-bit-2", "version 0x02 ^ 0x04 = 6", t7, altered(0, 0x04), now, false, "unsupported_version");
  v.refused("version-bit-0", "version 0x02 ^ 0x01 = 3: read as a compact envelope, whose key ID is then bytes 1 to 4 "
            "(0x05000000)", t7, altered(0, 0x01), now, false, "unknown_key");
  v.refused("suite-bit-1", "suite 5 ^ 2 = 7, no such suite", t7, altered(kSuiteAt, 0x02), now, false,
            "unsupported_suite");
  v.refused("suite-bit-0", "suite 5 ^ 1 = 4: shorter than a suite 4 envelope", t7, altered(kSuiteAt, 0x01), now,
            false, "malformed");
  v.refused("suite-5-to-1", "suite byte rewritten 5 -> 1 on the suite 5 rule", t7,
            altered(kSuiteAt, mqseal::kSuiteAes256Gcm ^ mqseal::kSuiteXChaCha20Poly1305), now, false,
            "wrong_suite_for_topic");
  v.refused("retain-flag-set", "the retain flag set in transit", t7, altered(kFlagsAt, mqseal::kFlagRetain), now,
            false, "authentication_failed");
  v.refused("unknown-flag", "flags bit 1 set (reserved)", t7, altered(kFlagsAt, 0x02), now, false, "malformed");
  v.refused("key-id-zero", "key ID 1 ^ 1 = 0, never a valid ID", t7, altered(kKeyIdLast, 0x01), now, false,
            "unknown_key");
  v.refused("key-id-retired", "key ID 1 ^ 2 = 3, retired", t7, altered(kKeyIdLast, 0x02), now, false, "key_retired");
  v.refused("key-id-high-bit", "key ID 0x80000001, not in the keyring", t7, altered(3, 0x80), now, false,
            "unknown_key");
  v.refused("key-id-same-name", "key ID 1 -> 2, the other telemetry key: another topic key and subkey", t7,
            altered(kKeyIdLast, key_1 ^ 0x02), now, false, "authentication_failed");
  v.refused("wrong-key-for-topic", "a commands key ID on a telemetry topic", t7, altered(kKeyIdLast, key_1 ^ 0x0a),
            now, false, "wrong_key_for_topic");
  v.refused("altered-timestamp", "last bit of timestamp_ms flipped", t7, altered(kTimestampLast, 0x01), now, false,
            "authentication_failed");
  v.refused("altered-sender-first", "first bit of the sender flipped", t7, altered(kSenderFirst, 0x80), now, false,
            "authentication_failed");
  v.refused("altered-sender-last", "last bit of the sender flipped", t7, altered(kSenderLast, 0x01), now, false,
            "authentication_failed");
  v.refused("altered-sequence", "sequence 0 -> 1", t7, altered(kSequenceLast, 0x01), now, false,
            "authentication_failed");
  v.refused("sequence-2^32", "sequence 0 -> 2^32: above suite 5's bound", t7, with_sequence(1ull << 32), now, false,
            "malformed");
  v.refused("sequence-max", "sequence 2^64 - 1", t7, with_sequence(~0ull), now, false, "malformed");
  v.refused("flipped-ciphertext", "first bit of the ciphertext flipped", t7, altered(mqseal::kHeaderSize, 0x80), now,
            false, "authentication_failed");
  v.refused("flipped-tag", "last bit of the tag flipped", t7, altered(basic.size() - 1, 0x01), now, false,
            "authentication_failed");
  v.refused("truncated-by-one", "the last byte removed", t7,
            std::vector<uint8_t>(basic.begin(), basic.end() - 1), now, false, "authentication_failed");
  v.refused("truncated-below-overhead", "54 bytes: one shorter than any v2 envelope", t7,
            std::vector<uint8_t>(basic.begin(), basic.begin() + mqseal::kEnvelopeOverhead - 1), now, false,
            "malformed");
  std::vector<uint8_t> appended = basic;
  appended.push_back(0);
  v.refused("appended-byte", "a zero byte appended", t7, appended, now, false, "authentication_failed");
  v.refused("on-suite-1-rule", "the 'short' envelope, sealed right, delivered on a suite 1 topic of the same key name",
            plant, basic, now, false, "wrong_suite_for_topic");
  v.refused("unknown-key", "key ID 0x00000099", t7, altered(kKeyIdLast, key_1 ^ 0x99), now, false, "unknown_key");
  v.refused("expired", "opened 6 minutes after sealing (default maximum age 5 minutes)", t7, basic,
            kT0 + 6 * kMinute, false, "expired");
  v.refused("future", "opened 2 minutes before it was sealed (default skew 1 minute)", t7, basic, kT0 - 2 * kMinute,
            false, "not_yet_valid");
  v.refused("no-rule", "a topic no rule covers", "backend/7/status", basic, now, false, "no_rule");
  v.refused("retained-refused-by-rule", "'retained-command' delivered with the retain flag: the rule refuses it",
            "backend/7/cmd/valve", command, now, true, "retained_refused");
  v.refused("retained-expired", "'retained' delivered as retained 8 days later (default 7 days)", t7, kept,
            kT0 + 8 * kDay, true, "expired");
  std::vector<uint8_t> unflagged = kept;
  unflagged[kFlagsAt] = 0;
  v.refused("retain-flag-cleared", "the retain flag of 'retained' cleared in transit", t7, unflagged, now, false,
            "authentication_failed");

  // Suite 1 envelopes, sealed right under the right key (section 4), then
  // delivered or relabelled: no downgrade and no cross-suite forgery.
  auto suite_1 = [&](const std::string& topic, uint8_t sender_byte) {
    mqseal::EnvelopeHeader h;
    h.key_id = 2;
    h.timestamp_ms = kT0;
    h.sender = sender_of(sender_byte);
    std::vector<uint8_t> e;
    must(mqseal::hazmat::seal_with_header(v.topic_key(2, topic).data(), topic, h, reading, e));
    return e;
  };
  std::vector<uint8_t> plain_1 = suite_1(plant, 0xd5);
  v.refused("suite-1-on-suite-5-rule", "a suite 1 envelope, sealed right for the topic, on the suite 5 rule", t7,
            suite_1(t7, 0xd6), now, false, "wrong_suite_for_topic");
  std::vector<uint8_t> relabelled = suite_1(t7, 0xd7);
  relabelled[kSuiteAt] = mqseal::kSuiteAes256Gcm;
  v.refused("suite-1-relabelled-5", "a suite 1 envelope sealed for the topic, its suite byte rewritten 1 -> 5, on "
            "the suite 5 rule: AES-256-GCM under the subkey fails", t7, relabelled, now, false,
            "authentication_failed");
  plain_1[kSuiteAt] = mqseal::kSuiteAes256Gcm;
  v.refused("suite-1-to-5-on-suite-1-rule", "a suite 1 envelope's suite byte rewritten 1 -> 5 on its suite 1 rule",
            plant, plain_1, now, false, "wrong_suite_for_topic");

  // Deliveries against one receiver each (docs/SPEC.md, section 6).
  auto sequence = [&](const char* name, const char* description,
                      const std::vector<std::tuple<std::string, std::vector<uint8_t>, std::string>>& steps) {
    auto shared_keys = std::make_shared<mqseal::Keyring>(must(v.keyring.clone()));
    mqseal::Opener opener = must(mqseal::Opener::create(v.policy, shared_keys));
    json out = json::array();
    for (const auto& [label, envelope, expect] : steps) {
      mqseal::Result<mqseal::Opened> r = opener.open(t7, envelope, {false, now});
      const std::string got = r ? "ok" : mqseal::name(r.error().code());
      if (got != expect) {
        std::cerr << "make_vectors: " << name << " / " << label << " gave " << got << ", wanted " << expect << "\n";
        std::exit(1);
      }
      json step = {{"label", label},
                   {"envelope", hex(envelope)},
                   {"deliver", {{"topic", t7}, {"retained", false}, {"now_ms", u64(now)}}},
                   {"expect", got}};
      if (r) {
        step["payload"] = hex(r->payload);
        step["sealed"] = r->sealed;
      }
      out.push_back(step);
    }
    return json{{"name", name},
                {"description", description},
                {"replay", replay_json(mqseal::ReplayOptions{})},
                {"steps", out}};
  };
  json sequences = json::array();
  sequences.push_back(sequence("replayed", "the same envelope delivered twice (a replay or a QoS 1 redelivery)",
                               {{"first", basic, "ok"}, {"again", basic, "duplicate"}}));
  sequences.push_back(sequence("two-senders", "two senders' sequence 0 are two streams; each one's copy is a "
                               "duplicate",
                               {{"b2", sender_b2, "ok"}, {"b3", sender_b3, "ok"}, {"b2-again", sender_b2, "duplicate"},
                                {"b3-again", sender_b3, "duplicate"}}));
  sequences.push_back(sequence("forgery-first", "a forged copy (flipped tag) is refused and leaves no trace: the "
                               "real envelope then opens, once",
                               {{"forged", altered(basic.size() - 1, 0x01), "authentication_failed"},
                                {"real", basic, "ok"},
                                {"real-again", basic, "duplicate"}}));

  // Policy files with suite 5 rules (section 9).
  json policies = json::array();
  auto policy_case = [&](const std::string& name, const std::string& text) {
    mqseal::Result<mqseal::TopicPolicy> parsed = mqseal::parse_policy(text);
    json c = {{"name", name}, {"text", text}, {"expect", parsed ? "ok" : mqseal::name(parsed.error().code())}};
    if (parsed) {
      json rules = json::array();
      for (const mqseal::TopicRule& r : parsed->rules()) rules.push_back(rule_json(r));
      c["rules"] = rules;
    }
    policies.push_back(c);
  };
  policy_case("suite-5-rules", "[[rule]]\nfilter = \"backend/+/events\"\nkey = \"telemetry\"\nsuite = 5\n\n"
                               "[[rule]]\nfilter = \"backend/+/cmd/#\"\nkey = \"commands\"\nsuite = 5\n"
                               "retained = \"accept\"\nretained_max_age_ms = 60000\n\n"
                               "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n");
  policy_case("suite-5-with-signers", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 5\nsigners = \"b\"\n");
  policy_case("suite-5-compact", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 5\ncompact = true\n");
  policy_case("suite-5-recipient", "[[rule]]\nfilter = \"a\"\nrecipient = \"r\"\nsuite = 5\n");
  policy_case("suite-5-plaintext", "[[rule]]\nfilter = \"a\"\nplaintext = true\nsuite = 5\n");
  policy_case("suite-5-signer-level", "[[rule]]\nfilter = \"a/{signer}\"\nkey = \"k\"\nsuite = 5\n");
  policy_case("suite-6", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 6\n");
  policy_case("suite-5-string", "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = \"5\"\n");

  return {
      {"format", "mqseal suite 5 (AES-256-GCM) known-answer vectors (docs/SPEC.md, sections 4e and 13)"},
      {"generator", "tests/make_vectors.cpp"},
      {"notes", "As envelope_v2.json, with the suite 5 rules of 'policy' (suite: 5). 'ok' vectors also carry "
                "'suite' (5), 'subkey' (the AES-256 key), 'nonce' (the 12-byte GCM nonce) and 'overhead' (55); "
                "'associated_data' is the whole 39-byte header, the topic's length and the topic. Open each "
                "vector with a fresh receiver with default replay options; deliver each sequence's steps in "
                "order to one receiver. Needs a receiver that can run AES-256-GCM."},
      {"keys", keys},
      {"policy", policy_json},
      {"replay", replay_json(mqseal::ReplayOptions{})},
      {"vectors", v.list},
      {"sequences", sequences},
      {"policy_files", policies},
  };
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_vectors DIRECTORY (writes the *.json files of tests/vectors)\n";
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
  must(v.policy.add_rule("plant/+/cmd/#", "commands", mqseal::RetainedRule{mqseal::RetainedPolicy::refuse}));
  must(v.policy.add_plaintext_rule("public/#"));
  json policy_json = json::array();
  for (const mqseal::TopicRule& r : v.policy.rules()) policy_json.push_back(rule_json(r));

  Vectors v1;
  v1.keyring = must(v.keyring.clone());
  v1.policy = v.policy;
  v1.version = mqseal::kEnvelopeVersionV1;
  const json envelope_v2 = envelope_vectors(v, keys, policy_json);
  const json envelope_v1 = envelope_vectors(v1, keys, policy_json);
  std::vector<std::pair<const char*, json>> files = {
      {"envelope_v2.json", envelope_v2},
      {"envelope_v1.json", envelope_v1},
      {"envelope_v3.json", compact_vectors(v.keyring, keys)},
      {"connect_token_v1.json", token_vectors()},
      {"policy_v1.json", policy_vectors()},
      {"sequences_v1.json", sequence_vectors(v.keyring, keys, v.policy, policy_json)},
      {"files_v1.json", file_vectors()},
      {"records_v1.json", record_vectors()},
      {"replay_store_v1.json", replay_store_vectors()},
      {"signed_v1.json", signed_vectors()},
      {"recipient_v1.json", recipient_vectors()},
  };
  // Suite 5 needs libsodium's AES-256-GCM (AES-NI and PCLMULQDQ): elsewhere
  // the file is left as it is.
  if (sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1) {
    files.emplace_back("aes256gcm_v1.json", aes256gcm_vectors(v.keyring, keys));
  } else {
    std::cerr << "make_vectors: note: no AES-256-GCM on this CPU (AES-NI, PCLMULQDQ): aes256gcm_v1.json not written\n";
  }
  for (const auto& [name, content] : files) {
    std::ofstream out(directory + "/" + name);
    out << content.dump(1) << "\n";
    if (!out) {
      std::cerr << "make_vectors: cannot write " << directory << "/" << name << "\n";
      return 1;
    }
  }
  std::printf("wrote %zu + %zu envelope vectors and the other vector files to %s\n",
              v.list.size(), v1.list.size(), directory.c_str());
  return 0;
}
