// Private: many small secrets of one owner (a broker's token keys) in a few
// guarded regions instead of one mapping each.
//
// A Secret of its own costs four kernel map entries (base/secret.h), so a
// million token keys cannot each have one: the default vm.max_map_count
// (65 530) is full at about 16 000. A SecretArena hands out equal-sized slots
// of larger Secrets ("regions": sodium_malloc memory with guard pages,
// zeroed when allocated, wiped when freed). Each slot comes with a shared
// reference to its region, so the region lives as long as the last slot
// handed out of it (a Key in a region holds one: mqseal/key.h); whoever holds
// a slot wipes it when done with it (Key does), the region is wiped again as
// a whole when freed.
//
// Regions grow geometrically from kFirstRegionSlots to kMaxRegionSlots slots
// (a million 32-byte keys: about 25 regions), or are sized exactly by
// reserve() when the number is known (a credentials file: one region).
// A slot is never handed out twice; slots of destroyed keys are not reused.
//
// Thread safety: none (the owner allocates from one thread); the slots
// handed out are independent memory.
#ifndef MQSEAL_SRC_BASE_SECRET_ARENA_H_
#define MQSEAL_SRC_BASE_SECRET_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/secret.h"
#include "mqseal/error.h"

namespace mqseal::internal {

class SecretArena {
 public:
  static constexpr size_t kFirstRegionSlots = 128;    // 4 KiB of 32-byte keys: one page
  static constexpr size_t kMaxRegionSlots = 65536;    // 2 MiB of 32-byte keys per grown region

  struct Slot {
    std::shared_ptr<Secret> region;  // keeps the region alive
    uint8_t* data;                   // slot_size zero bytes inside *region
  };

  explicit SecretArena(size_t slot_size) noexcept : slot_size_(slot_size) {}
  SecretArena(SecretArena&&) noexcept = default;
  SecretArena& operator=(SecretArena&&) noexcept = default;

  // Makes room for `slots` more slots in one region (a new one if the
  // current one lacks room). crypto_failure if there is no guarded memory,
  // invalid_argument if slots * slot_size overflows.
  [[nodiscard]] Status reserve(size_t slots);
  // The next zeroed slot; crypto_failure if a new region is needed and there
  // is no guarded memory.
  [[nodiscard]] Result<Slot> allocate();

  size_t slot_size() const noexcept { return slot_size_; }
  // Regions allocated so far (each one sodium_malloc).
  size_t regions() const noexcept { return regions_; }

 private:
  [[nodiscard]] Status new_region(size_t slots);

  size_t slot_size_;
  std::shared_ptr<Secret> region_;  // the region slots come from, or null
  size_t used_ = 0;                 // slots of region_ handed out
  size_t capacity_ = 0;             // slots region_ holds
  size_t next_slots_ = kFirstRegionSlots;
  size_t regions_ = 0;
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_SECRET_ARENA_H_
