// Tests only: what ReplayGuard's public interface does not show of its
// tables. Not installed, and named by no public header (mqseal/replay_guard.h
// has no friend or declaration for it): the tests include it from core/src.
#ifndef MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_
#define MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_

#include <cstddef>
#include <string_view>

#include "mqseal/replay_guard.h"

namespace mqseal::internal {

// The most streams that share one bucket of the stream table of a key
// name's partition of `guard` (0 if it has none): what a lookup in it may
// walk. Read through guard.tracked_streams(), which reports it to the
// calling thread only while this call runs (a thread-local request: other
// threads and other guards see nothing, and check() does no extra work).
size_t largest_stream_bucket(const ReplayGuard& guard, std::string_view key_name);

}  // namespace mqseal::internal

#endif  // MQSEAL_SESSION_REPLAY_GUARD_PROBE_H_
