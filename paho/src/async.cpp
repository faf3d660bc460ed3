// The MQTTAsync binding of the shared adapter in attachment.h.
#include "mqseal/paho/async.h"

#include <string>

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
