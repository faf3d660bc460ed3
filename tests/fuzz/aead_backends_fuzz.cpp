// Fuzz target: the AEAD's two backends against each other
// (core/src/crypto/aead.h): libsodium's XChaCha20-Poly1305, and libsodium's
// HChaCha20 subkey with OpenSSL's EVP ChaCha20-Poly1305 in a core built with
// OpenSSL (without it, libsodium against itself: the invariants still hold).
//
// Input: byte 0 the key's fill byte; 24 bytes of nonce; a length byte and the
// associated data; byte R (the payload is the rest repeated R times, so that
// short inputs reach the bulk sizes, up to 255 times the rest); 3 bytes
// (big endian) of a position to flip in the sealed body, and the rest.
//
// Crashes (mqseal::fuzz::fail) on: the backends sealing different bytes;
// either failing to open what either sealed, or opening it to other bytes;
// either opening the body with one bit flipped; either leaving bytes in the
// output after refusing; the two disagreeing on a raw body (the input's rest
// opened as ciphertext || tag).
#include <cstring>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "fuzz_support.h"

namespace {

namespace aead = mqseal::internal::aead;
using mqseal::fuzz::check;
using mqseal::fuzz::fail;

constexpr size_t kMaxPayload = 4 * 1024 * 1024;

std::vector<aead::Backend> backends() {
  std::vector<aead::Backend> all = {aead::Backend::libsodium};
  if (aead::available(aead::Backend::openssl)) all.push_back(aead::Backend::openssl);
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mqseal::fuzz::Input in(data, size);
  uint8_t key[mqseal::kKeySize];
  const uint8_t fill = in.byte();
  for (size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<uint8_t>(fill + i);
  uint8_t nonce[aead::kNonceSize];
  for (uint8_t& b : nonce) b = in.byte();
  const std::string_view ad_text = in.text();
  const mqseal::ByteView ad(reinterpret_cast<const uint8_t*>(ad_text.data()), ad_text.size());
  const size_t repeat = in.byte();
  const size_t flip = in.number(3);
  const std::string_view rest = in.rest();
  std::vector<uint8_t> payload;
  for (size_t r = 0; r < repeat && payload.size() + rest.size() <= kMaxPayload; ++r) {
    payload.insert(payload.end(), rest.begin(), rest.end());
  }

  const std::vector<aead::Backend> all = backends();
  std::vector<std::vector<uint8_t>> sealed(all.size());
  for (size_t b = 0; b < all.size(); ++b) {
    check(aead::seal_with(all[b], key, nonce, ad, {}, payload, kMaxPayload, sealed[b]).ok(), "seal failed");
    if (sealed[b] != sealed[0]) fail("the backends sealed different bytes");
  }
  std::vector<uint8_t> body = sealed[0];
  for (aead::Backend opener : all) {
    std::vector<uint8_t> out;
    check(aead::open_with(opener, key, nonce, ad, body, out).ok(), "a backend refused what the other sealed");
    check(out == payload, "opened to other bytes");
    std::vector<uint8_t> tampered = body;
    tampered[flip % tampered.size()] ^= static_cast<uint8_t>(1u << (flip % 8));
    check(!aead::open_with(opener, key, nonce, ad, tampered, out).ok(), "a flipped bit was accepted");
    check(out.empty(), "output left after a refusal");
  }
  // The rest as a sealed body: both backends give the same answer.
  const mqseal::ByteView raw(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
  std::vector<uint8_t> first;
  const bool first_ok = aead::open_with(all[0], key, nonce, ad, raw, first).ok();
  for (aead::Backend opener : all) {
    std::vector<uint8_t> out;
    const bool ok = aead::open_with(opener, key, nonce, ad, raw, out).ok();
    check(ok == first_ok && out == first, "the backends disagree on a raw body");
    if (!ok) check(out.empty(), "output left after a refusal");
  }
  return 0;
}

std::vector<mqseal::fuzz::Seed> mqseal::fuzz::fuzz_seeds() {
  // key fill, nonce, AD, repeat, flip position, rest
  auto program = [](uint8_t fill, std::string_view ad, uint8_t repeat, uint32_t flip, std::string_view rest) {
    std::vector<uint8_t> bytes = {fill};
    for (uint8_t i = 0; i < aead::kNonceSize; ++i) bytes.push_back(static_cast<uint8_t>(0xa0 + i));
    bytes.push_back(static_cast<uint8_t>(ad.size()));
    bytes.insert(bytes.end(), ad.begin(), ad.end());
    bytes.push_back(repeat);
    for (int shift = 16; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(flip >> shift));
    bytes.insert(bytes.end(), rest.begin(), rest.end());
    return bytes;
  };
  const std::string block(64, 'x');
  return {
      {"empty-payload", program(1, "topic", 0, 0, "")},
      {"small", program(2, "plant/7/telemetry", 1, 5, "21.5 C")},
      {"threshold", program(3, "plant/7/telemetry", 16, 1023, block)},  // exactly 1024 bytes
      {"bulk-tag-flip", program(4, "", 255, 255 * 64 + 3, block)},      // flips a tag byte
  };
}
