// Private: the claim check and the partition digest of the replay stores (docs/SPEC.md section
// 11, "Replay store file"):
//   digest = BLAKE2b-256(key = none, personal = "mqseal replay pt",
//                        message = u16 len ns || ns || u16 len partition || partition)
#ifndef MQSEAL_SRC_CONNECT_REPLAY_STORE_INTERNAL_H_
#define MQSEAL_SRC_CONNECT_REPLAY_STORE_INTERNAL_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/blake2b.h"
#include "mqseal/replay_store.h"

namespace mqseal::internal {

inline constexpr size_t kPartitionDigestSize = 32;
inline constexpr Blake2bPersonal kPartitionPersonal = "mqseal replay pt";
using PartitionDigest = std::array<uint8_t, kPartitionDigestSize>;

// invalid_argument for a claim out of the ranges of mqseal/replay_store.h.
[[nodiscard]] Status check_claim(const ReplayClaim& claim);

[[nodiscard]] Result<PartitionDigest> partition_digest(std::string_view name_space, std::string_view partition);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_CONNECT_REPLAY_STORE_INTERNAL_H_
