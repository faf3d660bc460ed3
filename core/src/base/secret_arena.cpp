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
  // Room for one more slot, and one more region, before the arena hands one
  // out: a std::vector that must grow allocates, and may throw bad_alloc,
  // only here, when nothing has changed yet (the room reserved stays for
  // the next call). allocate() changes nothing if it throws (a new region
  // is used and counted only once its shared_ptr exists). After it, both
  // push_backs fit in what is reserved and cannot throw, so no slot is
  // handed out and then lost (that would cost one of max_slots() for good)
  // and no region goes unrecorded. No try/catch: the core must build with
  // -fno-exceptions. In such a build libstdc++'s operator new still throws
  // bad_alloc; it unwinds through the core's frames without running their
  // destructors (a held lock_guard stays locked, a ScopedWipe wipes
  // nothing) and ends the process (std::terminate) unless a caller built
  // with exceptions catches it: fatal there, as any failed operator new in
  // the core. Geometric, as push_back would be.
  if (slots_.size() == slots_.capacity()) {
    slots_.reserve(std::min(max_slots_, std::max<size_t>(1, 2 * slots_.size())));
  }
  if (regions_.size() == regions_.capacity()) regions_.reserve(std::max<size_t>(1, 2 * regions_.size()));
  Result<SecretArena::Slot> slot = arena_.allocate();
  if (!slot) {
    // A table with no slot yet keeps trying: its owner has no entry to take
    // instead, and one sodium_malloc costs less than what an entry saves.
    if (slot.error() == Errc::crypto_failure && !slots_.empty()) growth_failed_ = true;
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
