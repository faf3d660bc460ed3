// EncryptedStore: Paho's persistence encrypted at rest, across a process that
// ends with messages queued, and against tampering.
#include <MQTTAsync.h>
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/paho/persistence.h>

#include <fcntl.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker.h"
#include "fsync_recorder.h"
#include "paho_test_util.h"
#include "test_util.h"

// While not 0, renameat2 with flags fails with this errno: EINVAL as on a
// filesystem without RENAME_NOREPLACE, ENOSYS as on a kernel before 3.15
// (glibc does not fall back when flags are given). This definition in the
// executable is the one the store reaches (ELF symbol interposition, as
// tests/fsync_recorder.h).
static std::atomic<int> g_no_rename_noreplace{0};
extern "C" int renameat2(int old_dir, const char* old_path, int new_dir, const char* new_path,
                         unsigned int flags) noexcept {
  if (flags != 0 && g_no_rename_noreplace != 0) {
    errno = g_no_rename_noreplace;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_renameat2, old_dir, old_path, new_dir, new_path, flags));
}

namespace mqseal {
namespace {

namespace fs = std::filesystem;
using testing::take;

constexpr int kQueued = 8;

std::shared_ptr<Keyring> device_keys() {
  auto keys = std::make_shared<Keyring>();
  (void)take(keys->generate("telemetry"));
  (void)take(keys->generate("local"));
  return keys;
}

std::vector<std::string> record_files(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.push_back(testing::read_file(entry.path().string()));
  }
  return files;
}

// DIRECTORY/HEX of a client, as docs/SPEC.md section 10 defines HEX, for the
// server URI as the store is given it (Paho drops the scheme: "tcp://").
std::string slot_directory(const std::string& store_dir, const std::string& client_id, const std::string& uri) {
  const std::string binding = client_id + '\0' + uri + '\0';
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(binding.data()), binding.size(),
                     nullptr, 0);
  char hex[2 * sizeof hash + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return store_dir + "/" + hex;
}

// A store in a fresh directory with client-a's slot open, as Paho opens it,
// for the tests that call the store's functions directly. Paho's allocator
// (MQTTAsync_malloc/MQTTAsync_free, which the store uses for what it hands
// Paho) only works once Paho is initialised, which the first client does; in
// real use a live client is what calls the store, so one is kept alive here.
struct OpenSlot {
  static constexpr char kServer[] = "tcp://127.0.0.1:1";
  static constexpr char kClient[] = "client-a";

  OpenSlot() {
    if (MQTTAsync_create(&paho_alive, kServer, "init", MQTTCLIENT_PERSISTENCE_NONE, nullptr) != MQTTASYNC_SUCCESS) {
      return;
    }
    auto made = paho::EncryptedStore::create(dir.file("s"), keys, "local");
    if (!made.ok()) return;
    store = std::move(*made);
    p = store->persistence();
    ready = p->popen(&slot, kClient, kServer, p->context) == 0;
  }
  ~OpenSlot() {
    if (paho_alive != nullptr) MQTTAsync_destroy(&paho_alive);
  }
  OpenSlot(const OpenSlot&) = delete;
  OpenSlot& operator=(const OpenSlot&) = delete;

  MQTTAsync paho_alive = nullptr;
  testing::TempDir dir;
  std::shared_ptr<Keyring> keys = device_keys();
  std::unique_ptr<paho::EncryptedStore> store;
  MQTTClient_persistence* p = nullptr;
  void* slot = nullptr;
  const std::string slot_dir = slot_directory(dir.file("s"), kClient, kServer);
  bool ready = false;
};

// The names of the command records (Paho's "c-N") in a slot, lowest N first.
std::vector<std::string> command_records(const std::string& slot_dir) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& entry : fs::directory_iterator(slot_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("c-", 0) == 0) found.emplace_back(std::stoi(name.substr(2)), name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(f.second);
  return names;
}

TEST(PahoPersistence, QueuedMessagesSurviveTheProcessEncryptedAndAllArrive) {
  testing::TempDir dir;
  const std::string store_dir = dir.file("store");
  const std::string keyring = dir.file("device.keys");
  auto keys = device_keys();
  testing::expect_ok(keys->save(keyring));

  testing::Broker broker;
  const std::string uri = broker.address();
  broker.stop();  // the device cannot reach it
  testing::CommandResult device = testing::run_command(
      {MQSEAL_PERSISTENCE_DEVICE, uri, store_dir, keyring, "device-7", std::to_string(kQueued)});
  ASSERT_TRUE(device.ok()) << device.describe();

  // On disk: a record per queued message, and nothing readable.
  std::vector<std::string> records = record_files(store_dir);
  ASSERT_GE(records.size(), static_cast<size_t>(kQueued + 1));
  for (const std::string& record : records) {
    for (const char* secret : {"public-plaintext-marker", "plant/1/telemetry", "public/news", "queued-"}) {
      EXPECT_EQ(record.find(secret), std::string::npos) << "'" << secret << "' on disk";
    }
  }

  // The broker comes back; a service listens; a new device process with the
  // same store and key connects and sends everything that was queued.
  broker.restart();
  ASSERT_TRUE(broker.running()) << broker.log();
  testing::Inbox inbox;
  testing::AsyncTestClient service(broker.address(), "service");
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  testing::expect_ok(policy.add_plaintext_rule("public/#"));
  auto opener = std::make_shared<Opener>(take(Opener::create(policy, keys)));
  service.attach(opener, inbox.callbacks());
  ASSERT_TRUE(service.connect());
  ASSERT_TRUE(service.subscribe("#"));

  auto store = take(paho::EncryptedStore::create(store_dir, keys, "local"));
  MQTTAsync client = nullptr;
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
  create.sendWhileDisconnected = 1;
  create.allowDisconnectedSendAtAnyTime = 1;
  ASSERT_EQ(MQTTAsync_createWithOptions(&client, uri.c_str(), "device-7", MQTTCLIENT_PERSISTENCE_USER,
                                        store->persistence(), &create),
            MQTTASYNC_SUCCESS);
  MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
  options.cleansession = 0;
  ASSERT_TRUE(testing::wait_for(options, [&](auto& o) { return MQTTAsync_connect(client, &o); }));
  ASSERT_TRUE(inbox.wait(kQueued + 1)) << broker.log();
  {
    std::lock_guard<std::mutex> lock(inbox.mutex);
    std::vector<std::string> payloads;
    for (const auto& m : inbox.messages) payloads.push_back(m.payload);
    for (int i = 0; i < kQueued; ++i) {
      EXPECT_NE(std::find(payloads.begin(), payloads.end(), "queued-" + std::to_string(i)), payloads.end()) << i;
    }
    EXPECT_NE(std::find(payloads.begin(), payloads.end(), "public-plaintext-marker"), payloads.end());
    EXPECT_EQ(payloads.size(), static_cast<size_t>(kQueued + 1));  // none twice
  }
  EXPECT_EQ(store->refused_records(), 0u);
  ASSERT_TRUE(testing::wait_for_pending(client));
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  testing::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);
}

// Paho stops restoring queued commands at the first record it cannot read
// (MQTTAsync_restoreCommands, 1.3.12), and later reuses the names of those it
// did not restore: one altered record lost every command queued after it. The
// store moves a record that fails to open aside, so Paho never sees it, and
// the others are all sent.
TEST(PahoPersistence, ARefusedRecordIsMovedAsideAndEveryOtherQueuedMessageArrives) {
  testing::TempDir dir;
  const std::string store_dir = dir.file("store");
  const std::string keyring = dir.file("device.keys");
  auto keys = device_keys();
  testing::expect_ok(keys->save(keyring));

  testing::Broker broker;
  const std::string uri = broker.address();
  broker.stop();
  testing::CommandResult device = testing::run_command(
      {MQSEAL_PERSISTENCE_DEVICE, uri, store_dir, keyring, "device-7", std::to_string(kQueued)});
  ASSERT_TRUE(device.ok()) << device.describe();

  // The first command Paho restores is altered on disk.
  const std::string slot_dir = slot_directory(store_dir, "device-7", uri.substr(uri.find("://") + 3));
  const std::vector<std::string> commands = command_records(slot_dir);
  ASSERT_EQ(commands.size(), static_cast<size_t>(kQueued + 1));
  const std::string first = slot_dir + "/" + commands.front();
  std::string bytes = testing::read_file(first);
  bytes[bytes.size() / 2] ^= 1;
  testing::write_file(first, bytes, 0600);

  broker.restart();
  ASSERT_TRUE(broker.running()) << broker.log();
  testing::Inbox inbox;
  testing::AsyncTestClient service(broker.address(), "service");
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  testing::expect_ok(policy.add_plaintext_rule("public/#"));
  service.attach(std::make_shared<Opener>(take(Opener::create(policy, keys))), inbox.callbacks());
  ASSERT_TRUE(service.connect());
  ASSERT_TRUE(service.subscribe("#"));

  auto store = take(paho::EncryptedStore::create(store_dir, keys, "local"));
  MQTTAsync client = nullptr;
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
  create.sendWhileDisconnected = 1;
  create.allowDisconnectedSendAtAnyTime = 1;
  ASSERT_EQ(MQTTAsync_createWithOptions(&client, uri.c_str(), "device-7", MQTTCLIENT_PERSISTENCE_USER,
                                        store->persistence(), &create),
            MQTTASYNC_SUCCESS);
  // Moved aside (kept for whoever looks into it), not restored, counted.
  EXPECT_FALSE(fs::exists(first));
  EXPECT_TRUE(fs::is_regular_file(slot_dir + "/.refused-" + commands.front() + ".1"));
  EXPECT_EQ(store->refused_records(), 1u);
  MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
  options.cleansession = 0;
  ASSERT_TRUE(testing::wait_for(options, [&](auto& o) { return MQTTAsync_connect(client, &o); }));
  EXPECT_TRUE(inbox.wait(kQueued)) << broker.log();  // all but the altered one
  ASSERT_TRUE(testing::wait_for_pending(client));
  {
    std::lock_guard<std::mutex> lock(inbox.mutex);
    EXPECT_EQ(inbox.messages.size(), static_cast<size_t>(kQueued));
  }
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  testing::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);
}

// Paho fails MQTTAsync_create (a persistence error) when it cannot read an
// in-flight record: a foreign file or a directory at a record's name kept the
// device from starting at all. Both are moved aside.
TEST(PahoPersistence, AForeignFileOrDirectoryAtARecordNameDoesNotStopTheClient) {
  testing::TempDir dir;
  const std::string store_dir = dir.file("store");
  auto store = take(paho::EncryptedStore::create(store_dir, device_keys(), "local"));
  const std::string uri = "tcp://127.0.0.1:1";
  const std::string slot_dir = slot_directory(store_dir, "device-9", "127.0.0.1:1");  // as Paho gives it
  ASSERT_TRUE(fs::create_directory(slot_dir));
  fs::permissions(slot_dir, fs::perms::owner_all, fs::perm_options::replace);
  testing::write_file(slot_dir + "/s-99", "not a record", 0600);
  ASSERT_TRUE(fs::create_directory(slot_dir + "/s-98"));

  MQTTAsync client = nullptr;
  EXPECT_EQ(MQTTAsync_create(&client, uri.c_str(), "device-9", MQTTCLIENT_PERSISTENCE_USER, store->persistence()),
            MQTTASYNC_SUCCESS);
  EXPECT_TRUE(fs::is_regular_file(slot_dir + "/.refused-s-99.1"));
  EXPECT_TRUE(fs::is_directory(slot_dir + "/.refused-s-98.1"));
  EXPECT_FALSE(fs::exists(slot_dir + "/s-99"));
  EXPECT_FALSE(fs::exists(slot_dir + "/s-98"));
  EXPECT_EQ(store->refused_records(), 2u);
  if (client != nullptr) MQTTAsync_destroy(&client);
}

// The store's contract, through the same function pointers Paho calls.
TEST(PahoPersistence, AlteredMovedOrForeignRecordsAreRefused) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& dir = s.dir;
  auto& store = s.store;
  auto& p = s.p;
  auto& slot = s.slot;
  char part1[] = "topic/x";
  char part2[] = "payload bytes";
  char* buffers[] = {part1, part2};
  int lengths[] = {7, 13};
  char key_one[] = "s-1";
  char key_two[] = "s-2";
  ASSERT_EQ(p->pput(slot, key_one, 2, buffers, lengths), 0);
  char* out = nullptr;
  int out_len = 0;
  ASSERT_EQ(p->pget(slot, key_one, &out, &out_len), 0);
  EXPECT_EQ(std::string(out, static_cast<size_t>(out_len)), "topic/xpayload bytes");
  MQTTAsync_free(out);
  EXPECT_EQ(p->pcontainskey(slot, key_one), 0);
  EXPECT_NE(p->pcontainskey(slot, key_two), 0);
  char** keys_out = nullptr;
  int key_count = 0;
  ASSERT_EQ(p->pkeys(slot, &keys_out, &key_count), 0);
  ASSERT_EQ(key_count, 1);
  EXPECT_STREQ(keys_out[0], "s-1");
  MQTTAsync_free(keys_out[0]);
  MQTTAsync_free(keys_out);

  // The record file, moved to another record's name: refused.
  const std::string slot_dir = fs::directory_iterator(dir.file("s"))->path().string();
  fs::copy_file(slot_dir + "/s-1", slot_dir + "/s-2");
  EXPECT_NE(p->pget(slot, key_two, &out, &out_len), 0);
  // One byte altered: refused.
  std::string bytes = testing::read_file(slot_dir + "/s-1");
  bytes[bytes.size() / 2] ^= 1;
  testing::write_file(slot_dir + "/s-1", bytes, 0600);
  EXPECT_NE(p->pget(slot, key_one, &out, &out_len), 0);
  EXPECT_EQ(store->refused_records(), 2u);
  // Keys that could escape the directory are refused outright.
  char escape[] = "../x";
  EXPECT_NE(p->pput(slot, escape, 2, buffers, lengths), 0);
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_NE(p->pcontainskey(slot, key_one), 0);
  EXPECT_EQ(p->pclose(slot), 0);

  // Another client's view of the same directory cannot read a's records.
  void* other = nullptr;
  ASSERT_EQ(p->popen(&other, "client-b", "tcp://127.0.0.1:1", p->context), 0);
  EXPECT_NE(p->pget(other, key_one, &out, &out_len), 0);
  EXPECT_EQ(p->pclose(other), 0);
}

// The aside files of record `name` in a slot (.refused-NAME and .refused-NAME.N).
std::vector<std::string> aside_files(const std::string& slot_dir, const std::string& name) {
  std::vector<std::string> found;
  const std::string prefix = ".refused-" + name;
  for (const auto& entry : fs::directory_iterator(slot_dir)) {
    const std::string file = entry.path().filename().string();
    if (file == prefix || file.rfind(prefix + ".", 0) == 0) found.push_back(file);
  }
  std::sort(found.begin(), found.end());
  return found;
}

// A device started with the wrong keyring: every record is refused and moved
// aside, Paho restores nothing and numbers its new commands from 1 again,
// sealing them with the wrong key. Once the keyring is fixed, those new
// records are refused in turn: they must not replace the originals, which the
// right key still opens. And the move is made durable (the directory synced).
TEST(PahoPersistence, ALaterRefusalOfTheSameNameKeepsTheEarlierAsideRecord) {
  OpenSlot s;  // the right keyring
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  char name[] = "c-1";
  char original[] = "queued before the keyring was lost";
  char* buffers[] = {original};
  int lengths[] = {static_cast<int>(std::strlen(original))};
  ASSERT_EQ(p->pput(s.slot, name, 1, buffers, lengths), 0);
  const std::string original_bytes = testing::read_file(s.slot_dir + "/c-1");

  // The same directory through a store with another keyring.
  auto wrong = take(paho::EncryptedStore::create(s.dir.file("s"), device_keys(), "local"));
  MQTTClient_persistence* w = wrong->persistence();
  void* wslot = nullptr;
  ASSERT_EQ(w->popen(&wslot, OpenSlot::kClient, OpenSlot::kServer, w->context), 0);
  char** keys_out = nullptr;
  int key_count = -1;
  (void)testing::take_synced();
  ASSERT_EQ(w->pkeys(wslot, &keys_out, &key_count), 0);
  EXPECT_EQ(key_count, 0);
  EXPECT_FALSE(fs::exists(s.slot_dir + "/c-1"));
  ASSERT_EQ(aside_files(s.slot_dir, "c-1").size(), 1u);
  std::vector<std::string> synced = testing::take_synced();
  EXPECT_EQ(std::count(synced.begin(), synced.end(), s.slot_dir), 1) << synced.size();

  // Paho numbers from 1 again: a new c-1, sealed with the wrong key.
  char replacement[] = "queued with the wrong keyring";
  buffers[0] = replacement;
  lengths[0] = static_cast<int>(std::strlen(replacement));
  ASSERT_EQ(w->pput(wslot, name, 1, buffers, lengths), 0);
  const std::string replacement_bytes = testing::read_file(s.slot_dir + "/c-1");
  EXPECT_EQ(w->pclose(wslot), 0);

  // The keyring is fixed: the new c-1 is refused and moved aside too.
  ASSERT_EQ(p->pkeys(s.slot, &keys_out, &key_count), 0);
  EXPECT_EQ(key_count, 0);
  EXPECT_EQ(s.store->refused_records(), 1u);
  EXPECT_FALSE(fs::exists(s.slot_dir + "/c-1"));
  const std::vector<std::string> aside = aside_files(s.slot_dir, "c-1");
  ASSERT_EQ(aside.size(), 2u);
  std::vector<std::string> contents;
  for (const std::string& file : aside) contents.push_back(testing::read_file(s.slot_dir + "/" + file));
  EXPECT_EQ(std::count(contents.begin(), contents.end(), original_bytes), 1);
  EXPECT_EQ(std::count(contents.begin(), contents.end(), replacement_bytes), 1);

  // Renamed back (the name is free), the original opens with the right key.
  const size_t at = contents[0] == original_bytes ? 0 : 1;
  fs::rename(s.slot_dir + "/" + aside[at], s.slot_dir + "/c-1");
  char* out = nullptr;
  int out_len = 0;
  ASSERT_EQ(p->pget(s.slot, name, &out, &out_len), 0);
  EXPECT_EQ(std::string(out, static_cast<size_t>(out_len)), original);
  MQTTAsync_free(out);
  EXPECT_EQ(p->pclose(s.slot), 0);
}

// Where the filesystem (EINVAL) or the kernel (ENOSYS: before Linux 3.15,
// still found on devices) has no RENAME_NOREPLACE, link() then unlink() claim
// the aside name: a second refusal of a name still keeps the first.
class WithoutRenameNoReplace : public ::testing::TestWithParam<int> {};

TEST_P(WithoutRenameNoReplace, ALaterRefusalStillKeepsTheEarlierAsideRecord) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  g_no_rename_noreplace = GetParam();
  testing::write_file(s.slot_dir + "/s-1", "first", 0600);
  char** keys_out = nullptr;
  int key_count = -1;
  (void)testing::take_synced();
  EXPECT_EQ(s.p->pkeys(s.slot, &keys_out, &key_count), 0);
  std::vector<std::string> synced = testing::take_synced();
  EXPECT_EQ(std::count(synced.begin(), synced.end(), s.slot_dir), 1) << synced.size();
  testing::write_file(s.slot_dir + "/s-1", "second", 0600);
  EXPECT_EQ(s.p->pkeys(s.slot, &keys_out, &key_count), 0);
  g_no_rename_noreplace = 0;
  EXPECT_EQ(key_count, 0);
  EXPECT_FALSE(fs::exists(s.slot_dir + "/s-1"));
  EXPECT_EQ(aside_files(s.slot_dir, "s-1"), (std::vector<std::string>{".refused-s-1.1", ".refused-s-1.2"}));
  EXPECT_EQ(testing::read_file(s.slot_dir + "/.refused-s-1.1"), "first");
  EXPECT_EQ(testing::read_file(s.slot_dir + "/.refused-s-1.2"), "second");
  EXPECT_EQ(s.p->pclose(s.slot), 0);
}

INSTANTIATE_TEST_SUITE_P(PahoPersistence, WithoutRenameNoReplace, ::testing::Values(EINVAL, ENOSYS),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return std::string(param.param == EINVAL ? "OnTheFilesystem" : "InTheKernel");
                         });

// At most 1024 aside files per client directory (docs/SPEC.md section 10):
// past that, a refused record is left at its name and listed, so that Paho's
// read of it fails loudly; nothing is deleted to make room.
TEST(PahoPersistence, ARecordRefusedWhenTheAsideFilesAreFullIsLeftInPlaceAndListed) {
  constexpr int kMaxRefusedPerSlot = 1024;  // as documented
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  for (int i = 1; i < kMaxRefusedPerSlot; ++i) {
    testing::write_file(s.slot_dir + "/.refused-junk-" + std::to_string(i), "kept", 0600);
  }
  testing::write_file(s.slot_dir + "/s-1", "not a record", 0600);
  testing::write_file(s.slot_dir + "/s-2", "not a record", 0600);
  char** keys_out = nullptr;
  int key_count = -1;
  ASSERT_EQ(p->pkeys(s.slot, &keys_out, &key_count), 0);
  // The first one refused (in directory order) took the last place; the
  // other stays and is listed.
  ASSERT_EQ(key_count, 1);
  std::string kept = keys_out[0];
  MQTTAsync_free(keys_out[0]);
  MQTTAsync_free(keys_out);
  const std::string moved = kept == "s-1" ? "s-2" : "s-1";
  EXPECT_TRUE(fs::is_regular_file(s.slot_dir + "/.refused-" + moved + ".1"));
  EXPECT_FALSE(fs::exists(s.slot_dir + "/" + moved));
  char* out = nullptr;
  int out_len = 0;
  EXPECT_NE(p->pget(s.slot, kept.data(), &out, &out_len), 0);
  EXPECT_EQ(testing::read_file(s.slot_dir + "/" + kept), "not a record");
  EXPECT_TRUE(aside_files(s.slot_dir, kept).empty());
  EXPECT_EQ(s.store->refused_records(), 3u);  // one, then the other when listed and when read
  size_t aside = 0;
  for (const auto& entry : fs::directory_iterator(s.slot_dir)) {
    aside += entry.path().filename().string().rfind(".refused-", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(aside, static_cast<size_t>(kMaxRefusedPerSlot));
  EXPECT_EQ(p->pclose(s.slot), 0);
}

// Paho 1.3.12 lists the records three times in MQTTAsync_create: a record
// that opened fine, and has not changed since, is not opened again by a
// listing (shown here by retiring its key after the first listing: the next
// listing still lists it, and only the read refuses it). A record changed in
// place is opened again. Only files older than 3 s are remembered, hence the
// wait.
TEST(PahoPersistence, AListingDoesNotOpenAnUnchangedRecordAgain) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  char one[] = "s-1";
  char two[] = "s-2";
  char payload[] = "payload";
  char* buffers[] = {payload};
  int lengths[] = {7};
  ASSERT_EQ(p->pput(s.slot, one, 1, buffers, lengths), 0);
  ASSERT_EQ(p->pput(s.slot, two, 1, buffers, lengths), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(4100));
  auto list = [&] {
    char** keys_out = nullptr;
    int key_count = 0;
    std::vector<std::string> names;
    if (p->pkeys(s.slot, &keys_out, &key_count) != 0) return names;
    for (int i = 0; i < key_count; ++i) {
      names.emplace_back(keys_out[i]);
      MQTTAsync_free(keys_out[i]);
    }
    if (keys_out != nullptr) MQTTAsync_free(keys_out);
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(list(), (std::vector<std::string>{"s-1", "s-2"}));
  // s-2 altered in place (same file, same size): opened again, refused.
  std::string bytes = testing::read_file(s.slot_dir + "/s-2");
  bytes[bytes.size() / 2] ^= 1;
  testing::write_file(s.slot_dir + "/s-2", bytes, 0600);
  // The key of s-1 retired: s-1 is not opened again, so still listed.
  const KeyId old_key = take(s.keys->primary("local"));
  testing::expect_ok(s.keys->promote(take(s.keys->generate("local"))));
  testing::expect_ok(s.keys->retire(old_key));
  EXPECT_EQ(list(), (std::vector<std::string>{"s-1"}));
  EXPECT_EQ(s.store->refused_records(), 1u);  // s-2
  EXPECT_TRUE(fs::is_regular_file(s.slot_dir + "/.refused-s-2.1"));
  // A read always opens it.
  char* out = nullptr;
  int out_len = 0;
  EXPECT_NE(p->pget(s.slot, one, &out, &out_len), 0);
  EXPECT_EQ(s.store->refused_records(), 2u);
  EXPECT_TRUE(list().empty());
  EXPECT_EQ(p->pclose(s.slot), 0);
}

// A record is written to a temporary file, fsync'ed and only then renamed
// into place: after a crash the store holds the old record or the new one.
TEST(PahoPersistence, ARecordIsFsyncedBeforeItIsRenamedIntoPlace) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& dir = s.dir;
  auto& p = s.p;
  auto& slot = s.slot;
  char part[] = "payload";
  char* buffers[] = {part};
  int lengths[] = {7};
  char key[] = "s-1";
  (void)testing::take_synced();
  ASSERT_EQ(p->pput(slot, key, 1, buffers, lengths), 0);
  const std::string slot_dir = fs::directory_iterator(dir.file("s"))->path().string();
  EXPECT_TRUE(fs::is_regular_file(slot_dir + "/s-1"));
  std::vector<std::string> synced = testing::take_synced();
  // Synced while it still had its temporary name: before the rename.
  EXPECT_EQ(std::count(synced.begin(), synced.end(), slot_dir + "/.tmp-s-1"), 1) << synced.size();
  // And the directory after the rename: the new name itself survives a
  // power loss once Paho is told the record is written.
  ASSERT_FALSE(synced.empty());
  EXPECT_EQ(synced.back(), slot_dir);
  // A removal too: a removed record that came back after a power loss would
  // be sent again.
  EXPECT_EQ(p->premove(slot, key), 0);
  synced = testing::take_synced();
  EXPECT_EQ(std::count(synced.begin(), synced.end(), slot_dir), 1) << synced.size();
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_EQ(p->pclose(slot), 0);
}

// Whoever can write the store's directory must not make a read block, or
// exhaust memory: a FIFO where a record should be is refused at once (Paho
// would wait in MQTTAsync_create for a writer that never comes), and so is a
// file longer than any record (a sparse one of a terabyte costs no disk).
TEST(PahoPersistence, AFifoOrAnOversizedFileAtARecordNameIsRefusedWithoutBlocking) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& store = s.store;
  auto& p = s.p;
  auto& slot = s.slot;
  auto& slot_dir = s.slot_dir;
  ASSERT_EQ(::mkfifo((slot_dir + "/s-3").c_str(), 0600), 0);
  {
    const int fd = ::open((slot_dir + "/s-4").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{1} << 40), 0);
    ::close(fd);
  }
  char fifo_key[] = "s-3";
  auto read = std::async(std::launch::async, [&] {
    char* out = nullptr;
    int out_len = 0;
    return p->pget(slot, fifo_key, &out, &out_len);
  });
  if (read.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    ADD_FAILURE() << "pget blocked on a FIFO";
    const int writer = ::open((slot_dir + "/s-3").c_str(), O_WRONLY | O_NONBLOCK);  // lets it go
    if (writer >= 0) ::close(writer);
  }
  EXPECT_NE(read.get(), 0);
  char huge_key[] = "s-4";
  char* out = nullptr;
  int out_len = 0;
  EXPECT_NE(p->pget(slot, huge_key, &out, &out_len), 0);
  EXPECT_EQ(store->refused_records(), 2u);
  EXPECT_EQ(p->pclose(slot), 0);
}

// A stale temporary file (a crash between write and rename), or a link
// planted at its name, is replaced, never written through: the link's target
// is left as it was.
TEST(PahoPersistence, ARecordIsNeverWrittenThroughALinkAtItsTemporaryName) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& dir = s.dir;
  auto& p = s.p;
  auto& slot = s.slot;
  auto& slot_dir = s.slot_dir;
  const std::string victim = dir.file("victim");
  testing::write_file(victim, "precious", 0600);
  fs::create_symlink(victim, slot_dir + "/.tmp-s-1");
  testing::write_file(slot_dir + "/.tmp-s-2", "half a record from before a crash", 0600);
  char part[] = "payload";
  char* buffers[] = {part};
  int lengths[] = {7};
  char key_one[] = "s-1";
  char key_two[] = "s-2";
  EXPECT_EQ(p->pput(slot, key_one, 1, buffers, lengths), 0);
  EXPECT_EQ(p->pput(slot, key_two, 1, buffers, lengths), 0);
  EXPECT_EQ(testing::read_file(victim), "precious");
  for (char* key : {key_one, key_two}) {
    char* out = nullptr;
    int out_len = 0;
    ASSERT_EQ(p->pget(slot, key, &out, &out_len), 0) << key;
    EXPECT_EQ(std::string(out, static_cast<size_t>(out_len)), "payload");
    MQTTAsync_free(out);
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(slot_dir + "/.tmp-s-1")));
  // Clearing the store (a clean session) removes what a crash left too.
  testing::write_file(slot_dir + "/.tmp-s-7", "half a record from before a crash", 0600);
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_FALSE(fs::exists(slot_dir + "/.tmp-s-7"));
  EXPECT_EQ(p->pclose(slot), 0);
}

// A full disk (here: a file size limit, EFBIG as ENOSPC would be) fails the
// write: Paho gets an error, the record written before is intact, and no
// temporary file is left.
TEST(PahoPersistence, AWriteTheDiskRefusesFailsAndKeepsTheRecordBefore) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  auto& slot = s.slot;
  auto& slot_dir = s.slot_dir;
  char key[] = "s-1";
  char small[] = "before";
  char* small_buffers[] = {small};
  int small_lengths[] = {6};
  ASSERT_EQ(p->pput(slot, key, 1, small_buffers, small_lengths), 0);

  std::vector<char> big(64 * 1024, 'x');
  char* big_buffers[] = {big.data()};
  int big_lengths[] = {static_cast<int>(big.size())};
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 4096;
  void (*previous)(int) = std::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  const int rc = p->pput(slot, key, 1, big_buffers, big_lengths);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, previous);
  EXPECT_NE(rc, 0);

  char* out = nullptr;
  int out_len = 0;
  ASSERT_EQ(p->pget(slot, key, &out, &out_len), 0);
  EXPECT_EQ(std::string(out, static_cast<size_t>(out_len)), "before");
  MQTTAsync_free(out);
  for (const auto& entry : fs::directory_iterator(slot_dir)) {
    EXPECT_EQ(entry.path().filename().string().rfind(".tmp-", 0), std::string::npos) << entry.path();
  }
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_EQ(p->pclose(slot), 0);
}

// A temporary file a crash left behind is removed when the client's store is
// opened again (MQTTAsync_create), whatever its record's name.
TEST(PahoPersistence, TemporaryFilesACrashLeftAreRemovedWhenTheStoreOpens) {
  testing::TempDir dir;
  auto store = take(paho::EncryptedStore::create(dir.file("s"), device_keys(), "local"));
  MQTTClient_persistence* p = store->persistence();
  const std::string slot_dir = slot_directory(dir.file("s"), "client-a", "tcp://127.0.0.1:1");
  ASSERT_TRUE(fs::create_directory(slot_dir));
  fs::permissions(slot_dir, fs::perms::owner_all, fs::perm_options::replace);
  testing::write_file(slot_dir + "/.tmp-c-17", "half a record", 0600);
  testing::write_file(slot_dir + "/.refused-s-3", "kept for inspection", 0600);
  void* slot = nullptr;
  ASSERT_EQ(p->popen(&slot, "client-a", "tcp://127.0.0.1:1", p->context), 0);
  EXPECT_FALSE(fs::exists(slot_dir + "/.tmp-c-17"));
  EXPECT_TRUE(fs::exists(slot_dir + "/.refused-s-3"));
  EXPECT_EQ(p->pclose(slot), 0);
}

// A listing that cannot read the client's directory (here: no descriptor
// left, EMFILE) is an error to Paho, not an empty store: Paho would restore
// nothing, number new records from 1 and write them over the queued ones.
TEST(PahoPersistence, AListingThatCannotReadTheDirectoryIsAnErrorNotAnEmptyStore) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  char key[] = "c-1";
  char part[] = "queued";
  char* buffers[] = {part};
  int lengths[] = {6};
  ASSERT_EQ(p->pput(s.slot, key, 1, buffers, lengths), 0);
  // Every descriptor below the limit in use: the next open fails with EMFILE.
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limited), 0);
  char** keys_out = nullptr;
  int key_count = -1;
  const int rc = p->pkeys(s.slot, &keys_out, &key_count);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_NE(rc, 0) << key_count;
  for (int i = 0; rc == 0 && i < key_count; ++i) MQTTAsync_free(keys_out[i]);
  if (rc == 0 && keys_out != nullptr) MQTTAsync_free(keys_out);
  // Nothing was lost or moved aside: the record is listed once descriptors are back.
  EXPECT_EQ(s.store->refused_records(), 0u);
  ASSERT_EQ(p->pkeys(s.slot, &keys_out, &key_count), 0);
  ASSERT_EQ(key_count, 1);
  EXPECT_STREQ(keys_out[0], "c-1");
  MQTTAsync_free(keys_out[0]);
  MQTTAsync_free(keys_out);
  EXPECT_EQ(p->pclear(s.slot), 0);
  EXPECT_EQ(p->pclose(s.slot), 0);
}

// The store's directory, when create() makes it, is synced into its parent:
// otherwise a power loss can drop the directory, and every record in it,
// although each record and each client's directory were synced.
TEST(PahoPersistence, AStoreDirectoryCreatedNewIsSyncedIntoItsParent) {
  testing::TempDir dir;
  (void)testing::take_synced();
  auto store = take(paho::EncryptedStore::create(dir.file("s"), device_keys(), "local"));
  std::vector<std::string> synced = testing::take_synced();
  EXPECT_EQ(std::count(synced.begin(), synced.end(), dir.path()), 1) << synced.size();
  // An existing one is not synced again.
  auto again = take(paho::EncryptedStore::create(dir.file("s"), device_keys(), "local"));
  EXPECT_TRUE(testing::take_synced().empty());
  // Named with a trailing slash: still its parent.
  auto slashed = take(paho::EncryptedStore::create(dir.file("t") + "//", device_keys(), "local"));
  synced = testing::take_synced();
  EXPECT_EQ(std::count(synced.begin(), synced.end(), dir.path()), 1) << synced.size();
}

// Null buffers and counts that do not match them are errors, not crashes.
TEST(PahoPersistence, OddArgumentsAreErrorsNotCrashes) {
  OpenSlot s;
  ASSERT_TRUE(s.ready);
  auto& p = s.p;
  auto& slot = s.slot;
  EXPECT_NE(p->popen(nullptr, OpenSlot::kClient, OpenSlot::kServer, p->context), 0);
  char key[] = "s-1";
  char part[] = "payload";
  char* buffers[] = {part};
  char* null_buffers[] = {nullptr};
  int lengths[] = {7};
  int negative[] = {-1};
  EXPECT_NE(p->pput(slot, key, 1, nullptr, lengths), 0);
  EXPECT_NE(p->pput(slot, key, 1, buffers, nullptr), 0);
  EXPECT_NE(p->pput(slot, key, 1, null_buffers, lengths), 0);
  EXPECT_NE(p->pput(slot, key, 1, buffers, negative), 0);
  EXPECT_NE(p->pput(slot, key, -1, buffers, lengths), 0);
  EXPECT_NE(p->pput(slot, nullptr, 1, buffers, lengths), 0);
  // Lengths past any record are refused before a byte is read (these buffers
  // hold 8 bytes each).
  char* three[] = {part, part, part};
  int huge[] = {INT_MAX, INT_MAX, 1};
  EXPECT_NE(p->pput(slot, key, 3, three, huge), 0);
  EXPECT_NE(p->pcontainskey(slot, key), 0);  // nothing was written
  EXPECT_EQ(p->pput(slot, key, 0, nullptr, nullptr), 0);  // an empty record
  char* out = nullptr;
  int out_len = 0;
  EXPECT_NE(p->pget(slot, key, nullptr, &out_len), 0);
  EXPECT_NE(p->pget(slot, key, &out, nullptr), 0);
  ASSERT_EQ(p->pget(slot, key, &out, &out_len), 0);
  EXPECT_EQ(out_len, 0);
  MQTTAsync_free(out);
  int count = 0;
  char** keys = nullptr;
  EXPECT_NE(p->pkeys(slot, nullptr, &count), 0);
  EXPECT_NE(p->pkeys(slot, &keys, nullptr), 0);
  EXPECT_NE(p->premove(slot, nullptr), 0);
  EXPECT_NE(p->pcontainskey(slot, nullptr), 0);
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_EQ(p->pclose(slot), 0);
}

// Whoever else may write the store's directory, or a client's directory in
// it, can delete, roll back or replace records, and plant links: such a
// directory is refused, as group- or world-writable keyrings are.
TEST(PahoPersistence, ADirectoryOthersMayWriteIsRefused) {
  testing::TempDir dir;
  const std::string shared = dir.file("shared");
  ASSERT_TRUE(fs::create_directory(shared));
  fs::permissions(shared, fs::perms::owner_all | fs::perms::group_all, fs::perm_options::replace);
  Result<std::unique_ptr<paho::EncryptedStore>> refused = paho::EncryptedStore::create(shared, device_keys(), "local");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Errc::insecure_permissions);
  EXPECT_NE(refused.error().message().find("chmod"), std::string::npos) << refused.error().message();

  auto store = take(paho::EncryptedStore::create(dir.file("s"), device_keys(), "local"));
  MQTTClient_persistence* p = store->persistence();
  const std::string slot_dir = slot_directory(dir.file("s"), "client-a", "tcp://127.0.0.1:1");
  ASSERT_TRUE(fs::create_directory(slot_dir));
  fs::permissions(slot_dir, fs::perms::owner_all | fs::perms::others_write, fs::perm_options::replace);
  void* slot = nullptr;
  EXPECT_NE(p->popen(&slot, "client-a", "tcp://127.0.0.1:1", p->context), 0);
  // A link where the client's directory should be: refused too.
  fs::remove(slot_dir);
  ASSERT_TRUE(fs::create_directory(dir.file("elsewhere")));
  fs::create_directory_symlink(dir.file("elsewhere"), slot_dir);
  EXPECT_NE(p->popen(&slot, "client-a", "tcp://127.0.0.1:1", p->context), 0);
}

}  // namespace
}  // namespace mqseal
