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
constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kRecordMode = 0600;
constexpr int kOk = 0;
constexpr int kError = MQTTCLIENT_PERSISTENCE_ERROR;

// One client's view of the store (Paho's persistence "handle").
struct Slot {
  EncryptedStore* store;
  std::string directory;
  std::string binding;  // client ID, 0, server URI, 0: every record's associated data starts so
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

// Temporary file, write, fsync, rename: a crash leaves the old record or the
// new one, never a torn one.
bool write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temp = path.substr(0, path.rfind('/') + 1) + kTempPrefix +
                           path.substr(path.rfind('/') + 1);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kRecordMode);
  return fd >= 0 && internal::replace_atomically(fd, temp, path, bytes);
}

bool read_file(const std::string& path, std::vector<uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) bytes.resize(static_cast<size_t>(st.st_size));
  ok = ok && internal::read_all(fd, bytes.data(), bytes.size());
  ::close(fd);
  return ok;
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
  return ::unlink((slot->directory + "/" + key).c_str()) == 0 ? kOk : kError;
}

// Record names in the slot, skipping unfinished temporary files.
std::vector<std::string> list_records(const Slot& slot) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(slot.directory.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    if (valid_record_key(entry->d_name)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  return names;
}

int store_keys(void* handle, char*** keys, int* count) {
  const std::vector<std::string> names = list_records(*static_cast<const Slot*>(handle));
  *keys = nullptr;
  *count = 0;
  if (names.empty()) return kOk;
  auto** array = static_cast<char**>(MQTTAsync_malloc(names.size() * sizeof(char*)));
  if (array == nullptr) return kError;
  for (size_t i = 0; i < names.size(); ++i) array[i] = paho_copy(names[i].c_str(), names[i].size() + 1);
  *keys = array;
  *count = static_cast<int>(names.size());
  return kOk;
}

int store_clear(void* handle) {
  const auto* slot = static_cast<const Slot*>(handle);
  int rc = kOk;
  for (const std::string& name : list_records(*slot)) {
    if (::unlink((slot->directory + "/" + name).c_str()) != 0) rc = kError;
  }
  return rc;
}

int store_contains(void* handle, char* key) {
  const auto* slot = static_cast<const Slot*>(handle);
  if (!valid_record_key(key)) return kError;
  return ::access((slot->directory + "/" + key).c_str(), F_OK) == 0 ? kOk : kError;
}

}  // namespace

// The callbacks that read the store's private members; the other callbacks
// only see their Slot.
struct EncryptedStore::Callbacks {
  static int open(void** handle, const char* client_id, const char* server_uri, void* context) {
    auto* store = static_cast<EncryptedStore*>(context);
    std::string binding = std::string(client_id != nullptr ? client_id : "") + '\0' +
                          std::string(server_uri != nullptr ? server_uri : "") + '\0';
    unsigned char hash[kSlotHashSize];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(binding.data()),
                       binding.size(), nullptr, 0);
    std::string directory = store->directory_ + "/" + internal::hex_encode(ByteView(hash, sizeof hash));
    if (::mkdir(directory.c_str(), kDirectoryMode) != 0 && errno != EEXIST) return kError;
    *handle = new Slot{store, std::move(directory), std::move(binding)};
    return kOk;
  }

  static int put(void* handle, char* key, int count, char* buffers[], int lengths[]) {
    const auto* slot = static_cast<const Slot*>(handle);
    if (!valid_record_key(key) || count < 0) return kError;
    std::vector<uint8_t> plain;
    for (int i = 0; i < count; ++i) {
      if (lengths[i] < 0) return kError;
      plain.insert(plain.end(), buffers[i], buffers[i] + lengths[i]);
    }
    std::vector<uint8_t> record;
    if (!slot->store->cipher_.seal(associated(*slot, key), plain, record)) return kError;
    return write_file_atomically(slot->directory + "/" + key, record) ? kOk : kError;
  }

  static int get(void* handle, char* key, char** buffer, int* length) {
    const auto* slot = static_cast<const Slot*>(handle);
    if (!valid_record_key(key)) return kError;
    std::vector<uint8_t> record;
    if (!read_file(slot->directory + "/" + key, record)) return kError;
    std::vector<uint8_t> plain;
    if (Status s = slot->store->cipher_.open(associated(*slot, key), record, plain); !s) {
      slot->store->refused_.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "mqseal: persisted record %s refused: %s\n", key, s.error().message().c_str());
      return kError;
    }
    *buffer = paho_copy(plain.data(), plain.size());
    *length = static_cast<int>(plain.size());
    return *buffer != nullptr ? kOk : kError;
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
  persistence_.pkeys = store_keys;
  persistence_.pclear = store_clear;
  persistence_.pcontainskey = store_contains;
}

Result<std::unique_ptr<EncryptedStore>> EncryptedStore::create(std::string directory,
                                                               std::shared_ptr<const Keyring> keys,
                                                               std::string_view key_name) {
  if (directory.empty()) return Error(Errc::invalid_argument, "a directory is required");
  Result<RecordCipher> cipher = RecordCipher::create(std::move(keys), key_name, kPurpose);
  if (!cipher) return std::move(cipher).error();
  if (::mkdir(directory.c_str(), kDirectoryMode) != 0 && errno != EEXIST) {
    return Error(Errc::io_error, "cannot create " + directory + ": " + std::strerror(errno));
  }
  return std::unique_ptr<EncryptedStore>(new EncryptedStore(std::move(directory), std::move(*cipher)));
}

}  // namespace mqseal::paho
