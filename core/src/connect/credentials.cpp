// CONNECT tokens (docs/SPEC.md, "CONNECT tokens") and the credentials file.
#include "mqseal/credentials.h"

#include <sodium.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "base/hex.h"
#include "base/mqtt_string.h"
#include "base/saturating.h"
#include "base/secret.h"
#include "base/secret_arena.h"
#include "connect/credentials_internal.h"
#include "crypto/blake2b.h"
#include "files/line_file.h"
#include "keys/key_access.h"
#include "keys/keyring_access.h"
#include "mqseal/clock.h"
#include "base/sodium_util.h"

namespace mqseal {

namespace {

constexpr internal::Blake2bPersonal kTokenKeyPersonal = "mqseal token key";
constexpr internal::Blake2bPersonal kTokenMacPersonal = "mqseal token mac";
constexpr size_t kOffsetExpiry = 1;
constexpr size_t kOffsetNonce = kOffsetExpiry + 8;
constexpr size_t kOffsetMac = kOffsetNonce + kTokenNonceSize;
static_assert(kOffsetMac + kTokenMacSize == kTokenBinarySize, "token layout");
constexpr int kBase64Variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr size_t kMaxProvisionedNameSize = 128;
static_assert(kMaxUsernameSize == internal::kMaxMqttStringSize && kMaxClientIdSize == internal::kMaxMqttStringSize,
              "usernames and client IDs are MQTT strings");
constexpr std::string_view kCredentialsHeader = "mqseal-credentials v1";
// 256 MiB: a record line is 138 bytes for a 14-character username and
// libsodium's INTERACTIVE limits, at most 266 (a 128-character username,
// 10- and 13-digit limits), so 1 000 000 devices fit whatever their records
// (docs/SPEC.md, section 11).
constexpr uint64_t kMaxCredentialsFileSize = uint64_t{256} << 20;
constexpr size_t kCredentialFields = 7;
constexpr std::string_view kRecordLinePrefix = "user ";
// The shortest line that can be a record: "user " NAME (1) " argon2id " SALT
// (32) " " OPSLIMIT (1) " " MEMLIMIT (1) " " TOKEN_KEY (64). Only such lines
// are counted when the records' room is reserved: a file of short "user "
// lines must not reserve room for millions of keys it does not hold.
constexpr size_t kMinRecordLineSize = kRecordLinePrefix.size() + 1 + 10 + 32 + 1 + 1 + 1 + 1 + 1 + 2 * kKeySize;

// Usernames a credentials file can hold: 1..128 of [A-Za-z0-9_.@:-].
constexpr std::string_view kUsernameRule = "usernames are 1-128 characters of [A-Za-z0-9_.@:-]";
bool valid_provisioned_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxProvisionedNameSize) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == ':' || c == '-';
  });
}

void append_u16_prefixed(std::vector<uint8_t>& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// mac = BLAKE2b-256(key = token_key, personal = "mqseal token mac",
//                   message = u16 len || username || u16 len || client_id || token[0..25))
Status token_mac(const uint8_t token_key[kKeySize], std::string_view username, std::string_view client_id,
                 const uint8_t* token_head, uint8_t out[kTokenMacSize]) {
  std::vector<uint8_t> message;
  message.reserve(4 + username.size() + client_id.size() + kOffsetMac);
  append_u16_prefixed(message, username);
  append_u16_prefixed(message, client_id);
  message.insert(message.end(), token_head, token_head + kOffsetMac);
  return internal::blake2b_personal(out, kTokenMacSize, ByteView(token_key, kKeySize), message, kTokenMacPersonal);
}

// token_key = BLAKE2b-256(key = device_secret, personal = "mqseal token key", message = "")
Status derive_token_key(const Key& device_secret, uint8_t out[kKeySize]) {
  const uint8_t* secret = internal::KeyAccess::bytes(device_secret);
  if (secret == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  return internal::blake2b_personal(out, kKeySize, ByteView(secret, kKeySize), ByteView(), kTokenKeyPersonal);
}

// What a token can be made for: a username a credentials file can hold (a
// verifier knows no other) and a client ID a broker can deliver (an MQTT
// string) and mosquitto lets in (no control character, no noncharacter). A
// token for anything else could never verify: refused when it is made,
// rather than at every CONNECT.
Status check_names(std::string_view username, std::string_view client_id) {
  if (!valid_provisioned_name(username)) {  // no verifier knows it
    return Error(Errc::invalid_argument, std::string(kUsernameRule) + ": no token for another username could verify");
  }
  if (const char* problem = internal::mqtt_string_problem(client_id)) {
    return Error(Errc::invalid_argument, std::string("the client ID ") + problem +
                                             ": no MQTT broker delivers it, so no token for it could verify");
  }
  if (const char* problem = internal::connect_name_problem(client_id)) {
    return Error(Errc::invalid_argument, std::string("the client ID ") + problem +
                                             ": MQTT says no string should, and mosquitto closes the connection "
                                             "of a CONNECT holding one, so no token for it could verify");
  }
  return {};
}

uint64_t system_time_s() { return system_time_ms() / 1000; }

}  // namespace

Result<CredentialRecord> credential_record(std::string_view username, const Key& device_secret,
                                           const PassphraseParams& params) {
  if (!valid_provisioned_name(username)) {
    return Error(Errc::invalid_argument, std::string(kUsernameRule));
  }
  Result<internal::Secret> token_key = internal::Secret::allocate(kKeySize);
  if (!token_key) return std::move(token_key).error();
  if (Status s = derive_token_key(device_secret, token_key->data()); !s) return s.error();
  return CredentialRecord{std::string(username), params, internal::KeyAccess::adopt(std::move(*token_key))};
}

Result<Provisioned> provision(std::string_view username, std::string_view password, const PassphraseParams& params) {
  if (!valid_provisioned_name(username)) {
    return Error(Errc::invalid_argument, std::string(kUsernameRule));
  }
  if (password.empty()) return Error(Errc::invalid_argument, "an empty password");
  Result<Key> secret = Key::from_passphrase(password, params);
  if (!secret) return std::move(secret).error();
  Result<CredentialRecord> record = credential_record(username, *secret, params);
  if (!record) return std::move(record).error();
  return Provisioned{std::move(*secret), std::move(*record)};
}

Result<std::string> internal::make_connect_token_with_nonce(
    const Key& device_secret, std::string_view username, std::string_view client_id, uint64_t expiry_s,
    const std::array<uint8_t, kTokenNonceSize>& nonce) {
  if (Status s = check_names(username, client_id); !s) return s.error();
  uint8_t token_key[kKeySize];
  internal::ScopedWipe wipe(token_key, sizeof token_key);
  if (Status s = derive_token_key(device_secret, token_key); !s) return s.error();
  uint8_t token[kTokenBinarySize];
  token[0] = kTokenVersion;
  internal::store_be64(token + kOffsetExpiry, expiry_s);
  std::copy(nonce.begin(), nonce.end(), token + kOffsetNonce);
  if (Status s = token_mac(token_key, username, client_id, token, token + kOffsetMac); !s) return s.error();
  char text[sodium_base64_ENCODED_LEN(kTokenBinarySize, kBase64Variant)];
  sodium_bin2base64(text, sizeof text, token, sizeof token, kBase64Variant);
  return std::string(kTokenPrefix) + text;
}

Result<std::string> make_connect_token(const Key& device_secret, std::string_view username,
                                       std::string_view client_id, uint64_t lifetime_s, uint64_t now_s) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (lifetime_s == 0) return Error(Errc::invalid_argument, "a token lifetime of 0");
  std::array<uint8_t, kTokenNonceSize> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  const uint64_t now = now_s != 0 ? now_s : system_time_s();
  return internal::make_connect_token_with_nonce(device_secret, username, client_id, now + lifetime_s,
                                                 nonce);
}

Result<std::string> make_connect_token(const Keyring& keyring, std::string_view key_name,
                                       std::string_view username, std::string_view client_id,
                                       uint64_t lifetime_s, uint64_t now_s) {
  Result<KeyId> id = keyring.primary(key_name);
  if (!id) return Error(Errc::no_primary_key, std::string(key_name));
  const internal::KeyringEntryView entry = internal::KeyringAccess::find(keyring, *id);
  if (entry.key == nullptr) return Errc::no_primary_key;  // cannot happen: a primary is never retired
  return make_connect_token(*entry.key, username, client_id, lifetime_s, now_s);
}

// ---- the credentials file ----

// The token keys' guarded regions, and the usernames' hash index: open
// addressing with linear probing over the records' positions (+ 1; 0 is an
// empty slot), at most half full, so a lookup or an insertion costs O(1)
// expected. The usernames are the operator's (a file or add()), not a
// device's, so an unkeyed hash does (as for the verifier's map).
struct Credentials::Index {
  static constexpr size_t kMinSlots = 16;  // a power of two
  internal::SecretArena keys{kKeySize};
  std::vector<size_t> slots;  // a power-of-two size, at least twice the records

  // The slot holding `name`, or the empty slot where it would go.
  size_t probe(const std::vector<CredentialRecord>& records, std::string_view name) const noexcept {
    const size_t mask = slots.size() - 1;
    for (size_t i = std::hash<std::string_view>{}(name) & mask;; i = (i + 1) & mask) {
      if (slots[i] == 0 || records[slots[i] - 1].username == name) return i;
    }
  }
  // Room for `count` records at most half full (rebuilt twice as large when not).
  void make_room(const std::vector<CredentialRecord>& records, size_t count) {
    if (count <= slots.size() / 2) return;
    size_t size = std::max(kMinSlots, slots.size());
    while (count > size / 2) size *= 2;
    slots.assign(size, 0);
    for (size_t r = 0; r < records.size(); ++r) slots[probe(records, records[r].username)] = r + 1;
  }
};

Credentials::Credentials() noexcept = default;
Credentials::Credentials(Credentials&&) noexcept = default;
Credentials& Credentials::operator=(Credentials&&) noexcept = default;
Credentials::~Credentials() = default;  // each record's Key wipes itself; the regions go with the last

void Credentials::append(std::string username, const PassphraseParams& passphrase, Key token_key) {
  index_->make_room(records_, records_.size() + 1);
  const size_t slot = index_->probe(records_, username);
  records_.push_back(CredentialRecord{std::move(username), passphrase, std::move(token_key)});
  index_->slots[slot] = records_.size();
}

Status Credentials::add(const CredentialRecord& record) {
  if (!valid_provisioned_name(record.username)) return Error(Errc::invalid_argument, "invalid username");
  if (find(record.username) != nullptr) return Error(Errc::invalid_argument, "the user exists already");
  if (!index_) index_ = std::make_unique<Index>();
  Result<Key> token_key = internal::KeyAccess::copy_into(record.token_key, index_->keys);
  if (!token_key) return std::move(token_key).error();
  append(record.username, record.passphrase, std::move(*token_key));
  return {};
}

Result<Credentials> Credentials::clone() const {
  Credentials copy;
  if (records_.empty()) return copy;
  copy.index_ = std::make_unique<Index>();
  if (Status s = copy.index_->keys.reserve(records_.size()); !s) return s.error();  // one region
  copy.records_.reserve(records_.size());
  for (const CredentialRecord& r : records_) {
    Result<Key> token_key = internal::KeyAccess::copy_into(r.token_key, copy.index_->keys);
    if (!token_key) return std::move(token_key).error();
    copy.append(r.username, r.passphrase, std::move(*token_key));
  }
  return copy;
}

const CredentialRecord* Credentials::find(std::string_view username) const noexcept {
  if (!index_ || index_->slots.empty()) return nullptr;
  const size_t slot = index_->slots[index_->probe(records_, username)];
  return slot == 0 ? nullptr : &records_[slot - 1];
}

Result<Credentials> Credentials::parse(std::string_view text) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  Credentials credentials;
  credentials.index_ = std::make_unique<Index>();
  // Every key in one guarded region, the records and the index sized once:
  // as many as there are lines that could be records (long enough, and
  // starting as one does).
  size_t record_lines = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t newline = text.find('\n', pos);
    const size_t end = newline == std::string_view::npos ? text.size() : newline;
    if (end - pos >= kMinRecordLineSize && text.compare(pos, kRecordLinePrefix.size(), kRecordLinePrefix) == 0) {
      ++record_lines;
    }
    if (newline == std::string_view::npos) break;
    pos = newline + 1;
  }
  if (Status s = credentials.index_->keys.reserve(record_lines); !s) return s.error();
  credentials.records_.reserve(record_lines);
  credentials.index_->make_room(credentials.records_, record_lines);
  std::vector<std::string_view> fields;
  const Status parsed = internal::parse_lines(text, kCredentialsHeader, "credentials", [&](const internal::Line& line) -> Status {
    // user NAME argon2id SALT OPSLIMIT MEMLIMIT TOKEN_KEY, separated by single spaces
    if (!internal::split_fields(line.text, kCredentialFields, fields) || fields.size() != kCredentialFields ||
        fields[0] != "user" || fields[2] != "argon2id") {
      return line.error("expected 'user NAME argon2id SALT OPSLIMIT MEMLIMIT TOKEN_KEY'");
    }
    const std::string_view username = fields[1];
    if (!valid_provisioned_name(username)) return line.error("invalid username");
    PassphraseParams passphrase;
    if (!internal::hex_decode(fields[3], passphrase.salt.data(), passphrase.salt.size()) ||
        !internal::parse_u64(fields[4], passphrase.opslimit) || !internal::parse_u64(fields[5], passphrase.memlimit) ||
        !passphrase.valid()) {
      return line.error("bad Argon2id parameters");
    }
    Result<Key> token_key = internal::KeyAccess::from_hex(fields[6], credentials.index_->keys);
    if (!token_key && token_key.error() == Errc::invalid_argument) return line.error("the token key is 64 hex digits");
    if (!token_key) return std::move(token_key).error();
    if (credentials.find(username) != nullptr) return line.error("duplicate username");
    credentials.append(std::string(username), passphrase, std::move(*token_key));
    return {};
  });
  if (!parsed) return parsed.error();
  return credentials;
}

Result<std::string> Credentials::serialize() const {
  std::string out;
  out.reserve(kCredentialsHeader.size() + 1 + records_.size() * 400);  // never reallocates: no stray copies
  out += kCredentialsHeader;
  out += "\n";
  for (const CredentialRecord& r : records_) {
    out += "user " + r.username + " argon2id " + internal::hex_encode(ByteView(r.passphrase.salt)) + " " +
           std::to_string(r.passphrase.opslimit) + " " + std::to_string(r.passphrase.memlimit) + " ";
    internal::KeyAccess::append_hex(r.token_key, out);
    out += "\n";
  }
  return out;
}

Result<Credentials> Credentials::load(const std::string& path, LoadOptions options) {
  return internal::load_line_file<Credentials>(path, options.allow_insecure_permissions, kMaxCredentialsFileSize,
                                               parse);
}

Status Credentials::save(const std::string& path) const { return internal::save_line_file(path, serialize()); }

// ---- verification ----

namespace {

constexpr std::string_view kTokenClaimNamespace = "token";

// expiry + skew < now, without computing a sum that could wrap: a token is
// expired. The replay store forgets a token at that instant at the earliest
// (once now > expiry + skew, saturated, and kMinTokenMemoryS after it was
// accepted), so a token is forgotten only once it could no longer verify.
bool past_skew(uint64_t expiry_s, uint64_t now_s, uint64_t skew_s) noexcept {
  return now_s > expiry_s && now_s - expiry_s > skew_s;
}

}  // namespace

struct TokenVerifier::Impl {
  // One per provisioned user: its token key (moved from its record). The
  // tokens of this user accepted and still live (at most
  // options.max_tokens_per_user; see credentials.h) are in the replay store.
  struct User {
    Key token_key;
    // The latest time this user's tokens were judged at. Tokens are judged
    // against it, never against an earlier time, and the replay store is
    // handed it as the claim's now: a clock stepping back cannot bring back
    // a token that was forgotten.
    uint64_t latest_s = 0;
  };
  std::unordered_map<std::string, User> users;
  // The key an unknown username's MAC is computed with, so that its refusal
  // takes the same work as a wrong MAC's (guarded memory like the real keys).
  Key unknown_user_key;
  VerifierOptions options;
  mutable std::mutex mutex;  // latest_s
};

TokenVerifier::TokenVerifier(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
TokenVerifier::TokenVerifier(TokenVerifier&&) noexcept = default;
TokenVerifier& TokenVerifier::operator=(TokenVerifier&&) noexcept = default;
TokenVerifier::~TokenVerifier() = default;

Result<TokenVerifier> TokenVerifier::create(Credentials credentials, VerifierOptions options) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (options.max_clock_skew_s > kMaxClockSkewLimitS) {
    return Error(Errc::invalid_argument, "max_clock_skew_s is 0 to " + std::to_string(kMaxClockSkewLimitS));
  }
  if (options.max_lifetime_s == 0 || options.max_lifetime_s > kMaxTokenLifetimeLimitS) {
    return Error(Errc::invalid_argument, "max_lifetime_s is 1 to " + std::to_string(kMaxTokenLifetimeLimitS));
  }
  if (options.max_tokens_per_user == 0 || options.max_tokens_per_user > kMaxTokensPerUserLimit) {
    return Error(Errc::invalid_argument,
                 "max_tokens_per_user is 1 to " + std::to_string(kMaxTokensPerUserLimit));
  }
  Result<Key> unknown_user_key = Key::generate();
  if (!unknown_user_key) return std::move(unknown_user_key).error();
  if (options.replay_store == nullptr) {
    Result<std::shared_ptr<ReplayStore>> store = memory_replay_store();
    if (!store) return std::move(store).error();
    options.replay_store = std::move(*store);
  }
  // users x quota, saturated: a store smaller than that could be filled by
  // some users for the others.
  const size_t users = credentials.records_.size();
  const size_t needed = users > std::numeric_limits<size_t>::max() / options.max_tokens_per_user
                            ? std::numeric_limits<size_t>::max()
                            : users * options.max_tokens_per_user;
  if (options.replay_store->capacity() < needed) {
    return Error(Errc::invalid_argument, "the replay store holds " +
                                             std::to_string(options.replay_store->capacity()) +
                                             " claims, fewer than users x max_tokens_per_user (" +
                                             std::to_string(needed) + ")");
  }
  auto impl = std::unique_ptr<Impl>(new Impl{{}, std::move(*unknown_user_key), options, {}});
  impl->users.reserve(credentials.records_.size());  // no rehash while loading
  for (CredentialRecord& record : credentials.records_) {
    impl->users.emplace(std::move(record.username), Impl::User{std::move(record.token_key), 0});
  }
  return TokenVerifier(std::move(impl));
}

Status TokenVerifier::verify(std::string_view username, std::string_view client_id, std::string_view token,
                             uint64_t now_s) {
  // Names mosquitto never delivers (MQTT strings only: at most 65535 bytes
  // of UTF-8 without U+0000; and no control character or noncharacter,
  // which MQTT discourages and mosquitto refuses) are refused by their form
  // alone, which tells nothing of who is provisioned; any other unknown name
  // is refused below exactly as a wrong MAC is.
  if (internal::connect_name_problem(username) != nullptr || internal::connect_name_problem(client_id) != nullptr) {
    return Error(Errc::malformed, "a username or client ID mosquitto refuses (no MQTT string, or a control "
                                  "character or noncharacter in it)");
  }
  if (token.size() != kTokenPrefix.size() + sodium_base64_ENCODED_LEN(kTokenBinarySize, kBase64Variant) - 1 ||
      token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return Error(Errc::malformed, "not an mqseal token");
  }
  // Only the base64url alphabet: libsodium 1.0.18's decoder also takes some
  // bytes of 0x80 and above as '_', which would give one token many spellings.
  const std::string_view body = token.substr(kTokenPrefix.size());
  const bool canonical = std::all_of(body.begin(), body.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  if (!canonical) return Error(Errc::malformed, "not base64url");
  uint8_t binary[kTokenBinarySize];
  size_t length = 0;
  if (sodium_base642bin(binary, sizeof binary, body.data(), body.size(), nullptr, &length, nullptr,
                        kBase64Variant) != 0 ||
      length != kTokenBinarySize) {
    return Error(Errc::malformed, "not base64url");
  }
  if (binary[0] != kTokenVersion) return Errc::unsupported_version;
  // An unknown user costs the same MAC as a known one, and gets the same
  // refusal as a wrong MAC: neither the answer nor its time tells who is
  // provisioned (knows() is for brokers that defer users they do not manage).
  const auto user = impl_->users.find(std::string(username));
  const bool known = user != impl_->users.end();
  uint8_t expected[kTokenMacSize];  // a valid MAC for what the caller sent: wiped
  const internal::ScopedWipe wipe_expected(expected, sizeof expected);
  if (Status s = token_mac(internal::KeyAccess::bytes(known ? user->second.token_key : impl_->unknown_user_key), username,
                           client_id, binary, expected);
      !s) {
    return s;
  }
  const bool mac_matches = crypto_verify_32(expected, binary + kOffsetMac) == 0;
  if (!mac_matches || !known) return Errc::authentication_failed;

  const uint64_t now = now_s != 0 ? now_s : system_time_s();
  const uint64_t expiry = internal::load_be64(binary + kOffsetExpiry);
  const VerifierOptions& o = impl_->options;
  // expiry - now > max_lifetime + skew, without the sum (options may be huge).
  if (expiry > now && expiry - now > o.max_lifetime_s && expiry - now - o.max_lifetime_s > o.max_clock_skew_s) {
    return Error(Errc::not_yet_valid, "expires too far in the future");
  }
  ReplayClaim claim{kTokenClaimNamespace, username, {}, 0, 0, o.max_tokens_per_user};
  std::copy(binary + kOffsetNonce, binary + kOffsetNonce + kTokenNonceSize, claim.id.begin());
  // Judging the expiry and claiming the nonce are one step, under the lock: a
  // claim made at a later time between the two could make the store forget
  // this token (its keep_until passed), and the claim would then answer
  // first_use for a replay. The store's fsync (file store) or round trip
  // holds other logins for that time; the file store serialises them anyway.
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Impl::User& u = user->second;
  // Judged at the latest time this user's tokens were judged at, never
  // earlier: a clock stepping back cannot bring back a forgotten token.
  u.latest_s = std::max(u.latest_s, now);
  if (past_skew(expiry, u.latest_s, o.max_clock_skew_s)) return Errc::expired;
  claim.now_s = u.latest_s;
  // Kept while now <= expiry + skew, and at least kMinTokenMemoryS from now:
  // the quota then bounds this user's logins per minute, whatever expiry the
  // device wrote (credentials.h). Saturated: never wraps to forget early.
  claim.keep_until_s = std::max(internal::saturating_add(expiry, o.max_clock_skew_s),
                                internal::saturating_add(claim.now_s, kMinTokenMemoryS));
  // Accepted while now <= expiry + skew: what the store compares with the
  // times at which it forgot this user's tokens (mqseal/replay_store.h).
  claim.accepted_until_s = internal::saturating_add(expiry, o.max_clock_skew_s);
  Result<ClaimOutcome> claimed = o.replay_store->claim(claim);
  if (!claimed) return std::move(claimed).error();
  if (*claimed == ClaimOutcome::seen) return Error(Errc::replay, "token used before");
  return {};
}

bool TokenVerifier::knows(std::string_view username) const noexcept {
  return impl_->users.count(std::string(username)) != 0;
}

size_t TokenVerifier::remembered_tokens() const { return impl_->options.replay_store->remembered(); }

}  // namespace mqseal
