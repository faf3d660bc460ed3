// Replay stores (mqseal/replay_store.h): the in-memory store, and the file
// store on a real file system, reopened as a restarted broker would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>
#include <mqseal/replay_store.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "replay_test_util.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::answer;
using testing::id_of;
using testing::take;

constexpr uint64_t kNow = 1'800'000'000;  // claims carry their own clock
constexpr uint64_t kFarFuture = 4'000'000'000;  // later than the system clock for years: kept on reopening

ReplayClaim claim_of(std::string_view user, uint32_t n, uint64_t keep_until = kFarFuture, uint64_t now = kNow,
                     size_t quota = 64) {
  return ReplayClaim{"token", user, id_of(n), keep_until, now, quota};
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_size);
}

std::shared_ptr<ReplayStore> open_store(const std::string& path, size_t capacity = 1000) {
  return take(open_file_replay_store(path, FileReplayStoreOptions{capacity}));
}

// The code and detail of the error opening `path` gives.
std::string refusal(const std::string& path, size_t capacity = 1000) {
  Result<std::shared_ptr<ReplayStore>> r = open_file_replay_store(path, FileReplayStoreOptions{capacity});
  if (r) return "opened";
  return std::string(name(r.error().code())) + ": " + r.error().detail();
}

// Both stores: the same rules.
class EveryStore : public ::testing::TestWithParam<bool> {
 protected:
  testing::TempDir dir;
  std::shared_ptr<ReplayStore> make(size_t capacity = 1000) {
    return GetParam() ? open_store(dir.file("replay"), capacity) : take(memory_replay_store());
  }
};

TEST_P(EveryStore, FirstUseOnceThenSeenPerNamespaceAndPartition) {
  auto store = make();
  EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "first_use");
  EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "seen");
  EXPECT_EQ(answer(*store, claim_of("device-8", 1)), "first_use") << "another partition";
  ReplayClaim other_kind = claim_of("device-7", 1);
  other_kind.name_space = "message";
  EXPECT_EQ(answer(*store, other_kind), "first_use") << "another namespace";
  EXPECT_EQ(store->remembered(), 3u);
  ReplayClaim bad = claim_of("device-7", 2);
  bad.name_space = "";
  EXPECT_EQ(answer(*store, bad), "invalid_argument");
  bad = claim_of("device-7", 2, kFarFuture, kNow, 0);
  EXPECT_EQ(answer(*store, bad), "invalid_argument");
}

TEST_P(EveryStore, AClaimIsForgottenOnlyPastKeepUntil) {
  auto store = make();
  EXPECT_EQ(answer(*store, claim_of("device-7", 1, kNow + 90, kNow)), "first_use");
  EXPECT_EQ(answer(*store, claim_of("device-7", 1, kNow + 90, kNow + 90)), "seen") << "at keep_until exactly";
  EXPECT_EQ(answer(*store, claim_of("device-7", 2, kNow + 200, kNow + 91)), "first_use");
  EXPECT_EQ(store->remembered(), 1u) << "forgotten by the partition's next claim";
  EXPECT_EQ(answer(*store, claim_of("device-7", 1, kNow + 190, kNow + 91)), "first_use");
}

TEST_P(EveryStore, AFullQuotaRefusesOnlyItsOwnPartition) {
  auto store = make();
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(answer(*store, claim_of("device-7", i, kFarFuture, kNow, 3)), "first_use");
  EXPECT_EQ(answer(*store, claim_of("device-7", 3, kFarFuture, kNow, 3)), "capacity_exceeded");
  EXPECT_EQ(answer(*store, claim_of("device-7", 0, kFarFuture, kNow, 3)), "seen") << "a full quota still says seen";
  EXPECT_EQ(answer(*store, claim_of("device-8", 3, kFarFuture, kNow, 3)), "first_use") << "another user";
}

TEST_P(EveryStore, ConcurrentClaimsOfOneIdGiveExactlyOneFirstUse) {
  auto store = make();
  constexpr uint32_t kIds = 50;
  std::atomic<int> first{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (uint32_t i = 0; i < kIds; ++i) {
        Result<ClaimOutcome> r = store->claim(claim_of("device-7", i, kFarFuture, kNow, kIds));
        if (r && *r == ClaimOutcome::first_use) ++first;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(first.load(), static_cast<int>(kIds));
}

INSTANTIATE_TEST_SUITE_P(Stores, EveryStore, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "File" : "Memory"; });

TEST(FileReplayStore, ReopeningKeepsEveryClaimItAnswered) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  {
    auto store = open_store(path);
    for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(answer(*store, claim_of("device-7", i)), "first_use");
    EXPECT_EQ(answer(*store, claim_of("device-8", 0)), "first_use");
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto store = open_store(path);
  EXPECT_EQ(store->remembered(), 11u);
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(answer(*store, claim_of("device-7", i)), "seen") << i;
  EXPECT_EQ(answer(*store, claim_of("device-8", 0)), "seen");
  EXPECT_EQ(answer(*store, claim_of("device-8", 1)), "first_use");
}

TEST(FileReplayStore, ClaimsPastKeepUntilAreDroppedWhenOpened) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  {
    auto store = open_store(path);
    EXPECT_EQ(answer(*store, claim_of("device-7", 1, 200, 100)), "first_use");  // long past by the system clock
    EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "first_use");
  }
  auto store = open_store(path);
  EXPECT_EQ(store->remembered(), 1u);
  EXPECT_EQ(file_size(path), 32u + 72u) << "compacted when opened";
  EXPECT_EQ(answer(*store, claim_of("device-7", 1, 200, 100)), "first_use");
  EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "seen");
}

TEST(FileReplayStore, TheFileStaysWithinTwiceTheCapacity) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  constexpr size_t kCapacity = 3;
  auto store = open_store(path, kCapacity);
  for (uint32_t i = 0; i < 100; ++i) {
    // Each claim lives 2 s: at most 3 are live at once.
    EXPECT_EQ(answer(*store, claim_of("device-7", i, kNow + i + 1, kNow + i, kCapacity)), "first_use") << i;
    EXPECT_LE(file_size(path), 32u + 2 * kCapacity * 72u) << i;
  }
  EXPECT_EQ(answer(*store, claim_of("device-7", 99, kNow + 100, kNow + 99, kCapacity)), "seen");
  EXPECT_EQ(answer(*store, claim_of("device-7", 98, kNow + 99, kNow + 99, kCapacity)), "seen");
}

TEST(FileReplayStore, AFullStoreRefusesNewClaims) {
  testing::TempDir dir;
  auto store = open_store(dir.file("replay"), 4);
  EXPECT_EQ(store->capacity(), 4u);
  for (const char* user : {"a", "b"}) {
    for (uint32_t i = 0; i < 2; ++i) EXPECT_EQ(answer(*store, claim_of(user, i, kFarFuture, kNow, 2)), "first_use");
  }
  EXPECT_EQ(answer(*store, claim_of("c", 0, kFarFuture, kNow, 2)), "capacity_exceeded");
  EXPECT_EQ(answer(*store, claim_of("a", 0, kFarFuture, kNow, 2)), "seen");
}

// Each kind of claim (its name_space) has its own capacity, as in a Redis
// store: message claims filling theirs leave token claims (logins) alone.
// Claims read back from the file count for their kind once their partition
// is claimed again.
TEST(FileReplayStore, MessageClaimsFillingTheirCapacityNeverRefuseATokenClaim) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  const auto message = [](uint32_t n) { return ReplayClaim{"message:g", "plant-key", id_of(n), kFarFuture, kNow, 64}; };
  {
    auto store = open_store(path, 3);
    for (uint32_t n = 1; n <= 3; ++n) EXPECT_EQ(answer(*store, message(n)), "first_use");
    EXPECT_EQ(answer(*store, message(4)), "capacity_exceeded");
    for (uint32_t n = 1; n <= 3; ++n) EXPECT_EQ(answer(*store, claim_of("alice", n)), "first_use") << n;
    EXPECT_EQ(answer(*store, claim_of("bob", 1)), "capacity_exceeded") << "the tokens' own capacity";
    EXPECT_EQ(store->remembered(), 6u);
  }
  auto store = open_store(path, 3);
  EXPECT_EQ(store->remembered(), 6u);
  EXPECT_EQ(answer(*store, message(3)), "seen");
  EXPECT_EQ(answer(*store, message(4)), "capacity_exceeded") << "read back, then counted for their kind";
  EXPECT_EQ(answer(*store, claim_of("alice", 1)), "seen");
  EXPECT_EQ(answer(*store, claim_of("bob", 1)), "capacity_exceeded");
  EXPECT_LE(file_size(path), 32u + 2 * 6 * 72u);
}

TEST(FileReplayStore, CorruptShortAndForeignFilesAreRefusedAndLeftAlone) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  {
    auto store = open_store(path);
    for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(answer(*store, claim_of("device-7", i)), "first_use");
  }
  const std::string good = testing::read_file(path);
  ASSERT_EQ(good.size(), 32u + 3 * 72u);
  struct Case {
    std::string content;
    std::string says;
  };
  std::vector<Case> cases;
  for (size_t at : {size_t{40}, size_t{32 + 72 + 50}, size_t{32 + 2 * 72 + 71}, size_t{20}}) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    cases.push_back({flipped, at == 20 ? "checksum mismatch" : "checksum mismatch (corrupt)"});
  }
  cases.push_back({"hello", "truncated"});  // shorter than the header, and not its start
  cases.push_back({"mqseal-credentials v1\nuser x\n", "not an mqseal replay store file (foreign)"});
  cases.push_back({std::string("mqseal replay v2") + good.substr(16), "another version than v1"});
  cases.push_back({std::string(32, '\0'), "foreign"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.says);
    testing::write_file(path, c.content, 0600);
    const std::string refused = refusal(path);
    EXPECT_EQ(refused.rfind("parse_error: " + path, 0), 0u) << refused;
    EXPECT_NE(refused.find(c.says), std::string::npos) << refused;
    EXPECT_EQ(testing::read_file(path), c.content) << "the refused file was changed";
  }
  testing::write_file(path, good, 0600);
  EXPECT_EQ(answer(*open_store(path), claim_of("device-7", 2)), "seen");
}

// Compaction writes the live claims in chunks (4096 records each): more
// than one chunk's worth survive a reopen whole. On /dev/shm where there is
// one, so that 5000 fsyncs cost nothing.
TEST(FileReplayStore, CompactionKeepsEveryClaimAcrossChunks) {
  constexpr uint32_t kClaims = 5000;
  char shm_template[] = "/dev/shm/mqseal-test-XXXXXX";
  const char* shm = ::mkdtemp(shm_template);
  testing::TempDir fallback;
  const std::string dir = shm != nullptr ? shm : fallback.path();
  const std::string path = dir + "/replay";
  {
    auto store = open_store(path, kClaims);
    for (uint32_t i = 0; i < kClaims; ++i) {
      ASSERT_EQ(answer(*store, claim_of("device-" + std::to_string(i % 7), i, kFarFuture, kNow, kClaims)),
                "first_use");
    }
  }
  {
    auto store = open_store(path, kClaims);  // compacted on opening
    EXPECT_EQ(testing::read_file(path).size(), 32u + kClaims * 72u);
    for (uint32_t i = 0; i < kClaims; ++i) {
      ASSERT_EQ(answer(*store, claim_of("device-" + std::to_string(i % 7), i, kFarFuture, kNow, kClaims)), "seen")
          << i;
    }
  }
  ::unlink(path.c_str());
  if (shm != nullptr) ::rmdir(shm);
}

// A crash while the file is created, before its header is synced, leaves a
// file shorter than the header holding the magic's start (or nothing). It
// never answered a claim: it is started again as a new store.
TEST(FileReplayStore, AFileWhoseCreationACrashCutShortStartsAgain) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  for (const std::string& start : {std::string(), std::string("mqseal repl"), std::string("mqseal replay v1") + "12345"}) {
    SCOPED_TRACE(start.size());
    testing::write_file(path, start, 0600);
    {
      auto store = open_store(path);
      EXPECT_EQ(answer(*store, claim_of("device-7", 0)), "first_use");
    }
    EXPECT_EQ(testing::read_file(path).size(), 32u + 72u);
    EXPECT_EQ(answer(*open_store(path), claim_of("device-7", 0)), "seen");
  }
}

// A crash in the middle of an append leaves part of a record after the last
// whole one. That claim was never answered, so the part is dropped (the file
// is rewritten without it) and every whole record before it still holds.
TEST(FileReplayStore, ATornLastRecordIsDroppedAndTheClaimsBeforeItKept) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  {
    auto store = open_store(path);
    for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(answer(*store, claim_of("device-7", i)), "first_use");
  }
  const std::string good = testing::read_file(path);
  ASSERT_EQ(good.size(), 32u + 3 * 72u);
  for (size_t torn : {size_t{1}, size_t{10}, size_t{71}}) {
    SCOPED_TRACE(torn);
    // Two whole records, then `torn` bytes of the third.
    testing::write_file(path, good.substr(0, 32 + 2 * 72 + torn), 0600);
    {
      auto store = open_store(path);
      EXPECT_EQ(answer(*store, claim_of("device-7", 0)), "seen");
      EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "seen");
    }
    EXPECT_EQ(testing::read_file(path).size(), 32u + 2 * 72u) << "the torn part is cut off";
    {
      auto store = open_store(path);  // the third claim was never answered: it may be made again
      EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "first_use");
    }
    EXPECT_EQ(testing::read_file(path).size(), 32u + 3 * 72u);
  }
}

// Whoever else may write the store's directory can delete or replace its
// file between two runs (whatever the file's own owner and mode), and a
// store started again empty accepts every claim it had answered once more:
// a directory group or others may write (the sticky /tmp too), or one
// another user owns, is refused, before anything is made in it. Root's
// directories are accepted (/var/lib), and so are ones others may only
// read or enter.
TEST(FileReplayStore, ADirectoryOthersMayWriteIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  const std::string refused = "insecure_permissions: the directory of " + path + ": " + dir.path() +
                              " is writable by group or others (chmod go-w it); keep the replay store in a "
                              "directory of its own, mode 0700";
  for (mode_t mode : {0770, 0720, 0703, 0777, 01777, 01770}) {
    ASSERT_EQ(chmod(dir.path().c_str(), mode), 0);
    EXPECT_EQ(refusal(path), refused) << std::oct << mode;
    EXPECT_NE(access(path.c_str(), F_OK), 0) << std::oct << mode << ": nothing is made in it";
  }
  ASSERT_EQ(chmod(dir.path().c_str(), 0700), 0);
  {
    auto store = open_store(path);
    EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "first_use");
  }
  // A store made in a private directory is refused once the directory is not.
  ASSERT_EQ(chmod(dir.path().c_str(), 0770), 0);
  EXPECT_EQ(refusal(path), refused);
  for (mode_t mode : {0700, 0750, 0755, 0711}) {
    ASSERT_EQ(chmod(dir.path().c_str(), mode), 0);
    EXPECT_EQ(refusal(path), "opened") << std::oct << mode;
  }
  auto store = open_store(path);
  EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "seen") << "the claim was kept throughout";
  store.reset();
  if (geteuid() == 0) {
    ASSERT_EQ(chown(dir.path().c_str(), 4242, 4242), 0);
    EXPECT_NE(refusal(path).find("insecure_permissions: the directory of " + path + ": " + dir.path() +
                                 " is owned by uid 4242"),
              std::string::npos)
        << refusal(path);
    ASSERT_EQ(chown(dir.path().c_str(), 0, 0), 0);
    EXPECT_EQ(refusal(path), "opened") << "root's directory";
  }
}

TEST(FileReplayStore, WrongOwnerPermissionsOrKindAreRefused) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  { (void)open_store(path); }
  for (mode_t mode : {0640, 0604, 0620, 0660, 0644}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    EXPECT_NE(refusal(path).find("insecure_permissions: " + path + " (chmod 600 it)"), std::string::npos) << mode;
  }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(path.c_str(), 4242, 4242), 0);
    EXPECT_NE(refusal(path).find("insecure_permissions: " + path + " is owned by uid 4242"), std::string::npos)
        << refusal(path);
    ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  }
  EXPECT_EQ(refusal(path), "opened");
  const std::string subdirectory = dir.file("directory");  // in dir: /tmp itself is refused first
  ASSERT_EQ(mkdir(subdirectory.c_str(), 0700), 0);
  EXPECT_NE(refusal(subdirectory).find("io_error"), std::string::npos) << "a directory";
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(refusal(fifo).find("is not a regular file"), std::string::npos);
  const std::string link = dir.file("link");
  ASSERT_EQ(symlink(path.c_str(), link.c_str()), 0);
  EXPECT_NE(refusal(link).find("io_error: cannot open"), std::string::npos) << "a symbolic link";
  EXPECT_NE(refusal(path, 0).find("invalid_argument"), std::string::npos);
  EXPECT_NE(refusal(path, kMaxFileReplayCapacity + 1).find("invalid_argument"), std::string::npos);
}

TEST(FileReplayStore, OneProcessAtATime) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  auto first = open_store(path, 2);
  EXPECT_NE(refusal(path).find("is in use by another process"), std::string::npos);
  // Compaction replaces the file: the new one is locked too.
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(answer(*first, claim_of("d", i, kNow + 1, kNow + i, 2)), "first_use");
  EXPECT_NE(refusal(path).find("is in use by another process"), std::string::npos);
  first.reset();
  EXPECT_EQ(refusal(path), "opened");
}

// RAII: a lower file size limit for this process (a full disk, honestly: the
// kernel refuses the write past it, part of a record included).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &saved_), 0);
    rlimit lower = saved_;
    lower.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &lower), 0);
  }
  ~FileSizeLimit() { EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &saved_), 0); }

 private:
  rlimit saved_{};
};

TEST(FileReplayStore, AFullDiskRefusesClaimsAndNeverKeepsHalfARecord) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  auto store = open_store(path);
  EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "first_use");
  const uint64_t before = file_size(path);
  {
    FileSizeLimit full(before + 30);  // room for 30 of a record's 72 bytes
    EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "io_error");
    EXPECT_EQ(file_size(path), before) << "the part written is cut off again";
    EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "io_error") << "refused again, not remembered";
    EXPECT_EQ(answer(*store, claim_of("device-7", 1)), "seen");
  }
  // Room again: the refused claim was never remembered, so it is first_use
  // now (it was refused, never accepted); what was answered stays.
  EXPECT_EQ(answer(*store, claim_of("device-7", 2)), "first_use");
  store.reset();
  auto reopened = open_store(path);
  EXPECT_EQ(answer(*reopened, claim_of("device-7", 1)), "seen");
  EXPECT_EQ(answer(*reopened, claim_of("device-7", 2)), "seen");
}

// ---- through the token verifier ----

struct Device {
  Provisioned p = take(provision("device-7", "pw", testing::cheap_passphrase_params(3)));
  Provisioned other = take(provision("device-8", "pw8", testing::cheap_passphrase_params(4)));
  Credentials credentials() const {
    Credentials c;
    testing::expect_ok(c.add(p.record));
    testing::expect_ok(c.add(other.record));
    return c;
  }
  std::string token(uint64_t now = kNow, const Provisioned* who = nullptr) const {
    const Provisioned& d = who != nullptr ? *who : p;
    return take(make_connect_token(d.device_secret, d.record.username, "c", 60, now));
  }
};

Errc code(const Status& s) { return s ? Errc{} : s.error().code(); }

TEST(FileReplayStore, ATokenVerifiedBeforeARestartIsRefusedAfterIt) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  Device d;
  const std::string token = d.token();
  VerifierOptions options;
  {
    options.replay_store = open_store(path, 128);
    TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
    testing::expect_ok(verifier.verify("device-7", "c", token, kNow));
    EXPECT_EQ(code(verifier.verify("device-7", "c", token, kNow)), Errc::replay);
  }
  options.replay_store.reset();  // the broker stops: the file is unlocked
  options.replay_store = open_store(path, 128);
  TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
  EXPECT_EQ(code(verifier.verify("device-7", "c", token, kNow + 1)), Errc::replay) << "after the restart";
  testing::expect_ok(verifier.verify("device-7", "c", d.token(kNow + 1), kNow + 1));
  EXPECT_EQ(verifier.remembered_tokens(), 2u);
}

// verify() judges a token's expiry and claims its nonce as one step. A replay
// of token X judged at X's last second (expiry + skew), while another login of
// the same user is judged a second later, must not reach the store after that
// later claim: the store forgets X then, and would answer X's claim first_use.
// This store holds the first claim that reaches it until a second claim has
// been answered (or 300 ms pass): the worst interleaving of two threads.
class SecondClaimFirst : public ReplayStore {
 public:
  explicit SecondClaimFirst(std::shared_ptr<ReplayStore> inner) : inner_(std::move(inner)) {}
  Result<ClaimOutcome> claim(const ReplayClaim& c) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (hold_ && ++arrived_ == 1) {
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::milliseconds(300), [&] { return answered_ > 0; });
      lock.unlock();
      return inner_->claim(c);
    }
    lock.unlock();
    Result<ClaimOutcome> answer = inner_->claim(c);
    lock.lock();
    ++answered_;
    changed_.notify_all();
    return answer;
  }
  size_t capacity() const noexcept override { return inner_->capacity(); }
  size_t remembered() const override { return inner_->remembered(); }
  void hold_the_next_claim() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = true;
    arrived_ = 0;
    answered_ = 0;
  }
  void wait_until_one_is_held() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return arrived_ >= 1; });
  }

 private:
  std::shared_ptr<ReplayStore> inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  int arrived_ = 0;
  int answered_ = 0;
};

TEST(ReplayStoreVerifier, ATokenIsJudgedAndClaimedInOneStep) {
  Device d;
  auto store = std::make_shared<SecondClaimFirst>(take(memory_replay_store()));
  VerifierOptions options;
  options.replay_store = store;
  TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
  const std::string x = d.token(kNow);  // expires at kNow + 60
  testing::expect_ok(verifier.verify("device-7", "c", x, kNow));
  const uint64_t last_second = kNow + 60 + options.max_clock_skew_s;
  store->hold_the_next_claim();
  Status replay;
  std::thread a([&] { replay = verifier.verify("device-7", "c", x, last_second); });
  store->wait_until_one_is_held();
  Status later;
  std::thread b([&] { later = verifier.verify("device-7", "c", d.token(last_second + 1), last_second + 1); });
  a.join();
  b.join();
  EXPECT_EQ(code(replay), Errc::replay) << "a replay accepted because a later claim made the store forget it";
  testing::expect_ok(later);
}

// Thread safety (credentials.h): threads verifying the same tokens of two
// users at once, with either store, while another reads what is remembered:
// each token is accepted once, every other try is a replay. Under
// ThreadSanitizer, a race in the verifier or the store is a report.
TEST(ReplayStoreVerifier, ThreadsVerifyingTheSameTokensAcceptEachOnce) {
  constexpr int kThreads = 3;
  constexpr int kTokensEach = 20;
  Device d;
  std::vector<std::pair<std::string, std::string>> tokens;  // username, token
  for (int i = 0; i < kTokensEach; ++i) {
    tokens.emplace_back("device-7", d.token(kNow));
    tokens.emplace_back("device-8", d.token(kNow, &d.other));
  }
  for (const bool file : {false, true}) {
    SCOPED_TRACE(file ? "file store" : "memory store");
    testing::TempDir dir;
    VerifierOptions options;
    options.replay_store = file ? open_store(dir.file("replay"), 1000) : take(memory_replay_store());
    TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
    std::atomic<int> accepted{0};
    std::atomic<int> replays{0};
    std::atomic<bool> done{false};
    std::thread reader([&] {
      while (!done.load()) EXPECT_LE(verifier.remembered_tokens(), tokens.size());
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (const auto& [user, token] : tokens) {
          const Status s = verifier.verify(user, "c", token, kNow);
          if (s) ++accepted;
          else if (code(s) == Errc::replay) ++replays;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    done = true;
    reader.join();
    EXPECT_EQ(accepted.load(), static_cast<int>(tokens.size()));
    EXPECT_EQ(replays.load(), (kThreads - 1) * static_cast<int>(tokens.size()));
    EXPECT_EQ(verifier.remembered_tokens(), tokens.size());
  }
}

// A verifier judges each user at the latest time it judged that user at,
// so a clock stepping back cannot bring back a token the store forgot. But
// the store forgets for more than one verifier's users and past one
// verifier's life: a verifier made again on the same store (the plugin's
// reload), or another one sharing it, starts from the clock it is given.
// The store itself refuses (expired) a claim made at an earlier now, and
// accepted only until an earlier time, than a now at which it forgot claims
// of that partition: it may be one of them, still live by the earlier now.
//   - through a reload: device-7's second login a day ahead forgets its
//     first token's claim; after a reload the clock is back, and that
//     captured first token is not accepted again (memory and file stores);
//   - through another verifier's login: two verifiers share a full file
//     store; device-9's login a day ahead (the other verifier's) sweeps
//     every claim past, device-7's among them; with the clock back,
//     device-7's captured token is not accepted again.
TEST_P(EveryStore, AClaimForgottenAtALaterTimeIsNotFirstUseWithTheClockBack) {
  Device d;
  VerifierOptions options;
  options.max_tokens_per_user = 2;
  options.replay_store = make(16);
  const std::string first = d.token(kNow);
  const uint64_t day = 24 * 3600;
  {
    TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
    testing::expect_ok(verifier.verify("device-7", "c", first, kNow));
    testing::expect_ok(verifier.verify("device-7", "c", d.token(kNow + day), kNow + day));
  }
  TokenVerifier reloaded = take(TokenVerifier::create(d.credentials(), options));
  const Status again = reloaded.verify("device-7", "c", first, kNow + 5);
  ASSERT_FALSE(again) << "a captured token accepted again after a reload and a clock step back";
  EXPECT_EQ(again.error().code(), Errc::expired) << again.error().message();
  // A fresh token valid past that time: accepted (a step back refuses no token valid past it).
  testing::expect_ok(reloaded.verify("device-7", "c", d.token(kNow + day - 60), kNow + day - 60));
  // Another user's tokens: that user's claims were never forgotten.
  testing::expect_ok(reloaded.verify("device-8", "c", d.token(kNow + 5, &d.other), kNow + 5));
  // A step back of seconds: device-8's token (valid to kNow + 120) is
  // forgotten by its next login at kNow + 121; after a reload, the clock back
  // at kNow + 115, it is refused, though a claim made then would be kept past
  // kNow + 121 (now + 60 s): the store compares its validity, not that.
  const std::string eights = d.token(kNow + 30, &d.other);
  testing::expect_ok(reloaded.verify("device-8", "c", eights, kNow + 30));
  testing::expect_ok(reloaded.verify("device-8", "c", d.token(kNow + 121, &d.other), kNow + 121));
  TokenVerifier again_reloaded = take(TokenVerifier::create(d.credentials(), options));
  EXPECT_EQ(code(again_reloaded.verify("device-8", "c", eights, kNow + 115)), Errc::expired);
  testing::expect_ok(again_reloaded.verify("device-8", "c", d.token(kNow + 115, &d.other), kNow + 115));
}

TEST(FileReplayStore, ASweepForAnotherVerifiersLoginBringsNoTokenBackWithTheClockBack) {
  testing::TempDir dir;
  Device d;
  Provisioned nine = take(provision("device-9", "pw9", testing::cheap_passphrase_params(3)));
  Credentials others;
  testing::expect_ok(others.add(nine.record));
  VerifierOptions o;
  o.max_tokens_per_user = 1;
  o.replay_store = open_store(dir.file("replay"), 2);  // room for either verifier's users, not both
  TokenVerifier v1 = take(TokenVerifier::create(d.credentials(), o));
  TokenVerifier v2 = take(TokenVerifier::create(std::move(others), o));
  const std::string captured = d.token(kNow);
  testing::expect_ok(v1.verify("device-7", "c", captured, kNow));
  testing::expect_ok(v1.verify("device-8", "c", d.token(kNow, &d.other), kNow));
  const uint64_t later = kNow + 1000;
  testing::expect_ok(v2.verify("device-9", "c", d.token(later, &nine), later));  // full: a sweep at `later`
  const Status again = v1.verify("device-7", "c", captured, kNow + 5);
  ASSERT_FALSE(again) << "a captured token accepted again after a sweep and a clock step back";
  EXPECT_EQ(again.error().code(), Errc::expired) << again.error().message();
}

TEST(FileReplayStore, TheVerifierNeedsRoomForEveryUsersQuota) {
  testing::TempDir dir;
  Device d;
  VerifierOptions options;
  options.max_tokens_per_user = 2;
  options.replay_store = open_store(dir.file("small"), 3);  // 2 users x 2
  Result<TokenVerifier> refused = TokenVerifier::create(d.credentials(), options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
  EXPECT_NE(refused.error().detail().find("fewer than users x max_tokens_per_user (4)"), std::string::npos);
  options.replay_store = open_store(dir.file("enough"), 4);
  TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
  // device-7 fills its quota, device-8 still logs in: the store is full
  // only once every user's quota is.
  for (int i = 0; i < 2; ++i) testing::expect_ok(verifier.verify("device-7", "c", d.token(), kNow));
  EXPECT_EQ(code(verifier.verify("device-7", "c", d.token(), kNow)), Errc::capacity_exceeded);
  for (int i = 0; i < 2; ++i) testing::expect_ok(verifier.verify("device-8", "c", d.token(kNow, &d.other), kNow));
}

TEST(FileReplayStore, AFullDiskRefusesTheLoginThatCannotBeRemembered) {
  testing::TempDir dir;
  const std::string path = dir.file("replay");
  Device d;
  VerifierOptions options;
  options.replay_store = open_store(path, 128);
  TokenVerifier verifier = take(TokenVerifier::create(d.credentials(), options));
  const std::string token = d.token();
  {
    FileSizeLimit full(file_size(path));
    EXPECT_EQ(code(verifier.verify("device-7", "c", token, kNow)), Errc::io_error);
  }
  testing::expect_ok(verifier.verify("device-7", "c", token, kNow));
  EXPECT_EQ(code(verifier.verify("device-7", "c", token, kNow)), Errc::replay);
}

}  // namespace
}  // namespace mqseal
