// Private: libsodium start-up, wiping on scope exit, byte codecs. Never
// included by a public header. Guarded memory: base/secret.h.
#ifndef MQSEAL_SRC_SODIUM_UTIL_H_
#define MQSEAL_SRC_SODIUM_UTIL_H_

#include <cstddef>
#include <cstdint>

#include "mqseal/error.h"

namespace mqseal::internal {

// sodium_init() once per process; crypto_failure if it cannot start.
[[nodiscard]] Status ensure_sodium();

// Wipes a buffer of key material on scope exit.
class ScopedWipe {
 public:
  ScopedWipe(void* data, size_t size) noexcept : data_(data), size_(size) {}
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;
  ~ScopedWipe();

 private:
  void* data_;
  size_t size_;
};

// True if [a, a + a_size) and [b, b + b_size) share a byte. Outputs may not
// alias inputs: resizing the output would leave the input dangling.
inline bool overlaps(const uint8_t* a, size_t a_size, const uint8_t* b, size_t b_size) noexcept {
  if (a_size == 0 || b_size == 0) return false;
  const auto pa = reinterpret_cast<uintptr_t>(a);
  const auto pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_size && pb < pa + a_size;
}

// Big-endian integer codecs for the wire formats.
inline void store_be32(uint8_t* p, uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i) { p[i] = static_cast<uint8_t>(v); v >>= 8; }
}
inline void store_be64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) { p[i] = static_cast<uint8_t>(v); v >>= 8; }
}
inline uint32_t load_be32(const uint8_t* p) noexcept {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t load_be64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SODIUM_UTIL_H_
