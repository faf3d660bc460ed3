// Private: where a seal or an open writes its result. Either a std::vector it
// sizes (the public API's outputs), or caller memory of a fixed capacity, so
// that a caller who knows the size (the Python binding, with a new `bytes`
// object) gets the result written in place instead of copied out of a vector.
//
// One contract for both, the AEAD's (crypto/aead.h): inputs are checked
// against region() before anything is written; take() gives the memory to
// write; clear() after a failure leaves nothing behind: a vector is emptied
// (as before), caller memory is zeroed, so no byte of a partial or unverified
// result stays in it.
#ifndef MQSEAL_SRC_BASE_OUT_BUFFER_H_
#define MQSEAL_SRC_BASE_OUT_BUFFER_H_

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal::internal {

class OutBuffer {
 public:
  explicit OutBuffer(std::vector<uint8_t>& v) noexcept : vector_(&v) {}
  OutBuffer(uint8_t* data, size_t capacity) noexcept : data_(data), capacity_(capacity) {}
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;

  // The memory no input may share: a vector's whole allocation (resizing it
  // could move or overwrite an input inside), or the caller's capacity.
  const uint8_t* region() const noexcept { return vector_ != nullptr ? vector_->data() : data_; }
  size_t region_size() const noexcept { return vector_ != nullptr ? vector_->capacity() : capacity_; }

  // Makes the result `n` bytes long, at data(): false (nothing changed) when
  // caller memory holds fewer. A vector is resized (in place for a size it
  // had: no zero-fill).
  [[nodiscard]] bool take(size_t n) {
    if (vector_ != nullptr) {
      vector_->resize(n);
      return true;
    }
    if (n > capacity_) {
      needed_ = n;
      return false;
    }
    size_ = n;
    return true;
  }
  // Whether a result of `n` bytes fits (a vector: always); when it does not,
  // needed() says `n`, and nothing else changes.
  [[nodiscard]] bool fits(size_t n) noexcept {
    if (vector_ != nullptr || n <= capacity_) return true;
    needed_ = n;
    return false;
  }
  // Room for `n` bytes without moving a vector's data (later take()s up to
  // `n` copy nothing); nothing for caller memory, whose capacity is fixed.
  void reserve(size_t n) {
    if (vector_ != nullptr) vector_->reserve(n);
  }
  uint8_t* data() noexcept { return vector_ != nullptr ? vector_->data() : data_; }

  // A copy of `bytes` (not inside region()), or invalid_argument, cleared,
  // when caller memory is too small.
  [[nodiscard]] Status assign(ByteView bytes) {
    if (!take(bytes.size())) {
      clear();
      return too_small();
    }
    if (!bytes.empty()) std::memcpy(data(), bytes.data(), bytes.size());  // memcpy from null is undefined
    return {};
  }

  // The error for caller memory too small for the result.
  static Error too_small() { return Error(Errc::invalid_argument, "the output buffer is too small"); }

  // The size last taken (a vector's size).
  size_t size() const noexcept { return vector_ != nullptr ? vector_->size() : size_; }
  // The size a take() that failed asked for; 0 if none did.
  size_t needed() const noexcept { return needed_; }

  // After a failure: a vector emptied, caller memory zeroed.
  void clear() noexcept {
    if (vector_ != nullptr) {
      vector_->clear();
      return;
    }
    if (capacity_ != 0) sodium_memzero(data_, capacity_);
    size_ = 0;
  }
  // For an input found in region(): that memory is the caller's input, not an
  // output. Lets go of it, so that no later call (clear() after the failure
  // included) writes, empties or zeroes it; size() and needed() are 0.
  void detach() noexcept {
    vector_ = nullptr;
    data_ = nullptr;
    capacity_ = 0;
    size_ = 0;
    needed_ = 0;
  }

 private:
  std::vector<uint8_t>* vector_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t needed_ = 0;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_OUT_BUFFER_H_
