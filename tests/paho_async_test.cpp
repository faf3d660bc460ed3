// mqseal::paho on Paho MQTTAsync, against a real mosquitto on 127.0.0.1.
#include <gtest/gtest.h>
#include <mqseal/mqseal.h>
#include <mqseal/paho/async.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker.h"
#include "certs.h"
#include "paho_test_util.h"
#include "test_util.h"

namespace mqseal {
namespace {

using testing::AsyncTestClient;
using testing::Broker;
using testing::Eavesdropper;
using testing::Inbox;
using testing::take;

constexpr int kEavesdropTimeoutMs = 10'000;

// The adapters' ownership convention (mqseal/paho/common.h): attach() keeps
// the opener, so it is shared; send() only borrows the sealer for the call.
struct Parties {
  explicit Parties(const TopicPolicy& policy = testing::plant_policy()) : sealer(take(Sealer::create(policy, keys))),
      opener(std::make_shared<Opener>(take(Opener::create(policy, keys)))) {}
  std::shared_ptr<Keyring> keys = testing::plant_keys();
  Sealer sealer;
  std::shared_ptr<Opener> opener;
};

Status send(Sealer& sealer, const AsyncTestClient& client, const std::string& topic,
            const std::string& payload, int qos = 1) {
  return paho::send(sealer, client.handle(), topic.c_str(), static_cast<int>(payload.size()),
                    payload.data(), qos, 0, nullptr);
}

// A service attached to `opener` and subscribed to `filter`, and a device,
// both connected to the broker.
struct ServiceAndDevice {
  AsyncTestClient service;
  paho::AsyncAttachment& attached;
  AsyncTestClient device;
  bool ready = false;

  ServiceAndDevice(const Broker& broker, Parties& p, Inbox& inbox, const std::string& filter)
      : service(broker.address(), "service"),
        attached(service.attach(p.opener, inbox.callbacks())),
        device(broker.address(), "device") {
    ready = service.connect() && service.subscribe(filter) && device.connect();
  }
};

std::string envelope_text(Sealer& sealer, const std::string& topic, const std::string& payload) {
  std::vector<uint8_t> env = take(sealer.seal(topic, payload));
  return std::string(env.begin(), env.end());
}

TEST(PahoAsync, SealedRoundTripAndTheEavesdropperSeesOnlyCiphertext) {
  Broker broker;
  Parties p;
  Eavesdropper eavesdropper(broker, "plant/#", 20, kEavesdropTimeoutMs);
  ASSERT_TRUE(eavesdropper.subscribed());
  Inbox inbox;
  ServiceAndDevice parties(broker, p, inbox, "plant/+/telemetry");
  ASSERT_TRUE(parties.ready) << broker.log();
  for (int i = 0; i < 20; ++i) {
    testing::expect_ok(send(p.sealer, parties.device, "plant/7/telemetry", "reading-" + std::to_string(i)));
  }
  ASSERT_TRUE(inbox.wait(20)) << broker.log();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(inbox.messages[static_cast<size_t>(i)].payload, "reading-" + std::to_string(i));
    EXPECT_EQ(inbox.messages[static_cast<size_t>(i)].topic, "plant/7/telemetry");
  }
  std::vector<std::string> seen = eavesdropper.wait();
  ASSERT_EQ(seen.size(), 20u) << eavesdropper.errors();
  for (const std::string& payload : seen) {
    EXPECT_EQ(payload.find("reading"), std::string::npos) << "plaintext crossed the broker";
    EXPECT_TRUE(parse_header(ByteView(payload))) << "not an envelope";
  }
  paho::AttachStats stats = parties.attached.stats();
  EXPECT_EQ(stats.delivered, 20u);
  EXPECT_EQ(stats.refused, 0u);
}

// Suite 5 (AES-256-GCM) through the same calls: only the policy says so.
TEST(PahoAsync, ASuite5RuleTravelsAsAes256GcmEnvelopes) {
  TopicPolicy policy;
  testing::expect_ok(policy.add_aes256gcm_rule("plant/+/telemetry", "telemetry"));
  if (Result<Sealer> probe = Sealer::create(policy, testing::plant_keys());
      !probe && probe.error().code() == Errc::unsupported_suite) {
    GTEST_SKIP() << probe.error().message();
  }
  Broker broker;
  Parties p(policy);
  Eavesdropper eavesdropper(broker, "plant/#", 10, kEavesdropTimeoutMs);
  ASSERT_TRUE(eavesdropper.subscribed());
  Inbox inbox;
  ServiceAndDevice parties(broker, p, inbox, "plant/+/telemetry");
  ASSERT_TRUE(parties.ready) << broker.log();
  for (int i = 0; i < 10; ++i) {
    testing::expect_ok(send(p.sealer, parties.device, "plant/7/telemetry", "reading-" + std::to_string(i), 1 + i % 2));
  }
  ASSERT_TRUE(inbox.wait(10)) << broker.log();
  std::set<std::string> got;
  for (const auto& m : inbox.messages) got.insert(m.payload);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got.count("reading-" + std::to_string(i)), 1u) << i;
  std::vector<std::string> seen = eavesdropper.wait();
  ASSERT_EQ(seen.size(), 10u) << eavesdropper.errors();
  for (const std::string& payload : seen) {
    Result<EnvelopeHeader> header = parse_header(ByteView(payload));
    ASSERT_TRUE(header) << "not an envelope";
    EXPECT_EQ(header->suite, kSuiteAes256Gcm);
    EXPECT_EQ(payload.find("reading"), std::string::npos) << "plaintext crossed the broker";
  }
  EXPECT_EQ(parties.attached.stats().delivered, 10u);
  EXPECT_EQ(parties.attached.stats().refused, 0u);
}

TEST(PahoAsync, BadInputReachesTheRefusedCallbackAndNothingIsLostOrDoubled) {
  Broker broker;
  Parties p;
  Inbox inbox;
  AsyncTestClient service(broker.address(), "service");
  paho::AsyncAttachment& attached = service.attach(p.opener, inbox.callbacks());
  ASSERT_TRUE(service.connect());
  ASSERT_TRUE(service.subscribe("#"));

  // A sender whose "telemetry" key the service does not have.
  Parties stranger;
  const std::string unknown_key = envelope_text(stranger.sealer, "plant/1/telemetry", "forged");
  const std::string valid = envelope_text(p.sealer, "plant/1/telemetry", "first");
  const std::string truncated = valid.substr(0, 40);
  const std::string last = envelope_text(p.sealer, "plant/1/telemetry", "last");
  for (const std::string& payload : {unknown_key, valid, truncated, valid /* replayed capture */}) {
    ASSERT_TRUE(testing::publish(broker, "plant/1/telemetry", payload).ok());
  }
  ASSERT_TRUE(testing::publish(broker, "other/topic", valid).ok());  // no rule covers it
  ASSERT_TRUE(testing::publish(broker, "plant/1/telemetry", last).ok());

  ASSERT_TRUE(inbox.wait(2, 3)) << broker.log();
  std::lock_guard<std::mutex> lock(inbox.mutex);
  ASSERT_EQ(inbox.messages.size(), 2u);
  EXPECT_EQ(inbox.messages[0].payload, "first");
  EXPECT_EQ(inbox.messages[1].payload, "last");
  ASSERT_EQ(inbox.refused.size(), 3u);
  EXPECT_EQ(inbox.refused[0].second, Errc::unknown_key);
  EXPECT_EQ(inbox.refused[1].second, Errc::malformed);
  EXPECT_EQ(inbox.refused[2], std::make_pair(std::string("other/topic"), Errc::no_rule));
  paho::AttachStats stats = attached.stats();
  EXPECT_EQ(stats.delivered, 2u);
  EXPECT_EQ(stats.duplicates, 1u);  // the replay: counted, not delivered twice
  EXPECT_EQ(stats.refused, 3u);
}

// What an attacker on the wire can publish on the service's topics, raw
// (not through mqseal), at QoS 0, 1 and 2, retained or not: empty, short,
// garbage, every truncation and every single-bit flip of a valid envelope,
// a valid envelope moved to another topic, plaintext, a 4 MiB garbage
// payload; and valid envelopes, one of 2 MiB. Every hostile one is refused
// and freed (ASan/LSan see a leak or a double free), every valid one
// arrives once, opened, and the service is not stuck redelivering.
TEST(PahoAsync, HostilePayloadsAtEveryQoSAreRefusedAndFreedOnce) {
  Broker broker;
  Parties p;
  Inbox inbox;
  AsyncTestClient service(broker.address(), "service");
  paho::AsyncAttachment& attached = service.attach(p.opener, inbox.callbacks());
  AsyncTestClient attacker(broker.address(), "attacker");
  ASSERT_TRUE(service.connect() && service.subscribe("plant/#", 2) && attacker.connect()) << broker.log();
  auto raw = [&](const std::string& topic, const std::string& payload, int qos, int retained = 0) {
    const int rc = MQTTAsync_send(attacker.handle(), topic.c_str(), static_cast<int>(payload.size()),
                                  payload.empty() ? nullptr : payload.data(), qos, retained, nullptr);
    EXPECT_EQ(rc, MQTTASYNC_SUCCESS);
    EXPECT_TRUE(attacker.wait_for_pending());
  };
  const std::string topic = "plant/1/telemetry";
  size_t hostile = 0, valid = 0;
  const std::string good = envelope_text(p.sealer, topic, "sixty-four bytes of reading, or about that much, sealed");
  for (int qos = 0; qos <= 2; ++qos) {
    for (const std::string& junk : {std::string(), std::string(1, '\x01'), std::string("plaintext reading"),
                                    std::string(100, '\xff'), envelope_text(p.sealer, "plant/2/telemetry", "moved")}) {
      raw(topic, junk, qos);
      ++hostile;
    }
    raw(topic, envelope_text(p.sealer, topic, "valid at qos " + std::to_string(qos)), qos);
    ++valid;
  }
  for (size_t len = 0; len < good.size(); ++len) {
    raw(topic, good.substr(0, len), static_cast<int>(len % 3));
    ++hostile;
  }
  for (size_t bit = 0; bit < good.size() * 8; bit += 7) {
    std::string flipped = good;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    raw(topic, flipped, static_cast<int>(bit % 3));
    ++hostile;
  }
  raw(topic, std::string(4u << 20, 'g'), 1);
  ++hostile;
  raw(topic, envelope_text(p.sealer, topic, std::string(2u << 20, 'v')), 2);
  ++valid;
  raw(topic, good, 1);  // the first time: valid
  ++valid;
  raw(topic, good, 2);  // a replay: a duplicate, dropped quietly
  raw(topic, envelope_text(p.sealer, topic, "last"), 1);
  ++valid;
  ASSERT_TRUE(inbox.wait(valid, hostile, std::chrono::seconds(60))) << broker.log();
  std::lock_guard<std::mutex> lock(inbox.mutex);
  EXPECT_EQ(inbox.messages.size(), valid);
  EXPECT_EQ(inbox.refused.size(), hostile);
  EXPECT_EQ(inbox.messages.back().payload, "last");
  EXPECT_EQ(inbox.messages[valid - 3].payload.size(), 2u << 20);
  paho::AttachStats stats = attached.stats();
  EXPECT_EQ(stats.delivered, valid);
  EXPECT_EQ(stats.refused, hostile);
  EXPECT_EQ(stats.duplicates, 1u);
}

// An Inbox that also records paho::arrived_signer() for each message.
struct SignerInbox : Inbox {
  std::vector<std::string> signers;
  static int on_signed_message(void* context, char* topic, int topic_len, MQTTAsync_message* m) {
    auto* inbox = static_cast<SignerInbox*>(context);
    {
      std::lock_guard<std::mutex> lock(inbox->mutex);
      inbox->signers.emplace_back(paho::arrived_signer());
    }
    return Inbox::on_message(static_cast<Inbox*>(inbox), topic, topic_len, m);
  }
  paho::AsyncCallbacks callbacks() {
    paho::AsyncCallbacks cb = Inbox::callbacks();
    cb.context = this;
    cb.message_arrived = &SignerInbox::on_signed_message;
    return cb;
  }
};

// Suites 3 and 4 through Paho, the policy deciding: device 8 seals a report
// to the backend's X25519 public key (suite 3) and signs then seals a private
// message (suite 4); the backend opens both and learns the verified signer of
// the suite 4 one. Device 7, with the same symmetric keys and only the
// backend's public key, subscribed to the same topics, reads the suite 1
// reading and gets the refused callback with unknown_key for the others (a
// recipient public key opens nothing). Device 7 signing on device 8's level
// is refused at the backend as unauthorized_signer, naming device 7, the
// verified signer.
TEST(PahoAsync, OnlyTheRecipientOpensAndSuite4NamesTheSigner) {
  Broker broker;
  TopicPolicy policy;
  testing::expect_ok(policy.add_rule("plant/+/telemetry", "telemetry"));
  testing::expect_ok(policy.add_recipient_rule("plant/+/report", "backend"));
  testing::expect_ok(policy.add_signed_recipient_rule("plant/{signer}/private", "backend", {}));
  TopicPolicy forging;  // the thief's own policy: device 7 may sign anywhere
  testing::expect_ok(forging.add_signed_recipient_rule("plant/+/private", "backend", {"device-7"}));

  Key topic_key = take(Key::generate());
  auto backend = std::make_shared<Keyring>();
  testing::expect_ok(backend->add_with_id("telemetry", 0x100, take(topic_key.clone())));
  const KeyId recipient = take(backend->generate_recipient_key("backend"));
  const SignerPublicKey recipient_public = take(backend->public_key(recipient));
  std::shared_ptr<Keyring> devices[2];
  const char* names[2] = {"device-7", "device-8"};
  for (int i = 0; i < 2; ++i) {
    devices[i] = std::make_shared<Keyring>();
    testing::expect_ok(devices[i]->add_with_id("telemetry", 0x100, take(topic_key.clone())));
    testing::expect_ok(devices[i]->add_recipient_public("backend", recipient, ByteView(recipient_public)));
    const KeyId id = take(devices[i]->generate_signing_key(names[i]));
    testing::expect_ok(backend->add_trusted_signer(names[i], id, ByteView(take(devices[i]->public_key(id)))));
  }
  Sealer device8 = take(Sealer::create(policy, devices[1]));
  Sealer thief = take(Sealer::create(forging, devices[0]));

  SignerInbox backend_inbox;
  Inbox thief_inbox;
  AsyncTestClient service(broker.address(), "backend");
  paho::AsyncAttachment& backend_attached =
      service.attach(std::make_shared<Opener>(take(Opener::create(policy, backend))), backend_inbox.callbacks());
  AsyncTestClient stolen(broker.address(), "device-7");
  stolen.attach(std::make_shared<Opener>(take(Opener::create(policy, devices[0]))), thief_inbox.callbacks());
  AsyncTestClient device(broker.address(), "device-8");
  ASSERT_TRUE(service.connect() && service.subscribe("plant/#") && stolen.connect() && stolen.subscribe("plant/#") &&
              device.connect())
      << broker.log();

  // The backend declines the first message once: Paho offers it again, with its signer still named.
  backend_inbox.decline_next = 1;
  testing::expect_ok(send(device8, device, "plant/device-8/private", "door code changed"));
  testing::expect_ok(send(device8, device, "plant/device-8/report", "valve 3 worn"));
  testing::expect_ok(send(device8, device, "plant/device-8/telemetry", "21.5 C"));
  testing::expect_ok(send(thief, device, "plant/device-8/private", "door code is 0000"));
  ASSERT_TRUE(backend_inbox.wait(4, 1)) << broker.log();
  ASSERT_TRUE(thief_inbox.wait(1, 3)) << broker.log();

  std::lock_guard<std::mutex> backend_lock(backend_inbox.mutex);
  std::map<std::string, std::pair<std::string, std::string>> opened;  // topic -> payload, signer
  ASSERT_EQ(backend_inbox.messages.size(), 4u);
  size_t private_offers = 0;
  for (size_t i = 0; i < 4; ++i) {
    const testing::Received& m = backend_inbox.messages[i];
    if (m.topic == "plant/device-8/private") {
      ++private_offers;
      EXPECT_EQ(backend_inbox.signers[i], "device-8") << i;
    }
    opened[m.topic] = {m.payload, backend_inbox.signers[i]};
  }
  EXPECT_EQ(private_offers, 2u);
  using Seen = std::map<std::string, std::pair<std::string, std::string>>;
  EXPECT_EQ(opened, (Seen{{"plant/device-8/report", {"valve 3 worn", ""}},
                          {"plant/device-8/private", {"door code changed", "device-8"}},
                          {"plant/device-8/telemetry", {"21.5 C", ""}}}));
  EXPECT_EQ(backend_inbox.refused,
            (std::vector<std::pair<std::string, Errc>>{{"plant/device-8/private", Errc::unauthorized_signer}}));
  EXPECT_EQ(backend_inbox.refused_signers, std::vector<std::string>{"device-7"});
  EXPECT_EQ(backend_attached.stats().delivered, 3u);

  std::lock_guard<std::mutex> thief_lock(thief_inbox.mutex);
  ASSERT_EQ(thief_inbox.messages.size(), 1u);
  EXPECT_EQ(thief_inbox.messages[0].payload, "21.5 C");
  std::multiset<std::pair<std::string, Errc>> refused(thief_inbox.refused.begin(), thief_inbox.refused.end());
  EXPECT_EQ(refused, (std::multiset<std::pair<std::string, Errc>>{{"plant/device-8/report", Errc::unknown_key},
                                                                  {"plant/device-8/private", Errc::unknown_key},
                                                                  {"plant/device-8/private", Errc::unknown_key}}));
  EXPECT_EQ(thief_inbox.refused_signers, std::vector<std::string>(3, ""));
  EXPECT_TRUE(paho::arrived_signer().empty());  // outside the callback
}

TEST(PahoAsync, ADeclinedMessageComesBackOpenedNotDoubleOpened) {
  Broker broker;
  Parties p;
  Inbox inbox;
  inbox.decline_next = 1;
  ServiceAndDevice parties(broker, p, inbox, "plant/+/telemetry");
  ASSERT_TRUE(parties.ready) << broker.log();
  testing::expect_ok(send(p.sealer, parties.device, "plant/2/telemetry", "again"));
  ASSERT_TRUE(inbox.wait(2)) << broker.log();
  std::lock_guard<std::mutex> lock(inbox.mutex);
  EXPECT_EQ(inbox.messages[0].payload, "again");
  EXPECT_EQ(inbox.messages[1].payload, "again");
  EXPECT_TRUE(inbox.refused.empty());
  EXPECT_EQ(parties.attached.stats().duplicates, 0u);
}

TEST(PahoAsync, SendRefusesTopicsThePolicyDoesNotCover) {
  Broker broker;
  Parties p;
  AsyncTestClient device(broker.address(), "device");
  ASSERT_TRUE(device.connect());
  EXPECT_EQ(send(p.sealer, device, "plant/1/status", "x").error(), Errc::no_rule);
  EXPECT_EQ(send(p.sealer, device, "plant/+/telemetry", "x").error(), Errc::invalid_topic);
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payloadlen = -1;
  EXPECT_EQ(paho::send_message(p.sealer, device.handle(), "plant/1/telemetry", &message, nullptr)
                .error(),
            Errc::invalid_argument);
}

// paho::queue_sends: seals on the caller's thread, hands Paho batches from a
// thread of its own.
std::shared_ptr<Sealer> shared_sealer(const Parties& p) {
  return std::make_shared<Sealer>(take(Sealer::create(testing::plant_policy(), p.keys)));
}

std::unique_ptr<paho::SendQueue> make_queue(MQTTAsync handle, std::shared_ptr<Sealer> sealer,
                                            paho::SendRefusedCallback refused = nullptr, void* context = nullptr) {
  Result<std::unique_ptr<paho::SendQueue>> queue = paho::queue_sends(handle, std::move(sealer), refused, context);
  if (!queue) {
    ADD_FAILURE() << queue.error().message();
    std::abort();
  }
  return std::move(*queue);
}

Status queue_send(paho::SendQueue& queue, const std::string& topic, const std::string& payload, int qos = 0,
                  MQTTAsync_responseOptions* response = nullptr) {
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payload = const_cast<char*>(payload.data());
  message.payloadlen = static_cast<int>(payload.size());
  message.qos = qos;
  return queue.send_message(topic.c_str(), &message, response);
}

// A service and a device whose sends go through a queue (declared last:
// destroyed before the device's client, as async.h requires).
struct QueuedParties {
  Broker broker;
  Parties p;
  Inbox inbox;
  ServiceAndDevice parties{broker, p, inbox, "plant/+/telemetry"};
  std::unique_ptr<paho::SendQueue> queue = make_queue(parties.device.handle(), shared_sealer(p));

  void send_numbered(const std::string& topic, const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) testing::expect_ok(queue_send(*queue, topic, prefix + std::to_string(i)));
  }
};

TEST(PahoAsync, QueuedSendsArriveSealedAndInOrderAndWhatIsNotQueuedWaitsItsTurn) {
  constexpr int kQueued = 500;
  QueuedParties q;
  ASSERT_TRUE(q.parties.ready) << q.broker.log();
  Inbox& inbox = q.inbox;
  paho::SendQueue* queue = q.queue.get();
  q.send_numbered("plant/3/telemetry", "queued-", kQueued);
  // QoS 1 with a token asked for: sent on this thread once what was queued
  // before it is handed over, with Paho's token and callbacks as
  // send_message() gives them.
  std::promise<bool> acknowledged;
  MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
  response.context = &acknowledged;
  response.onSuccess = [](void* c, MQTTAsync_successData*) { static_cast<std::promise<bool>*>(c)->set_value(true); };
  response.onFailure = [](void* c, MQTTAsync_failureData*) { static_cast<std::promise<bool>*>(c)->set_value(false); };
  testing::expect_ok(queue_send(*queue, "plant/3/telemetry", "last, QoS 1", 1, &response));
  EXPECT_NE(response.token, 0);
  testing::expect_ok(queue->flush());
  EXPECT_EQ(queue->refused(), 0u);
  auto acked = acknowledged.get_future();
  ASSERT_EQ(acked.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(acked.get());

  ASSERT_TRUE(inbox.wait(kQueued + 1)) << q.broker.log();
  std::lock_guard<std::mutex> lock(inbox.mutex);
  ASSERT_EQ(inbox.messages.size(), static_cast<size_t>(kQueued + 1));
  for (int i = 0; i < kQueued; ++i) {
    EXPECT_EQ(inbox.messages[static_cast<size_t>(i)].payload, "queued-" + std::to_string(i));
  }
  EXPECT_EQ(inbox.messages.back().payload, "last, QoS 1");
  EXPECT_TRUE(inbox.refused.empty());
  EXPECT_EQ(q.parties.attached.stats().delivered, static_cast<uint64_t>(kQueued + 1));  // all opened: all sealed
}

struct QueueRefusals {
  std::mutex mutex;
  std::vector<std::pair<std::string, Errc>> seen;
  static void on_refused(void* context, const char* topic, const Error& error) {
    auto* self = static_cast<QueueRefusals*>(context);
    std::lock_guard<std::mutex> lock(self->mutex);
    self->seen.emplace_back(topic, error.code());
  }
};

// Thread safety: several threads send through one queue (QoS 0 queued, and
// every 50th message QoS 1, sent on the caller's thread once the queue is
// empty) while another flushes and reads refused(). Every message arrives,
// each thread's in the order it sent them. Under ThreadSanitizer, a race
// between the callers, the queue's thread and Paho's is a report.
TEST(PahoAsync, ThreadsSendingThroughOneQueueWhileItFlushesLoseAndReorderNothing) {
  constexpr int kThreads = 3;
  constexpr int kEach = 150;
  constexpr int kQos1Every = 50;
  QueuedParties q;
  ASSERT_TRUE(q.parties.ready) << q.broker.log();
  paho::SendQueue& queue = *q.queue;
  std::atomic<bool> done{false};
  std::thread flusher([&] {
    while (!done.load()) {
      testing::expect_ok(queue.flush());
      EXPECT_EQ(queue.refused(), 0u);
    }
  });
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      const std::string topic = "plant/" + std::to_string(t) + "/telemetry";
      for (int i = 0; i < kEach; ++i) {
        testing::expect_ok(queue_send(queue, topic, std::to_string(i), i % kQos1Every == kQos1Every - 1 ? 1 : 0));
      }
    });
  }
  for (std::thread& th : senders) th.join();
  done = true;
  flusher.join();
  testing::expect_ok(queue.flush());
  ASSERT_TRUE(q.inbox.wait(kThreads * kEach)) << q.broker.log();
  std::lock_guard<std::mutex> lock(q.inbox.mutex);
  EXPECT_EQ(q.inbox.messages.size(), static_cast<size_t>(kThreads * kEach));
  std::map<std::string, int> next;  // per topic (per sending thread): the payload expected next
  for (const auto& m : q.inbox.messages) {
    EXPECT_EQ(m.payload, std::to_string(next[m.topic]++)) << m.topic;
  }
  EXPECT_TRUE(q.inbox.refused.empty());
}

std::set<MQTTAsync_token> pending_tokens(MQTTAsync handle) {
  std::set<MQTTAsync_token> pending;
  MQTTAsync_token* tokens = nullptr;
  EXPECT_EQ(MQTTAsync_getPendingTokens(handle, &tokens), MQTTASYNC_SUCCESS);
  for (int i = 0; tokens != nullptr && tokens[i] != -1; ++i) pending.insert(tokens[i]);
  MQTTAsync_free(tokens);
  return pending;
}

// Connects a client that buffered while not connected, waits until the
// broker has acknowledged what it held, and destroys it: Paho 1.3.12's
// MQTTAsync_destroy leaks the topic and payload of a message still buffered.
void send_buffered_and_destroy(MQTTAsync& handle) {
  MQTTAsync_connectOptions connect = MQTTAsync_connectOptions_initializer;
  connect.connectTimeout = 5;
  EXPECT_TRUE(testing::wait_for(connect, [&](auto& o) { return MQTTAsync_connect(handle, &o); }));
  EXPECT_TRUE(testing::wait_for_pending(handle));
  MQTTAsync_disconnectOptions disconnect = MQTTAsync_disconnectOptions_initializer;
  EXPECT_TRUE(testing::wait_for(disconnect, [&](auto& o) { return MQTTAsync_disconnect(handle, &o); }));
  MQTTAsync_destroy(&handle);
}

// Paho C 1.3.12 checks that its buffer has room apart from adding to it, and
// the add drops the client's oldest buffered message if it finds the buffer
// full (eclipse-paho/paho.mqtt.c#1494; send_to_paho() in paho/src/async.cpp):
// two sends meeting at the last free slot both succeed, and a message Paho
// had accepted is never sent. The queue makes one call to Paho at a time.
// A client that buffers while not connected keeps what it accepted, so the
// test can count: one message held, one slot left, and two threads sending
// a QoS 1 message each through the queue at the same moment, large enough
// that Paho's copy between its check and its add takes a while. Each round,
// exactly one of the two may be accepted, and the held one must stay (then
// the client connects, and Paho sends what it holds).
TEST(PahoAsync, TwoSendsForPahosLastFreeSlotDropNothingPahoAccepted) {
  constexpr int kRounds = 10;
  constexpr int kPahoBuffer = 2;              // maxBufferedMessages: the held message and one free slot
  constexpr size_t kLargePayload = 4 << 20;   // copied by Paho between its check and its add
  constexpr int kSenders = 2;
  Broker broker;
  Parties p;
  std::shared_ptr<Sealer> sealer = shared_sealer(p);
  const std::string large(kLargePayload, 'x');
  for (int round = 0; round < kRounds; ++round) {
    MQTTAsync handle = nullptr;
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_3_1_1;
    create.sendWhileDisconnected = 1;
    create.allowDisconnectedSendAtAnyTime = 1;
    create.maxBufferedMessages = kPahoBuffer;
    const std::string client_id = "buffering-" + std::to_string(round);
    ASSERT_EQ(MQTTAsync_createWithOptions(&handle, broker.address().c_str(), client_id.c_str(),
                                          MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create),
              MQTTASYNC_SUCCESS);
    std::unique_ptr<paho::SendQueue> queue = make_queue(handle, sealer);
    MQTTAsync_responseOptions held = MQTTAsync_responseOptions_initializer;
    testing::expect_ok(queue_send(*queue, "plant/1/telemetry", "held", 1, &held));

    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<Status> results(kSenders);
    const MQTTAsync_responseOptions no_callbacks = MQTTAsync_responseOptions_initializer;
    std::vector<MQTTAsync_responseOptions> responses(kSenders, no_callbacks);
    std::vector<std::thread> senders;
    for (int i = 0; i < kSenders; ++i) {
      senders.emplace_back([&, i] {
        ++ready;
        while (!go.load()) std::this_thread::yield();
        results[static_cast<size_t>(i)] = queue_send(*queue, "plant/" + std::to_string(i + 2) + "/telemetry", large,
                                                     1, &responses[static_cast<size_t>(i)]);
      });
    }
    while (ready.load() < kSenders) std::this_thread::yield();
    go = true;
    for (std::thread& th : senders) th.join();

    const std::set<MQTTAsync_token> pending = pending_tokens(handle);
    EXPECT_EQ(pending.count(held.token), 1u) << "round " << round << ": Paho dropped a message it had accepted";
    int accepted = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i]) {
        ++accepted;
        EXPECT_EQ(pending.count(responses[i].token), 1u) << "round " << round;
      } else {
        EXPECT_EQ(results[i].error(), Errc::transport_error) << "round " << round;  // Paho's buffer is full
      }
    }
    EXPECT_EQ(accepted, 1) << "round " << round << ": one free slot in Paho's buffer";
    queue.reset();
    send_buffered_and_destroy(handle);
    if (::testing::Test::HasFailure()) break;
  }
}

// What is not queued waits for the messages queued before it, not for a
// moment when the queue is empty: another thread sending QoS 0 without a
// pause must not hold a QoS 1 send (or a flush) back until it stops.
TEST(PahoAsync, AQoS1SendIsNotHeldBackByAnotherThreadsSteadyQueuedSends) {
  constexpr auto kLoadLimit = std::chrono::seconds(10);
  constexpr int kLoadBeforeSending = 200;
  QueuedParties q;
  ASSERT_TRUE(q.parties.ready) << q.broker.log();
  paho::SendQueue& queue = *q.queue;
  std::atomic<bool> stop{false};
  std::atomic<bool> load_hit_its_limit{false};
  std::atomic<int> loaded{0};
  std::thread load([&] {
    const auto until = std::chrono::steady_clock::now() + kLoadLimit;
    while (!stop.load()) {
      if (std::chrono::steady_clock::now() >= until) {
        load_hit_its_limit = true;
        break;
      }
      testing::expect_ok(queue_send(queue, "plant/1/telemetry", "load"));
      ++loaded;
    }
  });
  while (loaded.load() < kLoadBeforeSending) std::this_thread::yield();
  testing::expect_ok(queue_send(queue, "plant/2/telemetry", "QoS 1", 1));
  const bool sent_under_load = !load_hit_its_limit.load();
  testing::expect_ok(queue.flush());
  const bool flushed_under_load = !load_hit_its_limit.load();
  stop = true;
  load.join();
  EXPECT_TRUE(sent_under_load) << "the QoS 1 send waited for the other thread to stop";
  EXPECT_TRUE(flushed_under_load) << "flush() waited for the other thread to stop";
  EXPECT_EQ(queue.refused(), 0u);
}

TEST(PahoAsync, QueuedSendFailsAtOnceOnSealErrorsAndReportsPahoRefusals) {
  Broker broker;
  Parties p;
  AsyncTestClient device(broker.address(), "device");
  QueueRefusals refusals;
  std::unique_ptr<paho::SendQueue> queue =
      make_queue(device.handle(), shared_sealer(p), &QueueRefusals::on_refused, &refusals);
  // Sealing errors come back from the call; nothing is queued.
  EXPECT_EQ(queue_send(*queue, "plant/1/status", "x").error(), Errc::no_rule);
  EXPECT_EQ(queue_send(*queue, "plant/+/telemetry", "x").error(), Errc::invalid_topic);
  MQTTAsync_message bad = MQTTAsync_message_initializer;
  bad.payloadlen = -1;
  EXPECT_EQ(queue->send_message("plant/1/telemetry", &bad, nullptr).error(), Errc::invalid_argument);
  testing::expect_ok(queue->flush());
  EXPECT_EQ(queue->refused(), 0u);

  // Not connected: Paho refuses on the queue's thread; flush() returns it, the
  // callback sees it, the count has it.
  testing::expect_ok(queue_send(*queue, "plant/1/telemetry", "nowhere to go"));
  Status flushed = queue->flush();
  ASSERT_FALSE(flushed);
  EXPECT_EQ(flushed.error(), Errc::transport_error);
  EXPECT_EQ(queue->refused(), 1u);
  {
    std::lock_guard<std::mutex> lock(refusals.mutex);
    ASSERT_EQ(refusals.seen.size(), 1u);
    EXPECT_EQ(refusals.seen[0], std::make_pair(std::string("plant/1/telemetry"), Errc::transport_error));
  }
  testing::expect_ok(queue->flush());  // reported once
  // What is not queued gets Paho's refusal in the call.
  EXPECT_EQ(queue_send(*queue, "plant/1/telemetry", "x", 1).error(), Errc::transport_error);
  EXPECT_EQ(paho::queue_sends(nullptr, shared_sealer(p)).error(), Errc::invalid_argument);
  EXPECT_EQ(paho::queue_sends(device.handle(), nullptr).error(), Errc::invalid_argument);
}

TEST(PahoAsync, DestroyingTheSendQueueHandsPahoEverythingItAccepted) {
  constexpr int kQueued = 300;
  QueuedParties q;
  ASSERT_TRUE(q.parties.ready) << q.broker.log();
  q.send_numbered("plant/4/telemetry", "m", kQueued);
  q.queue.reset();
  ASSERT_TRUE(q.inbox.wait(kQueued)) << q.broker.log();
  std::lock_guard<std::mutex> lock(q.inbox.mutex);
  EXPECT_EQ(q.inbox.messages.back().payload, "m" + std::to_string(kQueued - 1));
}

// A request/response device answers from its message-arrived callback. Paho
// runs that callback holding its own lock, which the queue's thread needs to
// hand anything to Paho: a queued answer there used to wait for that thread
// for ever once the queue filled (or its thread was inside Paho when a QoS 1
// send or a flush came). From mqseal's callbacks, and from the queue's own
// thread, the queue now answers invalid_argument at once.
struct AnswersFromTheCallback {
  paho::SendQueue* queue = nullptr;
  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  std::vector<Errc> qos1, flushes, qos0;  // Errc{} for a success

  static Errc code(const Status& s) { return s ? Errc{} : s.error().code(); }
  static int on_message(void* context, char* topic, int, MQTTAsync_message* m) {
    auto* self = static_cast<AnswersFromTheCallback*>(context);
    std::vector<Errc> qos1{code(queue_send(*self->queue, "plant/9/telemetry", "answer", 1))};
    std::vector<Errc> flushes{code(self->queue->flush())};
    std::vector<Errc> qos0;
    // More than the queue holds, while its thread waits for Paho's lock.
    for (size_t i = 0; i < paho::kSendQueueCapacity + 2; ++i) {
      qos0.push_back(code(queue_send(*self->queue, "plant/9/telemetry", "answer")));
      if (qos0.back() != Errc{}) break;
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    std::lock_guard<std::mutex> lock(self->mutex);
    self->qos1 = qos1;
    self->flushes = flushes;
    self->qos0 = qos0;
    self->done = true;
    self->changed.notify_all();
    return 1;
  }
};

TEST(PahoAsync, SendingThroughTheQueueFromPahosCallbacksIsAnErrorNotAHang) {
  Broker broker;
  Parties p;
  AnswersFromTheCallback answers;
  paho::AsyncCallbacks callbacks;
  callbacks.context = &answers;
  callbacks.message_arrived = &AnswersFromTheCallback::on_message;
  AsyncTestClient service(broker.address(), "service");
  service.attach(p.opener, callbacks);
  std::unique_ptr<paho::SendQueue> queue = make_queue(service.handle(), shared_sealer(p));
  answers.queue = queue.get();
  AsyncTestClient device(broker.address(), "device");
  ASSERT_TRUE(service.connect() && service.subscribe("plant/1/telemetry") && device.connect()) << broker.log();
  testing::expect_ok(send(p.sealer, device, "plant/1/telemetry", "request"));
  {
    std::unique_lock<std::mutex> lock(answers.mutex);
    ASSERT_TRUE(answers.changed.wait_for(lock, std::chrono::seconds(10), [&] { return answers.done; }));
    EXPECT_EQ(answers.qos1, std::vector<Errc>{Errc::invalid_argument});
    EXPECT_EQ(answers.flushes, std::vector<Errc>{Errc::invalid_argument});
    EXPECT_EQ(answers.qos0, std::vector<Errc>{Errc::invalid_argument});
  }
  // Outside the callback the queue works as before.
  testing::expect_ok(queue_send(*queue, "plant/9/telemetry", "fine"));
  testing::expect_ok(queue->flush());
}

// The queue's refused callback runs on the queue's thread: a flush() there
// would wait for that very thread.
struct FlushesFromTheRefusedCallback {
  paho::SendQueue* queue = nullptr;
  std::atomic<int> flushes{0};
  std::atomic<int> refused_flushes{0};
  static void on_refused(void* context, const char*, const Error&) {
    auto* self = static_cast<FlushesFromTheRefusedCallback*>(context);
    Status flushed = self->queue->flush();
    if (!flushed && flushed.error() == Errc::invalid_argument) ++self->refused_flushes;
    ++self->flushes;
  }
};

TEST(PahoAsync, FlushingTheQueueFromItsOwnRefusedCallbackIsAnErrorNotAHang) {
  Broker broker;
  Parties p;
  AsyncTestClient device(broker.address(), "device");  // not connected: Paho refuses
  FlushesFromTheRefusedCallback watcher;
  std::unique_ptr<paho::SendQueue> queue =
      make_queue(device.handle(), shared_sealer(p), &FlushesFromTheRefusedCallback::on_refused, &watcher);
  watcher.queue = queue.get();
  testing::expect_ok(queue_send(*queue, "plant/1/telemetry", "nowhere to go"));
  EXPECT_EQ(queue->flush().error(), Errc::transport_error);
  EXPECT_EQ(watcher.flushes.load(), 1);
  EXPECT_EQ(watcher.refused_flushes.load(), 1);
}

// The hang that made it so: a device answering each request with a QoS 1
// send through the queue, from message-arrived, while its main thread sends
// telemetry through the same queue. Before, both threads stopped at the
// first request, for ever (the callback waited for the main thread's call
// into Paho, which waited for the lock Paho holds around the callback).
// Now every answer is refused at once and the main thread never stops.
struct AnswersWhileTheMainThreadSends {
  paho::SendQueue* queue = nullptr;
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  static int on_message(void* context, char* topic, int, MQTTAsync_message* m) {
    auto* self = static_cast<AnswersWhileTheMainThreadSends*>(context);
    Status answer = queue_send(*self->queue, "plant/9/telemetry", "answer", 1);
    if (!answer && answer.error() == Errc::invalid_argument) ++self->refused;
    ++self->answered;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }
};

TEST(PahoAsync, AQueuedAnswerFromTheCallbackWhileAnotherThreadSendsDoesNotHangEither) {
  constexpr int kRequests = 50;
  Broker broker;
  Parties p;
  AnswersWhileTheMainThreadSends answers;
  paho::AsyncCallbacks callbacks;
  callbacks.context = &answers;
  callbacks.message_arrived = &AnswersWhileTheMainThreadSends::on_message;
  AsyncTestClient service(broker.address(), "service");
  service.attach(p.opener, callbacks);
  std::unique_ptr<paho::SendQueue> queue = make_queue(service.handle(), shared_sealer(p));
  answers.queue = queue.get();
  AsyncTestClient device(broker.address(), "device");
  ASSERT_TRUE(service.connect() && service.subscribe("plant/1/telemetry") && device.connect()) << broker.log();
  std::atomic<bool> stop{false};
  std::atomic<int> telemetry{0};
  std::thread main_thread([&] {
    for (int i = 0; !stop; ++i) {
      (void)queue_send(*queue, "plant/8/telemetry", "reading", i % 2);
      ++telemetry;
    }
  });
  for (int i = 0; i < kRequests; ++i) testing::expect_ok(send(p.sealer, device, "plant/1/telemetry", "request"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (answers.answered < kRequests && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int sent_before = telemetry;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (answers.answered < kRequests || telemetry == sent_before) {
    // Deadlocked threads cannot be joined, nor the clients destroyed.
    std::fprintf(stderr, "stuck: %d of %d requests answered, telemetry %d then %d\n", answers.answered.load(),
                 kRequests, sent_before, telemetry.load());
    std::_Exit(1);
  }
  stop = true;
  main_thread.join();
  EXPECT_EQ(answers.refused.load(), kRequests);
}

// The application's own callbacks are called as Paho would call them
// without mqseal: deliveryComplete with the token of a sealed QoS 1 send
// (Paho calls it for every QoS 1 or 2 message it completes), connectionLost
// with the application's context when the broker goes away.
struct OwnCallbacks {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<MQTTAsync_token> delivered;
  int lost = 0;
  static void on_delivered(void* context, MQTTAsync_token token) {
    auto* self = static_cast<OwnCallbacks*>(context);
    std::lock_guard<std::mutex> lock(self->mutex);
    self->delivered.push_back(token);
    self->changed.notify_all();
  }
  static void on_lost(void* context, char*) {
    auto* self = static_cast<OwnCallbacks*>(context);
    std::lock_guard<std::mutex> lock(self->mutex);
    ++self->lost;
    self->changed.notify_all();
  }
  static int on_message(void*, char* topic, int, MQTTAsync_message* m) {
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }
};

TEST(PahoAsync, TheApplicationsDeliveryCompleteAndConnectionLostAreCalledAsWithoutMqseal) {
  Broker broker;
  Parties p;
  OwnCallbacks own;
  paho::AsyncCallbacks callbacks;
  callbacks.context = &own;
  callbacks.message_arrived = &OwnCallbacks::on_message;
  callbacks.delivery_complete = &OwnCallbacks::on_delivered;
  callbacks.connection_lost = &OwnCallbacks::on_lost;
  AsyncTestClient device(broker.address(), "device");
  device.attach(p.opener, callbacks);
  ASSERT_TRUE(device.connect()) << broker.log();
  MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
  testing::expect_ok(paho::send(p.sealer, device.handle(), "plant/1/telemetry", 5, "hello", 1, 0, &response));
  ASSERT_NE(response.token, 0);
  {
    std::unique_lock<std::mutex> lock(own.mutex);
    ASSERT_TRUE(own.changed.wait_for(lock, std::chrono::seconds(10), [&] { return !own.delivered.empty(); }));
    EXPECT_EQ(own.delivered, std::vector<MQTTAsync_token>{response.token});
  }
  broker.stop();
  std::unique_lock<std::mutex> lock(own.mutex);
  EXPECT_TRUE(own.changed.wait_for(lock, std::chrono::seconds(10), [&] { return own.lost == 1; }));
}

TEST(PahoAsync, AttachNeedsAMessageCallback) {
  Broker broker;
  Parties p;
  AsyncTestClient client(broker.address(), "c");
  EXPECT_EQ(paho::attach(client.handle(), p.opener, {}).error(), Errc::invalid_argument);
  EXPECT_EQ(paho::attach(client.handle(), nullptr, Inbox().callbacks()).error(), Errc::invalid_argument);
}

class PahoTls : public ::testing::Test {
 protected:
  testing::TempDir dir;
  testing::CertificateSet certs = testing::generate_certificates(dir.path(), "device-1");
  Broker broker{testing::tls_broker_options(certs, /*require_certificate=*/true,
                                            /*use_identity_as_username=*/true)};
  Parties p;

  bool connect_with(AsyncTestClient& client, const paho::TlsFiles& files) {
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (!paho::configure_tls(files, ssl)) return false;
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    options.ssl = &ssl;
    return client.connect(options);
  }
};

TEST_F(PahoTls, ClientCertificateConnectsAndSealedMessagesFlow) {
  ASSERT_TRUE(broker.running()) << broker.log();
  Inbox inbox;
  AsyncTestClient client(broker.address(), "device-1");
  client.attach(p.opener, inbox.callbacks());
  ASSERT_TRUE(connect_with(client, {certs.ca_cert, certs.client_cert, certs.client_key, ""}))
      << broker.log();
  ASSERT_TRUE(client.subscribe("plant/+/telemetry"));
  testing::expect_ok(send(p.sealer, client, "plant/3/telemetry", "over TLS"));
  ASSERT_TRUE(inbox.wait(1));
  EXPECT_EQ(inbox.messages[0].payload, "over TLS");
}

TEST_F(PahoTls, NoCertificateOrAnotherCaIsRefused) {
  AsyncTestClient anonymous(broker.address(), "anonymous");
  EXPECT_FALSE(connect_with(anonymous, {certs.ca_cert, "", "", ""}));
  AsyncTestClient stranger(broker.address(), "stranger");
  EXPECT_FALSE(connect_with(stranger, {certs.ca_cert, certs.other_client_cert, certs.other_client_key, ""}));
  EXPECT_EQ(paho::configure_tls({"", "", "", ""}, *std::make_unique<MQTTAsync_SSLOptions>()).error(),
            Errc::invalid_argument);
  EXPECT_EQ(paho::configure_tls({certs.ca_cert, certs.client_cert, "", ""},
                                *std::make_unique<MQTTAsync_SSLOptions>())
                .error(),
            Errc::invalid_argument);
}

class PahoPersistentSession : public ::testing::TestWithParam<bool> {};

TEST_P(PahoPersistentSession, QueuedSealedMessagesOpenAfterReconnecting) {
  const bool mqtt5 = GetParam();
  Broker broker;
  Parties p;
  auto connect_subscriber = [&](AsyncTestClient& client) {
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    if (mqtt5) options = MQTTAsync_connectOptions_initializer5;
    MQTTProperties properties = MQTTProperties_initializer;
    paho::PersistentSession session;
    session.mqtt5 = mqtt5;
    testing::expect_ok(paho::configure_persistent_session(session, options, properties));
    const bool ok = client.connect(options);
    MQTTProperties_free(&properties);
    return ok;
  };
  {
    AsyncTestClient subscriber(broker.address(), "persistent-service", mqtt5);
    ASSERT_TRUE(connect_subscriber(subscriber)) << broker.log();
    ASSERT_TRUE(subscriber.subscribe("plant/+/telemetry"));
  }  // disconnects; the broker keeps the session
  {
    AsyncTestClient device(broker.address(), "device");
    ASSERT_TRUE(device.connect());
    for (int i = 0; i < 10; ++i) {
      testing::expect_ok(send(p.sealer, device, "plant/5/telemetry", "queued-" + std::to_string(i)));
    }
    ASSERT_TRUE(device.wait_for_pending());
  }
  Inbox inbox;
  AsyncTestClient subscriber(broker.address(), "persistent-service", mqtt5);
  paho::AsyncAttachment& attached = subscriber.attach(p.opener, inbox.callbacks());
  ASSERT_TRUE(connect_subscriber(subscriber)) << broker.log();
  ASSERT_TRUE(inbox.wait(10)) << broker.log();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(inbox.messages[static_cast<size_t>(i)].payload, "queued-" + std::to_string(i));
  }
  EXPECT_EQ(attached.stats().refused, 0u);
}

INSTANTIATE_TEST_SUITE_P(Mqtt311AndMqtt5, PahoPersistentSession, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "mqtt5" : "mqtt311"; });

}  // namespace
}  // namespace mqseal
