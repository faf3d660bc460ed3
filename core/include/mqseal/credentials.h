// mqseal/credentials.h: CONNECT credentials for devices without TLS.
//
// MQTT sends the CONNECT password in the clear unless TLS is used, and a hash
// sent in its place is no better: whoever captures it replays it. Instead:
//
//   1. Provisioning, on a workstation (Argon2id is too heavy for a device):
//        auto p = mqseal::provision("device-7", password, mqseal::PassphraseParams::generate());
//      gives the device its secret (p->device_secret: a Key, stored in the
//      device's keyring; the password itself is never stored) and the broker
//      its record (p->record: no password, no device secret, only a subkey).
//   2. On every connect the device makes a fresh, short-lived, single-use token
//      and sends it as the CONNECT password:
//        auto token = mqseal::make_connect_token(secret, "device-7", client_id);
//   3. The broker (the mosquitto plugin, or any broker through its auth hook)
//      verifies it:
//        auto verifier = mqseal::TokenVerifier::create(credentials);
//        verifier->verify("device-7", client_id, password_field);
//
// A token is bound to the username and the client ID, expires (default 5
// minutes), and is accepted once: the verifier remembers the nonces of the
// tokens it accepted until they expire. Format: docs/SPEC.md, "CONNECT tokens".
//
// What the verifier remembers is kept in a replay store
// (VerifierOptions::replay_store, mqseal/replay_store.h; by default in this
// process's memory), per user, with a bound per user
// (VerifierOptions::max_tokens_per_user, default 64): a device that logs in
// with token after token fills only its own quota and is then refused
// (capacity_exceeded) until one of its own tokens expires; no other user is
// affected, and there is no table shared between users that one could fill.
// Memory: at most (provisioned users) x max_tokens_per_user remembered tokens,
// about 100 bytes each (a nonce and an expiry in a min-heap, the nonce again
// in a hash set), so 6.4 KB per user at the default; plus each user's entry
// before any token, about 230 bytes with its token key (32 bytes in a shared
// guarded region, below; measured with 1 000 000 users, docs/PERFORMANCE.md).
// A token is forgotten only once it could no longer verify (expiry +
// max_clock_skew_s < now); one verify() costs one MAC, one hash lookup of
// the username and O(log max_tokens_per_user) amortised, however many users
// there are and however full the tables are.
// Token keys: the keys of a Credentials (loaded, parsed, added or cloned)
// live in a few guarded regions it allocates (sodium_malloc: guard pages,
// wiped when freed), not one mapping per key: a file of 1 000 000 devices
// takes about 25 regions of 2 MiB at most when added one by one, one region
// when loaded. The verifier takes the keys over with their regions. A
// region is freed, wiped, with the last key in it; each key wipes its own
// 32 bytes when destroyed. (A Key made alone, as provision() makes, has a
// guarded allocation of its own: four kernel map entries, so about 16 000
// such Keys alive at once fill Linux's default vm.max_map_count.)
// Loading n users takes O(n) expected time (a hash index of the usernames).
// "now" never goes back for a user: tokens are judged against the latest
// time that user's tokens were judged at, so a broker clock stepping back
// cannot bring back a forgotten token (a step back shorter than a token's
// lifetime plus the skew refuses nothing). Not with a Redis store
// (mqseal/replay_store.h): Redis forgets a claim by elapsed time, not by
// the verifier's judgement, so a step back of more than
// max_clock_difference_s + 1 s is a clock difference that large.
//
// Known-answer tests make tokens with a chosen nonce through
// mqseal/hazmat/credentials.h (target mqseal::hazmat), never this header.
//
// Thread safety: make_connect_token may be called from any thread;
// TokenVerifier::verify too (it locks what it remembers).
#ifndef MQSEAL_CREDENTIALS_H_
#define MQSEAL_CREDENTIALS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/error.h"
#include "mqseal/key.h"
#include "mqseal/keyring.h"
#include "mqseal/replay_store.h"

namespace mqseal {

inline constexpr uint8_t kTokenVersion = 1;
inline constexpr std::string_view kTokenPrefix = "mqs1.";
inline constexpr size_t kTokenNonceSize = 16;
inline constexpr size_t kTokenMacSize = 32;
inline constexpr size_t kTokenBinarySize = 1 + 8 + kTokenNonceSize + kTokenMacSize;  // 57
inline constexpr uint64_t kDefaultTokenLifetimeS = 300;
inline constexpr size_t kMaxUsernameSize = 65535;   // MQTT string limit
inline constexpr size_t kMaxClientIdSize = 65535;

// What the broker keeps for one device: the token key (a subkey of the
// device secret: it verifies tokens but is neither the password nor the
// device secret) and the Argon2id salt and limits the secret came from.
// Move-only, like the Key in it.
struct CredentialRecord {
  std::string username;
  PassphraseParams passphrase;
  Key token_key;  // in guarded memory, as every Key; in a file, keep it 0600
};

struct Provisioned {
  Key device_secret;        // for the device's keyring
  CredentialRecord record;  // for the broker's credentials file
};

// Argon2id over the password with params (salt and limits), then the token
// key. invalid_argument for an empty username or bad params; crypto_failure
// if Argon2id cannot allocate its memory.
[[nodiscard]] Result<Provisioned> provision(std::string_view username, std::string_view password,
                                            const PassphraseParams& params);

// The broker's record from a device secret (provision() calls this).
[[nodiscard]] Result<CredentialRecord> credential_record(std::string_view username,
                                                         const Key& device_secret,
                                                         const PassphraseParams& params);

// A fresh token for the CONNECT password field, valid for lifetime_s seconds
// from now_s (0: the system clock). invalid_argument for a lifetime of 0,
// and for names no token could ever verify for: a username that is not a
// provisioned one's form (1 to 128 characters of [A-Za-z0-9_.@:-], as
// provision() takes) or a client ID that is not an MQTT string (more than
// kMaxClientIdSize bytes, a U+0000, or not well-formed UTF-8: no broker
// delivers one) or that holds a character MQTT says no string should: a
// control character (U+0001 to U+001F, U+007F to U+009F) or a Unicode
// noncharacter (U+FDD0 to U+FDEF, U+FFFE or U+FFFF of any plane), for which
// mosquitto closes the connection before any password check. An empty
// client ID is taken here (docs/SPEC.md, "CONNECT tokens"), but a broker
// that assigns an ID in its place (mosquitto does) checks the token against
// that ID: paho::use_connect_tokens and the Python clients refuse it.
[[nodiscard]] Result<std::string> make_connect_token(const Key& device_secret,
                                                     std::string_view username,
                                                     std::string_view client_id,
                                                     uint64_t lifetime_s = kDefaultTokenLifetimeS,
                                                     uint64_t now_s = 0);

// As above, with the device secret kept in a keyring: the primary key of
// `key_name` (provisioning tools keep it under "connect"). The key bytes never
// leave the keyring. no_primary_key if the name has no primary key.
[[nodiscard]] Result<std::string> make_connect_token(const Keyring& keyring,
                                                     std::string_view key_name,
                                                     std::string_view username,
                                                     std::string_view client_id,
                                                     uint64_t lifetime_s = kDefaultTokenLifetimeS,
                                                     uint64_t now_s = 0);

// The broker's credentials file (docs/SPEC.md, "Credentials file").
class Credentials {
 public:
  // Adds a copy of the record (its token key in the Credentials' own
  // guarded regions). invalid_argument if the user exists or the record's
  // key was moved from; crypto_failure if there is no guarded memory.
  [[nodiscard]] Status add(const CredentialRecord& record);
  // The user's record, or null: O(1) expected (a hash index). The pointer
  // is valid until the Credentials is changed, moved or destroyed.
  const CredentialRecord* find(std::string_view username) const noexcept;
  size_t size() const noexcept { return records_.size(); }
  // A deep copy, token keys in new guarded regions (crypto_failure if there
  // is none).
  [[nodiscard]] Result<Credentials> clone() const;

  [[nodiscard]] static Result<Credentials> parse(std::string_view text);
  [[nodiscard]] Result<std::string> serialize() const;  // caller wipes it
  // Refuses a file group or others can read unless
  // options.allow_insecure_permissions, and always one owned by neither the
  // effective user nor root or writable by group or others
  // (insecure_permissions): as for keyring files
  // (mqseal/keyring.h). A parse_error says "PATH: line N: why".
  [[nodiscard]] static Result<Credentials> load(const std::string& path, LoadOptions options = {});
  // Atomic and durable, mode 0600; io_error if `path` is a symbolic link or its
  // directory cannot be synced (as Keyring::save).
  [[nodiscard]] Status save(const std::string& path) const;

  Credentials() noexcept;
  Credentials(Credentials&&) noexcept;
  Credentials& operator=(Credentials&&) noexcept;
  ~Credentials();

 private:
  struct Index;  // credentials.cpp: the token keys' guarded regions, a hash index of the usernames
  friend class TokenVerifier;  // moves the token keys out
  void append(std::string username, const PassphraseParams& passphrase, Key token_key);
  std::vector<CredentialRecord> records_;
  std::unique_ptr<Index> index_;  // null until the first record
};

// The ranges TokenVerifier::create accepts for VerifierOptions (the
// mosquitto plugin's options have the same): skew 0 to 1 hour, lifetime
// 1 second to 1 day. Within them no sum of a token's expiry, the skew and the
// lifetime can wrap around, and a token from long ago is always `expired`.
inline constexpr uint64_t kMaxClockSkewLimitS = 3600;
inline constexpr uint64_t kMaxTokenLifetimeLimitS = 86400;
inline constexpr size_t kDefaultMaxTokensPerUser = 64;
inline constexpr size_t kMaxTokensPerUserLimit = 65536;  // the largest max_tokens_per_user accepted
// An accepted token is remembered at least this long after it was accepted,
// even when its expiry + skew comes sooner, so that max_tokens_per_user
// bounds a user's logins per minute, not only its live tokens: a device
// that writes tokens expiring at once (expiry = now - skew) is otherwise
// forgotten the next second and could log in its quota's worth every
// second, each login costing the broker a store write. Tokens of the
// default lifetime (300 s) are remembered longer anyway.
inline constexpr uint64_t kMinTokenMemoryS = 60;

struct VerifierOptions {
  uint64_t max_clock_skew_s = 30;  // tolerated between device and broker: 0..kMaxClockSkewLimitS
  uint64_t max_lifetime_s = 3600;  // refuse tokens that expire later than this from now:
                                   // 1..kMaxTokenLifetimeLimitS
  // Live tokens remembered per user, 1..kMaxTokensPerUserLimit. When a user's
  // own live tokens fill it, that user's next token is refused
  // (capacity_exceeded: fail closed, rather than forget a nonce that could
  // still be replayed) until one of them is past expiry + skew, and at least
  // kMinTokenMemoryS past its acceptance. Other users are not affected. A
  // device making a fresh token per CONNECT needs room for as many CONNECTs
  // as it makes within one token lifetime plus the skew (and at most this
  // many per kMinTokenMemoryS seconds are accepted, whatever the lifetime).
  size_t max_tokens_per_user = kDefaultMaxTokensPerUser;
  // Where accepted tokens are remembered (mqseal/replay_store.h), as claims
  // ("token", username, nonce) kept until expiry + max_clock_skew_s (at
  // least kMinTokenMemoryS past acceptance) with
  // max_tokens_per_user as each user's quota. Null (the default): an
  // in-memory store of the verifier's own, single use for this process's
  // lifetime. open_file_replay_store(): single use across restarts. The
  // store's errors refuse the token (io_error: the store cannot remember it;
  // fail closed). create() refuses (invalid_argument) a store whose
  // capacity() is below (users) x max_tokens_per_user: then no user could
  // fill it for the others (the capacity is per kind of claim: Openers'
  // message claims in a store they share take none of it).
  std::shared_ptr<ReplayStore> replay_store;
};

class TokenVerifier {
 public:
  // invalid_argument for options out of range. The token keys move from
  // `credentials` into the verifier (no copy).
  [[nodiscard]] static Result<TokenVerifier> create(Credentials credentials, VerifierOptions options = {});
  TokenVerifier(TokenVerifier&&) noexcept;
  TokenVerifier& operator=(TokenVerifier&&) noexcept;
  ~TokenVerifier();

  // Checks, in this order: the form of the username and client ID
  // (malformed if either is not an MQTT string: more than 65535 bytes, a
  // U+0000, or not well-formed UTF-8, which no broker delivers; or holds a
  // control character or a noncharacter, as make_connect_token refuses,
  // which mosquitto does not let in), the token's form (malformed,
  // unsupported_version),
  // the MAC over username, client ID, expiry and nonce (authentication_failed:
  // also for a token made for another username or client ID, and for an
  // unknown username, whose MAC is computed with a random key of the
  // verifier's so that neither the answer nor its time tells who is
  // provisioned), the expiry (expired past expiry + max_clock_skew_s;
  // not_yet_valid for one expiring more than max_lifetime_s +
  // max_clock_skew_s from now), that this user did not present the nonce
  // before (replay), and room in the user's quota (capacity_exceeded); then
// the replay store's own errors (io_error: a file store that cannot write
// the claim), which refuse the token.
  // now_s 0: the system clock.
  [[nodiscard]] Status verify(std::string_view username, std::string_view client_id,
                              std::string_view token, uint64_t now_s = 0);

  // Tokens remembered, over all users (those past their keep-until may still be
  // counted until their user's next verify() forgets them): the replay
  // store's remembered() (a shared store's own count).
  size_t remembered_tokens() const;
  // Whether the credentials hold this username: a broker defers the users it
  // does not manage to its other checks before looking at their password.
  bool knows(std::string_view username) const noexcept;

 private:
  struct Impl;
  explicit TokenVerifier(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqseal

#endif  // MQSEAL_CREDENTIALS_H_
