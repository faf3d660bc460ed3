// paho_subscriber: a service that receives sealed readings with Paho MQTTAsync.
//   paho_subscriber SERVER_URI KEYRING POLICY FILTER COUNT [REFUSED]
// Prints each opened message, and each refused one with its reason (and the
// signer, when a signature verified before the refusal); exits 0 once COUNT
// messages were opened and REFUSED (default 0) refused, 1 if that does not
// happen in time.
#include <MQTTAsync.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>
#include <mqseal/policy_file.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "paho_wait.h"

namespace {

constexpr int kQos = 1;
std::atomic<int> g_opened{0};
std::atomic<int> g_refused{0};

int fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "paho_subscriber: %s: %s\n", what, why.c_str());
  return 1;
}

// The application's own callback, exactly as for plain Paho: it now sees
// opened payloads.
int on_message(void*, char* topic, int, MQTTAsync_message* message) {
  std::printf("service opened on %s: %.*s\n", topic, message->payloadlen,
              static_cast<const char*>(message->payload));
  std::fflush(stdout);
  ++g_opened;
  MQTTAsync_freeMessage(&message);
  MQTTAsync_free(topic);
  return 1;
}

// `refused.signer`: the verified signer when the refusal came after its
// signature verified (suites 2 and 4: unauthorized_signer, a replay, ...),
// else empty. It signed these bytes at some time; anyone may re-send them, so
// it is not who sent this delivery. Before " on ", as `mqseal sub` prints it.
void on_refused(void*, const mqseal::paho::RefusedMessage& refused) {
  const std::string signer = refused.signer.empty() ? "" : " signer=" + std::string(refused.signer);
  std::printf("service refused a message%s on %.*s: %s\n", signer.c_str(), static_cast<int>(refused.topic.size()),
              refused.topic.data(), refused.error.message().c_str());
  std::fflush(stdout);
  ++g_refused;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: paho_subscriber SERVER_URI KEYRING POLICY FILTER COUNT [REFUSED]\n");
    return 2;
  }
  const int count = std::atoi(argv[5]);
  const int refused = argc == 7 ? std::atoi(argv[6]) : 0;
  auto keys = mqseal::Keyring::load(argv[2]);
  if (!keys) return fail(argv[2], keys.error().message());
  auto policy = mqseal::load_policy(argv[3]);
  if (!policy) return fail(argv[3], policy.error().message());
  auto opener = mqseal::Opener::create(*policy, std::make_shared<mqseal::Keyring>(std::move(*keys)));
  if (!opener) return fail("opener", opener.error().message());

  MQTTAsync client = nullptr;
  if (MQTTAsync_create(&client, argv[1], "mqseal-demo-service", MQTTCLIENT_PERSISTENCE_NONE,
                       nullptr) != MQTTASYNC_SUCCESS) {
    return fail("MQTTAsync_create", argv[1]);
  }
  // Instead of MQTTAsync_setCallbacks(client, nullptr, nullptr, on_message, nullptr):
  mqseal::paho::AsyncCallbacks callbacks;
  callbacks.message_arrived = on_message;
  callbacks.refused = on_refused;
  auto attached = mqseal::paho::attach(client, std::make_shared<mqseal::Opener>(std::move(*opener)),
                                       callbacks);
  if (!attached) return fail("attach", attached.error().message());

  MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
  options.cleansession = 1;
  MQTTAsync_responseOptions subscribe = MQTTAsync_responseOptions_initializer;
  if (!example::wait_for(options, [&](auto& o) { return MQTTAsync_connect(client, &o); }) ||
      !example::wait_for(subscribe, [&](auto& o) {
        return MQTTAsync_subscribe(client, argv[4], kQos, &o);
      })) {
    MQTTAsync_destroy(&client);
    return fail("connect and subscribe", argv[1]);
  }
  std::printf("service subscribed to %s\n", argv[4]);
  std::fflush(stdout);

  const auto deadline = std::chrono::steady_clock::now() + example::kTimeout;
  while ((g_opened < count || g_refused < refused) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  example::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(client, &o); });
  MQTTAsync_destroy(&client);
  return g_opened >= count && g_refused >= refused ? 0 : 1;
}
