#include "crypto/aead.h"

#include <sodium.h>

#include <cstring>

namespace mqseal::internal::aead {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");

Status seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad, ByteView header,
            ByteView plaintext, size_t max_plaintext, std::vector<uint8_t>& out) {
  if (Status s = check_buffers(plaintext, max_plaintext, out); !s) return s;
  out.resize(header.size() + plaintext.size() + kTagSize);
  std::memcpy(out.data(), header.data(), header.size());
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + header.size(), &written, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr, nonce, key);
  return {};
}

Status open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], ByteView ad, ByteView sealed,
            std::vector<uint8_t>& out) {
  if (overlaps(sealed.data(), sealed.size(), out.data(), out.capacity()) ||
      overlaps(nonce, kNonceSize, out.data(), out.capacity())) {
    return Error(Errc::invalid_argument, "the input may not live in the output buffer");
  }
  unsigned long long written = 0;
  if (sealed.size() >= kTagSize) {
    out.resize(sealed.size() - kTagSize);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, sealed.data(),
                                                   sealed.size(), ad.data(), ad.size(), nonce, key) == 0) {
      return {};
    }
  }
  out.clear();
  return Errc::authentication_failed;
}

}  // namespace mqseal::internal::aead
