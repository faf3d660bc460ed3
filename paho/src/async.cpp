// The MQTTAsync binding of the shared adapter in attachment.h.
#include "mqseal/paho/async.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mqseal/credentials.h"

#include "attachment.h"

namespace mqseal::paho {

namespace {

struct AsyncApi {
  using Message = MQTTAsync_message;
  using Callbacks = AsyncCallbacks;
  using Token = MQTTAsync_token;
  using AttachmentBase = AsyncAttachment;
  static void free_message(Message** message) { MQTTAsync_freeMessage(message); }
  static void free_topic(char* topic) { MQTTAsync_free(topic); }
  static std::string describe(int rc) {
    const char* text = MQTTAsync_strerror(rc);
    return "Paho: " + std::string(text != nullptr ? text : "error") + " (" + std::to_string(rc) + ")";
  }
};

using AsyncAttachmentImpl = internal::Attachment<AsyncApi>;

}  // namespace

Result<std::unique_ptr<AsyncAttachment>> attach(MQTTAsync handle, std::shared_ptr<Opener> opener,
                                                AsyncCallbacks callbacks) {
  if (handle == nullptr || !opener || callbacks.message_arrived == nullptr) {
    return Error(Errc::invalid_argument, "a handle, an opener and a message_arrived callback are required");
  }
  auto attachment = std::make_unique<AsyncAttachmentImpl>(std::move(opener), callbacks);
  if (!attachment->ready()) return Error(Errc::crypto_failure, "sodium_malloc failed");
  const int rc = MQTTAsync_setCallbacks(handle, attachment.get(), &AsyncAttachmentImpl::on_connection_lost,
                                       &AsyncAttachmentImpl::on_message,
                                       &AsyncAttachmentImpl::on_delivery_complete);
  if (rc != 0) return Error(Errc::transport_error, AsyncApi::describe(rc));
  return std::unique_ptr<AsyncAttachment>(std::move(attachment));
}

Status configure_tls(const TlsFiles& files, MQTTAsync_SSLOptions& ssl) {
  return internal::fill_tls(files, ssl);
}

Status configure_persistent_session(const PersistentSession& session,
                                    MQTTAsync_connectOptions& options, MQTTProperties& properties) {
  Status s = internal::fill_session(session, options, properties, MQTTVERSION_5);
  if (s && session.mqtt5) options.connectProperties = &properties;
  return s;
}

namespace {

class AsyncConnectTokens final : public ConnectTokens {
 public:
  AsyncConnectTokens(std::shared_ptr<const Keyring> keys, std::string key_name, std::string username,
                     std::string client_id, uint64_t lifetime_s)
      : keys_(std::move(keys)), key_name_(std::move(key_name)), username_(std::move(username)),
        client_id_(std::move(client_id)), lifetime_s_(lifetime_s) {}

  Status prepare(MQTTAsync_connectOptions& options) override {
    Result<std::string> token = make();
    if (!token) return token.error();
    current_ = std::move(*token);
    options.username = username_.c_str();
    options.password = current_.c_str();
    // With MQTTVERSION_DEFAULT, Paho answers a refused CONNECT by sending it
    // again as MQTT 3.1 with the same credentials, which a single-use token
    // cannot survive (seen against mosquitto: the retry is refused as a
    // replay). Name the version.
    if (options.MQTTVersion == MQTTVERSION_DEFAULT) options.MQTTVersion = MQTTVERSION_3_1_1;
    return {};
  }
  uint64_t tokens_made() const override { return made_.load(std::memory_order_relaxed); }

  // MQTTAsync_updateConnectOptions: Paho takes over what is set here, which
  // must come from MQTTAsync_malloc.
  static int on_reconnect(void* context, MQTTAsync_connectData* data) {
    auto* self = static_cast<AsyncConnectTokens*>(context);
    Result<std::string> token = self->make();
    if (!token) {
      std::fprintf(stderr, "mqseal: no CONNECT token for the reconnect: %s\n", token.error().message().c_str());
      return 0;  // keep the old data; the broker will refuse it, and Paho retries
    }
    auto* username = static_cast<char*>(MQTTAsync_malloc(self->username_.size() + 1));
    auto* password = static_cast<char*>(MQTTAsync_malloc(token->size()));
    if (username == nullptr || password == nullptr) {
      MQTTAsync_free(username);
      MQTTAsync_free(password);
      return 0;
    }
    std::memcpy(username, self->username_.c_str(), self->username_.size() + 1);
    std::memcpy(password, token->data(), token->size());
    data->username = username;
    data->binarypwd.data = password;
    data->binarypwd.len = static_cast<int>(token->size());
    return 1;
  }

 private:
  Result<std::string> make() {
    made_.fetch_add(1, std::memory_order_relaxed);
    return make_connect_token(*keys_, key_name_, username_, client_id_, lifetime_s_);
  }
  std::shared_ptr<const Keyring> keys_;
  std::string key_name_, username_, client_id_;
  uint64_t lifetime_s_;
  std::string current_;
  std::atomic<uint64_t> made_{0};
};

}  // namespace

Result<std::unique_ptr<ConnectTokens>> use_connect_tokens(MQTTAsync handle, std::shared_ptr<const Keyring> keys,
                                                          std::string key_name, std::string username,
                                                          std::string client_id, uint64_t lifetime_s) {
  if (handle == nullptr || !keys || username.empty() || lifetime_s == 0) {
    return Error(Errc::invalid_argument, "a handle, a keyring, a username and a lifetime are required");
  }
  // An empty client ID is replaced by one the broker makes up (mosquitto:
  // auto-..., or the username with use_username_as_clientid) before any
  // password check: a token for "" could never verify there.
  if (client_id.empty()) {
    return Error(Errc::invalid_argument, "CONNECT tokens need a client ID: the broker would assign one, which no "
                                         "token can name");
  }
  // Refused now rather than at every CONNECT: no primary key, or names no
  // token could verify for (make_connect_token's rules). This token is not
  // sent, and not counted in tokens_made().
  if (Result<std::string> trial = make_connect_token(*keys, key_name, username, client_id, lifetime_s); !trial) {
    return std::move(trial).error();
  }
  auto tokens = std::make_unique<AsyncConnectTokens>(std::move(keys), std::move(key_name), std::move(username),
                                                     std::move(client_id), lifetime_s);
  const int rc = MQTTAsync_setUpdateConnectOptions(handle, tokens.get(), &AsyncConnectTokens::on_reconnect);
  if (rc != 0) return Error(Errc::transport_error, AsyncApi::describe(rc));
  return std::unique_ptr<ConnectTokens>(std::move(tokens));
}

Status send_message(Sealer& sealer, MQTTAsync handle, const char* topic,
                    const MQTTAsync_message* message, MQTTAsync_responseOptions* response) {
  return internal::sealed_send<AsyncApi>(sealer, topic, message, [&](MQTTAsync_message& sealed) {
    return MQTTAsync_sendMessage(handle, topic, &sealed, response);
  });
}

Status send(Sealer& sealer, MQTTAsync handle, const char* topic, int payload_len,
            const void* payload, int qos, int retained, MQTTAsync_responseOptions* response) {
  MQTTAsync_message message = MQTTAsync_message_initializer;
  message.payload = const_cast<void*>(payload);  // Paho's field is not const; it only reads
  message.payloadlen = payload_len;
  message.qos = qos;
  message.retained = retained;
  return send_message(sealer, handle, topic, &message, response);
}

namespace {

// One lock guards the queue; each side sleeps on its own condition variable
// and is woken only when it said it sleeps, so a steady stream of messages
// costs no wake-up per message.
class AsyncSendQueue final : public SendQueue {
 public:
  static constexpr auto kPahoFullRetry = std::chrono::microseconds(100);
  // Buffers kept for reuse are at most this large, so one big message does
  // not stay allocated for the life of the queue.
  static constexpr size_t kMaxSpareBytes = 64 * 1024;

  AsyncSendQueue(MQTTAsync handle, std::shared_ptr<Sealer> sealer, SendRefusedCallback on_refused,
                 void* refused_context)
      : handle_(handle), sealer_(std::move(sealer)), on_refused_(on_refused), refused_context_(refused_context) {}

  ~AsyncSendQueue() override {
    if (!started_) return;
    {
      std::lock_guard<std::mutex> hold(lock_);
      stopping_ = true;
      work_.notify_one();
    }
    pthread_join(thread_, nullptr);  // the thread hands Paho what is queued before it ends
  }

  Status start() {
    const int rc = pthread_create(&thread_, nullptr, &AsyncSendQueue::run, this);
    if (rc != 0) return Error(Errc::transport_error, "cannot start the send queue's thread: " + std::string(std::strerror(rc)));
    started_ = true;
    return {};
  }

  Status send_message(const char* topic, const MQTTAsync_message* message,
                      MQTTAsync_responseOptions* response) override {
    if (Status s = callable_here(); !s) return s;
    if (topic == nullptr || message == nullptr || message->payloadlen < 0 ||
        (message->payload == nullptr && message->payloadlen != 0)) {
      return Error(Errc::invalid_argument, "topic and message are required");
    }
    if (message->qos != 0 || response != nullptr || message->properties.count != 0) {
      wait_for_queued_before();
      // Sealed once; while the client is connected and Paho's buffer is full
      // (the queue's thread may be filling it for other callers), waits for
      // room as that thread does.
      return internal::sealed_send<AsyncApi>(*sealer_, topic, message, [&](MQTTAsync_message& sealed) {
        return send_waiting_for_room(topic, sealed, response);
      });
    }
    Entry entry;
    {
      std::lock_guard<std::mutex> hold(lock_);
      if (!spare_.empty()) {
        entry = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    const ByteView payload(message->payload, static_cast<size_t>(message->payloadlen));
    entry.retained = message->retained != 0;
    if (Status s = sealer_->seal(topic, payload, entry.sealed, entry.retained ? Publish::retained : Publish::live);
        !s) {
      return s;
    }
    entry.topic.assign(topic);
    std::unique_lock<std::mutex> hold(lock_);
    while (queued_.size() >= kSendQueueCapacity) {
      ++room_waiters_;
      room_.wait(hold);
      --room_waiters_;
    }
    queued_.push_back(std::move(entry));
    ++accepted_;
    if (worker_sleeping_) work_.notify_one();
    return {};
  }

  Status flush() override {
    if (Status s = callable_here(); !s) return s;
    wait_for_queued_before();
    std::lock_guard<std::mutex> hold(lock_);
    Status first = std::move(first_refusal_);
    first_refusal_ = {};
    return first;
  }

  uint64_t refused() const override { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::string topic;
    std::vector<uint8_t> sealed;
    bool retained = false;
  };

  // Refuses calls that could wait for ever (async.h): from mqseal's Paho
  // callbacks, where Paho holds a lock that a thread the call may wait for
  // (the queue's, or another caller's inside Paho) can be waiting for; and
  // from the queue's own thread (its refused callback), which a flush() or a
  // QoS 1 send would wait for.
  Status callable_here() const {
    if (internal::in_paho_callback > 0) {
      return Error(Errc::invalid_argument,
                   "the send queue cannot be used from Paho's callbacks: use send_message() there");
    }
    if (started_ && pthread_equal(pthread_self(), thread_) != 0) {
      return Error(Errc::invalid_argument, "the send queue cannot be used from its own refused callback");
    }
    return {};
  }

  // Waits until every message queued before the call has been handed to
  // Paho: not until the queue is empty, which it may never be while other
  // threads send without a pause (a QoS 1 send or a flush waited for them
  // to stop).
  void wait_for_queued_before() {
    std::unique_lock<std::mutex> hold(lock_);
    const uint64_t target = accepted_;
    while (handed_over_ < target) {
      ++room_waiters_;
      room_.wait(hold);
      --room_waiters_;
    }
  }

  static void* run(void* self) {
    static_cast<AsyncSendQueue*>(self)->loop();
    return nullptr;
  }

  // Takes everything queued at once and hands it to Paho in order.
  void loop() {
    std::vector<Entry> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> hold(lock_);
        handed_over_ += batch.size();
        for (Entry& done : batch) {
          if (spare_.size() < kSendQueueCapacity && done.sealed.capacity() <= kMaxSpareBytes) {
            spare_.push_back(std::move(done));
          }
        }
        batch.clear();
        if (room_waiters_ > 0) room_.notify_all();
        while (queued_.empty() && !stopping_) {
          worker_sleeping_ = true;
          work_.wait(hold);
          worker_sleeping_ = false;
        }
        if (queued_.empty()) return;  // stopping, and everything was handed over
        batch.swap(queued_);
        if (room_waiters_ > 0) room_.notify_all();
      }
      for (Entry& entry : batch) submit(entry);
    }
  }

  // MQTTAsync_sendMessage, one call at a time for this queue (its thread's
  // and its callers'). Paho C 1.3.12 (Debian 12's libpaho-mqtt) checks that
  // its buffer has room (MQTTAsync_send, src/MQTTAsync.c:1228-1231) apart
  // from adding the message (MQTTAsync_addCommand, src/MQTTAsyncUtils.c:
  // 869-899), and the add frees the client's oldest buffered message when it
  // finds the buffer full, whatever deleteOldestMessages says. Two calls that
  // both pass the check with one slot left both return success, and a
  // message Paho had already accepted is dropped without a word, not sent
  // and no callback called (eclipse-paho/paho.mqtt.c#1494). Serialized, the
  // second call sees the full buffer and gets MQTTASYNC_MAX_BUFFERED_MESSAGES.
  int send_to_paho(const char* topic, MQTTAsync_message& message, MQTTAsync_responseOptions* response) {
    std::lock_guard<std::mutex> hold(paho_send_lock_);
    return MQTTAsync_sendMessage(handle_, topic, &message, response);
  }

  // send_to_paho; while Paho's own buffer (createOptions.maxBufferedMessages)
  // is full and the client connected, it drains, so wait for it then, as a
  // caller of Paho would.
  int send_waiting_for_room(const char* topic, MQTTAsync_message& message, MQTTAsync_responseOptions* response) {
    int rc = send_to_paho(topic, message, response);
    while (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES && MQTTAsync_isConnected(handle_) != 0) {
      std::this_thread::sleep_for(kPahoFullRetry);
      rc = send_to_paho(topic, message, response);
    }
    return rc;
  }

  void submit(Entry& entry) {
    MQTTAsync_message message = MQTTAsync_message_initializer;
    message.payload = entry.sealed.data();
    message.payloadlen = static_cast<int>(entry.sealed.size());
    message.qos = 0;
    message.retained = entry.retained ? 1 : 0;
    const int rc = send_waiting_for_room(entry.topic.c_str(), message, nullptr);
    if (rc == MQTTASYNC_SUCCESS) return;
    refused_.fetch_add(1, std::memory_order_relaxed);
    Error error(Errc::transport_error, AsyncApi::describe(rc));
    if (on_refused_ != nullptr) {
      on_refused_(refused_context_, entry.topic.c_str(), error);
    } else {
      const std::string reason = error.message();
      std::fprintf(stderr, "mqseal: Paho refused a queued message on '%s': %s\n", entry.topic.c_str(),
                   reason.c_str());
    }
    std::lock_guard<std::mutex> hold(lock_);
    if (first_refusal_) first_refusal_ = std::move(error);
  }

  const MQTTAsync handle_;
  const std::shared_ptr<Sealer> sealer_;
  const SendRefusedCallback on_refused_;
  void* const refused_context_;
  pthread_t thread_{};
  bool started_ = false;
  std::mutex paho_send_lock_;  // held only around MQTTAsync_sendMessage: send_to_paho()

  std::mutex lock_;
  std::condition_variable work_;  // the queue's thread sleeps here
  std::condition_variable room_;  // callers wait here for room, or for the queue to empty
  std::vector<Entry> queued_;
  std::vector<Entry> spare_;      // buffers handed back, so that steady sending allocates nothing
  bool worker_sleeping_ = false;
  // Messages queued so far, and how many of the first of them the thread
  // has handed to Paho (refused ones included): batches go in order.
  uint64_t accepted_ = 0;
  uint64_t handed_over_ = 0;
  bool stopping_ = false;
  int room_waiters_ = 0;
  Status first_refusal_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace

Result<std::unique_ptr<SendQueue>> queue_sends(MQTTAsync handle, std::shared_ptr<Sealer> sealer,
                                               SendRefusedCallback refused, void* refused_context) {
  if (handle == nullptr || !sealer) return Error(Errc::invalid_argument, "a handle and a sealer are required");
  auto queue = std::make_unique<AsyncSendQueue>(handle, std::move(sealer), refused, refused_context);
  if (Status s = queue->start(); !s) return s.error();
  return std::unique_ptr<SendQueue>(std::move(queue));
}

}  // namespace mqseal::paho
