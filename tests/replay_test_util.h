// Shared by the replay store tests (replay_store_test, redis_replay_store_test).
#ifndef MQSEAL_TESTS_REPLAY_TEST_UTIL_H_
#define MQSEAL_TESTS_REPLAY_TEST_UTIL_H_

#include <mqseal/replay_store.h>

#include <cstdint>
#include <string>

namespace mqseal::testing {

// A claim ID made of n (little endian in its first 4 bytes; zeros after).
inline ReplayId id_of(uint32_t n) {
  ReplayId id{};
  for (size_t i = 0; i < 4; ++i) id[i] = static_cast<uint8_t>(n >> (8 * i));
  return id;
}

// first_use, seen, or the error's code name.
inline std::string answer(ReplayStore& store, const ReplayClaim& c) {
  Result<ClaimOutcome> r = store.claim(c);
  if (!r) return name(r.error().code());
  return *r == ClaimOutcome::first_use ? "first_use" : "seen";
}

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_REPLAY_TEST_UTIL_H_
