// Helpers for the Paho integration tests: an MQTTAsync client that connects
// and subscribes synchronously, and an inbox that collects what arrives.
#ifndef MQSEAL_TESTS_PAHO_TEST_UTIL_H_
#define MQSEAL_TESTS_PAHO_TEST_UTIL_H_

#include <MQTTAsync.h>
#include <gtest/gtest.h>
#include <mqseal/paho/async.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mqseal::testing {

inline constexpr auto kPahoTimeout = std::chrono::seconds(10);

// Runs `start(options)` with its completion callbacks wired to a promise, and
// waits. Works for MQTTAsync_connectOptions, MQTTAsync_responseOptions and
// MQTTAsync_disconnectOptions, which share these fields. An MQTT 5 client
// reports through the *5 callbacks; Paho refuses options that set both kinds.
template <typename Options, typename Start>
bool wait_for(Options& options, Start start, bool mqtt5 = false) {
  std::promise<bool> done;
  options.context = &done;
  if (mqtt5) {
    options.onSuccess5 = [](void* c, MQTTAsync_successData5*) {
      static_cast<std::promise<bool>*>(c)->set_value(true);
    };
    options.onFailure5 = [](void* c, MQTTAsync_failureData5*) {
      static_cast<std::promise<bool>*>(c)->set_value(false);
    };
  } else {
    options.onSuccess = [](void* c, MQTTAsync_successData*) {
      static_cast<std::promise<bool>*>(c)->set_value(true);
    };
    options.onFailure = [](void* c, MQTTAsync_failureData*) {
      static_cast<std::promise<bool>*>(c)->set_value(false);
    };
  }
  auto result = done.get_future();
  if (start(options) != MQTTASYNC_SUCCESS) return false;
  return result.wait_for(kPahoTimeout) == std::future_status::ready && result.get();
}

// Waits until every message sent on `client` has been acknowledged.
inline bool wait_for_pending(MQTTAsync client) {
  const auto deadline = std::chrono::steady_clock::now() + kPahoTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    MQTTAsync_token* pending = nullptr;
    if (MQTTAsync_getPendingTokens(client, &pending) != MQTTASYNC_SUCCESS) return false;
    const bool idle = pending == nullptr || pending[0] == -1;
    MQTTAsync_free(pending);
    if (idle) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct Received {
  std::string topic;
  std::string payload;
  bool retained = false;
};

// What an application's callbacks saw. on_message returns 1 unless
// `decline_next` asks it to return 0 once (to test Paho's redelivery).
struct Inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Received> messages;
  std::vector<std::pair<std::string, Errc>> refused;
  std::vector<std::string> refused_signers;  // RefusedMessage::signer of each in `refused`
  int decline_next = 0;

  static int on_message(void* context, char* topic, int topic_len, MQTTAsync_message* m) {
    auto* inbox = static_cast<Inbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->messages.push_back({topic_len > 0 ? std::string(topic, static_cast<size_t>(topic_len)) : topic,
                               std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
                               m->retained != 0});
    inbox->changed.notify_all();
    if (inbox->decline_next > 0) {
      --inbox->decline_next;
      return 0;  // Paho keeps the message and offers it again
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }
  static void on_refused(void* context, const paho::RefusedMessage& r) {
    auto* inbox = static_cast<Inbox*>(context);
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->refused.emplace_back(std::string(r.topic), r.error.code());
    inbox->refused_signers.emplace_back(r.signer);
    inbox->changed.notify_all();
  }
  // Waits until `messages` and `refused` have at least these many entries.
  bool wait(size_t message_count, size_t refused_count = 0,
            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, timeout, [&] {
      return messages.size() >= message_count && refused.size() >= refused_count;
    });
  }
  paho::AsyncCallbacks callbacks() {
    paho::AsyncCallbacks cb;
    cb.context = this;
    cb.message_arrived = &Inbox::on_message;
    cb.refused = &Inbox::on_refused;
    cb.refused_context = this;
    return cb;
  }
};

class AsyncTestClient {
 public:
  AsyncTestClient(const std::string& uri, const std::string& client_id, bool mqtt5 = false)
      : mqtt5_(mqtt5) {
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.MQTTVersion = mqtt5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    const int rc = MQTTAsync_createWithOptions(&handle_, uri.c_str(), client_id.c_str(),
                                               MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create);
    EXPECT_EQ(rc, MQTTASYNC_SUCCESS) << uri;
  }
  ~AsyncTestClient() {
    disconnect();
    MQTTAsync_destroy(&handle_);
    attachment_.reset();  // only now: Paho's threads may call it until MQTTAsync_destroy
  }
  AsyncTestClient(const AsyncTestClient&) = delete;
  AsyncTestClient& operator=(const AsyncTestClient&) = delete;

  MQTTAsync handle() const { return handle_; }

  // paho::attach, with the attachment kept alive until after MQTTAsync_destroy,
  // as async.h requires (a test that destroys it first races Paho's threads).
  paho::AsyncAttachment& attach(std::shared_ptr<Opener> opener, paho::AsyncCallbacks callbacks) {
    Result<std::unique_ptr<paho::AsyncAttachment>> attached = paho::attach(handle_, std::move(opener), callbacks);
    if (!attached) {
      ADD_FAILURE() << attached.error().message();
      std::abort();
    }
    attachment_ = std::move(*attached);
    return *attachment_;
  }

  bool connect(MQTTAsync_connectOptions options) {
    options.connectTimeout = 5;
    return testing::wait_for(options, [&](auto& o) { return MQTTAsync_connect(handle_, &o); }, mqtt5_);
  }
  bool connect() {
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    return connect(options);
  }
  bool subscribe(const std::string& filter, int qos = 1) {
    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    return testing::wait_for(options, [&](auto& o) {
      return MQTTAsync_subscribe(handle_, filter.c_str(), qos, &o);
    }, mqtt5_);
  }
  void disconnect() {
    if (MQTTAsync_isConnected(handle_) == 0) return;
    MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
    testing::wait_for(options, [&](auto& o) { return MQTTAsync_disconnect(handle_, &o); }, mqtt5_);
  }
  bool wait_for_pending() { return testing::wait_for_pending(handle_); }

 private:
  MQTTAsync handle_ = nullptr;
  bool mqtt5_ = false;
  std::unique_ptr<paho::AsyncAttachment> attachment_;
};

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_PAHO_TEST_UTIL_H_
