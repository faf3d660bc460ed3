// paho_two_lines: an ordinary Paho MQTTAsync program, made end-to-end secure.
//   paho_two_lines SERVER_URI KEYRING POLICY TOPIC
//
// It subscribes to TOPIC, publishes one message to it and waits to receive
// it: the shape of most Paho programs. Beyond the setup block that loads the
// keys and the policy, the MQTT code differs from plain Paho in two lines,
// marked "mqseal:" with the original Paho line above each.
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/policy_file.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "paho_wait.h"

namespace {

std::atomic<bool> g_received{false};

int on_message(void*, char* topic, int, MQTTAsync_message* message) {
  std::printf("received on %s: %.*s\n", topic, message->payloadlen,
              static_cast<const char*>(message->payload));
  g_received = true;
  MQTTAsync_freeMessage(&message);
  MQTTAsync_free(topic);
  return 1;
}

void on_connection_lost(void*, char* cause) {
  std::printf("connection lost: %s\n", cause != nullptr ? cause : "unknown");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: paho_two_lines SERVER_URI KEYRING POLICY TOPIC\n");
    return 2;
  }
  const char* topic = argv[4];

  // Setup: the keys and the policy (what is new, besides the two lines).
  auto keys = mqseal::Keyring::load(argv[2]);
  auto policy = mqseal::load_policy(argv[3]);
  if (!keys || !policy) {
    std::fprintf(stderr, "cannot load %s or %s\n", argv[2], argv[3]);
    return 1;
  }
  auto shared_keys = std::make_shared<mqseal::Keyring>(std::move(*keys));
  auto sealer = mqseal::Sealer::create(*policy, shared_keys);
  auto opener = mqseal::Opener::create(*policy, shared_keys);
  if (!sealer || !opener) return 1;

  MQTTAsync client = nullptr;
  MQTTAsync_create(&client, argv[1], "mqseal-two-lines", MQTTCLIENT_PERSISTENCE_NONE, nullptr);
  // MQTTAsync_setCallbacks(client, nullptr, on_connection_lost, on_message, nullptr);
  auto attached = mqseal::paho::attach(client, std::make_shared<mqseal::Opener>(std::move(*opener)), {nullptr, on_connection_lost, on_message, nullptr});  // mqseal:
  if (!attached) return 1;

  MQTTAsync_connectOptions connect = MQTTAsync_connectOptions_initializer;
  MQTTAsync_responseOptions subscribe = MQTTAsync_responseOptions_initializer;
  if (!example::wait_for(connect, [&](auto& o) { return MQTTAsync_connect(client, &o); }) ||
      !example::wait_for(subscribe, [&](auto& o) { return MQTTAsync_subscribe(client, topic, 1, &o); })) {
    std::fprintf(stderr, "cannot connect and subscribe to %s\n", argv[1]);
    MQTTAsync_destroy(&client);
    return 1;
  }

  const char* text = "hello, sealed world";
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payload = const_cast<char*>(text);
  message.payloadlen = static_cast<int>(std::strlen(text));
  message.qos = 1;
  // MQTTAsync_sendMessage(client, topic, &message, nullptr);
  mqseal::Status sent = mqseal::paho::send_message(*sealer, client, topic, &message, nullptr);  // mqseal:
  if (!sent) std::fprintf(stderr, "not sent: %s\n", sent.error().message().c_str());

  const auto deadline = std::chrono::steady_clock::now() + example::kTimeout;
  while (!g_received && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  example::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);
  return g_received ? 0 : 1;
}
