#include "mqseal/key.h"

#include <sodium.h>

#include <algorithm>

#include "base/hex.h"
#include "base/secret.h"
#include "keys/key_access.h"
#include "base/sodium_util.h"

namespace mqseal {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key size");
static_assert(kKeySize >= crypto_generichash_blake2b_KEYBYTES_MIN &&
                  kKeySize <= crypto_generichash_blake2b_KEYBYTES_MAX,
              "BLAKE2b key size");
static_assert(kPassphraseSaltSize == crypto_pwhash_SALTBYTES, "Argon2id salt size");

namespace {
Result<Key> key_of(Result<internal::Secret> secret) {
  if (!secret) return std::move(secret).error();
  return internal::KeyAccess::adopt(std::move(*secret));
}
}  // namespace

Result<PassphraseParams> PassphraseParams::generate() {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  PassphraseParams params;
  randombytes_buf(params.salt.data(), params.salt.size());
  params.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  params.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  return params;
}

bool PassphraseParams::valid() const noexcept {
  return opslimit >= crypto_pwhash_OPSLIMIT_MIN && opslimit <= crypto_pwhash_OPSLIMIT_MAX &&
         memlimit >= crypto_pwhash_MEMLIMIT_MIN && memlimit <= crypto_pwhash_MEMLIMIT_MAX;
}

Result<Key> Key::generate() {
  Result<internal::Secret> bytes = internal::Secret::allocate(kKeySize);
  if (bytes) randombytes_buf(bytes->data(), kKeySize);
  return key_of(std::move(bytes));
}

Result<Key> Key::from_bytes(ByteView bytes) {
  if (bytes.size() != kKeySize) {
    return Error(Errc::invalid_argument, "a key is exactly 32 bytes");
  }
  return key_of(internal::Secret::copy_of(bytes));
}

Result<Key> Key::from_passphrase(std::string_view passphrase, const PassphraseParams& params) {
  if (!params.valid()) {
    return Error(Errc::invalid_argument, "Argon2id limits out of range");
  }
  if (passphrase.size() > crypto_pwhash_PASSWD_MAX) {  // PASSWD_MIN is 0
    return Error(Errc::invalid_argument, "passphrase length out of range");
  }
  Result<internal::Secret> bytes = internal::Secret::allocate(kKeySize);
  if (!bytes) return std::move(bytes).error();
  if (crypto_pwhash(bytes->data(), kKeySize, passphrase.data(), passphrase.size(), params.salt.data(),
                    params.opslimit, static_cast<size_t>(params.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error(Errc::crypto_failure, "Argon2id could not allocate its memory");
  }
  return internal::KeyAccess::adopt(std::move(*bytes));
}

Key::Key(std::shared_ptr<internal::Secret> region, uint8_t* bytes) noexcept
    : region_(std::move(region)), bytes_(bytes) {}

Key::Key(Key&& other) noexcept : region_(std::move(other.region_)), bytes_(other.bytes_) {
  other.bytes_ = nullptr;
}

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    wipe();
    region_ = std::move(other.region_);
    bytes_ = other.bytes_;
    other.bytes_ = nullptr;
  }
  return *this;
}

Key::~Key() { wipe(); }

// A key in a shared region wipes its own slot now (the region is wiped as a
// whole only with its last key); a key alone is wiped again by sodium_free.
void Key::wipe() noexcept {
  if (bytes_ != nullptr) sodium_memzero(bytes_, kKeySize);
  bytes_ = nullptr;
  region_.reset();
}

Result<Key> Key::clone() const {
  if (bytes_ == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  return key_of(internal::Secret::copy_of(ByteView(bytes_, kKeySize)));
}

bool Key::same_bytes(const Key& other) const noexcept {
  return bytes_ != nullptr && other.bytes_ != nullptr && sodium_memcmp(bytes_, other.bytes_, kKeySize) == 0;
}

Key internal::KeyAccess::adopt(internal::Secret secret) {
  auto region = std::make_shared<internal::Secret>(std::move(secret));
  uint8_t* bytes = region->data();
  return Key(std::move(region), bytes);
}

Result<Key> internal::KeyAccess::from_hex(std::string_view hex) {
  Result<internal::Secret> bytes = internal::Secret::allocate(kKeySize);
  if (!bytes) return std::move(bytes).error();
  if (!internal::hex_decode(hex, bytes->data(), kKeySize)) {
    return Error(Errc::invalid_argument, "key material is 64 hex digits");
  }
  return adopt(std::move(*bytes));
}

Result<Key> internal::KeyAccess::from_hex(std::string_view hex, SecretArena& arena) {
  Result<SecretArena::Slot> slot = arena.allocate();
  if (!slot) return std::move(slot).error();
  if (!internal::hex_decode(hex, slot->data, kKeySize)) {
    sodium_memzero(slot->data, kKeySize);  // hex_decode may have written part of it
    return Error(Errc::invalid_argument, "key material is 64 hex digits");
  }
  return Key(std::move(slot->region), slot->data);
}

Result<Key> internal::KeyAccess::copy_into(const Key& key, SecretArena& arena) {
  if (key.bytes_ == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  Result<SecretArena::Slot> slot = arena.allocate();
  if (!slot) return std::move(slot).error();
  std::copy(key.bytes_, key.bytes_ + kKeySize, slot->data);
  return Key(std::move(slot->region), slot->data);
}

void internal::KeyAccess::append_hex(const Key& key, std::string& out) {
  internal::hex_append(out, ByteView(bytes(key), kKeySize));
}

}  // namespace mqseal
