// mqseal/paho/common.h: what the MQTTAsync and MQTTClient adapters share.
//
// Target mqseal::paho. No Paho header is needed here; async.h and client.h
// bring their own.
//
// Ownership, the same in every call of the adapters as in the core: what a
// call keeps using after it returns, it shares, as a std::shared_ptr (the
// Opener given to attach(), which Paho's thread calls until the handle is
// destroyed; the Keyring of use_connect_tokens() and EncryptedStore::create(),
// as of Sealer::create); what it uses only while it runs, it borrows, as a
// reference (the Sealer of send_message(), send(), publish_message() and
// publish(): Paho copies the sealed payload before they return). So a Sealer
// may live anywhere, on the stack or in its Result; an attached Opener lives
// as long as the attachment needs it, and the caller may keep its own
// pointer to it (for set_keyring on key rotation).
#ifndef MQSEAL_PAHO_COMMON_H_
#define MQSEAL_PAHO_COMMON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "mqseal/error.h"

namespace mqseal::paho {

// A message that arrived but was not handed to the application: it failed to
// open (wrong key, no rule, altered, replayed, expired...). The bytes are as
// they came from the broker; they, and `signer`, are valid only during the
// callback.
struct RefusedMessage {
  std::string_view topic;
  const void* payload = nullptr;
  int payload_len = 0;
  int qos = 0;
  bool retained = false;
  Error error;
  // The verified signer's name when the refusal came after the signature
  // verified (a suite 2 or 4 rule: unauthorized_signer, replay, expired, ...;
  // Opener::open's Opened::signer on failure); empty otherwise, and always
  // for a signature that did not verify, whatever signer the envelope names.
  // It says who signed these bytes, at some time, not who sent them now:
  // anyone can re-send a signed message and have it refused (a replay, or
  // unauthorized_signer after a policy change) under its signer's name.
  std::string_view signer;
};

// Called on the client library's thread for every refused message. mqseal
// frees the message afterwards. When no callback is given, one line per
// refused message goes to stderr (topic, size and reason; never the bytes).
using RefusedCallback = void (*)(void* context, const RefusedMessage& refused);

namespace detail {
inline thread_local std::string_view arrived_signer;  // set by the adapters only
}  // namespace detail

// The verified signer's name of the message being handed to the application's
// message-arrived callback (a suite 2 or 4 rule: Opened::signer), read from
// inside that callback, on the thread that runs it (Paho's), since Paho's
// callback has no room for it. Empty for a suite 1 or 3 message and outside
// the callback. A declined message (the callback returned 0) keeps its signer
// when Paho offers it again.
inline std::string_view arrived_signer() noexcept { return detail::arrived_signer; }

// Files for TLS with X.509 (configure_tls in async.h and client.h).
struct TlsFiles {
  std::string ca_file;       // PEM: the CA that signed the broker's certificate
  std::string cert_file;     // PEM: this client's certificate; empty for no client certificate
  std::string key_file;      // PEM: its private key
  std::string key_password;  // if the key file is encrypted
};

// A session the broker keeps while the client is away (configure_persistent_session).
struct PersistentSession {
  bool mqtt5 = false;              // false: MQTT 3.1.1 clean session off
  uint32_t expiry_seconds = 3600;  // MQTT 5 Session Expiry Interval
};

// Counters of one attachment, readable from any thread.
struct AttachStats {
  uint64_t delivered = 0;   // opened (or plaintext by policy) and handed to the application
  uint64_t duplicates = 0;  // QoS 1 redeliveries: dropped quietly
  uint64_t refused = 0;     // passed to the refused callback and dropped
};

}  // namespace mqseal::paho

#endif  // MQSEAL_PAHO_COMMON_H_
