// Private: libsodium start-up, wiping on scope exit, byte codecs. Never
// included by a public header. Guarded memory: base/secret.h.
#ifndef MQSEAL_SRC_SODIUM_UTIL_H_
#define MQSEAL_SRC_SODIUM_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mqseal/error.h"

namespace mqseal::internal {

// sodium_init() once per process; crypto_failure if it cannot start.
[[nodiscard]] Status ensure_sodium();

// sodium_memzero(data, size), out of line.
void wipe_out_of_line(void* data, size_t size) noexcept;

// Zeroes `size` bytes of key material in a way the compiler may not drop as
// dead stores, however dead the buffer is afterwards. With GCC and Clang:
// memset, then an empty asm statement that takes the pointer and clobbers
// memory, so the compiler must assume the zeros are read; that is what
// sodium_memzero does here through glibc's explicit_bzero (a memset and the
// same barrier), and Linux's memzero_explicit. Inline, a wipe of a key whose
// size the compiler knows is two vector stores instead of three calls
// (docs/PERFORMANCE.md, "Opener's own path, trimmed"). Elsewhere:
// sodium_memzero. tests/wipe_test.cpp checks that an open leaves neither
// the topic key nor the subkey on its thread's stack.
inline void wipe(void* data, size_t size) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  std::memset(data, 0, size);
  __asm__ __volatile__("" : : "r"(data) : "memory");
#else
  wipe_out_of_line(data, size);
#endif
}

// Wipes a buffer of key material on scope exit (wipe()).
class ScopedWipe {
 public:
  ScopedWipe(void* data, size_t size) noexcept : data_(data), size_(size) {}
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;
  ~ScopedWipe() { wipe(data_, size_); }

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
// The loads spelt out byte by byte, not as a loop: GCC 12 makes this form
// one load and a byte swap, and the loop (unrolled) one load per byte; the
// Opener parses three of them per message.
inline uint32_t load_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint64_t load_be64(const uint8_t* p) noexcept {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SODIUM_UTIL_H_
