// mqseal/paho/client.h: sealed MQTT for Eclipse Paho's synchronous C client.
//
// An existing MQTTClient program changes two lines:
//
//   - MQTTClient_setCallbacks(client, ctx, on_lost, on_message, on_delivered);
//   + auto attached = mqseal::paho::attach(client, opener, {ctx, on_lost, on_message, on_delivered});
//
//   - MQTTClient_publishMessage(client, topic, &msg, &token);
//   + mqseal::paho::publish_message(*sealer, client, topic, &msg, &token);
//
// Paho's contract for on_message is unchanged, and so is the ownership: the
// attachment shares `opener` (a std::shared_ptr<mqseal::Opener>), the
// publish calls borrow the sealer (see async.h and common.h).
#ifndef MQSEAL_PAHO_CLIENT_H_
#define MQSEAL_PAHO_CLIENT_H_

#include <MQTTClient.h>

#include <memory>

#include "mqseal/opener.h"
#include "mqseal/paho/common.h"
#include "mqseal/sealer.h"

namespace mqseal::paho {

struct ClientCallbacks {
  void* context = nullptr;
  MQTTClient_connectionLost* connection_lost = nullptr;
  MQTTClient_messageArrived* message_arrived = nullptr;  // required
  MQTTClient_deliveryComplete* delivery_complete = nullptr;
  RefusedCallback refused = nullptr;
  void* refused_context = nullptr;
};

// Keep alive until after MQTTClient_destroy.
class ClientAttachment {
 public:
  virtual ~ClientAttachment() = default;
  virtual AttachStats stats() const = 0;
};

// As the MQTTAsync attach(), for MQTTClient_setCallbacks.
[[nodiscard]] Result<std::unique_ptr<ClientAttachment>> attach(MQTTClient handle,
                                                               std::shared_ptr<Opener> opener,
                                                               ClientCallbacks callbacks);

// MQTTClient_publishMessage with the payload sealed for `topic`.
[[nodiscard]] Status publish_message(Sealer& sealer, MQTTClient handle, const char* topic,
                                     const MQTTClient_message* message,
                                     MQTTClient_deliveryToken* token);

// MQTTClient_publish with the payload sealed for `topic`.
[[nodiscard]] Status publish(Sealer& sealer, MQTTClient handle, const char* topic,
                             int payload_len, const void* payload, int qos, int retained,
                             MQTTClient_deliveryToken* token);

// Fills `ssl` for TLS 1.2 or later, verifying the broker's certificate against
// files.ca_file and its host name, and presenting files.cert_file and
// files.key_file if set. `ssl` points into `files`: keep it alive until the
// connect call returns (Paho copies the strings then). invalid_argument
// without a CA file, or with a certificate but no key.
[[nodiscard]] Status configure_tls(const TlsFiles& files, MQTTClient_SSLOptions& ssl);

// Asks the broker to keep the session (subscriptions and queued QoS 1 and 2
// messages) while the client is away: clean session off for MQTT 3.1.1; for
// MQTT 5, clean start off and a Session Expiry Interval, written into
// `properties`: pass them to MQTTClient_connect5. Create the client with
// MQTT 5 to use `mqtt5`.
[[nodiscard]] Status configure_persistent_session(const PersistentSession& session,
                                                  MQTTClient_connectOptions& options,
                                                  MQTTProperties& properties);

}  // namespace mqseal::paho

#endif  // MQSEAL_PAHO_CLIENT_H_
