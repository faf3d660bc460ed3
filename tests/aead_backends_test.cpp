// The two backends of the one AEAD (core/src/crypto/aead.h): libsodium's
// XChaCha20-Poly1305, and, in a core built with OpenSSL, libsodium's HChaCha20
// subkey with OpenSSL's EVP ChaCha20-Poly1305. Same bytes both ways, each
// opens what the other sealed, both refuse every tampering, and the size
// dispatch sends bulk inputs to OpenSSL.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "crypto/aead.h"
#include "test_util.h"
#if MQSEAL_EXPECT_OPENSSL
#include "crypto/chacha20poly1305_openssl.h"
#endif

namespace mqseal::internal::aead {
namespace {

constexpr size_t kMaxTestInput = 2 * 1024 * 1024;
constexpr uint8_t kHeader[] = {0x02, 0x01, 0xaa, 0xbb, 0xcc};

struct Inputs {
  uint8_t key[kKeySize];
  uint8_t nonce[kNonceSize];
  std::vector<uint8_t> ad;
  std::vector<uint8_t> plaintext;
  Inputs(size_t size, size_t ad_size) : ad(ad_size), plaintext(size) {
    if (sodium_init() < 0) std::abort();
    randombytes_buf(key, sizeof key);
    randombytes_buf(nonce, sizeof nonce);
    if (!ad.empty()) randombytes_buf(ad.data(), ad.size());
    if (!plaintext.empty()) randombytes_buf(plaintext.data(), plaintext.size());
  }
};

// MQSEAL_TEST_OPENSSL_UNUSABLE: CTest runs this binary once more with an
// OpenSSL configuration that offers no ChaCha20-Poly1305 (tests/CMakeLists.txt,
// like a FIPS-only provider set): then every size must stay on libsodium.
bool openssl_unusable() { return std::getenv("MQSEAL_TEST_OPENSSL_UNUSABLE") != nullptr; }

bool openssl_built() { return MQSEAL_EXPECT_OPENSSL != 0 && !openssl_unusable(); }

std::vector<Backend> backends() {
  if (openssl_built()) return {Backend::libsodium, Backend::openssl};
  return {Backend::libsodium};
}

// The sizes of issue 12: edges, the dispatch threshold's, bulk, and random ones.
std::vector<size_t> sizes() {
  std::vector<size_t> s = {0, 1, 15, 16, 17, 63, 64, kOpensslMinSize - 1, kOpensslMinSize, kOpensslMinSize + 1,
                           16 * 1024, 64 * 1024, 1024 * 1024};
  std::mt19937 rng(12);  // fixed: a failure reproduces
  for (int i = 0; i < 8; ++i) s.push_back(std::uniform_int_distribution<size_t>(0, 200'000)(rng));
  return s;
}

std::vector<uint8_t> sealed_by(Backend backend, const Inputs& in) {
  std::vector<uint8_t> out;
  testing::expect_ok(seal_with(backend, in.key, in.nonce, in.ad, ByteView(kHeader, sizeof kHeader), in.plaintext,
                               kMaxTestInput, out));
  return out;
}

ByteView body_of(const std::vector<uint8_t>& sealed) {
  return ByteView(sealed.data() + sizeof kHeader, sealed.size() - sizeof kHeader);
}

TEST(AeadBackends, OpensslIsThereExactlyWhenBuiltWithItAndUsable) {
  EXPECT_TRUE(available(Backend::libsodium));
  EXPECT_EQ(available(Backend::openssl), openssl_built());
}

// Without a usable OpenSSL, the OpenSSL backend refuses (never a partial
// output), and seal() and open() stay on libsodium at every size.
TEST(AeadBackends, UnusableOpensslRefusesAndIsNeverChosen) {
  if (openssl_built()) GTEST_SKIP() << "OpenSSL is usable here; CTest's aead_backends.openssl_unusable runs this";
  Inputs in(64 * 1024, 20);
  std::vector<uint8_t> out(3, 0x55);
  EXPECT_EQ(seal_with(Backend::openssl, in.key, in.nonce, in.ad, {}, in.plaintext, kMaxTestInput, out).error().code(),
            Errc::crypto_failure);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(backend_for(64 * 1024), Backend::libsodium);
  const std::vector<uint8_t> sealed = sealed_by(Backend::libsodium, in);
  EXPECT_EQ(open_with(Backend::openssl, in.key, in.nonce, in.ad, body_of(sealed), out).error().code(),
            Errc::authentication_failed);
  EXPECT_TRUE(out.empty());
}

TEST(AeadBackends, DispatchBySize) {
  const Backend bulk = openssl_built() ? Backend::openssl : Backend::libsodium;
  EXPECT_EQ(backend_for(0), Backend::libsodium);
  EXPECT_EQ(backend_for(64), Backend::libsodium);
  EXPECT_EQ(backend_for(kOpensslMinSize - 1), Backend::libsodium);
  EXPECT_EQ(backend_for(kOpensslMinSize), bulk);
  EXPECT_EQ(backend_for(1024 * 1024), bulk);
  // EVP takes int lengths: beyond them, libsodium.
  EXPECT_EQ(backend_for(size_t{1} << 31), Backend::libsodium);
}

TEST(AeadBackends, SameBytesAsLibsodiumAndEachOpensTheOther) {
  for (size_t size : sizes()) {
    SCOPED_TRACE(size);
    Inputs in(size, size % 61);
    // The reference: libsodium's combined call.
    std::vector<uint8_t> expected(size + kTagSize);
    unsigned long long written = 0;
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(expected.data(), &written, in.plaintext.data(), size,
                                                         in.ad.data(), in.ad.size(), nullptr, in.nonce, in.key),
              0);
    std::vector<uint8_t> dispatched;
    testing::expect_ok(seal(in.key, in.nonce, in.ad, ByteView(kHeader, sizeof kHeader), in.plaintext, kMaxTestInput,
                            dispatched));
    ASSERT_EQ(dispatched.size(), sizeof kHeader + expected.size());
    EXPECT_EQ(std::memcmp(dispatched.data(), kHeader, sizeof kHeader), 0);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), dispatched.begin() + sizeof kHeader));
    for (Backend sealer : backends()) {
      const std::vector<uint8_t> sealed = sealed_by(sealer, in);
      EXPECT_EQ(sealed, dispatched) << "sealed by backend " << int(sealer);
      for (Backend opener : backends()) {
        std::vector<uint8_t> out;
        testing::expect_ok(open_with(opener, in.key, in.nonce, in.ad, body_of(sealed), out));
        EXPECT_EQ(out, in.plaintext) << "sealed by " << int(sealer) << ", opened by " << int(opener);
      }
    }
    std::vector<uint8_t> out;
    testing::expect_ok(open(in.key, in.nonce, in.ad, body_of(dispatched), out));
    EXPECT_EQ(out, in.plaintext);
  }
}

// Given the subkey, open() reads no byte of the key on either backend (the
// Opener passes a zeroed key when its subkey cache hits): the subkey with a
// zero key opens what the key sealed.
TEST(AeadBackends, WithTheSubkeyTheKeyIsNotRead) {
  for (size_t size : {size_t{0}, size_t{64}, kOpensslMinSize, size_t{16 * 1024}}) {
    SCOPED_TRACE(size);
    Inputs in(size, 45);
    std::vector<uint8_t> sealed;
    testing::expect_ok(seal(in.key, in.nonce, in.ad, ByteView(kHeader, sizeof kHeader), in.plaintext, kMaxTestInput,
                            sealed));
    uint8_t subkey[kSubkeySize];
    testing::expect_ok(derive_subkey(in.key, in.nonce, subkey));
    const uint8_t zero_key[kKeySize] = {};
    std::vector<uint8_t> out;
    OutBuffer to(out);
    testing::expect_ok(open(zero_key, in.nonce, in.ad, body_of(sealed), to, subkey));
    EXPECT_EQ(out, in.plaintext);
    // And the zero key alone opens nothing: the subkey did the work.
    EXPECT_EQ(open(zero_key, in.nonce, in.ad, body_of(sealed), out).error(), Errc::authentication_failed);
  }
}

// Every change to what the tag covers is refused by both backends, with `out`
// left empty.
TEST(AeadBackends, TamperingRefusedByBoth) {
  for (size_t size : {size_t{0}, size_t{64}, kOpensslMinSize, size_t{64 * 1024}}) {
    SCOPED_TRACE(size);
    Inputs in(size, 29);
    const std::vector<uint8_t> sealed = sealed_by(Backend::libsodium, in);
    const std::vector<uint8_t> body(sealed.begin() + sizeof kHeader, sealed.end());
    std::vector<std::vector<uint8_t>> bodies;  // tampered ciphertext || tag
    for (size_t at : {size_t{0}, body.size() / 2, body.size() - kTagSize - 1, body.size() - kTagSize,
                      body.size() - 1}) {
      if (at >= body.size()) continue;  // ciphertext positions of an empty plaintext
      std::vector<uint8_t> b = body;
      b[at] ^= 0x01;
      bodies.push_back(b);
    }
    bodies.emplace_back(body.begin(), body.end() - 1);             // one byte short
    bodies.emplace_back(body.begin(), body.begin() + kTagSize - 1);  // shorter than a tag
    std::vector<uint8_t> longer = body;
    longer.push_back(0);
    bodies.push_back(longer);
    for (Backend opener : backends()) {
      SCOPED_TRACE(int(opener));
      for (const std::vector<uint8_t>& b : bodies) {
        std::vector<uint8_t> out(7, 0x55);
        EXPECT_EQ(open_with(opener, in.key, in.nonce, in.ad, b, out).error().code(), Errc::authentication_failed);
        EXPECT_TRUE(out.empty());
      }
      std::vector<uint8_t> other_ad = in.ad;
      other_ad[3] ^= 0x80;
      std::vector<uint8_t> out;
      EXPECT_EQ(open_with(opener, in.key, in.nonce, other_ad, body, out).error().code(), Errc::authentication_failed);
      EXPECT_TRUE(out.empty());
      EXPECT_EQ(open_with(opener, in.key, in.nonce, ByteView(), body, out).error().code(),
                Errc::authentication_failed);
      uint8_t other_nonce[kNonceSize];
      for (size_t i : {size_t{0}, size_t{15}, size_t{16}, size_t{23}}) {  // HChaCha20's half and the IETF half
        std::memcpy(other_nonce, in.nonce, kNonceSize);
        other_nonce[i] ^= 0x01;
        EXPECT_EQ(open_with(opener, in.key, other_nonce, in.ad, body, out).error().code(),
                  Errc::authentication_failed);
      }
      uint8_t other_key[kKeySize];
      std::memcpy(other_key, in.key, kKeySize);
      other_key[31] ^= 0x01;
      EXPECT_EQ(open_with(opener, other_key, in.nonce, in.ad, body, out).error().code(), Errc::authentication_failed);
      testing::expect_ok(open_with(opener, in.key, in.nonce, in.ad, body, out));
      EXPECT_EQ(out, in.plaintext);
    }
  }
}

TEST(AeadBackends, OverlapRefusedByBoth) {
  for (Backend backend : backends()) {
    SCOPED_TRACE(int(backend));
    Inputs in(4096, 10);
    std::vector<uint8_t> out(in.plaintext);
    EXPECT_EQ(seal_with(backend, in.key, in.nonce, in.ad, ByteView(), ByteView(out.data() + 1, 100), kMaxTestInput,
                        out)
                  .error()
                  .code(),
              Errc::invalid_argument);
    EXPECT_EQ(out, in.plaintext);  // untouched: it holds the input
    std::vector<uint8_t> sealed = sealed_by(backend, in);
    EXPECT_EQ(open_with(backend, in.key, in.nonce, in.ad, body_of(sealed), sealed).error().code(),
              Errc::invalid_argument);
    std::vector<uint8_t> nonce_holder(in.nonce, in.nonce + kNonceSize);
    EXPECT_EQ(open_with(backend, in.key, nonce_holder.data(), in.ad, body_of(sealed), nonce_holder).error().code(),
              Errc::invalid_argument);
    std::vector<uint8_t> big;
    EXPECT_EQ(seal_with(backend, in.key, in.nonce, in.ad, ByteView(), in.plaintext, 4095, big).error().code(),
              Errc::payload_too_large);
  }
}

// Both backends from several threads at once give the reference bytes.
TEST(AeadBackends, ConcurrentSealsAgree) {
  Inputs in(64 * 1024, 20);
  const std::vector<uint8_t> expected = sealed_by(Backend::libsodium, in);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> out;
      for (int i = 0; i < 50; ++i) {
        if (!seal(in.key, in.nonce, in.ad, ByteView(kHeader, sizeof kHeader), in.plaintext, kMaxTestInput, out) ||
            out != expected) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

#if MQSEAL_EXPECT_OPENSSL
// The OpenSSL half on its own: a wrong tag leaves no byte of the unverified
// plaintext in the caller's buffer (OpenSSL decrypts before it checks).
TEST(AeadOpenssl, WrongTagLeavesNoPlaintext) {
  if (openssl_unusable()) GTEST_SKIP() << "no ChaCha20-Poly1305 in this OpenSSL configuration";
  Inputs in(4096, 0);
  std::vector<uint8_t> sealed(in.plaintext.size() + kTagSize);
  ASSERT_TRUE(openssl::encrypt(sealed.data(), sealed.data() + in.plaintext.size(), in.plaintext, ByteView(),
                               in.nonce, in.key));
  sealed.back() ^= 0x01;
  std::vector<uint8_t> plaintext(in.plaintext.size(), 0x55);
  EXPECT_FALSE(openssl::decrypt(plaintext.data(), ByteView(sealed.data(), in.plaintext.size()),
                                sealed.data() + in.plaintext.size(), ByteView(), in.nonce, in.key));
  EXPECT_EQ(plaintext, std::vector<uint8_t>(in.plaintext.size(), 0));
  sealed.back() ^= 0x01;
  EXPECT_TRUE(openssl::decrypt(plaintext.data(), ByteView(sealed.data(), in.plaintext.size()),
                               sealed.data() + in.plaintext.size(), ByteView(), in.nonce, in.key));
  EXPECT_EQ(plaintext, in.plaintext);
}
#endif

}  // namespace
}  // namespace mqseal::internal::aead
