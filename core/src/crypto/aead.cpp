#include "crypto/aead.h"

#include <sodium.h>

#include <cstring>

#if MQSEAL_WITH_OPENSSL
#include "crypto/chacha20poly1305_openssl.h"
#endif

namespace mqseal::internal::aead {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
#if MQSEAL_WITH_OPENSSL
static_assert(kNonceSize == openssl::kXNonceSize && kTagSize == openssl::kTagSize, "OpenSSL sizes");
#endif

bool available(Backend backend) noexcept {
#if MQSEAL_WITH_OPENSSL
  if (backend == Backend::openssl) return openssl::usable();
#endif
  return backend == Backend::libsodium;
}

Backend backend_for(size_t size) noexcept {
#if MQSEAL_WITH_OPENSSL
  if (size >= kOpensslMinSize && size <= openssl::kMaxLength && openssl::usable()) return Backend::openssl;
#endif
  (void)size;
  return Backend::libsodium;
}

static_assert(crypto_core_hchacha20_INPUTBYTES == 16 && crypto_core_hchacha20_OUTPUTBYTES == kSubkeySize,
              "HChaCha20 takes nonce[0..16) and gives a key");

Status derive_subkey(const uint8_t key[kKeySize], const uint8_t nonce_prefix[16],
                     uint8_t subkey[kSubkeySize]) noexcept {
  if (crypto_core_hchacha20(subkey, nonce_prefix, key, nullptr) != 0) return Errc::crypto_failure;
  return {};
}

namespace {

constexpr size_t kHNonceSize = crypto_core_hchacha20_INPUTBYTES;
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 4 + (kNonceSize - kHNonceSize),
              "the IETF nonce: 0^4 || nonce[16..24)");

// The IETF nonce of XChaCha20's second half: 0^4 || nonce[16..24).
struct IetfNonce {
  uint8_t bytes[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  explicit IetfNonce(const uint8_t nonce[kNonceSize]) noexcept {
    std::memcpy(bytes + 4, nonce + kHNonceSize, kNonceSize - kHNonceSize);
  }
};

// Encrypts into `body` (plaintext.size() + kTagSize bytes): true on success.
// `subkey`: HChaCha20(key, nonce[0..16)), or null (derived here).
bool encrypt(Backend backend, uint8_t* body, ByteView plaintext, ByteView ad, const uint8_t nonce[kNonceSize],
             const uint8_t key[kKeySize], const uint8_t* subkey) noexcept {
  if (backend == Backend::libsodium) {
    unsigned long long written = 0;
    if (subkey != nullptr) {
      const IetfNonce ietf(nonce);
      return crypto_aead_chacha20poly1305_ietf_encrypt(body, &written, plaintext.data(), plaintext.size(), ad.data(),
                                                       ad.size(), nullptr, ietf.bytes, subkey) == 0;
    }
    return crypto_aead_xchacha20poly1305_ietf_encrypt(body, &written, plaintext.data(), plaintext.size(),
                                                      ad.data(), ad.size(), nullptr, nonce, key) == 0;
  }
#if MQSEAL_WITH_OPENSSL
  return openssl::encrypt(body, body + plaintext.size(), plaintext, ad, nonce, key, subkey);
#else
  return false;
#endif
}

// Decrypts `sealed` (ciphertext || tag, at least kTagSize bytes) into
// `plaintext` (sealed.size() - kTagSize bytes): true if authentic; on false,
// `plaintext` holds no byte of unverified plaintext.
bool decrypt(Backend backend, uint8_t* plaintext, ByteView sealed, ByteView ad, const uint8_t nonce[kNonceSize],
             const uint8_t key[kKeySize], const uint8_t* subkey) noexcept {
  if (backend == Backend::libsodium) {
    // libsodium verifies the tag before it decrypts, and zeroes the output on
    // a mismatch (its XChaCha20 decryption is this IETF one under the subkey).
    unsigned long long written = 0;
    if (subkey != nullptr) {
      const IetfNonce ietf(nonce);
      return crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, &written, nullptr, sealed.data(), sealed.size(),
                                                       ad.data(), ad.size(), ietf.bytes, subkey) == 0;
    }
    return crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, &written, nullptr, sealed.data(), sealed.size(),
                                                      ad.data(), ad.size(), nonce, key) == 0;
  }
#if MQSEAL_WITH_OPENSSL
  const size_t length = sealed.size() - kTagSize;
  return openssl::decrypt(plaintext, ByteView(sealed.data(), length), sealed.data() + length, ad, nonce, key, subkey);
#else
  return false;
#endif
}

// seal_with() and seal() share this body, inlined into each, so that the
// dispatch costs seal() a comparison and no extra call (its 8 arguments do not
// all fit in registers).
inline Status seal_on(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                      ByteView header, ByteView plaintext, size_t max_plaintext, OutBuffer& out,
                      const uint8_t* subkey) {
  if (Status s = check_buffers(plaintext, max_plaintext, out); !s) return s;
  if (!out.take(header.size() + plaintext.size() + kTagSize)) {
    out.clear();
    return OutBuffer::too_small();
  }
  uint8_t* to = out.data();
  if (!header.empty()) std::memcpy(to, header.data(), header.size());  // memcpy from null is undefined
  if (!encrypt(backend, to + header.size(), plaintext, ad, nonce, key, subkey)) {
    out.clear();
    return Errc::crypto_failure;
  }
  return {};
}

// As seal_on, for open_with() and open().
inline Status open_on(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                      ByteView sealed, OutBuffer& out, const uint8_t* subkey) {
  if (overlaps(sealed.data(), sealed.size(), out.region(), out.region_size()) ||
      overlaps(nonce, kNonceSize, out.region(), out.region_size())) {
    return Error(Errc::invalid_argument, "the input may not live in the output buffer");
  }
  if (sealed.size() >= kTagSize) {
    if (!out.take(sealed.size() - kTagSize)) {
      out.clear();
      return OutBuffer::too_small();
    }
    if (decrypt(backend, out.data(), sealed, ad, nonce, key, subkey)) return {};
  }
  out.clear();
  return Errc::authentication_failed;
}

}  // namespace

Status seal_with(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                 ByteView header, ByteView plaintext, size_t max_plaintext, std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return seal_on(backend, key, nonce, ad, header, plaintext, max_plaintext, to, nullptr);
}

Status seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad, ByteView header,
            ByteView plaintext, size_t max_plaintext, OutBuffer& out, const uint8_t* subkey) {
  return seal_on(backend_for(plaintext.size()), key, nonce, ad, header, plaintext, max_plaintext, out, subkey);
}

Status open_with(Backend backend, const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad,
                 ByteView sealed, std::vector<uint8_t>& out) {
  OutBuffer to(out);
  return open_on(backend, key, nonce, ad, sealed, to, nullptr);
}

Status open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad, ByteView sealed,
            OutBuffer& out, const uint8_t* subkey) {
  const size_t length = sealed.size() >= kTagSize ? sealed.size() - kTagSize : 0;
  return open_on(backend_for(length), key, nonce, ad, sealed, out, subkey);
}

}  // namespace mqseal::internal::aead
