// mqseal/record_cipher.h: authenticated encryption of records at rest.
//
// For data a program keeps on its own disk, not on the wire: Paho's
// persistence store (mqseal/paho/persistence.h), secret files. A record names
// the key that sealed it, so records survive key rotation like envelopes do:
// seal() uses the primary key of the cipher's key name, open() any key of
// that name that is not retired.
//
//   auto cipher = mqseal::RecordCipher::create(keys, "local", "paho store");
//   cipher->seal(slot_name, bytes, record);    // slot_name: associated data
//   cipher->open(slot_name, record, bytes);    // fails if moved to another slot
//
// Record format, version 1 (docs/SPEC.md, "Records at rest"):
//   version 0x01 || key_id (4, big endian) || nonce (24, random) || ciphertext || tag (16)
// under XChaCha20-Poly1305 with a key derived from the named key and the
// purpose, so a record sealed for one purpose never opens for another.
// Records are rare (a disk write each), so the nonce is random: one system
// call per record.
//
// Thread safety: const methods may run concurrently.
#ifndef MQSEAL_RECORD_CIPHER_H_
#define MQSEAL_RECORD_CIPHER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"
#include "mqseal/keyring.h"

namespace mqseal {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderSize = 1 + 4 + 24;                 // version, key_id, nonce
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + 16;       // + tag
inline constexpr size_t kMaxRecordPurposeSize = 64;

class RecordCipher {
 public:
  // invalid_argument for a null keyring, a bad key name, or a purpose that is
  // empty or longer than kMaxRecordPurposeSize. The keyring is shared and
  // must not be modified while shared.
  [[nodiscard]] static Result<RecordCipher> create(std::shared_ptr<const Keyring> keys,
                                                   std::string_view key_name,
                                                   std::string_view purpose);

  // no_primary_key, payload_too_large; `out` is cleared on failure. `out`
  // may not overlap `plaintext` (invalid_argument, `out` untouched).
  [[nodiscard]] Status seal(ByteView associated, ByteView plaintext, std::vector<uint8_t>& out) const;
  // malformed, unsupported_version, unknown_key, key_retired,
  // wrong_key_for_topic (a key of another name), authentication_failed.
  // `out` is left empty on failure; it may not overlap `record`
  // (invalid_argument).
  [[nodiscard]] Status open(ByteView associated, ByteView record, std::vector<uint8_t>& out) const;

 private:
  RecordCipher(std::shared_ptr<const Keyring> keys, std::string key_name, std::string purpose)
      : keys_(std::move(keys)), key_name_(std::move(key_name)), purpose_(std::move(purpose)) {}
  std::shared_ptr<const Keyring> keys_;
  std::string key_name_;
  std::string purpose_;
};

}  // namespace mqseal

#endif  // MQSEAL_RECORD_CIPHER_H_
