#include "mqseal/key.h"

#include <sodium.h>

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

Key::Key(std::unique_ptr<internal::Secret> bytes) noexcept : bytes_(std::move(bytes)) {}
Key::Key(Key&&) noexcept = default;
Key& Key::operator=(Key&&) noexcept = default;
Key::~Key() = default;  // the Secret wipes, then frees

Result<Key> Key::clone() const {
  if (!bytes_) return Error(Errc::invalid_argument, "moved-from key");
  return key_of(bytes_->clone());
}

bool Key::same_bytes(const Key& other) const noexcept {
  return bytes_ && other.bytes_ && bytes_->same_bytes(*other.bytes_);
}

Key internal::KeyAccess::adopt(internal::Secret secret) {
  return Key(std::make_unique<internal::Secret>(std::move(secret)));
}

Result<Key> internal::KeyAccess::from_hex(std::string_view hex) {
  Result<internal::Secret> bytes = internal::Secret::allocate(kKeySize);
  if (!bytes) return std::move(bytes).error();
  if (!internal::hex_decode(hex, bytes->data(), kKeySize)) {
    return Error(Errc::invalid_argument, "key material is 64 hex digits");
  }
  return adopt(std::move(*bytes));
}

void internal::KeyAccess::append_hex(const Key& key, std::string& out) {
  internal::hex_append(out, ByteView(bytes(key), kKeySize));
}

}  // namespace mqseal
