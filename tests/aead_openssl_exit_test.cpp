// The OpenSSL backend's per-thread EVP contexts
// (core/src/crypto/chacha20poly1305_openssl.cpp) at process exit, when a
// thread outlives OpenSSL's own clean-up: OPENSSL_cleanup, which OpenSSL
// registers with atexit() at its first use, frees its library context,
// provider store and method store while another thread still holds
// contexts, and that thread then seals again, exits (its thread_local
// destructor frees its contexts), and a new thread makes its first call.
// Nothing here may touch memory OpenSSL freed; run under valgrind too
// (ctest aead_openssl_exit.valgrind), which sees inside libcrypto.
//
// The order is made, not hoped for: this program's exit handler is
// registered before OpenSSL's, so it runs after it (atexit order is last in,
// first out), and only then lets the worker go on. The main thread's own
// contexts are freed at exit() before any atexit handler (glibc runs the
// exiting thread's thread_local destructors first).
//
// Exit status: 0 fine; 2 the scenario did not happen (OpenSSL was not
// cleaned up when the handler ran, or nothing was freed after it); 3 OpenSSL
// freed a block twice or one it never allocated; 4 a call failed.
#include <openssl/crypto.h>
#include <sodium.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "crypto/aead.h"
#include "crypto/chacha20poly1305_openssl.h"

namespace {

namespace openssl = mqseal::internal::aead::openssl;

// ---- OpenSSL's allocator: its live blocks, and the frees after its clean-up ----
std::mutex g_blocks_mutex;
std::unordered_set<void*>& live_blocks() {
  static auto* live = new std::unordered_set<void*>;  // never destroyed: OpenSSL frees during exit
  return *live;
}
std::atomic<bool> g_cleaned_up{false};
std::atomic<size_t> g_frees_after_cleanup{0};

void* tracked_malloc(size_t size, const char*, int) {
  void* p = std::malloc(size == 0 ? 1 : size);
  std::lock_guard<std::mutex> lock(g_blocks_mutex);
  if (p != nullptr) live_blocks().insert(p);
  return p;
}

void tracked_free(void* p, const char*, int) {
  if (p == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_blocks_mutex);
    if (live_blocks().erase(p) == 0) {
      std::fprintf(stderr, "OpenSSL freed a block it does not hold (freed twice?)\n");
      std::_Exit(3);
    }
  }
  if (g_cleaned_up) ++g_frees_after_cleanup;
  std::free(p);
}

void* tracked_realloc(void* p, size_t size, const char* file, int line) {
  if (p == nullptr) return tracked_malloc(size, file, line);
  if (size == 0) {
    tracked_free(p, file, line);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(g_blocks_mutex);  // held across: the address may come back at once
  if (live_blocks().count(p) == 0) {
    std::fprintf(stderr, "OpenSSL reallocated a block it does not hold\n");
    std::_Exit(3);
  }
  void* fresh = std::realloc(p, size);
  if (fresh != nullptr) {
    live_blocks().erase(p);
    live_blocks().insert(fresh);
  }
  return fresh;
}

// ---- One seal and open on the OpenSSL backend, from the calling thread ----
bool seal_and_open() {
  constexpr size_t kSize = 4 * mqseal::internal::aead::kOpensslMinSize;  // the OpenSSL backend's sizes
  std::vector<uint8_t> plaintext(kSize, 0x5a), sealed(kSize), opened(kSize);
  uint8_t key[mqseal::kKeySize], nonce[openssl::kXNonceSize], tag[openssl::kTagSize];
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  const mqseal::ByteView ad(nonce, sizeof nonce);
  return openssl::encrypt(sealed.data(), tag, plaintext, ad, nonce, key) &&
         openssl::decrypt(opened.data(), sealed, tag, ad, nonce, key) && opened == plaintext;
}

void must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "%s failed\n", what);
    std::_Exit(4);
  }
}

std::mutex g_mutex;
std::condition_variable g_changed;
bool g_worker_ready = false;  // its contexts exist
bool g_go_on = false;         // OpenSSL has been cleaned up
std::thread* g_worker = nullptr;

void after_openssl_cleanup() {
  // OPENSSL_init_crypto refuses (0) once OPENSSL_cleanup has run.
  if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 0) {
    std::fprintf(stderr, "OpenSSL is not cleaned up yet: the handlers ran in another order\n");
    std::_Exit(2);
  }
  g_cleaned_up = true;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_go_on = true;
  }
  g_changed.notify_all();
  g_worker->join();  // it sealed once more, then exited: its contexts were freed
  std::thread([] { must(seal_and_open(), "a thread's first call after OpenSSL's clean-up"); }).join();
  // Each thread frees two contexts (the context and its provider context each).
  if (g_frees_after_cleanup < 4) {
    std::fprintf(stderr, "only %zu OpenSSL blocks freed after its clean-up: the contexts were not freed then\n",
                 g_frees_after_cleanup.load());
    std::_Exit(2);
  }
  std::fprintf(stderr, "%zu OpenSSL blocks freed after OPENSSL_cleanup, none twice\n", g_frees_after_cleanup.load());
}

}  // namespace

int main() {
  // Before OpenSSL allocates anything (it refuses once it has).
  if (CRYPTO_set_mem_functions(tracked_malloc, tracked_realloc, tracked_free) != 1) {
    std::fprintf(stderr, "CRYPTO_set_mem_functions refused: OpenSSL allocated before main\n");
    return 1;
  }
  if (sodium_init() < 0) return 1;
  // Before OpenSSL's own handler, which it registers at its first use (the
  // openssl::usable() just below, which fetches the cipher): so this one
  // runs after OPENSSL_cleanup.
  if (std::atexit(after_openssl_cleanup) != 0) return 1;
  must(openssl::usable(), "OpenSSL's ChaCha20-Poly1305");
  g_worker = new std::thread([] {
    must(seal_and_open(), "the worker's call");
    std::unique_lock<std::mutex> lock(g_mutex);
    g_worker_ready = true;
    g_changed.notify_all();
    g_changed.wait(lock, [] { return g_go_on; });
    lock.unlock();
    must(seal_and_open(), "the worker's call after OpenSSL's clean-up");
  });
  std::unique_lock<std::mutex> lock(g_mutex);
  g_changed.wait(lock, [] { return g_worker_ready; });
  lock.unlock();
  must(seal_and_open(), "the main thread's call");  // its contexts go at exit(), before the handlers
  return 0;  // exit(): this thread's contexts, then OPENSSL_cleanup, then after_openssl_cleanup
}
