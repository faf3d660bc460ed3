// Private: the message-arrived path shared by the MQTTAsync and MQTTClient
// adapters. The two Paho APIs have the same shape under different names; Api
// (AsyncApi or ClientApi) supplies the names.
#ifndef MQSEAL_PAHO_SRC_ATTACHMENT_H_
#define MQSEAL_PAHO_SRC_ATTACHMENT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <MQTTProperties.h>
#include <sodium.h>

#include "mqseal/opener.h"
#include "mqseal/paho/common.h"
#include "mqseal/sealer.h"

namespace mqseal::paho::internal {

// A declined message (the application's callback returned 0) comes back from
// Paho at the same address, already opened. The address alone proves nothing:
// a message Paho freed without offering it again (the queue of a clean session
// that ended) can leave its address to the next message, sealed or not. So a
// declined message is remembered with its payload pointer and length and a
// keyed BLAKE2b hash of its topic and the plaintext handed over, and only a
// message matching all of them skips opening; any other is opened as usual.
inline constexpr size_t kDeclinedKeySize = crypto_generichash_KEYBYTES;
inline constexpr size_t kDeclinedTagSize = crypto_generichash_BYTES;
// Declined messages remembered at once. Past it, the first of the table is
// forgotten: if Paho offers that one again, it is opened again, which fails
// (it holds plaintext) and it is refused. A bound for an application that
// declines messages Paho then frees; Paho's own queue holds every declined
// message's payload, so a live application stays far below it.
inline constexpr size_t kMaxDeclinedMessages = 4096;

// Non-zero while this thread runs one of mqseal's Paho callbacks (message
// arrived, with the refused callback inside it; connection lost; delivery
// complete). Paho holds a lock of its own around them, so the send queue
// (async.cpp) answers an error there instead of waiting for a thread that may
// be waiting for that lock.
inline thread_local int in_paho_callback = 0;

struct InPahoCallback {
  InPahoCallback() noexcept { ++in_paho_callback; }
  ~InPahoCallback() { --in_paho_callback; }
  InPahoCallback(const InPahoCallback&) = delete;
  InPahoCallback& operator=(const InPahoCallback&) = delete;
};

struct SodiumFree {
  void operator()(uint8_t* p) const noexcept { sodium_free(p); }
};

template <typename Api>
class Attachment final : public Api::AttachmentBase {
 public:
  using Message = typename Api::Message;
  using Callbacks = typename Api::Callbacks;

  Attachment(std::shared_ptr<Opener> opener, Callbacks callbacks)
      : opener_(std::move(opener)), callbacks_(callbacks) {
    if (sodium_init() < 0) return;
    declined_key_.reset(static_cast<uint8_t*>(sodium_malloc(kDeclinedKeySize)));
    if (declined_key_) randombytes_buf(declined_key_.get(), kDeclinedKeySize);
  }

  // False when the key of declined messages could not be made (guarded
  // memory exhausted): attach() refuses such an attachment (crypto_failure).
  bool ready() const noexcept { return declined_key_ != nullptr; }

  AttachStats stats() const override {
    AttachStats s;
    s.delivered = delivered_.load(std::memory_order_relaxed);
    s.duplicates = duplicates_.load(std::memory_order_relaxed);
    s.refused = refused_.load(std::memory_order_relaxed);
    return s;
  }

  static int on_message(void* self, char* topic, int topic_len, Message* message) {
    InPahoCallback scope;
    return static_cast<Attachment*>(self)->arrived(topic, topic_len, message);
  }
  static void on_connection_lost(void* self, char* cause) {
    InPahoCallback scope;
    const Callbacks& cb = static_cast<Attachment*>(self)->callbacks_;
    if (cb.connection_lost != nullptr) cb.connection_lost(cb.context, cause);
  }
  static void on_delivery_complete(void* self, typename Api::Token token) {
    InPahoCallback scope;
    const Callbacks& cb = static_cast<Attachment*>(self)->callbacks_;
    if (cb.delivery_complete != nullptr) cb.delivery_complete(cb.context, token);
  }

 private:
  // Paho calls this on its one delivery thread per client, so scratch_ and
  // declined_ need no lock.
  int arrived(char* topic, int topic_len, Message* message) {
    const std::string_view topic_view =
        topic_len > 0 ? std::string_view(topic, static_cast<size_t>(topic_len)) : std::string_view(topic);
    // A message the application asked to see again (it returned 0) was opened
    // already and holds plaintext: it goes straight back, if it is that one.
    if (auto again = declined_.find(message); again != declined_.end()) {
      Declined was = std::move(again->second);
      declined_.erase(again);
      if (was.payload == message->payload && was.payload_len == message->payloadlen &&
          sodium_memcmp(was.tag.data(), tag_of(topic_view, message).data(), kDeclinedTagSize) == 0) {
        return hand_over(topic, topic_len, message, was.signer);
      }
    }

    const ByteView envelope(message->payload, static_cast<size_t>(message->payloadlen));
    Status opened = opener_->open(topic_view, envelope, Delivery{message->retained != 0, 0}, scratch_);
    if (!opened) {
      if (opened.error() == Errc::duplicate) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
      } else {
        refused_.fetch_add(1, std::memory_order_relaxed);
        report(RefusedMessage{topic_view, message->payload, message->payloadlen, message->qos,
                              message->retained != 0, opened.error(), scratch_.signer});
      }
      Api::free_message(&message);
      Api::free_topic(topic);
      return 1;
    }
    // The payload never grows on opening, so it goes into Paho's own buffer,
    // which Paho (or the application) frees as usual.
    if (!scratch_.payload.empty()) {
      std::memcpy(message->payload, scratch_.payload.data(), scratch_.payload.size());
    }
    message->payloadlen = static_cast<int>(scratch_.payload.size());
    delivered_.fetch_add(1, std::memory_order_relaxed);
    return hand_over(topic, topic_len, message, scratch_.signer);
  }

  // Calls the application with arrived_signer() set to `signer` (common.h).
  int hand_over(char* topic, int topic_len, Message* message, const std::string& signer) {
    struct SignerScope {  // arrived_signer() is empty again however the callback ends
      explicit SignerScope(std::string_view name) noexcept { detail::arrived_signer = name; }
      ~SignerScope() { detail::arrived_signer = {}; }
      SignerScope(const SignerScope&) = delete;
      SignerScope& operator=(const SignerScope&) = delete;
    };
    int rc;
    {
      SignerScope scope(signer);
      rc = callbacks_.message_arrived(callbacks_.context, topic, topic_len, message);
    }
    if (rc == 0) remember_declined(topic, topic_len, message, signer);  // Paho will offer it again
    return rc;
  }

  struct Declined {
    const void* payload = nullptr;
    int payload_len = 0;
    std::array<uint8_t, kDeclinedTagSize> tag{};
    std::string signer;
  };

  // The keyed hash of a message's topic and payload (its plaintext, once opened).
  std::array<uint8_t, kDeclinedTagSize> tag_of(std::string_view topic, const Message* message) const {
    std::array<uint8_t, kDeclinedTagSize> tag{};
    const uint64_t topic_size = topic.size();
    uint8_t topic_size_bytes[sizeof topic_size];
    for (size_t i = 0; i < sizeof topic_size; ++i) topic_size_bytes[i] = static_cast<uint8_t>(topic_size >> (8 * i));
    crypto_generichash_state state;
    (void)crypto_generichash_init(&state, declined_key_.get(), kDeclinedKeySize, kDeclinedTagSize);
    (void)crypto_generichash_update(&state, topic_size_bytes, sizeof topic_size_bytes);
    (void)crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(topic.data()), topic.size());
    if (message->payloadlen > 0) {
      (void)crypto_generichash_update(&state, static_cast<const uint8_t*>(message->payload),
                                      static_cast<size_t>(message->payloadlen));
    }
    (void)crypto_generichash_final(&state, tag.data(), tag.size());
    return tag;
  }

  void remember_declined(char* topic, int topic_len, Message* message, const std::string& signer) {
    const std::string_view topic_view =
        topic_len > 0 ? std::string_view(topic, static_cast<size_t>(topic_len)) : std::string_view(topic);
    if (declined_.size() >= kMaxDeclinedMessages && declined_.find(message) == declined_.end()) {
      declined_.erase(declined_.begin());
    }
    Declined& d = declined_[message];
    d.payload = message->payload;
    d.payload_len = message->payloadlen;
    d.tag = tag_of(topic_view, message);
    d.signer = signer;
  }

  void report(const RefusedMessage& refused) {
    if (callbacks_.refused != nullptr) {
      callbacks_.refused(callbacks_.refused_context, refused);
      return;
    }
    const std::string reason = refused.error.message();
    std::fprintf(stderr, "mqseal: refused a %d-byte message on '%.*s': %s\n", refused.payload_len,
                 static_cast<int>(refused.topic.size()), refused.topic.data(), reason.c_str());
  }

  std::shared_ptr<Opener> opener_;
  Callbacks callbacks_;
  Opened scratch_;
  std::unique_ptr<uint8_t, SodiumFree> declined_key_;  // kDeclinedKeySize, guarded
  std::unordered_map<const Message*, Declined> declined_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> refused_{0};
};

// The shared part of send: seal into a per-thread buffer (Paho copies the
// payload before its send call returns), then let Api send the copy of
// `message` with the sealed payload. The message's retain flag is sealed in
// as the publisher's intent, so receivers can tell a retained message from a
// live one replayed with the flag set.
template <typename Api, typename Send>
Status sealed_send(Sealer& sealer, const char* topic, const typename Api::Message* message,
                   Send&& send) {
  if (topic == nullptr || message == nullptr || message->payloadlen < 0 ||
      (message->payload == nullptr && message->payloadlen != 0)) {
    return Error(Errc::invalid_argument, "topic and message are required");
  }
  thread_local std::vector<uint8_t> sealed;
  const ByteView payload(message->payload, static_cast<size_t>(message->payloadlen));
  const Publish publish = message->retained != 0 ? Publish::retained : Publish::live;
  if (Status s = sealer.seal(topic, payload, sealed, publish); !s) return s;
  typename Api::Message copy = *message;
  copy.payload = sealed.data();
  copy.payloadlen = static_cast<int>(sealed.size());
  const int rc = send(copy);
  if (rc != 0) return Error(Errc::transport_error, Api::describe(rc));
  return {};
}

// configure_tls for both SSL option structs, which have the same fields.
template <typename SslOptions>
Status fill_tls(const TlsFiles& files, SslOptions& ssl) {
  if (files.ca_file.empty()) return Error(Errc::invalid_argument, "TLS needs a CA file");
  if (!files.cert_file.empty() && files.key_file.empty()) {
    return Error(Errc::invalid_argument, "a client certificate needs its private key");
  }
  ssl.trustStore = files.ca_file.c_str();
  ssl.keyStore = files.cert_file.empty() ? nullptr : files.cert_file.c_str();
  ssl.privateKey = files.key_file.empty() ? nullptr : files.key_file.c_str();
  ssl.privateKeyPassword = files.key_password.empty() ? nullptr : files.key_password.c_str();
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;  // host name too
  // Paho 1.3 with OpenSSL 1.1 or later ignores sslVersion and negotiates the
  // highest version both sides have (TLS 1.3 with mosquitto 2.0); the floor
  // is OpenSSL's system default (TLS 1.2 on Debian 12).
  return {};
}

// configure_persistent_session for both connect option structs.
template <typename ConnectOptions>
Status fill_session(const PersistentSession& session, ConnectOptions& options,
                    MQTTProperties& properties, int mqtt5_version) {
  if (!session.mqtt5) {
    options.cleansession = 0;
    return {};
  }
  options.MQTTVersion = mqtt5_version;
  options.cleanstart = 0;
  options.cleansession = 0;
  MQTTProperty expiry{};
  expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
  expiry.value.integer4 = session.expiry_seconds;
  if (MQTTProperties_add(&properties, &expiry) != 0) {
    return Error(Errc::transport_error, "could not add the Session Expiry Interval property");
  }
  return {};
}

}  // namespace mqseal::paho::internal

#endif  // MQSEAL_PAHO_SRC_ATTACHMENT_H_
