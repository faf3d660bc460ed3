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
// An arena may be given other bounds, and a total: then no region is larger
// than the slots left, and no slot is handed out past the total.
// A slot is never handed out twice; slots of destroyed keys are not reused.
//
// SecretTable, below, is a bounded table of such slots by index, grown on
// demand: the caches of derived keys (session/topic_key_resolver.h,
// session/recipient_session.h) take memory, and lock it, only for the
// entries they hold.
//
// Thread safety: none (the owner allocates from one thread); the slots
// handed out are independent memory.
#ifndef MQSEAL_SRC_BASE_SECRET_ARENA_H_
#define MQSEAL_SRC_BASE_SECRET_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

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
  // Regions of first_region_slots, doubling up to max_region_slots (both at
  // least 1), and at most max_slots slots handed out in all.
  SecretArena(size_t slot_size, size_t first_region_slots, size_t max_region_slots, size_t max_slots) noexcept
      : slot_size_(slot_size),
        next_slots_(first_region_slots),
        max_region_slots_(max_region_slots),
        max_slots_(max_slots) {}
  SecretArena(SecretArena&&) noexcept = default;
  SecretArena& operator=(SecretArena&&) noexcept = default;

  // Makes room for `slots` more slots in one region (a new one if the
  // current one lacks room). crypto_failure if there is no guarded memory,
  // invalid_argument if slots * slot_size overflows.
  [[nodiscard]] Status reserve(size_t slots);
  // The next zeroed slot; crypto_failure if a new region is needed and there
  // is no guarded memory, invalid_argument past max_slots.
  [[nodiscard]] Result<Slot> allocate();

  size_t slot_size() const noexcept { return slot_size_; }
  // Regions allocated so far (each one sodium_malloc).
  size_t regions() const noexcept { return regions_; }
  // Bytes of all regions allocated so far (each also has guard pages and is
  // rounded up to whole pages by sodium_malloc).
  size_t bytes() const noexcept { return bytes_; }

 private:
  [[nodiscard]] Status new_region(size_t slots);

  size_t slot_size_;
  std::shared_ptr<Secret> region_;  // the region slots come from, or null
  size_t used_ = 0;                 // slots of region_ handed out
  size_t capacity_ = 0;             // slots region_ holds
  size_t next_slots_ = kFirstRegionSlots;
  size_t max_region_slots_ = kMaxRegionSlots;
  size_t max_slots_ = SIZE_MAX;
  size_t handed_out_ = 0;  // slots, all regions
  size_t regions_ = 0;
  size_t bytes_ = 0;
};

// A table of up to max_slots() slots of guarded memory, by index 0..size()-1,
// taken from a SecretArena on demand (grow()): the first region holds what
// fits in one page of locked memory, each next region twice as many as the
// one before (at most kMaxRegionBytes), the last only what the bound leaves.
// A slot stays where it is until the table goes (growth never moves one, so
// a pointer to it stays valid); the table wipes every slot (wipe()) and,
// when it goes, frees its regions, which sodium_free wipes again. Holding
// one slot per entry of a bounded cache, it allocates (and locks) memory
// only for the entries the cache has held at once, never more than
// max_slots() slots.
//
// Both caches' growth policy is the table's: once a region could not be
// allocated for a table that has slots, grow() tries none again until
// wipe() (the caches' set_keyring or clear), so that a cache under memory
// pressure, which then takes its least recently used entry's slot, does not
// pay one sodium_malloc per new entry under its owner's lock. A table with
// no slot yet (the session cache before its first commit) tries its first
// region again at every grow(): its cache has no entry to take instead, and
// one sodium_malloc of a page costs less than what an entry saves (a suite
// 3 or 4 session's X25519 and derivations).
class SecretTable {
 public:
  // sodium_malloc puts a 16-byte canary before the bytes it returns, inside
  // their pages: a region of this many bytes or fewer takes one 4 KiB page.
  static constexpr size_t kOnePageBytes = 4096 - 16;
  static constexpr size_t kMaxRegionBytes = size_t{2} << 20;  // as SecretArena's regions of 32-byte keys

  SecretTable(size_t slot_size, size_t max_slots) noexcept;
  SecretTable(SecretTable&&) noexcept = default;
  SecretTable& operator=(SecretTable&&) noexcept = default;

  // Slots allocated so far, and the most there may be.
  size_t size() const noexcept { return slots_.size(); }
  size_t max_slots() const noexcept { return max_slots_; }
  // Adds the zeroed slot size(): crypto_failure if there is no guarded
  // memory for a new region, invalid_argument at max_slots(). After a
  // crypto_failure with size() > 0 every grow() fails the same way at once,
  // allocating nothing, until wipe(); with size() == 0 the next grow()
  // tries again. Strongly exception-safe: if it throws
  // (std::bad_alloc, in a build with exceptions) the table is as it was.
  [[nodiscard]] Status grow();
  uint8_t* operator[](size_t i) const noexcept { return slots_[i]; }
  // Zeroes every slot allocated so far (they stay allocated), and resets
  // the growth policy: after a crypto_failure that stopped grow(), the next
  // grow() tries a new region again. The caches call it as they empty
  // (set_keyring, clear), so the two go together.
  void wipe() noexcept;
  // Guarded bytes allocated so far (all regions, before page rounding).
  size_t bytes() const noexcept { return arena_.bytes(); }

 private:
  SecretArena arena_;
  size_t max_slots_;
  std::vector<std::shared_ptr<Secret>> regions_;  // every region, each once
  std::vector<uint8_t*> slots_;                   // slot i, inside one of regions_
  bool growth_failed_ = false;  // no guarded memory for a region with slots_ not empty: none tried until wipe()
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_BASE_SECRET_ARENA_H_
