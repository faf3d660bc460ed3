// EncryptedStore: Paho's persistence encrypted at rest, across a process that
// ends with messages queued, and against tampering.
#include <MQTTAsync.h>
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/paho/persistence.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "broker.h"
#include "paho_test_util.h"
#include "test_util.h"

namespace mqseal {
namespace {

namespace fs = std::filesystem;
using testing::take;

constexpr int kQueued = 8;

// The paths fsync was called on, recorded by the fsync below.
std::mutex g_synced_mutex;
std::vector<std::string> g_synced;

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

// The store's contract, through the same function pointers Paho calls.
TEST(PahoPersistence, AlteredMovedOrForeignRecordsAreRefused) {
  // Paho's allocator (MQTTAsync_malloc/MQTTAsync_free, which the store uses
  // for what it hands Paho) only works once Paho is initialised, which the
  // first client does; in real use a live client is what calls the store.
  MQTTAsync paho_alive = nullptr;
  ASSERT_EQ(MQTTAsync_create(&paho_alive, "tcp://127.0.0.1:1", "init", MQTTCLIENT_PERSISTENCE_NONE, nullptr),
            MQTTASYNC_SUCCESS);
  testing::TempDir dir;
  auto keys = device_keys();
  auto store = take(paho::EncryptedStore::create(dir.file("s"), keys, "local"));
  MQTTClient_persistence* p = store->persistence();
  void* slot = nullptr;
  ASSERT_EQ(p->popen(&slot, "client-a", "tcp://127.0.0.1:1", p->context), 0);
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
  MQTTAsync_destroy(&paho_alive);
}


// A record is written to a temporary file, fsync'ed and only then renamed
// into place: after a crash the store holds the old record or the new one.
TEST(PahoPersistence, ARecordIsFsyncedBeforeItIsRenamedIntoPlace) {
  MQTTAsync paho_alive = nullptr;
  ASSERT_EQ(MQTTAsync_create(&paho_alive, "tcp://127.0.0.1:1", "init", MQTTCLIENT_PERSISTENCE_NONE, nullptr),
            MQTTASYNC_SUCCESS);
  testing::TempDir dir;
  auto store = take(paho::EncryptedStore::create(dir.file("s"), device_keys(), "local"));
  MQTTClient_persistence* p = store->persistence();
  void* slot = nullptr;
  ASSERT_EQ(p->popen(&slot, "client-a", "tcp://127.0.0.1:1", p->context), 0);
  char part[] = "payload";
  char* buffers[] = {part};
  int lengths[] = {7};
  char key[] = "s-1";
  {
    std::lock_guard<std::mutex> lock(g_synced_mutex);
    g_synced.clear();
  }
  ASSERT_EQ(p->pput(slot, key, 1, buffers, lengths), 0);
  const std::string slot_dir = fs::directory_iterator(dir.file("s"))->path().string();
  EXPECT_TRUE(fs::is_regular_file(slot_dir + "/s-1"));
  {
    std::lock_guard<std::mutex> lock(g_synced_mutex);
    // Synced while it still had its temporary name: before the rename.
    EXPECT_EQ(std::count(g_synced.begin(), g_synced.end(), slot_dir + "/.tmp-s-1"), 1) << g_synced.size();
  }
  EXPECT_EQ(p->pclear(slot), 0);
  EXPECT_EQ(p->pclose(slot), 0);
  MQTTAsync_destroy(&paho_alive);
}

}  // namespace
}  // namespace mqseal

// fsync for this test binary: the executable's definition is the one every
// call in it reaches (ELF symbol interposition; the store is linked in
// statically). It records the file's path, then syncs it for real.
extern "C" int fsync(int fd) {
  char link[32];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t n = ::readlink(link, target, sizeof target);
  if (n > 0) {
    std::lock_guard<std::mutex> lock(mqseal::g_synced_mutex);
    mqseal::g_synced.emplace_back(target, static_cast<size_t>(n));
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}
