#include "mqseal/record_cipher.h"

#include <sodium.h>

#include <cstring>

#include "crypto/aead.h"
#include "crypto/blake2b.h"
#include "keys/key_access.h"
#include "keys/keyring_access.h"
#include "keys/key_name.h"
#include "base/sodium_util.h"

namespace mqseal {

namespace {

constexpr size_t kOffsetKeyId = 1;
constexpr size_t kOffsetNonce = 5;
constexpr size_t kNonceBytes = internal::aead::kNonceSize;
constexpr size_t kLengthPrefixSize = 4;
// Personalisation of the record-key derivation: exactly 16 bytes.
constexpr internal::Blake2bPersonal kRecordKeyPersonal = "mqseal record v1";
constexpr size_t kMaxRecordSize = size_t{1} << 30;
static_assert(kOffsetNonce + kNonceBytes == kRecordHeaderSize, "record layout");
static_assert(kRecordOverhead == kRecordHeaderSize + internal::aead::kTagSize,
              "record overhead");

// record_key = BLAKE2b-256(key = K, message = purpose, personal = "mqseal record v1")
Status derive_record_key(const Key& key, std::string_view purpose, uint8_t out[kKeySize]) {
  return internal::blake2b_personal(out, kKeySize, ByteView(internal::KeyAccess::bytes(key), kKeySize), purpose,
                                    kRecordKeyPersonal);
}

// header || u32be(len(associated)) || associated
std::vector<uint8_t> associated_data(const uint8_t* header, ByteView associated) {
  std::vector<uint8_t> ad(kRecordHeaderSize + kLengthPrefixSize + associated.size());
  std::memcpy(ad.data(), header, kRecordHeaderSize);
  internal::store_be32(ad.data() + kRecordHeaderSize, static_cast<uint32_t>(associated.size()));
  if (!associated.empty()) {
    std::memcpy(ad.data() + kRecordHeaderSize + kLengthPrefixSize, associated.data(), associated.size());
  }
  return ad;
}

}  // namespace

Result<RecordCipher> RecordCipher::create(std::shared_ptr<const Keyring> keys,
                                          std::string_view key_name, std::string_view purpose) {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  if (!keys) return Error(Errc::invalid_argument, "a keyring is required");
  if (!internal::valid_key_name(key_name)) return Error(Errc::invalid_argument, "invalid key name");
  if (purpose.empty() || purpose.size() > kMaxRecordPurposeSize) {
    return Error(Errc::invalid_argument, "the purpose is 1 to 64 bytes");
  }
  return RecordCipher(std::move(keys), std::string(key_name), std::string(purpose));
}

Status RecordCipher::seal(ByteView associated, ByteView plaintext, std::vector<uint8_t>& out) const {
  if (Status s = internal::aead::check_buffers(plaintext, kMaxRecordSize, out); !s) return s;
  auto fail = [&out](Status s) {
    out.clear();
    return s;
  };
  if (associated.size() > kMaxRecordSize) return fail(Errc::payload_too_large);
  Result<KeyId> id = keys_->primary(key_name_);
  if (!id) return fail(std::move(id).error());
  uint8_t record_key[kKeySize];
  internal::ScopedWipe wipe(record_key, sizeof record_key);
  const internal::KeyringEntryView entry = internal::KeyringAccess::find(*keys_, *id);
  if (Status s = derive_record_key(*entry.key, purpose_, record_key); !s) return fail(std::move(s));
  uint8_t header[kRecordHeaderSize];
  header[0] = kRecordVersion;
  internal::store_be32(header + kOffsetKeyId, *id);
  randombytes_buf(header + kOffsetNonce, kNonceBytes);
  const std::vector<uint8_t> ad = associated_data(header, associated);
  return internal::aead::seal(record_key, header + kOffsetNonce, ad, ByteView(header, kRecordHeaderSize),
                              plaintext, kMaxRecordSize, out);
}

Status RecordCipher::open(ByteView associated, ByteView record, std::vector<uint8_t>& out) const {
  out.clear();
  if (record.size() < kRecordOverhead || record.size() > kMaxRecordSize + kRecordOverhead) {
    return Errc::malformed;
  }
  if (record[0] != kRecordVersion) return Errc::unsupported_version;
  const KeyId id = internal::load_be32(record.data() + kOffsetKeyId);
  const internal::KeyringEntryView entry = internal::KeyringAccess::find(*keys_, id);
  if (entry.name == nullptr) return Errc::unknown_key;
  if (entry.state == KeyState::retired) return Errc::key_retired;
  if (*entry.name != key_name_) return Errc::wrong_key_for_topic;
  uint8_t record_key[kKeySize];
  internal::ScopedWipe wipe(record_key, sizeof record_key);
  if (Status s = derive_record_key(*entry.key, purpose_, record_key); !s) return s;
  const std::vector<uint8_t> ad = associated_data(record.data(), associated);
  return internal::aead::open(record_key, record.data() + kOffsetNonce, ad,
                              ByteView(record.data() + kRecordHeaderSize, record.size() - kRecordHeaderSize),
                              out);
}

}  // namespace mqseal
