// Replay stores (mqseal/replay_store.h): the claim table both stores share,
// the in-memory store, and the file store (docs/SPEC.md section 11, "Replay
// store file").
#include "mqseal/replay_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/sodium_util.h"
#include "connect/replay_store_internal.h"
#include "crypto/blake2b.h"
#include "files/file_io.h"
#include "mqseal/clock.h"

namespace mqseal {

namespace {

using internal::check_claim;
using internal::PartitionDigest;

// Partitions and IDs come from callers (an insider may choose nonces to
// collide in an unkeyed hash): hashed with SipHash under a key of the
// store's own.
struct SipKey {
  std::array<uint8_t, crypto_shorthash_KEYBYTES> key{};
};
template <typename Bytes>
struct KeyedHash {
  SipKey sip;
  size_t operator()(const Bytes& bytes) const noexcept {
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), sip.key.data());
    return static_cast<size_t>(internal::load_be64(out));
  }
};

struct Remembered {
  uint64_t keep_until_s;
  ReplayId id;
};
// For std::push_heap / pop_heap: the earliest keep_until on top.
bool kept_longer(const Remembered& a, const Remembered& b) noexcept { return a.keep_until_s > b.keep_until_s; }

// A partition's key in the table: exact bytes (the memory store: u16 len ns
// || ns || partition) or the partition digest (the file store).
using PartitionKey = std::string;

// What both stores remember: per partition, a min-heap on keep_until and a
// keyed hash set of the same IDs. The capacity is per kind of claim (the
// claim's name_space: "token", "message:<group>"), as in the Redis store, so
// that one kind filling its own (a key holder's messages) never refuses
// another's claims (a login). A partition's key determines its kind (the
// memory store's key starts with it, the file store's digest covers it);
// claims read back from a file have no kind until their partition is
// claimed again, and count towards no kind's capacity until then. Not
// locked: its store locks it.
class ClaimTable {
 public:
  enum class Check : uint8_t { fresh, seen, forgotten_later, partition_full, store_full };

  explicit ClaimTable(SipKey sip)
      : sip_(sip), partitions_(0, KeyedHash<PartitionKey>{sip}), live_(1, 0) {}

  // Forgets this partition's claims past keep_until at c.now_s, then
  // answers for c.id, with `capacity` live claims at most of c's kind.
  // Amortised O(log max_per_partition): each claim is pushed once and
  // popped once.
  Check check(const PartitionKey& key, const ReplayClaim& c, size_t capacity) {
    Partition& p = partitions_.try_emplace(key, sip_).first->second;
    forget(p, c.now_s);
    attribute(p, c.name_space);
    if (p.ids.count(c.id) != 0) return Check::seen;
    // Claims of this partition were forgotten at a later now than this
    // claim's (a clock stepped back since, or a caller judging by a clock of
    // its own), and the caller accepts what this claims only until before
    // that now: it may be one of them, still live by this claim's now (each
    // was past keep_until at that now, and a fresh claim accepted until then
    // or later cannot be one).
    const uint64_t accepted_until_s =
        c.accepted_until_s != 0 ? std::min(c.accepted_until_s, c.keep_until_s) : c.keep_until_s;
    if (c.now_s < p.forgot_at_s && accepted_until_s < p.forgot_at_s) return Check::forgotten_later;
    if (p.ids.size() >= c.max_per_partition) return Check::partition_full;
    if (live_[p.kind] >= capacity) {
      sweep(c.now_s);
      if (live_[p.kind] >= capacity) return Check::store_full;
    }
    return Check::fresh;
  }

  // After check() said fresh (the partition then has its kind), or while
  // loading (no kind yet; false if already there).
  bool insert(const PartitionKey& key, const ReplayId& id, uint64_t keep_until_s) {
    Partition& p = partitions_.try_emplace(key, sip_).first->second;
    if (!p.ids.insert(id).second) return false;
    p.by_expiry.push_back(Remembered{keep_until_s, id});
    std::push_heap(p.by_expiry.begin(), p.by_expiry.end(), kept_longer);
    ++live_[p.kind];
    ++size_;
    return true;
  }

  size_t size() const noexcept { return size_; }

  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [key, p] : partitions_) {
      for (const Remembered& r : p.by_expiry) f(key, r);
    }
  }

 private:
  static constexpr size_t kNoKind = 0;  // live_[0]: claims read back, their partition not claimed since

  struct Partition {
    explicit Partition(SipKey sip) : ids(0, KeyedHash<ReplayId>{sip}) {}
    std::vector<Remembered> by_expiry;                   // a min-heap on keep_until
    std::unordered_set<ReplayId, KeyedHash<ReplayId>> ids;  // the same claims
    size_t kind = kNoKind;                               // an index into live_
    uint64_t forgot_at_s = 0;                            // the latest now that forgot a claim of it
  };

  // Gives a partition read back from a file the kind of the claim made on
  // it (its key determines it), moving its claims to that kind's count.
  // The kinds are the callers' (a few: tokens, each consumer group).
  void attribute(Partition& p, std::string_view name_space) {
    if (p.kind != kNoKind) return;
    const auto [it, added] = kinds_.try_emplace(std::string(name_space), live_.size());
    if (added) live_.push_back(0);
    p.kind = it->second;
    live_[kNoKind] -= p.ids.size();
    live_[p.kind] += p.ids.size();
  }

  // A forgotten claim stays forgotten: forgetting at an earlier now than
  // last time forgets nothing more, and the latest now that forgot any is
  // kept (check() refuses claims made, and valid only, before it).
  void forget(Partition& p, uint64_t now_s) {
    if (!p.by_expiry.empty() && now_s > p.by_expiry.front().keep_until_s) {
      p.forgot_at_s = std::max(p.forgot_at_s, now_s);
    }
    while (!p.by_expiry.empty() && now_s > p.by_expiry.front().keep_until_s) {
      std::pop_heap(p.by_expiry.begin(), p.by_expiry.end(), kept_longer);
      p.ids.erase(p.by_expiry.back().id);
      p.by_expiry.pop_back();
      --live_[p.kind];
      --size_;
    }
  }

  // When a kind's capacity is full: forgets what every partition may
  // forget at now_s. O(partitions), so at most once per second of now_s.
  void sweep(uint64_t now_s) {
    if (swept_at_s_ != 0 && now_s <= swept_at_s_) return;
    swept_at_s_ = now_s;
    for (auto& entry : partitions_) forget(entry.second, now_s);
  }

  SipKey sip_;
  std::unordered_map<PartitionKey, Partition, KeyedHash<PartitionKey>> partitions_;
  std::unordered_map<std::string, size_t> kinds_;  // name_space -> index into live_ (from 1)
  std::vector<size_t> live_;                       // live claims per kind; [kNoKind] those without one yet
  size_t size_ = 0;
  uint64_t swept_at_s_ = 0;
};

Result<ClaimOutcome> refusal(ClaimTable::Check check) {
  switch (check) {
    case ClaimTable::Check::seen:
      return ClaimOutcome::seen;
    case ClaimTable::Check::forgotten_later:
      return Error(Errc::expired,
                   "this partition's claims were forgotten at a later time than this claim's now and its "
                   "validity's end (a clock stepped back?): it may be one of them");
    case ClaimTable::Check::partition_full:
      return Error(Errc::capacity_exceeded,
                   "this partition's live claims fill its quota (a user's: max_tokens_per_user)");
    case ClaimTable::Check::store_full:
      return Error(Errc::capacity_exceeded, "the replay store's live claims of this kind fill its capacity");
    case ClaimTable::Check::fresh:
      break;
  }
  return ClaimOutcome::first_use;
}

Result<SipKey> new_sip_key() {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  SipKey sip;
  crypto_shorthash_keygen(sip.key.data());
  return sip;
}

class MemoryStore final : public ReplayStore {
 public:
  explicit MemoryStore(SipKey sip) : table_(sip) {}

  Result<ClaimOutcome> claim(const ReplayClaim& c) override {
    if (Status s = check_claim(c); !s) return s.error();
    // The exact bytes, no digest: nothing leaves this process.
    PartitionKey key;
    key.reserve(2 + c.name_space.size() + c.partition.size());
    key.push_back(static_cast<char>(c.name_space.size() >> 8));
    key.push_back(static_cast<char>(c.name_space.size()));
    key.append(c.name_space).append(c.partition);
    std::lock_guard<std::mutex> lock(mutex_);
    const ClaimTable::Check check = table_.check(key, c, capacity());
    if (check != ClaimTable::Check::fresh) return refusal(check);
    table_.insert(key, c.id, c.keep_until_s);
    return ClaimOutcome::first_use;
  }
  size_t capacity() const noexcept override { return std::numeric_limits<size_t>::max(); }
  size_t remembered() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return table_.size();
  }

 private:
  mutable std::mutex mutex_;
  ClaimTable table_;
};

// ---- the file store ----

constexpr std::string_view kFileMagic = "mqseal replay v1";
constexpr std::string_view kFileMagicStem = "mqseal replay v";  // other versions: named as such
constexpr internal::Blake2bPersonal kRecordPersonal = "mqseal replay rc";
constexpr size_t kFileIdSize = 16;
constexpr size_t kHeaderSize = 16 + kFileIdSize;
static_assert(kFileMagic.size() == 16, "magic size");
constexpr size_t kRecordCheckSize = 16;
constexpr size_t kRecordBodySize = internal::kPartitionDigestSize + kReplayIdSize + 8;
constexpr size_t kRecordSize = kRecordBodySize + kRecordCheckSize;  // 72
constexpr size_t kRecordsPerRead = 4096;
constexpr int kOpenAttempts = 3;  // the file replaced between open and lock (a compaction): try again

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string errno_text() { return std::strerror(errno); }

// A new or renamed file is durable only once its directory is.
bool sync_directory_of(const std::string& path) { return internal::sync_directory(internal::directory_of(path)); }

Status encode_record(const uint8_t file_id[kFileIdSize], const uint8_t digest[internal::kPartitionDigestSize],
                     const ReplayId& id, uint64_t keep_until_s, uint8_t out[kRecordSize]) {
  std::copy(digest, digest + internal::kPartitionDigestSize, out);
  std::copy(id.begin(), id.end(), out + internal::kPartitionDigestSize);
  internal::store_be64(out + internal::kPartitionDigestSize + kReplayIdSize, keep_until_s);
  return internal::blake2b_personal(out + kRecordBodySize, kRecordCheckSize, ByteView(file_id, kFileIdSize),
                                    ByteView(out, kRecordBodySize), kRecordPersonal);
}

class FileStore final : public ReplayStore {
 public:
  FileStore(std::string path, size_t capacity, SipKey sip) : path_(std::move(path)), capacity_(capacity), table_(sip) {}

  Status open() {
    // Before anything is created in it. Whoever else may write the directory
    // can delete or replace the file between two runs (the file's own owner
    // and mode cannot prevent that), and a store started again empty accepts
    // every token and message it had claimed once more. Checked by path
    // (stat: a link to the directory is followed): a directory above it that
    // another user may write is the operator's to avoid (docs/DEPLOY.md).
    const std::string directory = internal::directory_of(path_);
    struct stat st {};
    if (::stat(directory.c_str(), &st) != 0) return Error(Errc::io_error, "cannot open " + path_ + ": " + errno_text());
    if (Status s = internal::check_private_directory(directory, st); !s) {
      return Error(s.error().code(), "the directory of " + path_ + ": " + s.error().detail() +
                                         "; keep the replay store in a directory of its own, mode 0700");
    }
    for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
      bool created = false;
      Result<Fd> fd = open_locked(created);
      if (!fd) return std::move(fd).error();
      if (fd->fd < 0) continue;  // replaced meanwhile
      fd_ = std::move(*fd);
      if (!created) {
        // Shorter than the header, and what is there is the magic's start:
        // a creation a crash cut short before the header was synced. Such a
        // file never answered a claim, so it is started again as new rather
        // than refused (which would keep the broker from starting).
        Result<bool> unfinished = header_unfinished();
        if (!unfinished) return std::move(unfinished).error();
        if (*unfinished) {
          if (::ftruncate(fd_.fd, 0) != 0) return Error(Errc::io_error, "cannot write " + path_ + ": " + errno_text());
          created = true;
        }
      }
      if (created) {
        randombytes_buf(file_id_, sizeof file_id_);
        uint8_t header[kHeaderSize];
        std::copy(kFileMagic.begin(), kFileMagic.end(), header);
        std::copy(file_id_, file_id_ + kFileIdSize, header + kFileMagic.size());
        if (!internal::write_all(fd_.fd, ByteView(header, sizeof header)) || ::fsync(fd_.fd) != 0 ||
            !sync_directory_of(path_)) {
          return Error(Errc::io_error, "cannot write " + path_ + ": " + errno_text());
        }
        records_ = 0;
        return {};
      }
      if (Status s = load(); !s) return s;
      return compact();
    }
    return Error(Errc::io_error, path_ + " keeps being replaced while it is opened");
  }

  Result<ClaimOutcome> claim(const ReplayClaim& c) override {
    if (Status s = check_claim(c); !s) return s.error();
    Result<PartitionDigest> digest = internal::partition_digest(c.name_space, c.partition);
    if (!digest) return std::move(digest).error();
    const PartitionKey key(digest->begin(), digest->end());
    std::lock_guard<std::mutex> lock(mutex_);
    if (broken_) return Error(Errc::io_error, path_ + " failed to sync earlier: reopen the store");
    const ClaimTable::Check check = table_.check(key, c, capacity_);
    if (check != ClaimTable::Check::fresh) return refusal(check);
    // The file holds at most 2 x (capacity, or the live claims if more:
    // several kinds of claim each have a capacity) records: at that point
    // at least half are forgotten claims, so compacting costs O(live) once
    // per that many appends.
    if (records_ >= 2 * std::max<uint64_t>(capacity_, table_.size())) {
      if (Status s = compact(); !s) return s.error();
    }
    if (Status s = append(digest->data(), c.id, c.keep_until_s); !s) return s.error();
    table_.insert(key, c.id, c.keep_until_s);
    return ClaimOutcome::first_use;
  }
  size_t capacity() const noexcept override { return capacity_; }
  size_t remembered() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return table_.size();
  }

 private:
  // The file open and exclusively locked; fd -1 if the path now names
  // another file than the one locked (replaced by a compaction meanwhile).
  Result<Fd> open_locked(bool& created) {
    constexpr int kFlags = O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
    Fd fd(::open(path_.c_str(), kFlags | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR));
    created = fd.fd >= 0;
    if (!created && errno == EEXIST) fd = Fd(::open(path_.c_str(), kFlags));
    if (fd.fd < 0) return Error(Errc::io_error, "cannot open " + path_ + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Error(Errc::io_error, path_ + " is not a regular file");
    }
    // Checked on the opened descriptor, as for secret files: whoever else
    // can write it can make a replay pass; whoever else can read it learns
    // who logged in when.
    if (st.st_uid != ::geteuid()) {
      return Error(Errc::insecure_permissions, path_ + " is owned by uid " + std::to_string(st.st_uid) +
                                                   ", not by this user (uid " + std::to_string(::geteuid()) + ")");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return Error(Errc::insecure_permissions, path_ + " (chmod 600 it)");
    }
    if (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0) {
      return Error(Errc::io_error, path_ + " is in use by another process (a replay store file serves one "
                                           "process): " + errno_text());
    }
    struct stat named {};
    if (::stat(path_.c_str(), &named) != 0 || named.st_dev != st.st_dev || named.st_ino != st.st_ino) {
      return Fd();
    }
    return fd;
  }

  Error refuse(std::string_view why) const {
    return Error(Errc::parse_error, path_ + ": " + std::string(why) +
                                        "; refused (nothing in it is trusted, and it is left as it is)");
  }

  Result<bool> header_unfinished() const {
    struct stat st {};
    if (::fstat(fd_.fd, &st) != 0) return Error(Errc::io_error, "cannot read " + path_ + ": " + errno_text());
    const auto size = static_cast<size_t>(st.st_size);
    if (size >= kHeaderSize) return false;
    uint8_t start[kHeaderSize];
    if (::pread(fd_.fd, start, size, 0) != static_cast<ssize_t>(size)) {
      return Error(Errc::io_error, "cannot read " + path_);
    }
    const size_t magic = std::min(size, kFileMagic.size());
    return std::memcmp(start, kFileMagic.data(), magic) == 0;
  }

  Status load() {
    struct stat st {};
    if (::fstat(fd_.fd, &st) != 0) return Error(Errc::io_error, "cannot read " + path_ + ": " + errno_text());
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint8_t header[kHeaderSize];
    if (size < kHeaderSize) {
      if (size >= kFileMagic.size() && !internal::read_all(fd_.fd, header, kFileMagic.size())) {
        return Error(Errc::io_error, "cannot read " + path_);
      }
      if (size >= kFileMagic.size() && std::memcmp(header, kFileMagic.data(), kFileMagic.size()) != 0) {
        return refuse("not an mqseal replay store file (foreign)");
      }
      return refuse("truncated: " + std::to_string(size) + " bytes, shorter than the header");
    }
    if (::pread(fd_.fd, header, kHeaderSize, 0) != static_cast<ssize_t>(kHeaderSize)) {
      return Error(Errc::io_error, "cannot read " + path_);
    }
    if (std::memcmp(header, kFileMagic.data(), kFileMagic.size()) != 0) {
      if (std::memcmp(header, kFileMagicStem.data(), kFileMagicStem.size()) == 0) {
        return refuse("a replay store file of another version than v1");
      }
      return refuse("not an mqseal replay store file (foreign)");
    }
    std::copy(header + kFileMagic.size(), header + kHeaderSize, file_id_);
    // Bytes after the last whole record are an append a crash cut short. Its
    // claim was never answered (first_use waits for the whole record to be
    // synced), so they are dropped: the compaction that follows every load
    // rewrites the file without them. Refusing the file would keep the broker
    // from starting after a crash until an operator moved it away.
    const uint64_t count = (size - kHeaderSize) / kRecordSize;
    const uint64_t now_s = system_time_ms() / 1000;
    std::vector<uint8_t> chunk(kRecordsPerRead * kRecordSize);
    for (uint64_t done = 0; done < count;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kRecordsPerRead, count - done));
      if (::lseek(fd_.fd, static_cast<off_t>(kHeaderSize + done * kRecordSize), SEEK_SET) < 0 ||
          !internal::read_all(fd_.fd, chunk.data(), n * kRecordSize)) {
        return Error(Errc::io_error, "cannot read " + path_);
      }
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* r = chunk.data() + i * kRecordSize;
        const PartitionKey digest(r, r + internal::kPartitionDigestSize);
        ReplayId id;
        std::copy(r + digest.size(), r + digest.size() + id.size(), id.begin());
        const uint64_t keep_until_s = internal::load_be64(r + digest.size() + id.size());
        uint8_t expected[kRecordSize];
        if (Status s = encode_record(file_id_, r, id, keep_until_s, expected); !s) return s;
        if (std::memcmp(expected + kRecordBodySize, r + kRecordBodySize, kRecordCheckSize) != 0) {
          return refuse("record " + std::to_string(done + i + 1) + ": checksum mismatch (corrupt)");
        }
        if (now_s > keep_until_s) continue;  // forgotten
        (void)table_.insert(digest, id, keep_until_s);
      }
      done += n;
    }
    return {};
  }

  // Rewrites the file with the live claims only: a temporary file beside it
  // (0600, locked before it is renamed into place, so no other process can
  // take it over), fsynced, renamed, the directory fsynced.
  Status compact() {
    std::string temp = path_ + ".tmp.XXXXXX";
    Fd fd(::mkstemp(temp.data()));
    if (fd.fd < 0) return Error(Errc::io_error, "cannot create " + temp + ": " + errno_text());
    // Written in chunks of kRecordsPerRead records, never the whole live set
    // in memory at once (up to 2^26 claims: gigabytes).
    bool ok = ::fchmod(fd.fd, S_IRUSR | S_IWUSR) == 0 && ::flock(fd.fd, LOCK_EX | LOCK_NB) == 0;
    std::vector<uint8_t> out;
    out.reserve(kRecordsPerRead * kRecordSize);
    out.insert(out.end(), kFileMagic.begin(), kFileMagic.end());
    out.insert(out.end(), file_id_, file_id_ + kFileIdSize);
    Status encoded;
    size_t live = 0;
    table_.for_each([&](const PartitionKey& digest, const Remembered& r) {
      if (!ok || !encoded) return;
      uint8_t record[kRecordSize];
      if (Status s = encode_record(file_id_, reinterpret_cast<const uint8_t*>(digest.data()), r.id, r.keep_until_s,
                                   record);
          !s) {
        encoded = s;
        return;
      }
      out.insert(out.end(), record, record + kRecordSize);
      ++live;
      if (out.size() >= kRecordsPerRead * kRecordSize) {
        ok = internal::write_all(fd.fd, ByteView(out));
        out.clear();
      }
    });
    ok = ok && encoded && internal::write_all(fd.fd, ByteView(out)) && ::fsync(fd.fd) == 0 &&
         std::rename(temp.c_str(), path_.c_str()) == 0;
    if (!ok) {
      const std::string why = errno_text();
      ::unlink(temp.c_str());
      return Error(Errc::io_error, "cannot compact " + path_ + ": " + why);
    }
    fd_ = std::move(fd);  // closes (and unlocks) the old file, no longer named
    records_ = live;
    if (!sync_directory_of(path_)) {
      broken_ = true;  // the rename may not survive a crash: answer nothing more
      return Error(Errc::io_error, "cannot sync the directory of " + path_ + ": " + errno_text());
    }
    return {};
  }

  // One record at the end, written and fsynced. A failed write is cut off
  // again (the file stays whole records); if even that or the sync fails,
  // the store refuses every later claim (what is on disk is unknown).
  Status append(const uint8_t digest[internal::kPartitionDigestSize], const ReplayId& id, uint64_t keep_until_s) {
    uint8_t record[kRecordSize];
    if (Status s = encode_record(file_id_, digest, id, keep_until_s, record); !s) return s;
    const off_t end = static_cast<off_t>(kHeaderSize + records_ * kRecordSize);
    if (::lseek(fd_.fd, end, SEEK_SET) != end || !internal::write_all(fd_.fd, ByteView(record, kRecordSize))) {
      const std::string why = errno_text();
      if (::ftruncate(fd_.fd, end) != 0 || ::fsync(fd_.fd) != 0) broken_ = true;
      return Error(Errc::io_error, "cannot write " + path_ + ": " + why);
    }
    if (::fdatasync(fd_.fd) != 0) {
      broken_ = true;
      return Error(Errc::io_error, "cannot sync " + path_ + ": " + errno_text());
    }
    ++records_;
    return {};
  }

  const std::string path_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  ClaimTable table_;
  Fd fd_;
  uint8_t file_id_[kFileIdSize] = {};
  uint64_t records_ = 0;  // whole records in the file
  bool broken_ = false;
};

}  // namespace

Status internal::check_claim(const ReplayClaim& c) {
  if (c.name_space.empty() || c.name_space.size() > kMaxReplayNamespaceSize ||
      c.partition.size() > kMaxReplayPartitionSize || c.max_per_partition == 0) {
    return Error(Errc::invalid_argument, "a replay claim out of range");
  }
  return {};
}

Result<PartitionDigest> internal::partition_digest(std::string_view name_space, std::string_view partition) {
  std::vector<uint8_t> message;
  message.reserve(4 + name_space.size() + partition.size());
  for (std::string_view s : {name_space, partition}) {
    message.push_back(static_cast<uint8_t>(s.size() >> 8));
    message.push_back(static_cast<uint8_t>(s.size()));
    message.insert(message.end(), s.begin(), s.end());
  }
  PartitionDigest out;
  if (Status s = blake2b_personal(out.data(), out.size(), ByteView(), message, kPartitionPersonal); !s) {
    return s.error();
  }
  return out;
}

#if !MQSEAL_WITH_REDIS
Result<std::shared_ptr<ReplayStore>> open_redis_replay_store(std::string_view, RedisReplayStoreOptions) {
  return Error(Errc::invalid_argument,
               "this mqseal was built without Redis (MQSEAL_WITH_REDIS=OFF): a redis:// replay store is refused");
}
#endif

Result<std::shared_ptr<ReplayStore>> memory_replay_store() {
  Result<SipKey> sip = new_sip_key();
  if (!sip) return std::move(sip).error();
  std::shared_ptr<ReplayStore> store = std::make_shared<MemoryStore>(*sip);
  return store;
}

Result<std::shared_ptr<ReplayStore>> open_file_replay_store(const std::string& path, FileReplayStoreOptions options) {
  if (options.capacity == 0 || options.capacity > kMaxFileReplayCapacity) {
    return Error(Errc::invalid_argument,
                 "a file replay store's capacity is 1 to " + std::to_string(kMaxFileReplayCapacity));
  }
  if (path.empty()) return Error(Errc::invalid_argument, "an empty replay store path");
  Result<SipKey> sip = new_sip_key();
  if (!sip) return std::move(sip).error();
  auto store = std::make_shared<FileStore>(path, options.capacity, *sip);
  if (Status s = store->open(); !s) return s.error();
  std::shared_ptr<ReplayStore> out = std::move(store);
  return out;
}

}  // namespace mqseal
