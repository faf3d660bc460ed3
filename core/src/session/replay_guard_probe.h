// Tests only: what ReplayGuard's public interface does not show of its tables.
#ifndef MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_
#define MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_

#include <cstddef>
#include <string_view>

#include "mqseal/replay_guard.h"

namespace mqseal::internal {

struct ReplayGuardProbe {
  // The most streams that share one bucket of the stream table of a key
  // name's partition (0 if it has none): what a lookup in it may walk.
  static size_t largest_stream_bucket(const ReplayGuard& guard, std::string_view key_name);
};

}  // namespace mqseal::internal

#endif  // MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_
