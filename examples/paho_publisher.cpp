// paho_publisher: a device that publishes sealed readings with Paho MQTTAsync.
//   paho_publisher SERVER_URI KEYRING POLICY TOPIC COUNT [USERNAME]
// e.g. paho_publisher tcp://127.0.0.1:1883 device.keys policy.toml plant/7/telemetry 5
// With USERNAME, the device logs in with a fresh CONNECT token on every
// connect, made from the key named "connect" in KEYRING (`mqseal provision`),
// and its username as client ID: the mosquitto plugin lets a device use only
// client IDs it owns (its username, or its username, '/' and more).
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/policy_file.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "paho_wait.h"

namespace {

constexpr int kQos = 1;

int fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "paho_publisher: %s: %s\n", what, why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: paho_publisher SERVER_URI KEYRING POLICY TOPIC COUNT [USERNAME]\n");
    return 2;
  }
  const char* topic = argv[4];
  const int count = std::atoi(argv[5]);

  auto keys = mqseal::Keyring::load(argv[2]);
  if (!keys) return fail(argv[2], keys.error().message());
  auto policy = mqseal::load_policy(argv[3]);
  if (!policy) return fail(argv[3], policy.error().message());
  auto shared_keys = std::make_shared<mqseal::Keyring>(std::move(*keys));
  auto sealer = mqseal::Sealer::create(*policy, shared_keys);
  if (!sealer) return fail("sealer", sealer.error().message());

  const std::string client_id = argc == 7 ? argv[6] : "mqseal-demo-device";
  MQTTAsync client = nullptr;
  if (MQTTAsync_create(&client, argv[1], client_id.c_str(), MQTTCLIENT_PERSISTENCE_NONE,
                       nullptr) != MQTTASYNC_SUCCESS) {
    return fail("MQTTAsync_create", argv[1]);
  }
  MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
  options.cleansession = 1;
  std::unique_ptr<mqseal::paho::ConnectTokens> tokens;
  if (argc == 7) {  // log in with tokens: a fresh one now and on every reconnect
    auto made = mqseal::paho::use_connect_tokens(client, shared_keys, "connect", argv[6], client_id);
    if (!made) return fail("connect tokens", made.error().message());
    tokens = std::move(*made);
    if (mqseal::Status s = tokens->prepare(options); !s) return fail("connect token", s.error().message());
  }
  if (!example::wait_for(options, [&](auto& o) { return MQTTAsync_connect(client, &o); })) {
    MQTTAsync_destroy(&client);
    return fail("connect", argv[1]);
  }

  int sent = 0;
  for (int i = 0; i < count; ++i) {
    const std::string reading = "temperature=" + std::to_string(20 + i % 5) + "." +
                                std::to_string(i % 10) + " C";
    MQTTAsync_message message = MQTTAsync_message_initializer;
    message.payload = const_cast<char*>(reading.data());
    message.payloadlen = static_cast<int>(reading.size());
    message.qos = kQos;
    // The one line that differs from plain Paho: MQTTAsync_sendMessage, sealed.
    mqseal::Status s = mqseal::paho::send_message(*sealer, client, topic, &message, nullptr);
    if (!s) {
      std::fprintf(stderr, "paho_publisher: not sent: %s\n", s.error().message().c_str());
      continue;
    }
    std::printf("device sealed and sent: %s\n", reading.c_str());
    ++sent;
  }
  // Wait until every QoS 1 message is acknowledged, then leave cleanly.
  const bool acknowledged = example::wait_for_pending(client);
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  example::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);  // before `tokens` goes: Paho may call it until now
  return sent == count && acknowledged ? 0 : 1;
}
