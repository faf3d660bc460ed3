#include "mqseal/key.h"

#include <sodium.h>

#include "key_access.h"
#include "sodium_util.h"

namespace mqseal {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key size");
static_assert(kKeySize >= crypto_generichash_blake2b_KEYBYTES_MIN &&
                  kKeySize <= crypto_generichash_blake2b_KEYBYTES_MAX,
              "BLAKE2b key size");
static_assert(kPassphraseSaltSize == crypto_pwhash_SALTBYTES, "Argon2id salt size");

namespace {
Result<uint8_t*> allocate_key() {
  if (Status s = internal::ensure_sodium(); !s) return s.error();
  auto* p = static_cast<uint8_t*>(sodium_malloc(kKeySize));
  if (p == nullptr) return Error(Errc::crypto_failure, "sodium_malloc failed");
  return p;
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
  Result<uint8_t*> p = allocate_key();
  if (!p) return std::move(p).error();
  randombytes_buf(*p, kKeySize);
  return Key(*p);
}

Result<Key> Key::from_bytes(ByteView bytes) {
  if (bytes.size() != kKeySize) {
    return Error(Errc::invalid_argument, "a key is exactly 32 bytes");
  }
  Result<uint8_t*> p = allocate_key();
  if (!p) return std::move(p).error();
  std::copy(bytes.begin(), bytes.end(), *p);
  return Key(*p);
}

Result<Key> Key::from_passphrase(std::string_view passphrase, const PassphraseParams& params) {
  if (!params.valid()) {
    return Error(Errc::invalid_argument, "Argon2id limits out of range");
  }
  if (passphrase.size() > crypto_pwhash_PASSWD_MAX) {  // PASSWD_MIN is 0
    return Error(Errc::invalid_argument, "passphrase length out of range");
  }
  Result<uint8_t*> p = allocate_key();
  if (!p) return std::move(p).error();
  Key key(*p);
  if (crypto_pwhash(key.bytes_, kKeySize, passphrase.data(), passphrase.size(),
                    params.salt.data(), params.opslimit, static_cast<size_t>(params.memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error(Errc::crypto_failure, "Argon2id could not allocate its memory");
  }
  return key;
}

Key::Key(Key&& other) noexcept : bytes_(other.bytes_) { other.bytes_ = nullptr; }

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    if (bytes_ != nullptr) sodium_free(bytes_);
    bytes_ = other.bytes_;
    other.bytes_ = nullptr;
  }
  return *this;
}

Key::~Key() {
  if (bytes_ != nullptr) sodium_free(bytes_);  // wipes, then frees
}

Result<Key> Key::clone() const {
  if (bytes_ == nullptr) return Error(Errc::invalid_argument, "moved-from key");
  return from_bytes(ByteView(bytes_, kKeySize));
}

bool Key::same_bytes(const Key& other) const noexcept {
  if (bytes_ == nullptr || other.bytes_ == nullptr) return false;
  return sodium_memcmp(bytes_, other.bytes_, kKeySize) == 0;
}

}  // namespace mqseal
