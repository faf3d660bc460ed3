#include "sodium_util.h"

#include <sodium.h>

namespace mqseal::internal {

Status ensure_sodium() {
  // sodium_init is thread-safe and idempotent; caching its answer keeps the
  // hot paths free of its internal lock.
  static const int result = sodium_init();
  if (result < 0) return Error(Errc::crypto_failure, "sodium_init failed");
  return {};
}

GuardedBuffer& GuardedBuffer::operator=(GuardedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

GuardedBuffer::~GuardedBuffer() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
}

Result<GuardedBuffer> GuardedBuffer::allocate(size_t size) {
  if (Status s = ensure_sodium(); !s) return s.error();
  void* p = sodium_malloc(size == 0 ? 1 : size);
  if (p == nullptr) return Error(Errc::crypto_failure, "sodium_malloc failed");
  sodium_memzero(p, size == 0 ? 1 : size);
  GuardedBuffer buffer;
  buffer.data_ = static_cast<uint8_t*>(p);
  buffer.size_ = size;
  return buffer;
}

ScopedWipe::~ScopedWipe() { sodium_memzero(data_, size_); }

}  // namespace mqseal::internal
