#include "base/secret_arena.h"

#include <algorithm>
#include <limits>

namespace mqseal::internal {

Status SecretArena::new_region(size_t slots) {
  if (slot_size_ == 0 || slots > std::numeric_limits<size_t>::max() / slot_size_) {
    return Error(Errc::invalid_argument, "secret arena region too large");
  }
  Result<Secret> region = Secret::allocate(slots * slot_size_);
  if (!region) return std::move(region).error();
  region_ = std::make_shared<Secret>(std::move(*region));
  used_ = 0;
  capacity_ = slots;
  ++regions_;
  return {};
}

Status SecretArena::reserve(size_t slots) {
  if (capacity_ - used_ >= slots) return {};
  return new_region(slots);
}

Result<SecretArena::Slot> SecretArena::allocate() {
  if (used_ == capacity_) {
    if (Status s = new_region(next_slots_); !s) return s.error();
    next_slots_ = std::min(next_slots_ * 2, kMaxRegionSlots);
  }
  uint8_t* data = region_->data() + used_ * slot_size_;
  ++used_;
  return Slot{region_, data};
}

}  // namespace mqseal::internal
