// The OpenSSL half of the AEAD (core/src/crypto/chacha20poly1305_openssl.cpp)
// through OpenSSL's own allocator, replaced before OpenSSL allocates anything
// (main, below): what key material a call leaves in OpenSSL's memory, and how
// much a call allocates. Built only in a core with OpenSSL.
//   - After a seal or an open returns, no block OpenSSL holds, and no block it
//     freed during the call without cleansing, contains the message's subkey,
//     its Poly1305 one-time key or its last keystream block.
//   - A thread's reused contexts make one allocation per call in the steady
//     state (a context made and freed per call made two), and are freed when
//     the thread exits.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/aead.h"
#include "crypto/chacha20poly1305_openssl.h"

namespace mqseal::internal::aead {
namespace {

// ---- OpenSSL's allocations, tracked ----
constexpr size_t kHeaderSize = 16;  // keeps malloc's alignment

struct Tracker {
  std::mutex mutex;
  std::unordered_map<const void*, size_t> live;  // OpenSSL's pointer -> size
  size_t allocations = 0;
  std::vector<std::vector<uint8_t>> needles;  // key material to look for
  size_t freed_with_needle = 0;
};
Tracker& tracker() {
  static Tracker* t = new Tracker;  // never destroyed: OpenSSL frees at exit
  return *t;
}

bool holds_needle(const uint8_t* p, size_t size, const std::vector<std::vector<uint8_t>>& needles) {
  for (const std::vector<uint8_t>& n : needles) {
    if (std::search(p, p + size, n.begin(), n.end()) != p + size) return true;
  }
  return false;
}

void* track(uint8_t* raw, size_t size) {
  if (raw == nullptr) return nullptr;
  std::memcpy(raw, &size, sizeof size);
  void* p = raw + kHeaderSize;
  std::lock_guard<std::mutex> lock(tracker().mutex);
  tracker().live[p] = size;
  ++tracker().allocations;
  return p;
}

// Forgets `p` (checking the block for key material first); its raw block.
uint8_t* untrack(void* p) {
  Tracker& t = tracker();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.live.find(p);
  if (it == t.live.end()) std::abort();
  if (holds_needle(static_cast<uint8_t*>(p), it->second, t.needles)) ++t.freed_with_needle;
  t.live.erase(it);
  return static_cast<uint8_t*>(p) - kHeaderSize;
}

void* tracked_malloc(size_t size, const char*, int) {
  return track(static_cast<uint8_t*>(std::malloc(size + kHeaderSize)), size);
}

void tracked_free(void* p, const char*, int) {
  if (p != nullptr) std::free(untrack(p));
}

void* tracked_realloc(void* p, size_t size, const char* file, int line) {
  if (p == nullptr) return tracked_malloc(size, file, line);
  if (size == 0) {
    tracked_free(p, file, line);
    return nullptr;
  }
  void* fresh = tracked_malloc(size, file, line);
  if (fresh == nullptr) return nullptr;
  size_t old_size = 0;
  std::memcpy(&old_size, static_cast<uint8_t*>(p) - kHeaderSize, sizeof old_size);
  std::memcpy(fresh, p, std::min(old_size, size));
  tracked_free(p, file, line);
  return fresh;
}

// ---- One message's key material ----
struct Message {
  uint8_t key[kKeySize];
  uint8_t nonce[kNonceSize];
  std::vector<uint8_t> ad = std::vector<uint8_t>(40, 0x17);
  std::vector<uint8_t> plaintext;
  std::vector<uint8_t> sealed;  // ciphertext || tag
  explicit Message(size_t size) : plaintext(size), sealed(size + kTagSize) {
    randombytes_buf(key, sizeof key);
    randombytes_buf(nonce, sizeof nonce);
    randombytes_buf(plaintext.data(), plaintext.size());
  }
  // The subkey (HChaCha20), the Poly1305 key (keystream block 0) and, for a
  // size that is not a multiple of 64, the start of the last keystream block
  // (OpenSSL keeps a partial block's keystream in its context).
  std::vector<std::vector<uint8_t>> material() const {
    std::vector<uint8_t> subkey(kKeySize);
    crypto_core_hchacha20(subkey.data(), nonce, key, nullptr);
    uint8_t ietf_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
    std::memcpy(ietf_nonce + 4, nonce + 16, 8);
    constexpr size_t kBlock = 64;
    std::vector<uint8_t> stream(kBlock + (plaintext.size() + kBlock - 1) / kBlock * kBlock);  // whole blocks
    crypto_stream_chacha20_ietf(stream.data(), stream.size(), ietf_nonce, subkey.data());
    std::vector<std::vector<uint8_t>> m = {subkey, std::vector<uint8_t>(stream.begin(), stream.begin() + 32)};
    if (plaintext.size() % kBlock != 0) {
      const size_t last = kBlock + plaintext.size() / kBlock * kBlock;
      m.emplace_back(stream.begin() + last, stream.begin() + last + 16);
    }
    return m;
  }
};

// Runs `call`, then checks that no live OpenSSL block holds `m`'s key
// material and that none was freed holding it.
template <typename Call>
void expect_no_material_left(const Message& m, Call&& call) {
  {
    std::lock_guard<std::mutex> lock(tracker().mutex);
    tracker().needles = m.material();
    tracker().freed_with_needle = 0;
  }
  call();
  std::lock_guard<std::mutex> lock(tracker().mutex);
  size_t live_with_needle = 0;
  for (const auto& [p, size] : tracker().live) {
    if (holds_needle(static_cast<const uint8_t*>(p), size, tracker().needles)) ++live_with_needle;
  }
  EXPECT_EQ(live_with_needle, 0u) << "OpenSSL still holds this message's key material";
  EXPECT_EQ(tracker().freed_with_needle, 0u) << "OpenSSL freed this message's key material without cleansing it";
  tracker().needles.clear();
}

size_t live_blocks() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().live.size();
}

size_t allocations() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().allocations;
}

TEST(AeadOpensslMemory, NoKeyMaterialLeftAfterASealOrAnOpen) {
  ASSERT_TRUE(openssl::usable());
  for (size_t size : {size_t{1024}, size_t{16 * 1024 + 7}, size_t{64 * 1024}}) {
    SCOPED_TRACE(size);
    Message m(size);
    expect_no_material_left(m, [&] {
      ASSERT_TRUE(openssl::encrypt(m.sealed.data(), m.sealed.data() + size, m.plaintext, m.ad, m.nonce, m.key));
    });
    std::vector<uint8_t> opened(size);
    expect_no_material_left(m, [&] {
      ASSERT_TRUE(
          openssl::decrypt(opened.data(), ByteView(m.sealed.data(), size), m.sealed.data() + size, m.ad, m.nonce, m.key));
    });
    EXPECT_EQ(opened, m.plaintext);
    m.sealed.back() ^= 0x01;  // a refused open leaves nothing either
    expect_no_material_left(m, [&] {
      EXPECT_FALSE(
          openssl::decrypt(opened.data(), ByteView(m.sealed.data(), size), m.sealed.data() + size, m.ad, m.nonce, m.key));
    });
  }
}

TEST(AeadOpensslMemory, OneAllocationPerCallOnceTheThreadHasItsContexts) {
  Message m(16 * 1024);
  std::vector<uint8_t> opened(m.plaintext.size());
  const size_t size = m.plaintext.size();
  auto seal_and_open = [&] {
    ASSERT_TRUE(openssl::encrypt(m.sealed.data(), m.sealed.data() + size, m.plaintext, m.ad, m.nonce, m.key));
    ASSERT_TRUE(
        openssl::decrypt(opened.data(), ByteView(m.sealed.data(), size), m.sealed.data() + size, m.ad, m.nonce, m.key));
  };
  seal_and_open();  // the thread's contexts, OpenSSL's own lazy state
  constexpr size_t kCalls = 100;  // 50 seals, 50 opens
  const size_t before = allocations();
  for (size_t i = 0; i < kCalls / 2; ++i) seal_and_open();
  EXPECT_LE(allocations() - before, kCalls);
  EXPECT_EQ(opened, m.plaintext);
}

TEST(AeadOpensslMemory, AThreadsContextsAreFreedWhenItExits) {
  Message m(4096);
  // This thread's contexts and OpenSSL's own lazy state exist before counting.
  ASSERT_TRUE(openssl::encrypt(m.sealed.data(), m.sealed.data() + 4096, m.plaintext, m.ad, m.nonce, m.key));
  const size_t before = live_blocks();
  for (int round = 0; round < 8; ++round) {
    std::thread([&] {
      Message own(4096);
      EXPECT_TRUE(openssl::encrypt(own.sealed.data(), own.sealed.data() + 4096, own.plaintext, own.ad, own.nonce,
                                   own.key));
    }).join();
  }
  EXPECT_EQ(live_blocks(), before);
}

}  // namespace
}  // namespace mqseal::internal::aead

int main(int argc, char** argv) {
  // Before OpenSSL allocates anything (it refuses once it has).
  if (CRYPTO_set_mem_functions(mqseal::internal::aead::tracked_malloc, mqseal::internal::aead::tracked_realloc,
                               mqseal::internal::aead::tracked_free) != 1) {
    std::fprintf(stderr, "CRYPTO_set_mem_functions refused: OpenSSL allocated before main\n");
    return 1;
  }
  if (sodium_init() < 0) return 1;
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
