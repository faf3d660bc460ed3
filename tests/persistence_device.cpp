// A device process for paho_persistence_test: queues sealed QoS 1 messages
// while the broker is unreachable, in an EncryptedStore, then ends without
// any cleanup (as a device that loses power would).
//   persistence_device SERVER_URI STORE_DIR KEYRING CLIENT_ID COUNT
// Sends COUNT sealed messages "queued-<i>" on plant/1/telemetry and one
// plaintext-by-policy message "public-plaintext-marker" on public/news.
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/paho/persistence.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: persistence_device SERVER_URI STORE_DIR KEYRING CLIENT_ID COUNT\n");
    return 2;
  }
  auto keys = mqseal::Keyring::load(argv[3]);
  if (!keys) return std::fprintf(stderr, "keyring: %s\n", keys.error().message().c_str()), 1;
  auto shared = std::make_shared<mqseal::Keyring>(std::move(*keys));
  mqseal::TopicPolicy policy;
  if (!policy.add_rule("plant/+/telemetry", "telemetry") || !policy.add_plaintext_rule("public/#")) return 1;
  auto sealer = mqseal::Sealer::create(policy, shared);
  auto store = mqseal::paho::EncryptedStore::create(argv[2], shared, "local");
  if (!sealer || !store) return std::fprintf(stderr, "setup failed\n"), 1;

  MQTTAsync client = nullptr;
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
  create.sendWhileDisconnected = 1;  // queue, and persist, while the broker is down,
  create.allowDisconnectedSendAtAnyTime = 1;  // even before the first connection
  if (MQTTAsync_createWithOptions(&client, argv[1], argv[4], MQTTCLIENT_PERSISTENCE_USER,
                                  (*store)->persistence(), &create) != MQTTASYNC_SUCCESS) {
    return std::fprintf(stderr, "MQTTAsync_createWithOptions failed\n"), 1;
  }
  const int count = std::atoi(argv[5]);
  for (int i = 0; i < count; ++i) {
    const std::string payload = "queued-" + std::to_string(i);
    mqseal::Status s = mqseal::paho::send(*sealer, client, "plant/1/telemetry",
                                          static_cast<int>(payload.size()), payload.data(), 1, 0, nullptr);
    if (!s) return std::fprintf(stderr, "send: %s\n", s.error().message().c_str()), 1;
  }
  const std::string marker = "public-plaintext-marker";
  if (!mqseal::paho::send(*sealer, client, "public/news", static_cast<int>(marker.size()),
                          marker.data(), 1, 0, nullptr)) {
    return 1;
  }
  std::fflush(stdout);
  _exit(0);  // no disconnect, no destroy: the store is all that is left
}
