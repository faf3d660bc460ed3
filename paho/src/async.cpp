// The MQTTAsync binding of the shared adapter in attachment.h.
#include "mqseal/paho/async.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

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
  if (Result<KeyId> primary = keys->primary(key_name); !primary) return primary.error();
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

}  // namespace mqseal::paho
