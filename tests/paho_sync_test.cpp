// mqseal::paho_sync on Paho MQTTClient (the synchronous API), against a real
// mosquitto on 127.0.0.1.
#include <MQTTClient.h>
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/client.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <cstring>
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
  std::vector<std::string> signers;  // paho::arrived_signer() in each message callback
  std::vector<Errc> refused;
  std::vector<std::string> refused_topics;
  std::vector<std::string> refused_signers;  // RefusedMessage::signer

  static int on_message(void* context, char* topic, int, MQTTClient_message* m) {
    auto* inbox = static_cast<SyncInbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->payloads.emplace_back(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
    inbox->signers.emplace_back(paho::arrived_signer());
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
  }
  static void on_refused(void* context, const paho::RefusedMessage& r) {
    auto* inbox = static_cast<SyncInbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->refused.push_back(r.error.code());
    inbox->refused_topics.emplace_back(r.topic);
    inbox->refused_signers.emplace_back(r.signer);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return payloads.size() + refused.size();
  }
};

// A client of `broker` with `opener` attached (messages and refusals to
// `inbox`), connected and subscribed to plant/#; `attached` stays null on failure.
void connect_attached(const testing::Broker& broker, const char* id, std::shared_ptr<Opener> opener, SyncInbox& inbox,
                      MQTTClient& client, std::unique_ptr<paho::ClientAttachment>& attached) {
  ASSERT_EQ(MQTTClient_create(&client, broker.address().c_str(), id, MQTTCLIENT_PERSISTENCE_NONE, nullptr),
            MQTTCLIENT_SUCCESS);
  paho::ClientCallbacks callbacks;
  callbacks.context = &inbox;
  callbacks.message_arrived = &SyncInbox::on_message;
  callbacks.refused = &SyncInbox::on_refused;
  callbacks.refused_context = &inbox;
  auto attachment = take(paho::attach(client, std::move(opener), callbacks));
  MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
  ASSERT_EQ(MQTTClient_connect(client, &options), MQTTCLIENT_SUCCESS) << broker.log();
  ASSERT_EQ(MQTTClient_subscribe(client, "plant/#", 1), MQTTCLIENT_SUCCESS);
  attached = std::move(attachment);
}

TEST(PahoSync, PublishAndAttachRoundTrip) {
  testing::Broker broker;
  auto keys = testing::plant_keys();
  Sealer sealer = take(Sealer::create(testing::plant_policy(), keys));
  auto opener = std::make_shared<Opener>(take(Opener::create(testing::plant_policy(), keys)));

  MQTTClient client = nullptr;
  SyncInbox inbox;
  std::unique_ptr<paho::ClientAttachment> attached;
  connect_attached(broker, "sync-client", opener, inbox, client, attached);
  ASSERT_NE(attached, nullptr);

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
    EXPECT_EQ(inbox.signers, std::vector<std::string>{""});  // suite 1 names no signer
    ASSERT_EQ(inbox.refused.size(), 1u);
    EXPECT_EQ(inbox.refused[0], Errc::malformed);
  }
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
}

// Suite 2 through Paho: a signed message opens; a stolen device's keys
// signing on another device's topic reach the refused-message callback as
// unauthorized_signer, with the verified signer named, and do not disturb
// that device's stream. Device 8's envelope with its signature altered is
// refused naming no signer, though its header names device 8's key.
TEST(PahoSync, ASignedMessageFromAnUnauthorisedSignerReachesTheRefusedCallback) {
  testing::Broker broker;
  TopicPolicy policy;
  testing::expect_ok(policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", {}));
  // The attacker's own policy lets device 7 seal anywhere under plant/.
  TopicPolicy forging;
  testing::expect_ok(forging.add_signed_rule("plant/+/telemetry", "telemetry", {"device-7"}));

  auto topic_key = take(Key::generate());
  auto backend = std::make_shared<Keyring>();
  testing::expect_ok(backend->add_with_id("telemetry", 0x100, take(topic_key.clone())));
  std::shared_ptr<const Keyring> devices[2];
  const char* names[2] = {"device-7", "device-8"};
  for (int i = 0; i < 2; ++i) {
    auto device = std::make_shared<Keyring>();
    testing::expect_ok(device->add_with_id("telemetry", 0x100, take(topic_key.clone())));
    const KeyId id = take(device->generate_signing_key(names[i]));
    testing::expect_ok(backend->add_trusted_signer(names[i], id, ByteView(take(device->public_key(id)))));
    devices[i] = device;
  }
  Sealer device8 = take(Sealer::create(policy, devices[1]));
  Sealer thief = take(Sealer::create(forging, devices[0]));
  auto opener = std::make_shared<Opener>(take(Opener::create(policy, backend)));

  MQTTClient client = nullptr;
  SyncInbox inbox;
  std::unique_ptr<paho::ClientAttachment> attached;
  connect_attached(broker, "sync-signed", opener, inbox, client, attached);
  ASSERT_NE(attached, nullptr);

  const std::string topic8 = "plant/device-8/telemetry";
  auto send = [&](Sealer& sealer, const char* payload) {
    MQTTClient_deliveryToken token = 0;
    testing::expect_ok(paho::publish(sealer, client, topic8.c_str(), static_cast<int>(std::strlen(payload)), payload,
                                     1, 0, &token));
    ASSERT_EQ(MQTTClient_waitForCompletion(client, token, kTimeoutMs), MQTTCLIENT_SUCCESS);
  };
  send(device8, "reading 1");
  for (int i = 0; i < 3; ++i) send(thief, "99.9 C");
  std::vector<uint8_t> altered = take(device8.seal(topic8, std::string_view("reading 1b")));
  altered.back() ^= 0x01;  // a byte of the signature
  MQTTClient_deliveryToken token = 0;
  ASSERT_EQ(MQTTClient_publish(client, topic8.c_str(), static_cast<int>(altered.size()), altered.data(), 1, 0, &token),
            MQTTCLIENT_SUCCESS);
  ASSERT_EQ(MQTTClient_waitForCompletion(client, token, kTimeoutMs), MQTTCLIENT_SUCCESS);
  send(device8, "reading 2");

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (inbox.count() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(inbox.mutex);
    EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"reading 1", "reading 2"}));
    EXPECT_EQ(inbox.signers, (std::vector<std::string>{"device-8", "device-8"}));
    EXPECT_EQ(inbox.refused, (std::vector<Errc>{Errc::unauthorized_signer, Errc::unauthorized_signer,
                                                Errc::unauthorized_signer, Errc::authentication_failed}));
    EXPECT_EQ(inbox.refused_topics, std::vector<std::string>(4, topic8));
    EXPECT_EQ(inbox.refused_signers, (std::vector<std::string>{"device-7", "device-7", "device-7", ""}));
  }
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
}

}  // namespace
}  // namespace mqseal
