#include "crypto/chacha20poly1305_openssl.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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
// freed. Freeing it at exit could run after OpenSSL's own clean-up; and this
// last reference is what lets a thread free its contexts after that
// clean-up (ThreadContexts, below). Fetching on every call (what
// EVP_chacha20_poly1305() does in OpenSSL 3) costs about 300 ns.
const EVP_CIPHER* cipher() noexcept {
  static EVP_CIPHER* const fetched = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return fetched;
}

// The EVP contexts of the calling thread, made on its first call and freed
// (EVP_CIPHER_CTX_free, which cleanses) when the thread exits: `pristine` is
// bound to the cipher and never keyed; `work` is keyed for one call, then
// turned back into a copy of `pristine` before the call returns
// (EVP_CIPHER_CTX_copy resets `work` first, and the reset frees its provider
// context with OPENSSL_clear_free): no key, subkey, Poly1305 key or keystream
// of a finished call stays in OpenSSL's memory (tests/aead_openssl_memory_test.cpp).
// Against a context made and freed per call this skips the EVP context's own
// allocation, the cipher's ENGINE lookup (a global lock) and reference
// counting, and the provider context's set-up: one allocation per call, not
// two (docs/PERFORMANCE.md). Keeping `work` keyed until the thread's next call
// would save about 1 000 instructions more, but would leave the last message's
// one-time subkey and Poly1305 key in OpenSSL's ordinary heap (core dumps,
// swap, heap over-reads); re-keying it with zeros costs more than the copy and
// leaves the Poly1305 key.
//
// At exit. The thread that calls exit() frees its contexts before OpenSSL's
// clean-up (OPENSSL_cleanup, an atexit handler): glibc runs the exiting
// thread's thread_local destructors before any atexit handler. Another thread
// may free its contexts, or even call again, after OPENSSL_cleanup ran (it
// was still running at exit(), or the application cleaned OpenSSL up
// itself). That is safe, so no registry of contexts and no exit handler of
// ours (which would put a lock or more on the per-call path): freeing a
// context runs the provider's freectx on the provider context it allocated,
// drops one reference to the cipher, and frees the EVP context; nothing the
// clean-up freed. The cipher stays alive through cipher()'s never-freed
// reference, and with it its provider, whose teardown and module unloading
// wait for its last reference. A call after the clean-up works the same way
// on the same objects (one made while OPENSSL_cleanup itself runs, an exit
// racing the application's own threads, is not tested). libcrypto itself is never unloaded (Debian's is linked
// NODELETE; OpenSSL pins itself at initialisation otherwise), nor is a module
// holding thread_local objects whose destructors have not run (glibc), so
// dlclose of the Python extension changes none of this.
// tests/aead_openssl_exit_test.cpp makes that order at exit, and runs under
// valgrind, which sees inside libcrypto (ctest aead_openssl_exit.valgrind);
// with cipher() freed at exit, OpenSSL frees a block twice there.
class ThreadContexts {
 public:
  ThreadContexts() = default;
  ThreadContexts(const ThreadContexts&) = delete;
  ThreadContexts& operator=(const ThreadContexts&) = delete;
  ~ThreadContexts() { drop(); }

  // `work`, unkeyed and ready for EVP_CipherInit_ex2 without a cipher, or
  // null if OpenSSL cannot make it (then nothing is kept).
  EVP_CIPHER_CTX* acquire() noexcept {
    if (work_ != nullptr) return work_;
    if (cipher() == nullptr) return nullptr;
    pristine_ = EVP_CIPHER_CTX_new();
    work_ = EVP_CIPHER_CTX_new();
    if (pristine_ == nullptr || work_ == nullptr ||
        EVP_CipherInit_ex2(pristine_, cipher(), nullptr, nullptr, 1, nullptr) != 1 ||
        EVP_CIPHER_CTX_copy(work_, pristine_) != 1) {
      drop();
    }
    return work_;
  }

  // Wipes `work` after a call: a fresh copy of `pristine`. If that fails (no
  // memory), `work` is freed (cleansed) and made again on the next call.
  void release() noexcept {
    if (work_ != nullptr && EVP_CIPHER_CTX_copy(work_, pristine_) != 1) drop();
  }

 private:
  void drop() noexcept {
    EVP_CIPHER_CTX_free(work_);
    EVP_CIPHER_CTX_free(pristine_);
    work_ = nullptr;
    pristine_ = nullptr;
  }
  EVP_CIPHER_CTX* pristine_ = nullptr;
  EVP_CIPHER_CTX* work_ = nullptr;
};

// release() on scope exit, on every path of a call.
class Context {
 public:
  Context() noexcept : ctx(contexts().acquire()) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() { contexts().release(); }
  EVP_CIPHER_CTX* const ctx;

 private:
  static ThreadContexts& contexts() noexcept {
    thread_local ThreadContexts per_thread;
    return per_thread;
  }
};

// The subkey and IETF nonce of XChaCha20, wiped on scope exit like the topic
// key they come from (a stack buffer, never copied). `subkey` non-null: the
// caller's HChaCha20(master, xnonce[0..16)), copied instead of derived.
struct Subkey {
  uint8_t key[kKeySize];
  uint8_t nonce[kIetfNonceSize];
  ScopedWipe wipe_key{key, sizeof key};
  Subkey(const uint8_t xnonce[kXNonceSize], const uint8_t master[kKeySize], const uint8_t* subkey) noexcept {
    if (subkey != nullptr) {
      std::memcpy(key, subkey, kKeySize);
    } else {
      crypto_core_hchacha20(key, xnonce, master, nullptr);
    }
    std::memset(nonce, 0, kIetfNoncePrefix);
    std::memcpy(nonce + kIetfNoncePrefix, xnonce + kHNonceSize, kXNonceSize - kHNonceSize);
  }
};

bool lengths_fit(size_t a, size_t b) noexcept { return a <= kMaxLength && b <= kMaxLength; }

// Keys `ctx` (bound to the cipher already) with the subkey, hands it
// `params` (the expected tag, when opening), and absorbs `ad`.
bool start(EVP_CIPHER_CTX* ctx, bool encrypting, const Subkey& sub, const OSSL_PARAM* params, ByteView ad) noexcept {
  if (ctx == nullptr) return false;
  if (EVP_CipherInit_ex2(ctx, nullptr, sub.key, sub.nonce, encrypting ? 1 : 0, params) != 1) return false;
  int written = 0;
  return ad.empty() || EVP_CipherUpdate(ctx, nullptr, &written, ad.data(), static_cast<int>(ad.size())) == 1;
}

}  // namespace

bool usable() noexcept { return cipher() != nullptr; }

bool encrypt(uint8_t* ciphertext, uint8_t tag[kTagSize], ByteView plaintext, ByteView ad,
             const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize], const uint8_t* subkey) noexcept {
  bool ok = lengths_fit(plaintext.size(), ad.size());
  if (ok) {
    const Subkey sub(nonce, key, subkey);
    Context c;
    ok = start(c.ctx, true, sub, nullptr, ad);
    int written = 0;
    int total = 0;
    if (ok && !plaintext.empty()) {
      ok = EVP_EncryptUpdate(c.ctx, ciphertext, &written, plaintext.data(), static_cast<int>(plaintext.size())) == 1;
      total = written;
    }
    // The tag through the provider's parameter directly: EVP_CTRL_AEAD_GET_TAG
    // builds this same request, one layer further out.
    OSSL_PARAM get_tag[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagSize),
                            OSSL_PARAM_construct_end()};
    ok = ok && EVP_EncryptFinal_ex(c.ctx, ciphertext + total, &written) == 1 &&
         static_cast<size_t>(total + written) == plaintext.size() && EVP_CIPHER_CTX_get_params(c.ctx, get_tag) == 1;
  }
  if (!ok) {
    sodium_memzero(ciphertext, plaintext.size());
    sodium_memzero(tag, kTagSize);
  }
  return ok;
}

bool decrypt(uint8_t* plaintext, ByteView ciphertext, const uint8_t tag[kTagSize], ByteView ad,
             const uint8_t nonce[kXNonceSize], const uint8_t key[kKeySize], const uint8_t* subkey) noexcept {
  bool ok = lengths_fit(ciphertext.size(), ad.size());
  if (ok) {
    const Subkey sub(nonce, key, subkey);
    // The expected tag goes in with the key (the provider copies it), and
    // EVP_DecryptFinal_ex compares it (CRYPTO_memcmp) and fails on a
    // mismatch. OSSL_PARAM takes a non-const pointer: a copy.
    uint8_t expected[kTagSize];
    std::memcpy(expected, tag, kTagSize);
    const OSSL_PARAM set_tag[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, expected, kTagSize),
                                  OSSL_PARAM_construct_end()};
    Context c;
    ok = start(c.ctx, false, sub, set_tag, ad);
    int written = 0;
    int total = 0;
    if (ok && !ciphertext.empty()) {
      ok = EVP_DecryptUpdate(c.ctx, plaintext, &written, ciphertext.data(), static_cast<int>(ciphertext.size())) == 1;
      total = written;
    }
    ok = ok && EVP_DecryptFinal_ex(c.ctx, plaintext + total, &written) == 1 &&
         static_cast<size_t>(total + written) == ciphertext.size();
  }
  if (!ok) sodium_memzero(plaintext, ciphertext.size());
  return ok;
}

}  // namespace mqseal::internal::aead::openssl
