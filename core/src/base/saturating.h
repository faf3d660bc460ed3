// Private: sums of times that must never wrap around (a claim kept until a
// time that wrapped would be forgotten early, and answer first_use for a
// replay): saturated at the type's largest value instead.
#ifndef MQSEAL_SRC_BASE_SATURATING_H_
#define MQSEAL_SRC_BASE_SATURATING_H_

#include <cstdint>
#include <limits>

namespace mqseal::internal {

constexpr uint64_t saturating_add(uint64_t a, uint64_t b) noexcept {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_SATURATING_H_
