#include "base/secret_arena.h"

#include <sodium.h>

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
  bytes_ += slots * slot_size_;
  return {};
}

Status SecretArena::reserve(size_t slots) {
  if (capacity_ - used_ >= slots) return {};
  return new_region(slots);
}

Result<SecretArena::Slot> SecretArena::allocate() {
  if (handed_out_ == max_slots_) return Error(Errc::invalid_argument, "secret arena full");
  if (used_ == capacity_) {
    if (Status s = new_region(std::min(next_slots_, max_slots_ - handed_out_)); !s) return s.error();
    next_slots_ = std::min(next_slots_ * 2, max_region_slots_);
  }
  uint8_t* data = region_->data() + used_ * slot_size_;
  ++used_;
  ++handed_out_;
  return Slot{region_, data};
}

SecretTable::SecretTable(size_t slot_size, size_t max_slots) noexcept
    : arena_(slot_size, std::max<size_t>(1, SecretTable::kOnePageBytes / std::max<size_t>(1, slot_size)),
             std::max<size_t>(1, SecretTable::kMaxRegionBytes / std::max<size_t>(1, slot_size)), max_slots),
      max_slots_(max_slots) {}

Status SecretTable::grow() {
  if (growth_failed_) return Errc::crypto_failure;  // no detail: nothing allocated on this path
  Result<SecretArena::Slot> slot = arena_.allocate();
  if (!slot) {
    if (slot.error() == Errc::crypto_failure) growth_failed_ = true;
    return slot.error();
  }
  if (regions_.empty() || regions_.back() != slot->region) regions_.push_back(std::move(slot->region));
  slots_.push_back(slot->data);
  return {};
}

void SecretTable::wipe() noexcept {
  for (const std::shared_ptr<Secret>& region : regions_) sodium_memzero(region->data(), region->size());
  growth_failed_ = false;
}

}  // namespace mqseal::internal
