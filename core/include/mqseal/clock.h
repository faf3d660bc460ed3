// mqseal/clock.h: the wall clock mqseal reads, and how to give it another.
//
// Sealers stamp every envelope with the sender's time and receivers judge
// age and skew against their own (docs/SPEC.md, section 6). Both read
// system_time_ms() unless their options name another clock: a test that
// must step the clock back, or a device whose time comes from elsewhere (a
// GPS receiver, an RTC read over I2C).
#ifndef MQSEAL_CLOCK_H_
#define MQSEAL_CLOCK_H_

#include <cstdint>
#include <functional>

namespace mqseal {

// Milliseconds since 1970 UTC from the system clock (on Linux the coarse
// real-time clock: no system call, resolution of a few milliseconds).
uint64_t system_time_ms() noexcept;

// Another source of milliseconds since 1970 UTC. Called under the caller's
// lock: it must be cheap and must not call back into mqseal. Empty means
// system_time_ms().
using Clock = std::function<uint64_t()>;

}  // namespace mqseal

#endif  // MQSEAL_CLOCK_H_
