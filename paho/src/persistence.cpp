// EncryptedStore: Paho's MQTTClient_persistence interface over sealed files.
#include "mqseal/paho/persistence.h"

#include <MQTTAsync.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/hex.h"
#include "files/file_io.h"

namespace mqseal::paho {

namespace {

constexpr std::string_view kPurpose = "paho persistence";
constexpr size_t kMaxRecordKeySize = 64;   // Paho's keys are like "s-12", "c5-300"
constexpr size_t kSlotHashSize = 16;       // subdirectory name: 32 hex digits
constexpr char kTempPrefix[] = ".tmp-";
// A record that fails to open is renamed to this prefix, its name, a dot and
// the lowest number N from 1 that no file of its directory uses
// (".refused-c-1.2"): never listed again (names with a dot are not record
// names), kept for whoever looks into it, never replaced (a later refusal of
// the same name gets another N).
constexpr char kRefusedPrefix[] = ".refused-";
// docs/SPEC.md section 10: at most this many files named .refused-* in one
// client's directory (so N <= 1024). Once it holds that many, a refused
// record is left at its name and listed, and Paho's read of it fails
// (MQTTAsync_create fails, or restoring stops at it): nothing is deleted, and
// the operator clears the aside files.
constexpr size_t kMaxRefusedPerSlot = 1024;
// Paho 1.3.12 lists the records three times in MQTTAsync_create, and each
// listing would open every record. A slot remembers, for at most this many
// record names, the file that last opened fine (device, inode, size, mtime,
// ctime), and a listing does not open that file again while it is unchanged;
// once full, further records are opened at every listing. Reads (pget)
// always open the record.
constexpr size_t kMaxRememberedRecords = 8192;
// Only a file whose ctime is this much older than the moment it was opened
// is remembered: any change to a file after that sets its ctime to a later
// time, even on filesystems that keep times to 2 s (FAT), so it is opened
// again. A record written a moment ago is opened at every listing.
constexpr time_t kSettledSeconds = 3;
// docs/SPEC.md section 10: a record is 45 to 2^30 + 45 bytes long.
constexpr size_t kMaxRecordFileSize = (size_t{1} << 30) + kRecordOverhead;
constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kRecordMode = 0600;
// O_NOFOLLOW: a link at a record's name is not a record; O_NONBLOCK: opening a
// FIFO does not wait for a writer (fstat then refuses anything but a regular
// file, whose reads O_NONBLOCK does not change).
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
// O_EXCL | O_NOFOLLOW: a temporary file is always a new file, never one
// written through a link.
constexpr int kTempFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
constexpr int kOk = 0;
constexpr int kError = MQTTCLIENT_PERSISTENCE_ERROR;

// What identifies one version of a file: any write, truncation, rename,
// chmod or link changes its ctime (which no one can set back but by setting
// the clock).
struct FileVersion {
  dev_t device;
  ino_t inode;
  off_t size;
  timespec mtime;
  timespec ctime;

  explicit FileVersion(const struct stat& st)
      : device(st.st_dev), inode(st.st_ino), size(st.st_size), mtime(st.st_mtim), ctime(st.st_ctim) {}
  bool operator==(const FileVersion& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

// One client's view of the store (Paho's persistence "handle").
struct Slot {
  EncryptedStore* store = nullptr;
  std::string directory;
  std::string binding;  // client ID, 0, server URI, 0: every record's associated data starts so
  // Record name -> the version of its file that last opened fine
  // (kMaxRememberedRecords at most).
  mutable std::mutex mutex;
  mutable std::map<std::string, FileVersion> opened_fine;

  void forget(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex);
    opened_fine.erase(key);
  }
  void remember(const std::string& key, const struct stat& st) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = opened_fine.find(key);
    if (it != opened_fine.end()) {
      it->second = FileVersion(st);
    } else if (opened_fine.size() < kMaxRememberedRecords) {
      opened_fine.emplace(key, FileVersion(st));
    }
  }
  // True if the file at `key` (not followed if a link) is the version that
  // last opened fine.
  bool unchanged(const std::string& key) const {
    struct stat st {};
    if (::lstat((directory + "/" + key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = opened_fine.find(key);
    return it != opened_fine.end() && it->second == FileVersion(st);
  }
};

bool valid_record_key(const char* key) {
  const size_t n = key != nullptr ? std::strlen(key) : 0;
  if (n == 0 || n > kMaxRecordKeySize) return false;
  for (size_t i = 0; i < n; ++i) {
    const char c = key[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string associated(const Slot& slot, const char* key) { return slot.binding + key; }

// Renames `from` to `to` unless `to` exists (then false, errno EEXIST): a
// file is never replaced. Where the filesystem has no RENAME_NOREPLACE
// (EINVAL), or the kernel no renameat2 (ENOSYS: before Linux 3.15, through a
// C library that passes that on, as musl does, or a seccomp filter), link()
// claims the name just as atomically, then the old name is unlinked.
bool rename_without_replacing(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS) return false;
  if (::link(from.c_str(), to.c_str()) != 0) return false;
  if (::unlink(from.c_str()) != 0) {
    const int saved = errno;
    ::unlink(to.c_str());  // the second name of the same file: nothing is lost
    errno = saved;
    return false;
  }
  return true;
}

// The number of an aside file of record `key` (".refused-KEY.N", N from 1
// to kMaxRefusedPerSlot in decimal without leading zeros), or 0.
size_t aside_number(const char* file, const std::string& prefix) {
  if (std::strncmp(file, prefix.c_str(), prefix.size()) != 0) return 0;
  const char* digits = file + prefix.size();
  if (*digits < '1' || *digits > '9') return 0;
  size_t n = 0;
  for (const char* d = digits; *d != '\0'; ++d) {
    if (*d < '0' || *d > '9') return 0;
    n = n * 10 + static_cast<size_t>(*d - '0');
    if (n > kMaxRefusedPerSlot) return 0;
  }
  return n;
}

enum class MovedAside { moved, not_durably, full, failed };

// Moves the refused record `key` of `slot` to .refused-KEY.N (`aside`), N the
// lowest number no file uses, never over another file; then syncs the
// directory, so that the move survives a power loss.
MovedAside move_aside(const Slot& slot, const char* key, std::string& aside) {
  const std::string prefix = std::string(kRefusedPrefix) + key + ".";
  std::vector<bool> taken(kMaxRefusedPerSlot + 1, false);
  size_t count = 0;
  DIR* dir = ::opendir(slot.directory.c_str());
  if (dir == nullptr) return MovedAside::failed;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strncmp(entry->d_name, kRefusedPrefix, std::strlen(kRefusedPrefix)) != 0) continue;
    ++count;
    taken[aside_number(entry->d_name, prefix)] = true;
  }
  ::closedir(dir);
  if (count >= kMaxRefusedPerSlot) return MovedAside::full;
  const std::string path = slot.directory + "/" + key;
  for (size_t n = 1; n <= kMaxRefusedPerSlot; ++n) {
    if (taken[n]) continue;
    aside = slot.directory + "/" + prefix + std::to_string(n);
    if (rename_without_replacing(path, aside)) {
      return internal::sync_directory(slot.directory) ? MovedAside::moved : MovedAside::not_durably;
    }
    if (errno != EEXIST) return MovedAside::failed;  // EEXIST: made since the listing; the next N
  }
  return MovedAside::full;
}

// Temporary file, write, fsync, rename, fsync of the directory: a crash
// leaves the old record or the new one, never a torn one, and once this
// returns true the new one survives a power loss. A temporary file left by a
// crash is removed first (as is anything else at its name).
bool write_file_atomically(const std::string& directory, const char* key, const std::vector<uint8_t>& bytes) {
  const std::string temp = directory + "/" + kTempPrefix + key;
  if (::unlink(temp.c_str()) != 0 && errno != ENOENT) return false;
  const int fd = ::open(temp.c_str(), kTempFlags, kRecordMode);
  return fd >= 0 && internal::replace_atomically(fd, temp, directory + "/" + key, bytes) == internal::Replaced::durably;
}

enum class ReadOutcome {
  ok,
  absent,
  not_a_record,  // a link, FIFO, directory, ... or a file longer than any record
  io_error,
};

// `st`: the file's fstat, for ReadOutcome::ok.
ReadOutcome read_file(const std::string& path, std::vector<uint8_t>& bytes, struct stat& st) {
  const int fd = ::open(path.c_str(), kReadFlags);
  if (fd < 0) {
    if (errno == ENOENT) return ReadOutcome::absent;
    // ELOOP: a link (O_NOFOLLOW); ENXIO: a socket; EISDIR cannot happen
    // for O_RDONLY, but is not a record either.
    return errno == ELOOP || errno == ENXIO || errno == EISDIR ? ReadOutcome::not_a_record : ReadOutcome::io_error;
  }
  ReadOutcome outcome = ReadOutcome::ok;
  if (fstat(fd, &st) != 0) {
    outcome = ReadOutcome::io_error;
  } else if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxRecordFileSize) {
    outcome = ReadOutcome::not_a_record;
  } else {
    bytes.resize(static_cast<size_t>(st.st_size));
    if (!internal::read_all(fd, bytes.data(), bytes.size())) outcome = ReadOutcome::io_error;
  }
  ::close(fd);
  return outcome;
}

// Paho frees what the store hands it with its own free(): allocate with its malloc.
char* paho_copy(const void* data, size_t size) {
  auto* copy = static_cast<char*>(MQTTAsync_malloc(size == 0 ? 1 : size));
  if (copy != nullptr && size != 0) std::memcpy(copy, data, size);
  return copy;
}

int store_close(void* handle) {
  auto* slot = static_cast<Slot*>(handle);
  ::rmdir(slot->directory.c_str());  // only succeeds when no record is left
  delete slot;
  return kOk;
}

int store_remove(void* handle, char* key) {
  const auto* slot = static_cast<const Slot*>(handle);
  if (!valid_record_key(key)) return kError;
  slot->forget(key);
  if (::unlink((slot->directory + "/" + key).c_str()) != 0) return kError;
  return internal::sync_directory(slot->directory) ? kOk : kError;
}

// Record names in the slot (names of temporary and refused files start with
// a dot: never records); with `temporary`, the temporary files' names too.
// False if the directory could not be read to its end (no descriptor left,
// EIO, removed): what was found is then not every record.
[[nodiscard]] bool list_records(const Slot& slot, std::vector<std::string>& names,
                                std::vector<std::string>* temporary = nullptr) {
  DIR* dir = ::opendir(slot.directory.c_str());
  if (dir == nullptr) return false;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (valid_record_key(entry->d_name)) {
      names.emplace_back(entry->d_name);
    } else if (temporary != nullptr && std::strncmp(entry->d_name, kTempPrefix, std::strlen(kTempPrefix)) == 0) {
      temporary->emplace_back(entry->d_name);
    }
    errno = 0;  // readdir sets it only on an error
  }
  const int saved = errno;
  ::closedir(dir);
  errno = saved;
  return saved == 0;
}

void remove_files(const Slot& slot, const std::vector<std::string>& names) {
  for (const std::string& name : names) ::unlink((slot.directory + "/" + name).c_str());
}

// Every record, and temporary files a crash left (refused records stay).
int store_clear(void* handle) {
  const auto* slot = static_cast<const Slot*>(handle);
  {
    std::lock_guard<std::mutex> lock(slot->mutex);
    slot->opened_fine.clear();
  }
  int rc = kOk;
  std::vector<std::string> names;
  std::vector<std::string> temporary;
  if (!list_records(*slot, names, &temporary)) rc = kError;
  for (const std::string& name : names) {
    if (::unlink((slot->directory + "/" + name).c_str()) != 0) rc = kError;
  }
  remove_files(*slot, temporary);
  if (!internal::sync_directory(slot->directory)) rc = kError;
  return rc;
}

// Only a regular file is a record (a link, FIFO or directory is moved aside
// when read).
int store_contains(void* handle, char* key) {
  const auto* slot = static_cast<const Slot*>(handle);
  if (!valid_record_key(key)) return kError;
  struct stat st {};
  return ::lstat((slot->directory + "/" + key).c_str(), &st) == 0 && S_ISREG(st.st_mode) ? kOk : kError;
}

}  // namespace

// The callbacks that read the store's private members; the other callbacks
// only see their Slot.
struct EncryptedStore::Callbacks {
  static int open(void** handle, const char* client_id, const char* server_uri, void* context) {
    if (handle == nullptr || context == nullptr) return kError;
    auto* store = static_cast<EncryptedStore*>(context);
    std::string binding = std::string(client_id != nullptr ? client_id : "") + '\0' +
                          std::string(server_uri != nullptr ? server_uri : "") + '\0';
    unsigned char hash[kSlotHashSize];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(binding.data()),
                       binding.size(), nullptr, 0);
    std::string directory = store->directory_ + "/" + internal::hex_encode(ByteView(hash, sizeof hash));
    const bool created = ::mkdir(directory.c_str(), kDirectoryMode) == 0;
    if (!created && errno != EEXIST) return kError;
    if (created && !internal::sync_directory(store->directory_)) return kError;
    // lstat: the client's directory itself, not a link to another.
    struct stat st {};
    Status s = ::lstat(directory.c_str(), &st) == 0
                   ? internal::check_private_directory(directory, st)
                   : Status(Error(Errc::io_error, "cannot open " + directory + ": " + std::strerror(errno)));
    if (!s) {
      std::fprintf(stderr, "mqseal: persistence store refused: %s\n", s.error().message().c_str());
      return kError;
    }
    auto* slot = new Slot;
    slot->store = store;
    slot->directory = std::move(directory);
    slot->binding = std::move(binding);
    // Temporary files a crash left: no write of this client is under way
    // while Paho opens its store (one process per client ID and server).
    std::vector<std::string> ignored;
    std::vector<std::string> temporary;
    (void)list_records(*slot, ignored, &temporary);  // those found are removed; the rest at their next write
    remove_files(*slot, temporary);
    *handle = slot;
    return kOk;
  }

  static int put(void* handle, char* key, int count, char* buffers[], int lengths[]) {
    const auto* slot = static_cast<const Slot*>(handle);
    if (!valid_record_key(key) || count < 0 || (count > 0 && (buffers == nullptr || lengths == nullptr))) {
      return kError;
    }
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
      if (lengths[i] < 0 || (lengths[i] > 0 && buffers[i] == nullptr)) return kError;
      total += static_cast<size_t>(lengths[i]);
      if (total > kMaxRecordFileSize - kRecordOverhead) return kError;  // before copying any of it
    }
    std::vector<uint8_t> plain;
    plain.reserve(total);
    for (int i = 0; i < count; ++i) plain.insert(plain.end(), buffers[i], buffers[i] + lengths[i]);
    std::vector<uint8_t> record;
    if (!slot->store->cipher_.seal(associated(*slot, key), plain, record)) return kError;
    slot->forget(key);
    return write_file_atomically(slot->directory, key, record) ? kOk : kError;
  }

  static int get(void* handle, char* key, char** buffer, int* length) {
    const auto* slot = static_cast<const Slot*>(handle);
    if (!valid_record_key(key) || buffer == nullptr || length == nullptr) return kError;
    std::vector<uint8_t> plain;
    if (open_record(*slot, key, plain) != Opened::ok) return kError;
    *buffer = paho_copy(plain.data(), plain.size());
    *length = static_cast<int>(plain.size());
    return *buffer != nullptr ? kOk : kError;
  }

  // Only the records that open: Paho stops restoring at the first record it
  // cannot read (and fails MQTTAsync_create for an in-flight one), so a record
  // that would be refused is moved aside here, before Paho asks for it. One
  // that cannot be moved aside (kMaxRefusedPerSlot reached, or the rename
  // failed) is listed, like one that cannot be read: Paho's read fails
  // loudly rather than the record being forgotten and its name reused. So
  // is a directory that cannot be listed (no descriptor left, EIO): an empty
  // listing would have Paho restore nothing and number new records from 1,
  // over the queued ones.
  static int keys(void* handle, char*** keys, int* count) {
    if (keys == nullptr || count == nullptr) return kError;
    const auto* slot = static_cast<const Slot*>(handle);
    *keys = nullptr;
    *count = 0;
    std::vector<std::string> found;
    if (!list_records(*slot, found)) {
      std::fprintf(stderr, "mqseal: persistence store %s cannot be listed: %s\n", slot->directory.c_str(),
                   std::strerror(errno));
      return kError;
    }
    std::vector<std::string> names;
    for (std::string& name : found) {
      if (slot->unchanged(name)) {  // opened fine before, and not changed since
        names.push_back(std::move(name));
        continue;
      }
      std::vector<uint8_t> plain;
      // A record that cannot be read now (EIO, no descriptors left) is
      // listed: Paho's read then fails loudly rather than the record being
      // forgotten and its name reused.
      const Opened opened = open_record(*slot, name.c_str(), plain);
      if (opened != Opened::absent && opened != Opened::refused) names.push_back(std::move(name));
    }
    if (names.empty()) return kOk;
    auto** array = static_cast<char**>(MQTTAsync_malloc(names.size() * sizeof(char*)));
    if (array == nullptr) return kError;
    for (size_t i = 0; i < names.size(); ++i) {
      array[i] = paho_copy(names[i].c_str(), names[i].size() + 1);
      if (array[i] == nullptr) {
        for (size_t j = 0; j < i; ++j) MQTTAsync_free(array[j]);
        MQTTAsync_free(array);
        return kError;
      }
    }
    *keys = array;
    *count = static_cast<int>(names.size());
    return kOk;
  }

 private:
  enum class Opened {
    ok,
    absent,
    refused,           // and moved aside
    refused_in_place,  // could not be moved aside
    io_error,
  };

  // Reads and opens the record `key`. One that is refused (altered, sealed
  // with another key or for another place, or not a record at all) is
  // counted, reported on stderr and moved aside to .refused-KEY.N. One that
  // opens, and had settled before it was read, is remembered.
  static Opened open_record(const Slot& slot, const char* key, std::vector<uint8_t>& plain) {
    const std::string path = slot.directory + "/" + key;
    std::vector<uint8_t> record;
    std::string why;
    timespec before{};
    const bool clock_ok = ::clock_gettime(CLOCK_REALTIME, &before) == 0;
    struct stat st {};
    switch (read_file(path, record, st)) {
      case ReadOutcome::absent:
        return Opened::absent;
      case ReadOutcome::io_error:
        return Opened::io_error;
      case ReadOutcome::not_a_record:
        why = "not a regular file of at most " + std::to_string(kMaxRecordFileSize) + " bytes";
        break;
      case ReadOutcome::ok:
        if (Status s = slot.store->cipher_.open(associated(slot, key), record, plain); !s) {
          why = s.error().message();
          break;
        }
        if (clock_ok && st.st_ctim.tv_sec <= before.tv_sec - kSettledSeconds) slot.remember(key, st);
        return Opened::ok;
    }
    slot.forget(key);
    slot.store->refused_.fetch_add(1, std::memory_order_relaxed);
    std::string aside;
    std::string outcome;
    const MovedAside moved = move_aside(slot, key, aside);
    switch (moved) {
      case MovedAside::moved:
        outcome = "moved to " + aside;
        break;
      case MovedAside::not_durably:
        outcome = "moved to " + aside + ", but the directory's fsync failed: " + std::strerror(errno);
        break;
      case MovedAside::full:
        outcome = "left in place: " + std::to_string(kMaxRefusedPerSlot) + " refused records are kept aside in " +
                  slot.directory + " already (remove those no longer needed)";
        break;
      case MovedAside::failed:
        outcome = std::string("left in place, cannot move it aside: ") + std::strerror(errno);
        break;
    }
    std::fprintf(stderr, "mqseal: persisted record %s refused (%s); %s\n", path.c_str(), why.c_str(),
                 outcome.c_str());
    return moved == MovedAside::moved || moved == MovedAside::not_durably ? Opened::refused
                                                                           : Opened::refused_in_place;
  }
};

EncryptedStore::EncryptedStore(std::string directory, RecordCipher cipher)
    : directory_(std::move(directory)), cipher_(std::move(cipher)) {
  persistence_.context = this;
  persistence_.popen = Callbacks::open;
  persistence_.pclose = store_close;
  persistence_.pput = Callbacks::put;
  persistence_.pget = Callbacks::get;
  persistence_.premove = store_remove;
  persistence_.pkeys = Callbacks::keys;
  persistence_.pclear = store_clear;
  persistence_.pcontainskey = store_contains;
}

Result<std::unique_ptr<EncryptedStore>> EncryptedStore::create(std::string directory,
                                                               std::shared_ptr<const Keyring> keys,
                                                               std::string_view key_name) {
  if (directory.empty()) return Error(Errc::invalid_argument, "a directory is required");
  Result<RecordCipher> cipher = RecordCipher::create(std::move(keys), key_name, kPurpose);
  if (!cipher) return std::move(cipher).error();
  const bool created = ::mkdir(directory.c_str(), kDirectoryMode) == 0;
  if (!created && errno != EEXIST) {
    return Error(Errc::io_error, "cannot create " + directory + ": " + std::strerror(errno));
  }
  // A new directory's name is synced into its parent, or a power loss can
  // drop it and every record written in it since ("a/b/": the parent is "a").
  if (created) {
    const std::string parent = internal::directory_of(directory.substr(0, directory.find_last_not_of('/') + 1));
    if (!internal::sync_directory(parent)) {
      return Error(Errc::io_error, "cannot sync " + parent + ": " + std::strerror(errno));
    }
  }
  // stat: the store's directory may be a link (to a data partition, say);
  // the directory it names is checked.
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    return Error(Errc::io_error, "cannot open " + directory + ": " + std::strerror(errno));
  }
  // Whoever else can write it can delete or roll back records (which sealing
  // does not detect) and plant links and FIFOs.
  if (Status s = internal::check_private_directory(directory, st); !s) return s.error();
  return std::unique_ptr<EncryptedStore>(new EncryptedStore(std::move(directory), std::move(*cipher)));
}

}  // namespace mqseal::paho
