// mqseal/paho/persistence.h: Paho MQTTAsync's persistence store, encrypted at rest.
//
// With persistence, Paho writes every in-flight QoS 1 and 2 message and every
// command queued while offline to disk, topic and payload included, so that a
// restarted device sends them. EncryptedStore keeps those records in a
// directory, each one sealed with a RecordCipher (mqseal/record_cipher.h)
// under a local key and bound to its client ID, server URI and record name:
// nothing on disk is readable without the key, and a record that was altered,
// or moved to another client's or another record's place, is refused.
//
//   auto store = mqseal::paho::EncryptedStore::create("/var/lib/device/mqtt", keys, "local");
//   MQTTAsync_create(&client, uri, id, MQTTCLIENT_PERSISTENCE_USER, (*store)->persistence());
//
// Why not MQTTAsync_setBeforePersistenceWrite/setAfterPersistenceRead: Paho
// restores a store inside MQTTAsync_create, before any hook can be set on the
// new handle, so a read hook never sees what a restarted process restores,
// and Paho discards those records as corrupt. A user persistence sees every
// read and write.
//
// Thread safety: Paho may call the store from several threads; every call is
// self-contained. The store must outlive every client that uses it.
// Buffers the store hands Paho come from MQTTAsync_malloc, which Paho frees
// with its own allocator (Debian's build tracks its heap); that allocator
// works only while Paho is initialised, i.e. once a client exists.
#ifndef MQSEAL_PAHO_PERSISTENCE_H_
#define MQSEAL_PAHO_PERSISTENCE_H_

#include <MQTTClientPersistence.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mqseal/keyring.h"
#include "mqseal/record_cipher.h"

namespace mqseal::paho {

class EncryptedStore {
 public:
  // Records go under `directory` (created with mode 0700 if missing, and
  // then fsync'ed into its parent), one
  // file per record with mode 0600 (written to a temporary file, fsync'ed,
  // renamed into place, and the directory fsync'ed), in a subdirectory per
  // client ID and server URI. `key_name` names the keyring's local key:
  // sealing uses its primary, opening any of its keys that is not retired.
  // invalid_argument, io_error; insecure_permissions if the directory is
  // owned by another user (but root) or group or others may write it (whoever can
  // write it can delete or roll back records). A client's subdirectory is
  // checked the same way when Paho opens it (and must not be a link):
  // otherwise Paho gets a persistence error.
  [[nodiscard]] static Result<std::unique_ptr<EncryptedStore>> create(
      std::string directory, std::shared_ptr<const Keyring> keys, std::string_view key_name);

  // For MQTTAsync_create(..., MQTTCLIENT_PERSISTENCE_USER, persistence()).
  MQTTClient_persistence* persistence() noexcept { return &persistence_; }

  // Records that failed to open (altered, wrong key, moved, or not a regular
  // file of at most a record's size): each is renamed to .refused-NAME.N
  // beside it (N the lowest free number; never over another file; at most
  // 1024 such files per client, past which a refused record stays at its name
  // and Paho's read of it fails) and one line goes to stderr. Listing the
  // records opens each one (but not a file unchanged since it last opened
  // fine) and leaves refused ones out, so Paho restores every other record
  // (it stops at the first it cannot read); a directory that cannot be
  // listed is an error to Paho, never an empty store. docs/SPEC.md section 10.
  uint64_t refused_records() const noexcept { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Callbacks;  // persistence.cpp: the C functions in persistence_, which use the members below
  EncryptedStore(std::string directory, RecordCipher cipher);
  std::string directory_;
  RecordCipher cipher_;
  MQTTClient_persistence persistence_{};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace mqseal::paho

#endif  // MQSEAL_PAHO_PERSISTENCE_H_
