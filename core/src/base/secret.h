// Private: the one holder of secret bytes (keys, the text of a keyring or
// credentials file, passwords): sodium_malloc memory (guard pages, locked
// against swapping where allowed), zeroed when allocated, wiped when freed,
// move-only, never printed (no operator<<; errors never carry its bytes).
//
// Each Secret is its own mapping with guard pages: four kernel map entries
// (measured), so about 16 000 live Secrets fill the default vm.max_map_count
// (65 530). Past it libsodium 1.0.18 still allocates, without the guard
// pages (its mprotect fails unchecked), and the process's other mappings can
// fail. Many small secrets of one owner (a broker's token keys) belong in a
// few Secrets handed out in slots: base/secret_arena.h.
#ifndef MQSEAL_SRC_BASE_SECRET_H_
#define MQSEAL_SRC_BASE_SECRET_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal::internal {

class Secret {
 public:
  Secret() noexcept = default;  // holds nothing
  Secret(Secret&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  // `size` zero bytes of guarded memory; crypto_failure if there is none.
  [[nodiscard]] static Result<Secret> allocate(size_t size);
  // A copy of `bytes` in new guarded memory (the caller wipes its own).
  [[nodiscard]] static Result<Secret> copy_of(ByteView bytes);
  // The same bytes in new guarded memory.
  [[nodiscard]] Result<Secret> clone() const { return copy_of(view()); }

  uint8_t* data() noexcept { return data_; }
  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  ByteView view() const noexcept { return ByteView(data_, size_); }
  std::string_view text() const noexcept {  // a password, a file's contents
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // Constant-time comparison (false for different sizes).
  bool same_bytes(const Secret& other) const noexcept;

 private:
  uint8_t* data_ = nullptr;  // from sodium_malloc, or null
  size_t size_ = 0;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_SECRET_H_
