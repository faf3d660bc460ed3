#include "base/secret.h"

#include <sodium.h>

#include <algorithm>

#include "base/sodium_util.h"

namespace mqseal::internal {

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Secret::~Secret() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
}

Result<Secret> Secret::allocate(size_t size) {
  if (Status s = ensure_sodium(); !s) return s.error();
  const size_t allocated = std::max<size_t>(size, 1);  // sodium_malloc(0) may return null
  void* p = sodium_malloc(allocated);
  if (p == nullptr) return Error(Errc::crypto_failure, "sodium_malloc failed");
  sodium_memzero(p, allocated);
  Secret secret;
  secret.data_ = static_cast<uint8_t*>(p);
  secret.size_ = size;
  return secret;
}

Result<Secret> Secret::copy_of(ByteView bytes) {
  Result<Secret> secret = allocate(bytes.size());
  if (secret) std::copy(bytes.begin(), bytes.end(), secret->data());
  return secret;
}

bool Secret::same_bytes(const Secret& other) const noexcept {
  return size_ == other.size_ && data_ != nullptr && other.data_ != nullptr &&
         sodium_memcmp(data_, other.data_, size_) == 0;
}

}  // namespace mqseal::internal
