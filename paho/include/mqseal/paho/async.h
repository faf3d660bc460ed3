// mqseal/paho/async.h: sealed MQTT for Eclipse Paho's asynchronous C client.
//
// An existing MQTTAsync program changes two lines:
//
//   - MQTTAsync_setCallbacks(client, ctx, on_lost, on_message, on_delivered);
//   + auto attached = mqseal::paho::attach(client, opener, {ctx, on_lost, on_message, on_delivered});
//
//   - MQTTAsync_sendMessage(client, topic, &msg, &opts);
//   + mqseal::paho::send_message(*sealer, client, topic, &msg, &opts);
//
// where `opener` is a std::shared_ptr<mqseal::Opener>, which the attachment
// shares, and `*sealer` a mqseal::Sealer, borrowed for the call (common.h
// says why).
//
// `on_message` then receives opened payloads, with Paho's usual contract
// unchanged: return 1 after MQTTAsync_freeMessage and MQTTAsync_free, or 0
// to have the same message delivered again later. Messages that fail to open
// never reach it (see common.h). Sealing refuses any topic the policy does
// not cover. A declined message (0) stays in Paho's queue opened: with a
// persistence store Paho writes it to disk (in clear with Paho's own file
// store), and after a restart it is opened again and refused
// (docs/SECURITY.md). With persistence, return 1 and keep what must be
// retried yourself.
//
// Not sealed: what the program hands Paho itself, MQTTAsync_connect's last
// will above all (connectOptions.will). The broker publishes it, as given,
// when the connection dies; on a sealed topic it would go out in clear (and
// receivers refuse it). Give a will only on a plaintext-rule topic; to tell
// receivers the device went away, publish a sealed message (README, on last
// wills). The same holds for MQTTClient_connect (client.h).
#ifndef MQSEAL_PAHO_ASYNC_H_
#define MQSEAL_PAHO_ASYNC_H_

#include <MQTTAsync.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "mqseal/opener.h"
#include "mqseal/paho/common.h"
#include "mqseal/sealer.h"

namespace mqseal::paho {

// The callbacks an MQTTAsync program would pass to MQTTAsync_setCallbacks,
// plus where refused messages go.
struct AsyncCallbacks {
  void* context = nullptr;
  MQTTAsync_connectionLost* connection_lost = nullptr;
  MQTTAsync_messageArrived* message_arrived = nullptr;  // required
  MQTTAsync_deliveryComplete* delivery_complete = nullptr;
  RefusedCallback refused = nullptr;
  void* refused_context = nullptr;
};

// Owns the state behind the callbacks that attach() installs. Keep it alive
// for as long as the handle may call back: destroy it after MQTTAsync_destroy.
// Mind declaration order: a unique_ptr declared after the client's handle
// wrapper is destroyed first, while Paho's threads may still call it.
class AsyncAttachment {
 public:
  virtual ~AsyncAttachment() = default;
  virtual AttachStats stats() const = 0;
};

// Installs mqseal's callbacks on `handle` (MQTTAsync_setCallbacks): arriving
// messages are opened with `opener` and passed to callbacks.message_arrived.
// The attachment shares the opener: it stays alive as long as the attachment.
// invalid_argument without a message_arrived callback or an opener;
// transport_error if Paho refuses the callbacks (for example while connected).
[[nodiscard]] Result<std::unique_ptr<AsyncAttachment>> attach(MQTTAsync handle,
                                                              std::shared_ptr<Opener> opener,
                                                              AsyncCallbacks callbacks);

// MQTTAsync_sendMessage with the payload sealed for `topic`; every other field
// of `message` (qos, retained, properties) is passed on as given. `sealer` is
// used only during the call (Paho copies the payload before it returns).
// Errors from seal (no_rule, invalid_topic, ...), or transport_error with
// Paho's reason.
//
// Several threads sending on one client: Paho C 1.3.12 (Debian 12's
// libpaho-mqtt) checks for room in its buffer (maxBufferedMessages) apart
// from adding the message, and the add frees the client's oldest buffered
// message when it finds the buffer full. Two MQTTAsync_sendMessage calls
// that meet at the last free slot both succeed, and a message Paho had
// already accepted is never sent, with no callback
// (eclipse-paho/paho.mqtt.c#1494). send_message() calls Paho as given, so
// call it for one client from one thread at a time, or send through
// queue_sends(), which makes one call to Paho at a time.
[[nodiscard]] Status send_message(Sealer& sealer, MQTTAsync handle, const char* topic,
                                  const MQTTAsync_message* message,
                                  MQTTAsync_responseOptions* response);

// MQTTAsync_send with the payload sealed for `topic`.
[[nodiscard]] Status send(Sealer& sealer, MQTTAsync handle, const char* topic, int payload_len,
                          const void* payload, int qos, int retained,
                          MQTTAsync_responseOptions* response);

// A queue in front of send_message() for publishers that send many QoS 0
// messages: each message is sealed on the caller's thread, as by
// send_message(), and a thread of the queue's own hands the sealed messages to
// Paho, all that are waiting at once. Paho's send thread then finds its queue
// full instead of being woken for each message (docs/PERFORMANCE.md, "Through
// a real broker"). Measure before choosing it: on the project's reference
// machine it was within the noise of send_message() with suite 1, and
// slower with suite 5 (AES-256-GCM), whose cheaper seal leaves the queue's
// thread idle more often (docs/PERFORMANCE.md, "suite 5 against suite 1").
// The change to a program is the same two lines, with the queue made once
// next to the sealer:
//
//   auto sends = mqseal::paho::queue_sends(client, sealer);   // sealer: std::shared_ptr<mqseal::Sealer>
//   - MQTTAsync_sendMessage(client, topic, &msg, opts);
//   + (*sends)->send_message(topic, &msg, opts);
//
// (only QoS 0 messages sent with opts == nullptr are queued: see below).
//
// What is queued: QoS 0 messages sent without response options and without
// MQTT 5 properties. Everything else (QoS 1 and 2, a token or callbacks
// asked for, properties) waits until every message queued before it has
// been handed to Paho and is then sent on the caller's thread as
// send_message() sends it, with Paho's token, callbacks and persistence
// (but, like the queue's own sends, it waits for room while Paho's buffer is
// full and the client connected). So messages leave in the order they were
// given; other threads queueing meanwhile do not hold it back (it waits for
// no moment when the queue is empty).
//
// Errors: sealing fails at once, in the call, and nothing is queued. When
// Paho's own buffer (maxBufferedMessages) is full while the client is
// connected, the queue's thread waits for room, as a caller would. Paho
// refusing a queued message otherwise (disconnected and not buffering, its
// buffer full while disconnected, ...) happens on the queue's thread: the message is counted in refused(),
// passed to the refused callback (or one line to stderr without one: topic
// and reason, never the bytes), and the first such error since the last
// flush() is what flush() returns. A QoS 0 message still in the queue when
// the process dies is lost, as one in Paho's memory is.
//
// Threads: any number may call send_message() and flush(). The queue makes
// one call to Paho at a time, its thread's and its callers' (Paho 1.3.12
// drops a buffered message when two meet, see send_message() above); sends
// on the same client outside the queue (send_message(), a second queue) can
// still meet its own, so send everything for a client through one queue.
// Not from Paho's callbacks: Paho runs them holding a lock of its own. A
// send through the queue can wait, for its turn or for room, on another
// thread whose call into Paho waits for that lock (a QoS 1 or 2 send needs
// it), or on Paho's buffer, which the callback's thread may be the one to
// drain. Send with send_message() there (which can meet the queue's calls
// in Paho, as above). Rather than risk that hang, send_message() and flush()
// return invalid_argument, and queue nothing, when called from the callbacks
// attach() installs (message arrived, the refused callback inside it,
// connection lost, delivery complete) or from the queue's own thread (its
// SendRefusedCallback). Callbacks mqseal does not install (onSuccess and
// onFailure of connect, send, subscribe) cannot be told apart: there it is
// the caller's to avoid.
//
// Bound: kSendQueueCapacity messages wait at most, besides the batch the
// queue's thread is handing to Paho; send_message() blocks while the queue is
// full. Destroy the queue (which hands Paho everything
// accepted, then stops its thread) before MQTTAsync_destroy.
inline constexpr size_t kSendQueueCapacity = 4096;

// Called on the queue's thread for every queued message that Paho refused.
// It cannot send through, or flush, the same queue (that would wait for the
// thread that is running the callback): those calls return invalid_argument.
using SendRefusedCallback = void (*)(void* context, const char* topic, const Error& error);

class SendQueue {
 public:
  virtual ~SendQueue() = default;
  // Seals `message` for `topic` and queues it, or sends it as described
  // above. Errors from seal, invalid_argument (also when called from Paho's
  // callbacks or the queue's thread, above), or (for what is not queued)
  // transport_error with Paho's reason.
  [[nodiscard]] virtual Status send_message(const char* topic, const MQTTAsync_message* message,
                                            MQTTAsync_responseOptions* response) = 0;
  // Waits until every message queued before the call has been handed to
  // Paho (not for messages other threads queue meanwhile). Returns the first
  // refusal by Paho (transport_error) since the previous flush(), if any;
  // invalid_argument, without waiting, from Paho's callbacks or the queue's
  // thread (above).
  [[nodiscard]] virtual Status flush() = 0;
  // Queued messages Paho refused so far.
  virtual uint64_t refused() const = 0;
};

// invalid_argument without a handle or a sealer; transport_error if the
// queue's thread cannot be started.
[[nodiscard]] Result<std::unique_ptr<SendQueue>> queue_sends(MQTTAsync handle, std::shared_ptr<Sealer> sealer,
                                                             SendRefusedCallback refused = nullptr,
                                                             void* refused_context = nullptr);

// Fills `ssl` for TLS 1.2 or later, verifying the broker's certificate against
// files.ca_file and its host name, and presenting files.cert_file and
// files.key_file if set. `ssl` points into `files`: keep it alive until the
// connect call returns (Paho copies the strings then). invalid_argument
// without a CA file, or with a certificate but no key.
[[nodiscard]] Status configure_tls(const TlsFiles& files, MQTTAsync_SSLOptions& ssl);

// Asks the broker to keep the session (subscriptions and queued QoS 1 and 2
// messages) while the client is away: clean session off for MQTT 3.1.1; for
// MQTT 5, clean start off and a Session Expiry Interval, written into
// `properties`, which must stay alive until the connect call returns.
// Create the client with MQTT 5 to use `mqtt5`.
[[nodiscard]] Status configure_persistent_session(const PersistentSession& session,
                                                  MQTTAsync_connectOptions& options,
                                                  MQTTProperties& properties);

// CONNECT tokens (mqseal/credentials.h) for devices that log in without TLS:
// every connect, the first and every automatic reconnect, presents a fresh
// single-use token, so an expired or already used token is never resent.
// The client ID (the one `handle` was made with) must be one the device
// owns for the mosquitto plugin: its username, or its username, '/' and more
// (README, "Broker plugin").
//
//   auto tokens = mqseal::paho::use_connect_tokens(client, keys, "connect", "device-7", "device-7");
//   MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
//   options.automaticReconnect = 1;
//   (*tokens)->prepare(options);           // username and a fresh token
//   MQTTAsync_connect(client, &options);   // reconnects get new tokens by themselves
//
// Keep the object alive until after MQTTAsync_destroy.
class ConnectTokens {
 public:
  virtual ~ConnectTokens() = default;
  // Points options.username and options.password at a fresh token (valid
  // until the next prepare(); Paho copies them when MQTTAsync_connect runs).
  // Sets MQTTVersion to 3.1.1 if it was MQTTVERSION_DEFAULT: Paho's default
  // retries a refused CONNECT as MQTT 3.1 with the same, now used, token.
  [[nodiscard]] virtual Status prepare(MQTTAsync_connectOptions& options) = 0;
  // Tokens made so far (first connect and reconnects).
  virtual uint64_t tokens_made() const = 0;
};

// Installs MQTTAsync_setUpdateConnectOptions on `handle`. The device secret is
// the primary key of `key_name` in `keys` (kept there, never copied out).
// Refuses at once what make_connect_token would refuse at every connect:
// invalid_argument (also for a username or client ID no token could verify
// for, mqseal/credentials.h: a control character in the client ID, for one),
// no_primary_key; and transport_error. invalid_argument too for an empty
// client ID: the broker would replace it with an ID of its own (mosquitto:
// auto-...) before checking the token, which cannot name that ID.
[[nodiscard]] Result<std::unique_ptr<ConnectTokens>> use_connect_tokens(
    MQTTAsync handle, std::shared_ptr<const Keyring> keys, std::string key_name, std::string username,
    std::string client_id, uint64_t lifetime_s = 300);

}  // namespace mqseal::paho

#endif  // MQSEAL_PAHO_ASYNC_H_
