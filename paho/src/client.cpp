// The MQTTClient binding of the shared adapter in attachment.h.
#include "mqseal/paho/client.h"

#include <string>

#include "attachment.h"

namespace mqseal::paho {

namespace {

struct ClientApi {
  using Message = MQTTClient_message;
  using Callbacks = ClientCallbacks;
  using Token = MQTTClient_deliveryToken;
  using AttachmentBase = ClientAttachment;
  static void free_message(Message** message) { MQTTClient_freeMessage(message); }
  static void free_topic(char* topic) { MQTTClient_free(topic); }
  static std::string describe(int rc) {
    const char* text = MQTTClient_strerror(rc);
    return "Paho: " + std::string(text != nullptr ? text : "error") + " (" + std::to_string(rc) + ")";
  }
};

using ClientAttachmentImpl = internal::Attachment<ClientApi>;

}  // namespace

Result<std::unique_ptr<ClientAttachment>> attach(MQTTClient handle, std::shared_ptr<Opener> opener,
                                                ClientCallbacks callbacks) {
  if (handle == nullptr || !opener || callbacks.message_arrived == nullptr) {
    return Error(Errc::invalid_argument, "a handle, an opener and a message_arrived callback are required");
  }
  auto attachment = std::make_unique<ClientAttachmentImpl>(std::move(opener), callbacks);
  if (!attachment->ready()) return Error(Errc::crypto_failure, "sodium_malloc failed");
  const int rc = MQTTClient_setCallbacks(handle, attachment.get(), &ClientAttachmentImpl::on_connection_lost,
                                       &ClientAttachmentImpl::on_message,
                                       &ClientAttachmentImpl::on_delivery_complete);
  if (rc != 0) return Error(Errc::transport_error, ClientApi::describe(rc));
  return std::unique_ptr<ClientAttachment>(std::move(attachment));
}

Status configure_tls(const TlsFiles& files, MQTTClient_SSLOptions& ssl) {
  return internal::fill_tls(files, ssl);
}

Status configure_persistent_session(const PersistentSession& session,
                                    MQTTClient_connectOptions& options, MQTTProperties& properties) {
  return internal::fill_session(session, options, properties, MQTTVERSION_5);
}

Status publish_message(Sealer& sealer, MQTTClient handle, const char* topic,
                       const MQTTClient_message* message, MQTTClient_deliveryToken* token) {
  return internal::sealed_send<ClientApi>(sealer, topic, message, [&](MQTTClient_message& sealed) {
    return MQTTClient_publishMessage(handle, topic, &sealed, token);
  });
}

Status publish(Sealer& sealer, MQTTClient handle, const char* topic, int payload_len,
               const void* payload, int qos, int retained, MQTTClient_deliveryToken* token) {
  MQTTClient_message message = MQTTClient_message_initializer;
  message.payload = const_cast<void*>(payload);  // Paho's field is not const; it only reads
  message.payloadlen = payload_len;
  message.qos = qos;
  message.retained = retained;
  return publish_message(sealer, handle, topic, &message, token);
}

}  // namespace mqseal::paho
