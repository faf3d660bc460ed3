// mqseal::paho_sync on Paho MQTTClient (the synchronous API), against a real
// mosquitto on 127.0.0.1.
#include <MQTTClient.h>
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/client.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::take;
constexpr long kTimeoutMs = 10'000;

struct SyncInbox {
  std::mutex mutex;
  std::vector<std::string> payloads;
  std::vector<Errc> refused;

  static int on_message(void* context, char* topic, int, MQTTClient_message* m) {
    auto* inbox = static_cast<SyncInbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->payloads.emplace_back(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
  }
  static void on_refused(void* context, const paho::RefusedMessage& r) {
    auto* inbox = static_cast<SyncInbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->refused.push_back(r.error.code());
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return payloads.size() + refused.size();
  }
};

TEST(PahoSync, PublishAndAttachRoundTrip) {
  testing::Broker broker;
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  auto opener = std::make_shared<Opener>(take(Opener::create(testing::plant_policy(), keys)));

  MQTTClient client = nullptr;
  ASSERT_EQ(MQTTClient_create(&client, broker.address().c_str(), "sync-client",
                              MQTTCLIENT_PERSISTENCE_NONE, nullptr),
            MQTTCLIENT_SUCCESS);
  SyncInbox inbox;
  paho::ClientCallbacks callbacks;
  callbacks.context = &inbox;
  callbacks.message_arrived = &SyncInbox::on_message;
  callbacks.refused = &SyncInbox::on_refused;
  callbacks.refused_context = &inbox;
  auto attached = take(paho::attach(client, opener, callbacks));
  MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
  ASSERT_EQ(MQTTClient_connect(client, &options), MQTTCLIENT_SUCCESS) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(client, "plant/#", 1), MQTTCLIENT_SUCCESS);

  MQTTClient_deliveryToken token = 0;
  testing::expect_ok(paho::publish(sealer, client, "plant/4/telemetry", 5, "hello", 1, 0, &token));
  ASSERT_EQ(MQTTClient_waitForCompletion(client, token, kTimeoutMs), MQTTCLIENT_SUCCESS);
  EXPECT_EQ(paho::publish(sealer, client, "plant/4/status", 1, "x", 1, 0, &token).error(),
            Errc::no_rule);
  // Plaintext on a sealed topic, from a client without mqseal.
  ASSERT_TRUE(testing::publish(broker, "plant/4/telemetry", "unsealed").ok());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (inbox.count() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(inbox.mutex);
    ASSERT_EQ(inbox.payloads.size(), 1u);
    EXPECT_EQ(inbox.payloads[0], "hello");
    ASSERT_EQ(inbox.refused.size(), 1u);
    EXPECT_EQ(inbox.refused[0], Errc::malformed);
  }
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
}

}  // namespace
}  // namespace mqseal
