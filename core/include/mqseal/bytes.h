// mqseal/bytes.h: a read-only view of bytes, and the fixed-size byte types.
//
// mqseal is C++17, so it has no std::span. ByteView is the minimum it needs:
// a pointer and a length, built implicitly from the containers people pass
// payloads in. It never owns memory; keep the bytes alive for the call.
#ifndef MQSEAL_BYTES_H_
#define MQSEAL_BYTES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mqseal {

class ByteView {
 public:
  constexpr ByteView() noexcept = default;
  constexpr ByteView(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}
  ByteView(const void* data, size_t size) noexcept
      : data_(static_cast<const uint8_t*>(data)), size_(size) {}
  ByteView(const std::vector<uint8_t>& v) noexcept : data_(v.data()), size_(v.size()) {}  // NOLINT
  ByteView(std::string_view s) noexcept  // NOLINT
      : data_(reinterpret_cast<const uint8_t*>(s.data())), size_(s.size()) {}
  ByteView(const std::string& s) noexcept : ByteView(std::string_view(s)) {}  // NOLINT
  ByteView(const char* s) = delete;  // ambiguous: pass a string_view with a length
  template <size_t N>
  ByteView(const std::array<uint8_t, N>& a) noexcept : data_(a.data()), size_(N) {}  // NOLINT

  constexpr const uint8_t* data() const noexcept { return data_; }
  constexpr size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const uint8_t* begin() const noexcept { return data_; }
  constexpr const uint8_t* end() const noexcept { return data_ + size_; }
  constexpr uint8_t operator[](size_t i) const noexcept { return data_[i]; }
  constexpr ByteView subview(size_t offset, size_t count) const noexcept {
    return ByteView(data_ + offset, count);
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Identifies one key in a keyring; written into every envelope.
using KeyId = uint32_t;

// Identifies one sealing session (one Sealer in one process lifetime).
inline constexpr size_t kSenderIdSize = 16;
using SenderId = std::array<uint8_t, kSenderIdSize>;

}  // namespace mqseal

#endif  // MQSEAL_BYTES_H_
