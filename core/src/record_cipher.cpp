#include "mqseal/record_cipher.h"

#include <sodium.h>

#include <cstring>

#include "crypto/blake2b.h"
#include "key_access.h"
#include "keyring_access.h"
#include "keys/key_name.h"
#include "sodium_util.h"

namespace mqseal {

namespace {

constexpr size_t kOffsetKeyId = 1;
constexpr size_t kOffsetNonce = 5;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kLengthPrefixSize = 4;
// Personalisation of the record-key derivation: exactly 16 bytes.
constexpr internal::Blake2bPersonal kRecordKeyPersonal = "mqseal record v1";
constexpr size_t kMaxRecordSize = size_t{1} << 30;
static_assert(kOffsetNonce + kNonceBytes == kRecordHeaderSize, "record layout");
static_assert(kRecordOverhead == kRecordHeaderSize + crypto_aead_xchacha20poly1305_ietf_ABYTES,
              "record overhead");

// record_key = BLAKE2b-256(key = K, message = purpose, personal = "mqseal record v1")
Status derive_record_key(const Key& key, std::string_view purpose, uint8_t out[kKeySize]) {
  return internal::blake2b_personal(out, kKeySize, ByteView(KeyAccess::bytes(key), kKeySize), purpose,
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
  if (internal::overlaps(plaintext.data(), plaintext.size(), out.data(), out.capacity())) {
    return Error(Errc::invalid_argument, "plaintext may not live in the output buffer");
  }
  if (plaintext.size() > kMaxRecordSize || associated.size() > kMaxRecordSize) {
    return Errc::payload_too_large;
  }
  Result<KeyId> id = keys_->primary(key_name_);
  if (!id) return id.error();
  const KeyringEntryView entry = KeyringAccess::find(*keys_, *id);
  uint8_t record_key[kKeySize];
  internal::ScopedWipe wipe(record_key, sizeof record_key);
  if (Status s = derive_record_key(*entry.key, purpose_, record_key); !s) return s;

  out.resize(kRecordOverhead + plaintext.size());
  out[0] = kRecordVersion;
  internal::store_be32(out.data() + kOffsetKeyId, *id);
  randombytes_buf(out.data() + kOffsetNonce, kNonceBytes);
  const std::vector<uint8_t> ad = associated_data(out.data(), associated);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kRecordHeaderSize, &written,
                                             plaintext.data(), plaintext.size(), ad.data(),
                                             ad.size(), nullptr, out.data() + kOffsetNonce,
                                             record_key);
  return {};
}

Status RecordCipher::open(ByteView associated, ByteView record, std::vector<uint8_t>& out) const {
  out.clear();
  if (record.size() < kRecordOverhead || record.size() > kMaxRecordSize + kRecordOverhead) {
    return Errc::malformed;
  }
  if (record[0] != kRecordVersion) return Errc::unsupported_version;
  const KeyId id = internal::load_be32(record.data() + kOffsetKeyId);
  const KeyringEntryView entry = KeyringAccess::find(*keys_, id);
  if (entry.name == nullptr) return Errc::unknown_key;
  if (entry.state == KeyState::retired) return Errc::key_retired;
  if (*entry.name != key_name_) return Errc::wrong_key_for_topic;
  uint8_t record_key[kKeySize];
  internal::ScopedWipe wipe(record_key, sizeof record_key);
  if (Status s = derive_record_key(*entry.key, purpose_, record_key); !s) return s;
  const std::vector<uint8_t> ad = associated_data(record.data(), associated);
  out.resize(record.size() - kRecordOverhead);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr,
                                                 record.data() + kRecordHeaderSize,
                                                 record.size() - kRecordHeaderSize, ad.data(),
                                                 ad.size(), record.data() + kOffsetNonce,
                                                 record_key) != 0) {
    out.clear();
    return Errc::authentication_failed;
  }
  return {};
}

}  // namespace mqseal
