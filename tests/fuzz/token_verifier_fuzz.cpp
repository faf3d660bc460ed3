// Fuzz target: TokenVerifier::verify on arbitrary usernames, client IDs,
// tokens and clock steps, mixed with real tokens, replayed and mutated.
//
// Three provisioned users with fixed device secrets; the verifier remembers
// 1..16 tokens per user (byte 0, low 4 bits), so the full-quota path runs
// too; byte 0 bit 4 puts them in a file replay store (in a fresh directory
// under /dev/shm, or /tmp) instead of memory. Then ops, the low 3 bits of the
// first byte saying which:
//   0 mint a token (user, client ID, expiry = now + int8 minutes, 2 nonce
//     bytes) and present it, possibly as another user (bit 5) or client (bit 6);
//     a (user, nonce) minted before presents that earlier token instead
//   1 present an earlier minted token again (2-byte index), as minted
//   2 present an earlier minted token with up to 4 bytes changed
//   3 present arbitrary username, client ID and token (length-prefixed)
//   4 step the broker's clock by int8 * unit (bits 2-3: 1 s, 1 min, 1 h, 1 day),
//     either way
//   5 with bit 3, and a file store: restart (the verifier and the store
//     closed, the store reopened from its file, a new verifier)
//   5-7 otherwise as 0
//
// Crashes on: a token accepted that we never minted (a forgery), one accepted
// for another user or client ID, outside its validity, or twice (the same
// user and nonce; across a restart too, unless its expiry + skew was below
// the latest clock before the restart or the system clock at it: the store
// may have forgotten it then, as docs/SECURITY.md says).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "mqseal/credentials.h"
#include "mqseal/hazmat/credentials.h"
#include "mqseal/replay_store.h"

namespace {

using mqseal::fuzz::check;
using mqseal::fuzz::fail;

constexpr uint64_t kStartS = 1'800'000'000;
constexpr uint64_t kUnitsS[] = {1, 60, 3600, 86400};
constexpr size_t kMaxOps = 128;
constexpr size_t kMaxEdits = 4;
const char* const kUsers[] = {"device-1", "device-2", "sensor.7@plant:a"};
constexpr size_t kUserCount = sizeof kUsers / sizeof kUsers[0];
const char* const kClients[] = {"client-1", "client-2", "c"};
constexpr size_t kClientCount = sizeof kClients / sizeof kClients[0];

mqseal::Key device_secret(size_t user) {
  uint8_t bytes[mqseal::kKeySize];
  for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<uint8_t>(0xa0 + 16 * user + i);
  mqseal::Result<mqseal::Key> key = mqseal::Key::from_bytes(mqseal::ByteView(bytes, sizeof bytes));
  check(key.ok(), "Key::from_bytes");
  return std::move(*key);
}

struct World {
  mqseal::Credentials credentials;
  std::vector<mqseal::Key> secrets;
  World() {
    mqseal::PassphraseParams params;
    params.salt.fill(0x5a);
    params.opslimit = 2;
    params.memlimit = 64u << 20;
    for (size_t u = 0; u < kUserCount; ++u) {
      secrets.push_back(device_secret(u));
      mqseal::Result<mqseal::CredentialRecord> record = mqseal::credential_record(kUsers[u], secrets.back(), params);
      check(record.ok(), "credential_record");
      check(credentials.add(std::move(*record)).ok(), "Credentials::add");
    }
  }
};

const World& world() {
  static const World w;
  return w;
}

struct Minted {
  size_t user;
  size_t client;
  uint64_t expiry_s;
  std::array<uint8_t, mqseal::kTokenNonceSize> nonce;
};

struct Run {
  mqseal::VerifierOptions options;
  uint64_t now = kStartS;
  uint64_t latest = kStartS;  // the latest `now` so far
  std::map<std::string, Minted> minted;  // token text -> what it was made for
  std::vector<std::string> order;        // minted tokens, oldest first
  std::map<std::pair<size_t, std::array<uint8_t, mqseal::kTokenNonceSize>>, std::string> by_nonce;
  std::map<std::pair<size_t, std::array<uint8_t, mqseal::kTokenNonceSize>>, uint64_t> accepted;  // -> expiry

  void present(mqseal::TokenVerifier& verifier, std::string_view user, std::string_view client,
               std::string_view token) {
    const mqseal::Status s = verifier.verify(user, client, token, now);
    if (!s) return;
    const auto it = minted.find(std::string(token));
    if (it == minted.end()) fail("accepted a token never minted (forgery)");
    const Minted m = it->second;
    check(user == kUsers[m.user] && client == kClients[m.client], "accepted a token for another user or client ID");
    check(now <= m.expiry_s + options.max_clock_skew_s, "accepted an expired token");
    check(m.expiry_s <= now + options.max_lifetime_s + options.max_clock_skew_s,
          "accepted a token valid for longer than max_lifetime");
    if (!accepted.emplace(std::make_pair(m.user, m.nonce), m.expiry_s).second) {
      if (now < latest) fail("a token accepted twice, after the broker's clock stepped back");
      fail("a token accepted twice");
    }
  }
};

// Devices draw nonces at random, so an honest device never makes two tokens
// with one nonce: naming a (user, nonce) minted before presents that token again.
std::string mint(Run& run, size_t user, size_t client, uint64_t expiry_s, uint16_t nonce_bits) {
  Minted m{user, client, expiry_s, {}};
  m.nonce[0] = static_cast<uint8_t>(nonce_bits >> 8);
  m.nonce[1] = static_cast<uint8_t>(nonce_bits);
  const auto earlier = run.by_nonce.find({user, m.nonce});
  if (earlier != run.by_nonce.end()) return earlier->second;
  mqseal::Result<std::string> token = mqseal::hazmat::make_connect_token_with_nonce(
      world().secrets[user], kUsers[user], kClients[client], expiry_s, m.nonce);
  check(token.ok(), "make_connect_token_with_nonce");
  run.minted.emplace(*token, m);
  run.by_nonce.emplace(std::make_pair(user, m.nonce), *token);
  run.order.push_back(*token);
  return std::move(*token);
}

}  // namespace

// Encoders for the op format above, for readable seeds.
namespace {

struct Program {
  std::vector<uint8_t> bytes;
  explicit Program(uint8_t capacity) : bytes{static_cast<uint8_t>(capacity - 1)} {}
  Program& mint(uint8_t user, uint8_t client, int8_t minutes, uint16_t nonce, bool as_other_user = false,
                bool as_other_client = false) {
    bytes.insert(bytes.end(), {static_cast<uint8_t>((as_other_user ? 0x20 : 0) | (as_other_client ? 0x40 : 0)), user,
                               client, static_cast<uint8_t>(minutes), static_cast<uint8_t>(nonce >> 8),
                               static_cast<uint8_t>(nonce)});
    return *this;
  }
  Program& again(uint16_t which) {
    bytes.insert(bytes.end(), {1, static_cast<uint8_t>(which >> 8), static_cast<uint8_t>(which)});
    return *this;
  }
  Program& mutated(uint16_t which, std::vector<std::pair<uint8_t, char>> edits) {
    bytes.insert(bytes.end(), {2, static_cast<uint8_t>(which >> 8), static_cast<uint8_t>(which),
                               static_cast<uint8_t>(edits.size() - 1)});
    for (const auto& [pos, value] : edits) bytes.insert(bytes.end(), {pos, static_cast<uint8_t>(value)});
    return *this;
  }
  Program& arbitrary(std::string_view user, std::string_view client, std::string_view token) {
    bytes.push_back(3);
    for (std::string_view field : {user, client, token}) {
      bytes.push_back(static_cast<uint8_t>(field.size()));
      bytes.insert(bytes.end(), field.begin(), field.end());
    }
    return *this;
  }
  Program& clock(uint8_t unit, int8_t steps) {
    bytes.insert(bytes.end(), {static_cast<uint8_t>(4 | unit << 2), static_cast<uint8_t>(steps)});
    return *this;
  }
  Program& restart() {
    bytes.push_back(5 | 8);
    return *this;
  }
  Program& in_a_file() {
    bytes[0] |= 0x10;
    return *this;
  }
};

}  // namespace

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  constexpr uint8_t kMinute = 1;
  constexpr uint8_t kHour = 2;
  return {
      {"mint-and-replay", Program(16).mint(0, 0, 5, 1).again(0).bytes},
      {"other-user-and-client", Program(16).mint(0, 0, 5, 1, true).mint(1, 1, 5, 2, false, true).bytes},
      {"expired-after-clock-step", Program(16).mint(0, 0, 1, 3).clock(kMinute, 10).mint(0, 0, -5, 4).bytes},
      {"too-long-lived", Program(16).mint(2, 2, 127, 5).bytes},
      {"mutated", Program(16).mint(0, 0, 5, 6).mutated(0, {{10, 'A'}, {80, 'B'}}).bytes},
      {"full-table-then-clock",
       Program(2).mint(0, 0, 1, 7).mint(1, 0, 1, 8).mint(2, 0, 1, 9).clock(kHour, 2).mint(2, 1, 1, 10).bytes},
      {"arbitrary", Program(16).arbitrary("device-1", "client-1", "mqs1." + std::string(76, 'A')).bytes},
      {"file-store-restart",
       Program(2).in_a_file().mint(0, 0, 5, 11).mint(1, 0, 5, 12).restart().again(0).again(1).mint(0, 0, 5, 13)
           .mint(0, 0, 5, 14).restart().mint(0, 0, 5, 15).bytes},
  };
}

namespace {

// A fresh directory for one input's replay store file, removed afterwards.
struct StoreDir {
  std::string dir;
  StoreDir() {
    std::string t = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/mqseal-fuzz-XXXXXX");
    check(mkdtemp(t.data()) != nullptr, "mkdtemp");
    dir = t;
  }
  std::string file() const { return dir + "/replay"; }
  ~StoreDir() {
    unlink(file().c_str());
    rmdir(dir.c_str());
  }
};

mqseal::TokenVerifier make_verifier(const mqseal::VerifierOptions& options) {
  mqseal::Result<mqseal::Credentials> credentials = world().credentials.clone();
  check(credentials.ok(), "Credentials::clone");
  mqseal::Result<mqseal::TokenVerifier> verifier = mqseal::TokenVerifier::create(std::move(*credentials), options);
  check(verifier.ok(), "TokenVerifier::create");
  return std::move(*verifier);
}

std::shared_ptr<mqseal::ReplayStore> open_store(const StoreDir& dir, size_t quota) {
  mqseal::Result<std::shared_ptr<mqseal::ReplayStore>> store =
      mqseal::open_file_replay_store(dir.file(), mqseal::FileReplayStoreOptions{kUserCount * quota});
  check(store.ok(), "open_file_replay_store");
  return std::move(*store);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mqseal::fuzz::Input in(data, size);
  Run run;
  const uint8_t first = in.byte();
  run.options.max_tokens_per_user = 1 + (first & 15);
  std::unique_ptr<StoreDir> dir;
  if ((first & 0x10) != 0) {
    dir = std::make_unique<StoreDir>();
    run.options.replay_store = open_store(*dir, run.options.max_tokens_per_user);
  }
  std::unique_ptr<mqseal::TokenVerifier> verifier = std::make_unique<mqseal::TokenVerifier>(make_verifier(run.options));

  for (size_t op = 0; op < kMaxOps && !in.empty(); ++op) {
    const uint8_t head = in.byte();
    switch (head & 7) {
      case 1:
      case 2: {
        if (run.order.empty()) break;
        const std::string& token = run.order[static_cast<size_t>(in.number(2)) % run.order.size()];
        const Minted m = run.minted.at(token);
        std::string presented = token;
        if ((head & 7) == 2) {
          const size_t edits = 1 + in.index(kMaxEdits);
          for (size_t e = 0; e < edits; ++e) {
            const size_t pos = in.index(presented.size());
            presented[pos] = static_cast<char>(in.byte());
          }
        }
        run.present(*verifier, kUsers[m.user], kClients[m.client], presented);
        break;
      }
      case 3: {
        const std::string user(in.text());
        const std::string client(in.text());
        const std::string token(in.text());
        run.present(*verifier, user, client, token);
        break;
      }
      case 4:
      {
        const int8_t steps = static_cast<int8_t>(in.byte());
        const uint64_t unit = kUnitsS[(head >> 2) & 3];
        const uint64_t d = static_cast<uint64_t>(steps < 0 ? -int64_t{steps} : int64_t{steps}) * unit;
        run.now = steps >= 0 ? run.now + d : (run.now > d ? run.now - d : 1);
        run.latest = std::max(run.latest, run.now);
        break;
      }
      case 5:
        if ((head & 8) != 0 && dir != nullptr) {
          // Restart: what the store may forget meanwhile is what its
          // partitions forgot at the latest clock, and what the file drops
          // by the system clock when it is opened.
          verifier.reset();
          run.options.replay_store.reset();  // closed: the file unlocked
          run.options.replay_store = open_store(*dir, run.options.max_tokens_per_user);
          const uint64_t system_now = static_cast<uint64_t>(std::time(nullptr));  // no earlier than the store's
          verifier = std::make_unique<mqseal::TokenVerifier>(make_verifier(run.options));
          const uint64_t horizon = std::max(run.latest, system_now);
          for (auto it = run.accepted.begin(); it != run.accepted.end();) {
            it = it->second + run.options.max_clock_skew_s < horizon ? run.accepted.erase(it) : std::next(it);
          }
          run.latest = run.now;
          break;
        }
        [[fallthrough]];
      default: {
        const size_t user = in.index(kUserCount);
        const size_t client = in.index(kClientCount);
        const int8_t minutes = static_cast<int8_t>(in.byte());
        const uint64_t expiry = minutes >= 0 ? run.now + 60 * static_cast<uint64_t>(minutes)
                                             : run.now - 60 * static_cast<uint64_t>(-int64_t{minutes});
        const std::string token = mint(run, user, client, expiry, static_cast<uint16_t>(in.number(2)));
        const size_t as_user = (head & 0x20) != 0 ? (user + 1) % kUserCount : user;
        const size_t as_client = (head & 0x40) != 0 ? (client + 1) % kClientCount : client;
        run.present(*verifier, kUsers[as_user], kClients[as_client], token);
        break;
      }
    }
  }
  return 0;
}
