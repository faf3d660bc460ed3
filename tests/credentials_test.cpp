#include <mqseal/credentials.h>
#include <mqseal/hazmat/credentials.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <array>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;

constexpr uint64_t kNow = 1'800'000'000;  // seconds

struct Fixture {
  Provisioned device = take(provision("device-7", "correct horse battery staple", testing::cheap_passphrase_params(7)));
  Provisioned other = take(provision("device-8", "another password", testing::cheap_passphrase_params(7)));
  TokenVerifier verifier = make_verifier();

  TokenVerifier make_verifier(VerifierOptions options = {}) {
    Credentials credentials;
    testing::expect_ok(credentials.add(device.record));
    testing::expect_ok(credentials.add(other.record));
    return take(TokenVerifier::create(std::move(credentials), options));
  }
  std::string token(std::string_view user = "device-7", std::string_view client = "client-7",
                    uint64_t lifetime = 300, uint64_t now = kNow) {
    return take(make_connect_token(device.device_secret, user, client, lifetime, now));
  }
  // A token of device-8, from its own secret.
  std::string other_token(std::string_view client = "client-8", uint64_t lifetime = 300, uint64_t now = kNow) {
    return take(make_connect_token(other.device_secret, "device-8", client, lifetime, now));
  }
};

Errc code(const Status& s) { return s ? static_cast<Errc>(0) : s.error().code(); }

// A name for a failure message: bytes outside printable ASCII as \xNN, at
// most 40 bytes of it.
std::string printable(std::string_view name) {
  static constexpr size_t kShown = 40;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : name.substr(0, kShown)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  if (name.size() > kShown) out += "... (" + std::to_string(name.size()) + " bytes)";
  return out;
}

TEST(Credentials, ProvisionKeepsNoPasswordAndNoDeviceSecretAtTheBroker) {
  Fixture f;
  EXPECT_EQ(f.device.record.username, "device-7");
  // The record's key is a subkey: the same password and salt give the same one ...
  Provisioned again = take(provision("device-7", "correct horse battery staple", testing::cheap_passphrase_params(7)));
  EXPECT_TRUE(again.device_secret.same_bytes(f.device.device_secret));
  EXPECT_TRUE(again.record.token_key.same_bytes(f.device.record.token_key));
  // ... and it is not the device secret.
  EXPECT_FALSE(f.device.record.token_key.same_bytes(f.device.device_secret));
  EXPECT_EQ(provision("bad name", "pw", testing::cheap_passphrase_params(7)).error(), Errc::invalid_argument);
  EXPECT_EQ(provision("x", "", testing::cheap_passphrase_params(7)).error(), Errc::invalid_argument);
}

// A token key is never copied by accident: a record is move-only, like the
// Key it holds; Credentials::add and clone make their own guarded copies.
TEST(Credentials, ARecordIsNeverCopied) {
  static_assert(!std::is_copy_constructible_v<CredentialRecord> && !std::is_copy_assignable_v<CredentialRecord>,
                "a CredentialRecord's token key is copied only by Credentials::add and clone");
  static_assert(std::is_nothrow_move_constructible_v<CredentialRecord>, "records move");
  Fixture f;
  Credentials credentials;
  testing::expect_ok(credentials.add(f.device.record));
  Credentials copy = take(credentials.clone());
  const CredentialRecord moved = std::move(f.device.record);
  ASSERT_NE(copy.find("device-7"), nullptr);
  EXPECT_TRUE(copy.find("device-7")->token_key.same_bytes(moved.token_key));
  EXPECT_TRUE(credentials.find("device-7")->token_key.same_bytes(moved.token_key));
  EXPECT_FALSE(f.device.record.token_key.same_bytes(moved.token_key));  // NOLINT: moved from
}

TEST(Credentials, ATokenIsShortAndAcceptedOnce) {
  Fixture f;
  const std::string token = f.token();
  EXPECT_EQ(token.rfind("mqs1.", 0), 0u);
  EXPECT_EQ(token.size(), 81u);
  testing::expect_ok(f.verifier.verify("device-7", "client-7", token, kNow));
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", token, kNow)), Errc::replay);
  testing::expect_ok(f.verifier.verify("device-7", "client-7", f.token(), kNow));  // a fresh one
  EXPECT_EQ(f.verifier.remembered_tokens(), 2u);
  EXPECT_TRUE(f.verifier.knows("device-7"));
  EXPECT_FALSE(f.verifier.knows("legacy"));
}

TEST(Credentials, ATokenFromAKeyringUsesThePrimaryKeyOfTheName) {
  Fixture f;
  Keyring keys;
  // Not the primary: the token must come from the primary of "connect" only.
  (void)take(keys.generate("telemetry"));
  const KeyId id = take(keys.add("connect", take(f.device.device_secret.clone())));
  const std::string token = take(make_connect_token(keys, "connect", "device-7", "client-7", 300, kNow));
  testing::expect_ok(f.verifier.verify("device-7", "client-7", token, kNow));
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", token, kNow)), Errc::replay);

  // After rotation to another secret, tokens follow the new primary.
  const KeyId other = take(keys.add("connect", take(f.other.device_secret.clone())));
  testing::expect_ok(keys.promote(other));
  const std::string rotated = take(make_connect_token(keys, "connect", "device-8", "client-8", 300, kNow));
  testing::expect_ok(f.verifier.verify("device-8", "client-8", rotated, kNow));
  testing::expect_ok(keys.retire(id));

  EXPECT_EQ(make_connect_token(keys, "missing", "device-7", "client-7").error(), Errc::no_primary_key);
  EXPECT_EQ(make_connect_token(keys, "connect", "", "client-7").error(), Errc::invalid_argument);
  EXPECT_EQ(make_connect_token(keys, "connect", "device-8", "client-8", 0).error(), Errc::invalid_argument);
}

TEST(Credentials, EveryRefusal) {
  Fixture f;
  const std::string token = f.token();
  // An unknown user gets what a wrong MAC gets (the refusal tells nothing
  // about who is provisioned): same code, same detail.
  EXPECT_EQ(code(f.verifier.verify("device-9", "client-7", token, kNow)), Errc::authentication_failed);
  EXPECT_EQ(code(f.verifier.verify("device-8", "client-7", token, kNow)), Errc::authentication_failed);
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-8", token, kNow)), Errc::authentication_failed);
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", f.token("device-7", "client-7", 300, kNow - 400), kNow)),
            Errc::expired);
  // Within the clock skew (30 s) an expired-by-a-little token still passes.
  testing::expect_ok(f.verifier.verify("device-7", "client-7", f.token("device-7", "client-7", 300, kNow - 320), kNow));
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", f.token("device-7", "client-7", 100000, kNow), kNow)),
            Errc::not_yet_valid);
  std::string altered = token;
  altered[40] = altered[40] == 'A' ? 'B' : 'A';
  EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", altered, kNow)), Errc::authentication_failed);
  for (const std::string& bad : {std::string(), std::string("password"), token.substr(0, 80), token + "A",
                                 "mqs2." + token.substr(5), "mqs1." + std::string(76, '!'),
                                 std::string("mqs1.\0", 6) + token.substr(6)}) {
    EXPECT_EQ(code(f.verifier.verify("device-7", "client-7", bad, kNow)), Errc::malformed) << bad;
  }
}

// Names no broker delivers (not MQTT strings: a U+0000, ill-formed UTF-8,
// more than 65535 bytes) and usernames no credentials file holds: a token
// for one could never verify. Before, it was made without complaint (a
// client ID "c\0x" even gave a token for a name Paho would send as "c").
std::vector<std::string> names_no_broker_delivers() {
  using namespace std::string_literals;
  return {"c\0x"s, "\0"s, "\xff"s, "c\xe2\x82"s /* cut short */, "\xc0\x80"s /* an overlong U+0000 */,
          "\xed\xa0\x80"s /* a surrogate */, "\xf4\x90\x80\x80"s /* above U+10FFFF */, std::string(65536, 'c')};
}

// MQTT strings mosquitto refuses in a CONNECT (it closes the connection
// before any plugin sees it: MosquittoPlugin.NoTokenIsMadeForANameMosquittoRefuses
// shows it with a real one): the control characters and the noncharacters,
// at their edges. Before, a token was made for such a client ID.
std::vector<std::string> control_characters() {
  using namespace std::string_literals;
  return {"\x01"s, "c\x1f"s, "\x7f"s, "\r\n"s, "c\xc2\x80"s /* U+0080 */, "\xc2\x85"s /* U+0085 */,
          "\xc2\x9f"s /* U+009F */};
}
std::vector<std::string> noncharacters() {
  using namespace std::string_literals;
  return {"\xef\xb7\x90"s /* U+FDD0 */, "c\xef\xb7\xaf"s /* U+FDEF */, "\xef\xbf\xbe"s /* U+FFFE */,
          "\xef\xbf\xbf"s /* U+FFFF */, "\xf0\x9f\xbf\xbe"s /* U+1FFFE */, "\xf4\x8f\xbf\xbf"s /* U+10FFFF */};
}
std::vector<std::string> names_mosquitto_refuses() {
  std::vector<std::string> names = control_characters();
  for (std::string& name : noncharacters()) names.push_back(std::move(name));
  return names;
}

TEST(Credentials, NoTokenIsMadeForANameNoTokenCouldVerifyFor) {
  Fixture f;
  using namespace std::string_literals;
  Keyring keys;
  (void)take(keys.add("connect", take(f.device.device_secret.clone())));
  const std::array<uint8_t, kTokenNonceSize> nonce{};
  // Every way to make one: the secret, the keyring, the hazmat core.
  auto refusal = [&](const std::string& user, const std::string& client) {
    Result<std::string> direct = make_connect_token(f.device.device_secret, user, client, 300, kNow);
    Result<std::string> keyring = make_connect_token(keys, "connect", user, client, 300, kNow);
    Result<std::string> known_answer =
        hazmat::make_connect_token_with_nonce(f.device.device_secret, user, client, kNow, nonce);
    if (direct || keyring || known_answer) return std::string("made");
    EXPECT_EQ(direct.error().message(), keyring.error().message());
    EXPECT_EQ(direct.error().message(), known_answer.error().message());
    return direct.error().message();
  };
  const std::string bad_username = "invalid argument: usernames are 1-128 characters of [A-Za-z0-9_.@:-]: no token "
                                   "for another username could verify";
  for (const std::string& user : names_no_broker_delivers()) {
    EXPECT_EQ(refusal(user, "client-7"), bad_username) << printable(user);
  }
  for (const std::string& user : names_mosquitto_refuses()) {
    EXPECT_EQ(refusal("device-7" + user, "client-7"), bad_username) << printable(user);
  }
  for (const std::string& user : {"device-7\0"s, ""s, "device 7"s, "d/7"s, "g\xc3\xa4rtnerei"s, std::string(129, 'u')}) {
    EXPECT_EQ(refusal(user, "client-7"), bad_username) << printable(user);
  }
  const std::vector<std::string> bad_clients = names_no_broker_delivers();
  const char* const why[] = {"contains U+0000", "contains U+0000", "is not well-formed UTF-8",
                             "is not well-formed UTF-8", "is not well-formed UTF-8", "is not well-formed UTF-8",
                             "is not well-formed UTF-8", "is longer than 65535 bytes"};
  ASSERT_EQ(bad_clients.size(), std::size(why));
  for (size_t i = 0; i < bad_clients.size(); ++i) {
    EXPECT_EQ(refusal("device-7", bad_clients[i]),
              "invalid argument: the client ID " + std::string(why[i]) +
                  ": no MQTT broker delivers it, so no token for it could verify")
        << printable(bad_clients[i]);
  }
  for (const std::string& client : control_characters()) {
    EXPECT_EQ(refusal("device-7", "device-7/" + client),
              "invalid argument: the client ID contains a control character (U+0001 to U+001F, U+007F to U+009F): "
              "MQTT says no string should, and mosquitto closes the connection of a CONNECT holding one, so no "
              "token for it could verify")
        << printable(client);
  }
  for (const std::string& client : noncharacters()) {
    EXPECT_EQ(refusal("device-7", "device-7/" + client),
              "invalid argument: the client ID contains a Unicode noncharacter (U+FDD0 to U+FDEF, or U+FFFE or "
              "U+FFFF of any plane): MQTT says no string should, and mosquitto closes the connection of a CONNECT "
              "holding one, so no token for it could verify")
        << printable(client);
  }
  // At the edges (mosquitto takes each: MosquittoPlugin.NoTokenIsMadeForANameMosquittoRefuses), made, and verified.
  for (const std::string& client : {""s, "g\xc3\xa4rtnerei/7"s, " "s, "~"s, "\xc2\xa0"s /* U+00A0 */,
                                    "\xef\xb7\x8f"s /* U+FDCF */, "\xef\xb7\xb0"s /* U+FDF0 */,
                                    "\xef\xbf\xbd"s /* U+FFFD */, "\xf0\x9f\xbf\xbd"s /* U+1FFFD */,
                                    "\xf4\x8f\xbf\xbd"s /* U+10FFFD */, std::string(65535, 'c')}) {
    EXPECT_EQ(refusal("device-7", client), "made") << printable(client);
    testing::expect_ok(f.verifier.verify("device-7", client, f.token("device-7", client), kNow));
  }
  const std::string longest(128, 'u');
  EXPECT_EQ(refusal(longest, "c"), "made");
}

// The verifier refuses such names as malformed, by their form, before any
// MAC: whatever the token, and whether or not the name is provisioned (so
// the answer tells nothing about who is). "device-7\0x" is not device-7.
TEST(Credentials, TheVerifierRefusesNamesNoBrokerDeliversByTheirForm) {
  Fixture f;
  using namespace std::string_literals;
  const std::string token = f.token();
  std::vector<std::string> names = names_no_broker_delivers();
  for (std::string& name : names_mosquitto_refuses()) names.push_back(std::move(name));
  for (const std::string& name : names) {
    for (const auto& [user, client] : {std::pair{name, "client-7"s}, std::pair{"device-7"s, name},
                                       std::pair{"device-7"s + name, "client-7"s}, std::pair{name, name}}) {
      const Status s = f.verifier.verify(user, client, token, kNow);
      ASSERT_FALSE(s);
      EXPECT_EQ(s.error().code(), Errc::malformed);
      EXPECT_EQ(s.error().detail(),
                "a username or client ID mosquitto refuses (no MQTT string, or a control character or noncharacter "
                "in it)")
          << printable(user) << " " << printable(client);
    }
  }
  EXPECT_EQ(code(f.verifier.verify("device-7\0x"s, "client-7", token, kNow)), Errc::malformed);
  testing::expect_ok(f.verifier.verify("device-7", "client-7", token, kNow));  // nothing was remembered
}

TEST(Credentials, EveryByteFlipOfATokenIsRefused) {
  // All 255 flips of every byte: one token has exactly one valid spelling
  // (libsodium's base64 decoder alone would take some non-ASCII bytes as '_').
  Fixture f;
  const std::string token = f.token();
  for (size_t pos = 0; pos < token.size(); ++pos) {
    for (int flip = 1; flip < 256; ++flip) {
      std::string mutated = token;
      mutated[pos] = static_cast<char>(mutated[pos] ^ flip);
      TokenVerifier fresh = f.make_verifier();
      ASSERT_FALSE(fresh.verify("device-7", "client-7", mutated, kNow)) << pos << " ^ " << flip;
    }
  }
}

TEST(Credentials, ValidNonceCacheIsBoundedAndFailsClosed) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 3;
  TokenVerifier small = f.make_verifier(options);
  for (int i = 0; i < 3; ++i) testing::expect_ok(small.verify("device-7", "c", f.token("device-7", "c", 60, kNow), kNow));
  EXPECT_EQ(code(small.verify("device-7", "c", f.token("device-7", "c", 60, kNow), kNow)), Errc::capacity_exceeded);
  // Once those tokens have expired (past the skew), there is room again.
  testing::expect_ok(small.verify("device-7", "c", f.token("device-7", "c", 60, kNow + 200), kNow + 200));
  EXPECT_EQ(small.remembered_tokens(), 1u);
}

TEST(Credentials, AnUnknownUserIsRefusedExactlyLikeAWrongMac) {
  Fixture f;
  const std::string token = f.token();
  const Status unknown = f.verifier.verify("device-9", "client-7", token, kNow);
  const Status wrong_mac = f.verifier.verify("device-8", "client-7", token, kNow);  // a provisioned user
  ASSERT_FALSE(unknown);
  ASSERT_FALSE(wrong_mac);
  EXPECT_EQ(unknown.error().code(), Errc::authentication_failed);
  EXPECT_EQ(unknown.error().code(), wrong_mac.error().code());
  EXPECT_EQ(unknown.error().message(), wrong_mac.error().message());
  // Whatever the unknown name looks like (even one no credentials file could
  // hold), if it is an MQTT string: names no broker delivers are refused by
  // their form (TheVerifierRefusesNamesNoBrokerDeliversByTheirForm).
  for (const char* name : {"x", "device-77", "bad name", "g\xc3\xa4rtnerei"}) {
    const Status s = f.verifier.verify(name, "client-7", token, kNow);
    ASSERT_FALSE(s) << name;
    EXPECT_EQ(s.error().message(), wrong_mac.error().message()) << name;
  }
  EXPECT_FALSE(f.verifier.knows("device-9"));  // the plugin still asks, to defer users it does not manage
  testing::expect_ok(f.verifier.verify("device-7", "client-7", token, kNow));  // nothing was remembered
}

// Issue 14, item 4: a token exactly max_clock_skew_s past its expiry still
// verifies; one second more is expired.
TEST(Credentials, ExpiryIsToleratedExactlyUpToTheSkew) {
  Fixture f;
  const uint64_t skew = VerifierOptions{}.max_clock_skew_s;
  testing::expect_ok(f.verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow - 60 - skew), kNow));
  EXPECT_EQ(code(f.verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow - 61 - skew), kNow)),
            Errc::expired);
}

// Issue 14, item 5: a token expiring exactly max_lifetime_s + max_clock_skew_s
// ahead verifies; one second more is not_yet_valid.
TEST(Credentials, LifetimeIsBoundedExactlyAtLifetimePlusSkew) {
  Fixture f;
  const VerifierOptions o;
  const uint64_t bound = o.max_lifetime_s + o.max_clock_skew_s;
  testing::expect_ok(f.verifier.verify("device-7", "c", f.token("device-7", "c", bound, kNow), kNow));
  EXPECT_EQ(code(f.verifier.verify("device-7", "c", f.token("device-7", "c", bound + 1, kNow), kNow)),
            Errc::not_yet_valid);
}

// Issue 8, section 2, scaled down: one device with valid credentials mints as
// many long-lived tokens as it likes and logs in with each. It fills only its
// own quota; every other device keeps logging in.
TEST(Credentials, OneUserFillingItsQuotaLocksOutOnlyItself) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 8;
  TokenVerifier verifier = f.make_verifier(options);
  for (size_t i = 0; i < options.max_tokens_per_user; ++i) {
    testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 3600, kNow), kNow));
  }
  for (int i = 0; i < 1000; ++i) {  // the flood goes on: refused, and remembered nowhere
    ASSERT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 3600, kNow + 1), kNow + 1)),
              Errc::capacity_exceeded);
  }
  // Another device's fresh token is accepted, as often as its own quota allows.
  for (size_t i = 0; i < options.max_tokens_per_user; ++i) {
    testing::expect_ok(verifier.verify("device-8", "client-8", f.other_token("client-8", 300, kNow + 2), kNow + 2));
  }
  EXPECT_EQ(code(verifier.verify("device-8", "client-8", f.other_token("client-8", 300, kNow + 2), kNow + 2)),
            Errc::capacity_exceeded);
  EXPECT_EQ(verifier.remembered_tokens(), 2 * options.max_tokens_per_user);
  // A replay is still a replay, full or not.
  const std::string first = f.other_token("client-8", 300, kNow + 3);
  TokenVerifier fresh = f.make_verifier(options);
  testing::expect_ok(fresh.verify("device-8", "client-8", first, kNow + 3));
  EXPECT_EQ(code(fresh.verify("device-8", "client-8", first, kNow + 3)), Errc::replay);
  // device-8's tokens expire (past the skew) before device-7's: room again for
  // device-8 only.
  const uint64_t later = kNow + 2 + 300 + options.max_clock_skew_s + 1;
  testing::expect_ok(verifier.verify("device-8", "client-8", f.other_token("client-8", 300, later), later));
  EXPECT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 60, later), later)),
            Errc::capacity_exceeded);
}

// Issue 14, item 1: a remembered token is dropped only once it is past its
// expiry plus the skew, never at its expiry: until then it would verify again.
TEST(Credentials, AFullQuotaForgetsATokenOnlyPastExpiryPlusSkew) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 2;
  options.max_clock_skew_s = 30;
  TokenVerifier verifier = f.make_verifier(options);
  const std::string first = f.token("device-7", "c", 60, kNow);
  testing::expect_ok(verifier.verify("device-7", "c", first, kNow));
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow), kNow));
  // T + 70: both expired, but within the skew, so both still verify: remembered.
  EXPECT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow + 70), kNow + 70)),
            Errc::capacity_exceeded);
  EXPECT_EQ(code(verifier.verify("device-7", "c", first, kNow + 70)), Errc::replay);
  // T + 90 is expiry + skew exactly: still remembered. One second later, gone.
  EXPECT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow + 90), kNow + 90)),
            Errc::capacity_exceeded);
  EXPECT_EQ(code(verifier.verify("device-7", "c", first, kNow + 90)), Errc::replay);
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow + 91), kNow + 91));
  EXPECT_EQ(code(verifier.verify("device-7", "c", first, kNow + 91)), Errc::expired);
  EXPECT_EQ(verifier.remembered_tokens(), 1u);
}

// A device chooses its tokens' expiry. One that wrote tokens expiring at
// once (expiry = now - skew, still accepted) had each forgotten the next
// second, so the quota bounded only its live tokens: 64 logins every second,
// each a store write on the broker's thread (640 in this loop). Each accepted
// token is now remembered kMinTokenMemoryS at least: 64 logins a minute.
TEST(Credentials, TokensThatExpireAtOnceStillCountAMinuteAgainstTheQuota) {
  Fixture f;
  const VerifierOptions options;
  TokenVerifier verifier = f.make_verifier(options);
  const uint64_t skew = options.max_clock_skew_s;
  auto expiring_at_once = [&](uint64_t now) { return f.token("device-7", "c", 1, now - skew - 1); };
  size_t accepted = 0;
  for (uint64_t second = 0; second < 10; ++second) {
    for (int i = 0; i < 100; ++i) {
      const uint64_t now = kNow + second;
      const Status s = verifier.verify("device-7", "c", expiring_at_once(now), now);
      if (s) {
        ++accepted;
      } else {
        ASSERT_EQ(s.error().code(), Errc::capacity_exceeded) << s.error().message();
      }
    }
  }
  EXPECT_EQ(accepted, options.max_tokens_per_user);
  // Remembered through kNow + kMinTokenMemoryS, forgotten one second later.
  EXPECT_EQ(code(verifier.verify("device-7", "c", expiring_at_once(kNow + kMinTokenMemoryS), kNow + kMinTokenMemoryS)),
            Errc::capacity_exceeded);
  testing::expect_ok(
      verifier.verify("device-7", "c", expiring_at_once(kNow + kMinTokenMemoryS + 1), kNow + kMinTokenMemoryS + 1));
  // The other device was never affected.
  testing::expect_ok(verifier.verify("device-8", "client-8", f.other_token("client-8", 300, kNow + 5), kNow + 5));
}

// Tokens of different lifetimes: each is forgotten when it is past its own
// expiry plus the skew, whatever the order they came in.
TEST(Credentials, EachTokenIsForgottenAtItsOwnExpiry) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 3;
  TokenVerifier verifier = f.make_verifier(options);
  const std::string long_lived = f.token("device-7", "c", 3000, kNow);
  testing::expect_ok(verifier.verify("device-7", "c", long_lived, kNow));
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow), kNow));
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 1000, kNow), kNow));
  const uint64_t later = kNow + 60 + options.max_clock_skew_s + 1;  // the 60 s token is gone, no other
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 60, later), later));
  EXPECT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 60, later), later)),
            Errc::capacity_exceeded);
  EXPECT_EQ(code(verifier.verify("device-7", "c", long_lived, later)), Errc::replay);
  EXPECT_EQ(verifier.remembered_tokens(), 3u);
}

// Found by fuzzing (tests/fuzz/regressions/token_verifier): two tokens
// remembered, a day later a fresh login makes the verifier forget them, then
// the broker's clock steps back a day: the first token must not verify again.
TEST(Credentials, AClockSteppingBackDoesNotBringBackAForgottenToken) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 2;
  TokenVerifier verifier = f.make_verifier(options);
  const std::string first = f.token("device-7", "c", 300, kNow);
  testing::expect_ok(verifier.verify("device-7", "c", first, kNow));
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 300, kNow), kNow));
  const uint64_t day = 24 * 3600;
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 300, kNow + day), kNow + day));
  EXPECT_EQ(code(verifier.verify("device-7", "c", first, kNow + 10)), Errc::expired);
  // A small step back (shorter than a token's lifetime plus the skew) refuses nothing new.
  testing::expect_ok(verifier.verify("device-7", "c", f.token("device-7", "c", 300, kNow + day - 60), kNow + day - 60));
}

// At the widest skew create() allows, a remembered token is still kept until
// it is past expiry + skew (no sum wraps into "long expired").
TEST(Credentials, TheWidestSkewStillRemembersATokenUntilItIsPastIt) {
  Fixture f;
  VerifierOptions options;
  options.max_tokens_per_user = 1;
  options.max_clock_skew_s = kMaxClockSkewLimitS;
  TokenVerifier verifier = f.make_verifier(options);
  const std::string first = f.token("device-7", "c", 3600, kNow);
  testing::expect_ok(verifier.verify("device-7", "c", first, kNow));
  EXPECT_EQ(code(verifier.verify("device-7", "c", f.token("device-7", "c", 60, kNow + 10), kNow + 10)),
            Errc::capacity_exceeded);
  EXPECT_EQ(code(verifier.verify("device-7", "c", first, kNow + 3600 + kMaxClockSkewLimitS)), Errc::replay);
}

// Options whose sums could wrap are refused: with a skew of 2^64-1 a token
// from 1970 was accepted, and its table entry (expiry + skew, wrapped) was
// dropped at once, so it could be replayed.
TEST(Credentials, VerifierOptionsOutOfRangeAreRefused) {
  Fixture f;
  auto refused = [&f](uint64_t skew, uint64_t lifetime, size_t tokens = 64) {
    Credentials credentials;
    testing::expect_ok(credentials.add(f.device.record));
    VerifierOptions options;
    options.max_clock_skew_s = skew;
    options.max_lifetime_s = lifetime;
    options.max_tokens_per_user = tokens;
    Result<TokenVerifier> made = TokenVerifier::create(std::move(credentials), options);
    return !made && made.error().code() == Errc::invalid_argument;
  };
  EXPECT_TRUE(refused(UINT64_MAX, 3600));
  EXPECT_TRUE(refused(kMaxClockSkewLimitS + 1, 3600));
  EXPECT_TRUE(refused(30, UINT64_MAX));
  EXPECT_TRUE(refused(30, kMaxTokenLifetimeLimitS + 1));
  EXPECT_TRUE(refused(30, 0));
  EXPECT_FALSE(refused(0, 1));
  EXPECT_FALSE(refused(kMaxClockSkewLimitS, kMaxTokenLifetimeLimitS));
  EXPECT_TRUE(refused(30, 3600, 0));
  EXPECT_TRUE(refused(30, 3600, kMaxTokensPerUserLimit + 1));
  EXPECT_FALSE(refused(30, 3600, 1));
  EXPECT_FALSE(refused(30, 3600, kMaxTokensPerUserLimit));
  // At the limits, a token from 1970 is expired, and stays refused.
  VerifierOptions widest;
  widest.max_clock_skew_s = kMaxClockSkewLimitS;
  widest.max_lifetime_s = kMaxTokenLifetimeLimitS;
  TokenVerifier verifier = f.make_verifier(widest);
  const std::string old = take(make_connect_token(f.device.device_secret, "device-7", "c", 60, 1));
  EXPECT_EQ(code(verifier.verify("device-7", "c", old, kNow)), Errc::expired);
  EXPECT_EQ(code(verifier.verify("device-7", "c", old, kNow)), Errc::expired);
}

// A 0600 credentials file owned by another user is refused (the broker would
// otherwise let that user add devices); root's own files load.
TEST(Credentials, LoadRefusesAFileOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown a file to another user";
  Fixture f;
  testing::TempDir dir;
  Credentials credentials;
  testing::expect_ok(credentials.add(f.device.record));
  const std::string path = dir.file("broker.credentials");
  testing::expect_ok(credentials.save(path));
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);  // nobody
  for (const bool allow_insecure_permissions : {false, true}) {
    Result<Credentials> loaded = Credentials::load(path, {allow_insecure_permissions});
    ASSERT_FALSE(loaded) << allow_insecure_permissions;
    EXPECT_EQ(loaded.error(), Errc::insecure_permissions);
  }
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(Credentials::load(path));
}

// A credentials file larger than 256 MiB (docs/SPEC.md, section 11: room for
// 1 000 000 devices) is refused before it is read, even one that would parse
// (a long comment); one of exactly 256 MiB loads.
TEST(Credentials, AFileLargerThan256MiBIsRefused) {
  constexpr size_t kBound = size_t{256} << 20;
  testing::TempDir dir;
  const std::string path = dir.file("big.credentials");
  auto write = [&path](size_t size) {
    std::string text = "mqseal-credentials v1\n#";
    text.resize(size, 'x');
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  };
  write(kBound);
  EXPECT_TRUE(Credentials::load(path));
  write(kBound + 1);
  Result<Credentials> big = Credentials::load(path);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), Errc::parse_error);
  EXPECT_NE(big.error().message().find("larger than"), std::string::npos) << big.error().message();
}

// The process's memory mappings (lines of /proc/self/maps).
size_t mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

// This process's resident memory, VmRSS or its peak VmHWM, in KiB.
size_t resident_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1));
  }
  ADD_FAILURE() << field << " not in /proc/self/status";
  return 0;
}

// A broken credentials file (here 32 MiB of lines that start as a record
// does, "user ", and hold nothing more) is refused without reserving room
// for records it cannot hold. Before, parse() reserved a guarded key slot,
// which libsodium fills, and two index slots for each such line: 5.6 million
// here, over 300 MB resident; a file at the 256 MiB bound, read again at a
// broker's reload, took gigabytes.
TEST(Credentials, AFileOfShortUserLinesReservesNoRoomForRecords) {
  constexpr size_t kTextSize = size_t{32} << 20;
  constexpr size_t kMostKib = 32 * 1024;  // 32 MiB more than before parse() at most (the text is resident already)
  std::string text = "mqseal-credentials v1\n";
  text.reserve(kTextSize + 8);
  while (text.size() < kTextSize) text += "user \n";
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to VmRSS
  const size_t before = resident_kib("VmRSS");
  Result<Credentials> refused = Credentials::parse(text);
  const size_t peak = resident_kib("VmHWM");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::parse_error);
  EXPECT_NE(refused.error().message().find("line 2"), std::string::npos) << refused.error().message();
  EXPECT_LT(peak - before, kMostKib) << "KiB resident at the peak of parse()";
}

// Token keys share a few guarded regions: 70 000 users (more than Linux's
// default vm.max_map_count of 65 530 allows at four map entries per key,
// past which libsodium silently allocates without guard pages) load, copy
// and add in a handful of new mappings, and the first and the last user log
// in. Loading is O(n) expected (70 000 users took 6.8 s when each one looked
// for duplicates through every earlier one).
TEST(Credentials, SeventyThousandUsersTakeAFewGuardedRegions) {
  constexpr size_t kUsers = 70000;
  constexpr size_t kMaxNewMappings = 64;
  const Key first_secret = take(Key::generate());
  const Key last_secret = take(Key::generate());
  Credentials ends;
  testing::expect_ok(ends.add(take(credential_record("user-0", first_secret, testing::cheap_passphrase_params()))));
  testing::expect_ok(ends.add(take(credential_record("user-" + std::to_string(kUsers - 1), last_secret,
                                                     testing::cheap_passphrase_params()))));
  const std::string ends_text = take(ends.serialize());
  const size_t second_line = ends_text.find('\n') + 1;
  const size_t third_line = ends_text.find('\n', second_line) + 1;
  std::string text = ends_text.substr(0, third_line);  // the header and user-0
  std::mt19937_64 rng(70000);
  for (size_t u = 1; u + 1 < kUsers; ++u) {
    text += "user user-" + std::to_string(u) + " argon2id 07070707070707070707070707070707 1 8192 ";
    for (int i = 0; i < 4; ++i) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
      text += hex;
    }
    text += "\n";
  }
  text += ends_text.substr(third_line);  // the last user
  testing::TempDir dir;
  const std::string path = dir.file("many.credentials");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);

  const size_t before = mappings();
  Credentials loaded = take(Credentials::load(path));
  EXPECT_LE(mappings(), before + kMaxNewMappings);
  ASSERT_EQ(loaded.size(), kUsers);
  ASSERT_NE(loaded.find("user-0"), nullptr);
  ASSERT_NE(loaded.find("user-69999"), nullptr);
  EXPECT_TRUE(loaded.find("user-0")->token_key.same_bytes(ends.find("user-0")->token_key));
  EXPECT_TRUE(loaded.find("user-69999")->token_key.same_bytes(ends.find("user-69999")->token_key));
  EXPECT_FALSE(loaded.find("user-1")->token_key.same_bytes(loaded.find("user-2")->token_key));
  EXPECT_EQ(loaded.find("user-70000"), nullptr);

  // A copy, and every record added one by one, stay in few regions too.
  Credentials copy = take(loaded.clone());
  Credentials added;
  for (size_t u = kUsers; u-- > 0;) testing::expect_ok(added.add(*loaded.find("user-" + std::to_string(u))));
  EXPECT_LE(mappings(), before + 3 * kMaxNewMappings);
  EXPECT_EQ(added.add(*loaded.find("user-5")).error(), Errc::invalid_argument);  // a duplicate

  for (Credentials* credentials : {&loaded, &copy, &added}) {
    TokenVerifier verifier = take(TokenVerifier::create(std::move(*credentials)));
    const std::string first = take(make_connect_token(first_secret, "user-0", "c", 300, kNow));
    const std::string last = take(make_connect_token(last_secret, "user-69999", "c", 300, kNow));
    EXPECT_TRUE(verifier.verify("user-0", "c", first, kNow));
    EXPECT_TRUE(verifier.verify("user-69999", "c", last, kNow));
    EXPECT_EQ(code(verifier.verify("user-0", "c", first, kNow)), Errc::replay);
    EXPECT_EQ(code(verifier.verify("user-1", "c", first, kNow)), Errc::authentication_failed);
    EXPECT_TRUE(verifier.knows("user-35000"));
    EXPECT_FALSE(verifier.knows("user-70000"));
  }
}

TEST(Credentials, TenThousandMalformedUsernamesAndPasswordsAreRefused) {
  Fixture f;
  const std::string good = f.token();
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10000; ++i) {
    std::string user(rng() % 40, '\0');
    for (char& c : user) c = static_cast<char>(rng());
    std::string password = good;
    if (i % 2 == 0) {
      password.assign(rng() % 200, '\0');
      for (char& c : password) c = static_cast<char>(rng());
    } else {
      password[rng() % password.size()] ^= static_cast<char>(1 + rng() % 255);  // always a change
    }
    if (i % 500 == 0) password.assign(70000, 'x');  // oversized
    EXPECT_FALSE(f.verifier.verify(i % 3 == 0 ? std::string_view("device-7") : std::string_view(user), "client-7",
                                   password, kNow))
        << i;
  }
}

TEST(Credentials, FileRoundTripIs0600AndStrict) {
  Fixture f;
  testing::TempDir dir;
  Credentials credentials;
  testing::expect_ok(credentials.add(f.device.record));
  EXPECT_EQ(credentials.add(f.device.record).error(), Errc::invalid_argument);
  const std::string path = dir.file("broker.credentials");
  testing::expect_ok(credentials.save(path));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Credentials back = take(Credentials::load(path));
  ASSERT_NE(back.find("device-7"), nullptr);
  EXPECT_TRUE(back.find("device-7")->token_key.same_bytes(f.device.record.token_key));
  chmod(path.c_str(), 0644);
  EXPECT_EQ(Credentials::load(path).error(), Errc::insecure_permissions);
  const std::string text = testing::read_file(path);
  for (const std::string& bad : {std::string("mqseal-credentials v2\n"), std::string(""),
                                 text + "user device-7 argon2id 00 1 8192 00\n", text + text.substr(text.find('\n') + 1),
                                 std::string("mqseal-credentials v1\nuser a b c d e f g\n"),
                                 std::string("mqseal-credentials v1\nuser  x argon2id\n")}) {
    EXPECT_EQ(Credentials::parse(bad).error(), Errc::parse_error) << bad;
  }
}

// 64-bit integers are decimal strings in the vectors (docs/SPEC.md, section 13).
uint64_t u64(const nlohmann::json& j) {
  EXPECT_TRUE(j.is_string()) << "64-bit integers are written as strings: " << j.dump();
  return std::stoull(j.get<std::string>());
}

TEST(Credentials, KnownAnswerVectors) {
  std::ifstream in(std::string(MQSEAL_VECTORS_DIR) + "/connect_token_v1.json");
  const nlohmann::json doc = nlohmann::json::parse(in);
  const nlohmann::json& p = doc["provisioning"];
  PassphraseParams params;
  const std::string salt = p["salt"];
  for (size_t i = 0; i < params.salt.size(); ++i) {
    params.salt[i] = static_cast<uint8_t>(std::stoi(salt.substr(2 * i, 2), nullptr, 16));
  }
  params.opslimit = u64(p["opslimit"]);
  params.memlimit = u64(p["memlimit"]);  // bytes
  Provisioned provisioned = take(provision(p["username"].get<std::string>(), p["password"].get<std::string>(), params));
  const std::string token_key_hex = p["token_key"];
  std::array<uint8_t, kKeySize> token_key{};
  for (size_t i = 0; i < token_key.size(); ++i) {
    token_key[i] = static_cast<uint8_t>(std::stoi(token_key_hex.substr(2 * i, 2), nullptr, 16));
  }
  EXPECT_TRUE(provisioned.record.token_key.same_bytes(take(Key::from_bytes(ByteView(token_key)))));
  for (const nlohmann::json& t : doc["tokens"]) {
    std::array<uint8_t, kTokenNonceSize> nonce{};
    const std::string nonce_hex = t["nonce"];
    for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(std::stoi(nonce_hex.substr(2 * i, 2), nullptr, 16));
    EXPECT_EQ(take(hazmat::make_connect_token_with_nonce(provisioned.device_secret, t["username"].get<std::string>(),
                                                 t["client_id"].get<std::string>(), u64(t["expiry_s"]), nonce)),
              t["token"].get<std::string>());
  }
  VerifierOptions options;
  options.max_clock_skew_s = u64(doc["verifier"]["max_clock_skew_s"]);
  options.max_lifetime_s = u64(doc["verifier"]["max_lifetime_s"]);
  auto fresh_verifier = [&] {
    Credentials credentials;
    testing::expect_ok(credentials.add(provisioned.record));
    return take(TokenVerifier::create(std::move(credentials), options));
  };
  auto check = [](TokenVerifier& verifier, const nlohmann::json& c) {
    Status s = verifier.verify(c["username"].get<std::string>(), c["client_id"].get<std::string>(),
                               c["token"].get<std::string>(), u64(c["now_s"]));
    EXPECT_EQ(s ? std::string("ok") : std::string(name(s.error().code())), c["expect"].get<std::string>())
        << c["name"];
  };
  // Each case with a fresh verifier.
  for (const nlohmann::json& c : doc["verify"]) {
    TokenVerifier verifier = fresh_verifier();
    check(verifier, c);
  }
  // Each sequence's steps in order against one verifier.
  size_t replays = 0;
  for (const nlohmann::json& seq : doc["verify_sequences"]) {
    SCOPED_TRACE(seq["name"].get<std::string>());
    TokenVerifier verifier = fresh_verifier();
    for (const nlohmann::json& step : seq["steps"]) {
      check(verifier, step);
      replays += step["expect"] == "replay";
    }
  }
  EXPECT_GE(doc["verify"].size(), 15u);
  EXPECT_GE(replays, 3u);
}

}  // namespace
}  // namespace mqseal
