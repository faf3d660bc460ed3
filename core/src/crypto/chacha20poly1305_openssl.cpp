#include "crypto/chacha20poly1305_openssl.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>

#include "base/sodium_util.h"

namespace mqseal::internal::aead::openssl {
namespace {

static_assert(kKeySize == crypto_core_hchacha20_OUTPUTBYTES, "subkey size");
static_assert(crypto_core_hchacha20_INPUTBYTES == 16, "HChaCha20 takes nonce[0..16)");
constexpr size_t kHNonceSize = crypto_core_hchacha20_INPUTBYTES;
constexpr size_t kIetfNonceSize = 12;  // RFC 8439; EVP_chacha20_poly1305's default IV length
constexpr size_t kIetfNoncePrefix = kIetfNonceSize - (kXNonceSize - kHNonceSize);  // four zero bytes

// Fetched once per process (thread-safe static initialisation) and never
// freed: freeing it at exit could run after OpenSSL's own clean-up. Fetching
// on every call (what EVP_chacha20_poly1305() does in OpenSSL 3) costs about
// 300 ns.
const EVP_CIPHER* cipher() noexcept {
  static EVP_CIPHER* const fetched = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return fetched;
}

// A context per call: EVP_CIPHER_CTX_free cleanses the key schedule, and no
// state is shared between threads. (Reusing a thread_local context and
// re-keying it with zeros after use measured no faster.)
struct Context {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() { EVP_CIPHER_CTX_free(ctx); }
};

// The subkey and IETF nonce of XChaCha20, wiped on scope exit like the topic
// key they come from (a stack buffer, never copied).
struct Subkey {
  uint8_t key[kKeySize];
  uint8_t nonce[kIetfNonceSize];
  ScopedWipe wipe_key{key, sizeof key};
  Subkey(const uint8_t xnonce[kXNonceSize], const uint8_t master[kKeySize]) noexcept {
    crypto_core_hchacha20(key, xnonce, master, nullptr);
    std::memset(nonce, 0, kIetfNoncePrefix);
    std::memcpy(nonce + kIetfNoncePrefix, xnonce + kHNonceSize, kXNonceSize - kHNonceSize);
  }
};

bool lengths_fit(size_t a, size_t b) noexcept { return a <= kMaxLength && b <= kMaxLength; }

// Starts `ctx` on the subkey and absorbs `ad`.
bool start(EVP_CIPHER_CTX* ctx, bool encrypting, const Subkey& sub, ByteView ad) noexcept {
  if (ctx == nullptr || cipher() == nullptr) return false;
  if (EVP_CipherInit_ex2(ctx, cipher(), sub.key, sub.nonce, encrypting ? 1 : 0, nullptr) != 1) return false;
  int written = 0;
  return ad.empty() || EVP_CipherUpdate(ctx, nullptr, &written, ad.data(), static_cast<int>(ad.size())) == 1;
}

}  // namespace

bool usable() noexcept { return cipher() != nullptr; }

bool encrypt(uint8_t* ciphertext, uint8_t tag[kTagSize], ByteView plaintext, ByteView ad,
             const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize]) noexcept {
  bool ok = lengths_fit(plaintext.size(), ad.size());
  if (ok) {
    const Subkey sub(nonce, key);
    Context c;
    ok = start(c.ctx, true, sub, ad);
    int written = 0;
    int total = 0;
    if (ok && !plaintext.empty()) {
      ok = EVP_EncryptUpdate(c.ctx, ciphertext, &written, plaintext.data(), static_cast<int>(plaintext.size())) == 1;
      total = written;
    }
    ok = ok && EVP_EncryptFinal_ex(c.ctx, ciphertext + total, &written) == 1 &&
         static_cast<size_t>(total + written) == plaintext.size() &&
         EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
  }
  if (!ok) {
    sodium_memzero(ciphertext, plaintext.size());
    sodium_memzero(tag, kTagSize);
  }
  return ok;
}

bool decrypt(uint8_t* plaintext, ByteView ciphertext, const uint8_t tag[kTagSize], ByteView ad,
             const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize]) noexcept {
  bool ok = lengths_fit(ciphertext.size(), ad.size());
  if (ok) {
    const Subkey sub(nonce, key);
    Context c;
    ok = start(c.ctx, false, sub, ad);
    int written = 0;
    int total = 0;
    if (ok && !ciphertext.empty()) {
      ok = EVP_DecryptUpdate(c.ctx, plaintext, &written, ciphertext.data(), static_cast<int>(ciphertext.size())) == 1;
      total = written;
    }
    // The expected tag goes in before EVP_DecryptFinal_ex, which compares it
    // (CRYPTO_memcmp) and fails on a mismatch. EVP_CTRL_AEAD_SET_TAG takes a
    // non-const pointer but only copies from it.
    uint8_t expected[kTagSize];
    std::memcpy(expected, tag, kTagSize);
    ok = ok &&
         EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), expected) == 1 &&
         EVP_DecryptFinal_ex(c.ctx, plaintext + total, &written) == 1 &&
         static_cast<size_t>(total + written) == ciphertext.size();
  }
  if (!ok) sodium_memzero(plaintext, ciphertext.size());
  return ok;
}

}  // namespace mqseal::internal::aead::openssl
